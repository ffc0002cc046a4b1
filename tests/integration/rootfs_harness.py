"""A stand-in init for testing pyrunc.rootfs alone: the rootfs steps, in the init's order, then exec.

    unshare --mount --pid --fork --ipc --uts --net python3 rootfs_harness.py CONFIG.json [--no-pivot] [--console]
        [INDEX=FD ...]    (detached mount trees made host-side, for `mounts[INDEX]`)

runs prepare_rootfs -> pivot_rootfs -> [mount_console on a pty opened in the container] -> apply_sysctl ->
finalize_rootfs, then execs `process.args` with `process.env`. Any error is printed as `HARNESS-ERROR: <message>`
on stderr, exit status 97. `run_rootfs()` is the pytest side.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pyrunc.errors import PyruncError  # noqa: E402
from pyrunc.rootfs import cgroupfs, prepare  # noqa: E402
from pyrunc.spec.model import Spec  # noqa: E402

ERROR_STATUS = 97
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def open_console_slave() -> int:
    """A pty from the container's own /dev/ptmx; the slave by TIOCGPTPEER, as the real init does."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    return fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)


def main(argv: list[str]) -> None:
    if os.environ.get("HARNESS_CGROUP2") == "1":
        cgroupfs.is_unified = lambda: True  # exercise the cgroup v2 path on a v1/hybrid host
    config = argv[0]
    with open(config, encoding="utf-8") as f:
        raw = json.load(f)
    spec = Spec.from_dict(raw, bundle=os.path.dirname(os.path.abspath(config)))
    mount_fds = {int(a.split("=")[0]): int(a.split("=")[1]) for a in argv if a[:1].isdigit()}
    try:
        prepare.prepare_rootfs(spec, mount_fds=mount_fds)
        prepare.pivot_rootfs(spec.root.path, no_pivot="--no-pivot" in argv)
        if "--console" in argv:
            prepare.mount_console(open_console_slave())
        prepare.apply_sysctl(spec)
        prepare.finalize_rootfs(spec)
    except PyruncError as e:
        sys.stderr.write(f"HARNESS-ERROR: {e}\n")
        sys.stderr.flush()
        os._exit(ERROR_STATUS)
    assert spec.process is not None
    env = dict(e.split("=", 1) for e in spec.process.env)
    sys.stdout.flush()
    os.execve(spec.process.args[0], list(spec.process.args), env)


# --------------------------------------------------------------------------------------------- pytest side
def run_rootfs(cfg: dict[str, Any], bundle: Path, script: str, *, no_pivot: bool = False,
               console: bool = False, userns: bool = False, mount_fds: dict[int, int] | None = None,
               cgroup2: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Write `cfg` (with process.args = sh -c script) to bundle/config.json and run it through the harness.

    `userns`: in a new user namespace mapping only root (unshare --map-root-user), like a rootless runtime.
    `mount_fds`: mount index -> detached tree fd made here (host side), handed to prepare_rootfs.
    `cgroup2`: take the cgroup v2 path for `cgroup` mounts whatever the host runs.
    A `cgroup` entry in linux.namespaces gives the harness a new cgroup namespace.
    """
    cfg = json.loads(json.dumps(cfg))
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    bundle.mkdir(parents=True, exist_ok=True)
    path = bundle / "config.json"
    path.write_text(json.dumps(cfg))
    cgroupns = any(ns.get("type") == "cgroup" for ns in cfg.get("linux", {}).get("namespaces", []))
    argv = ["unshare", *(["--user", "--map-root-user"] if userns else []), "--mount", "--propagation", "unchanged",
            "--pid", "--fork", "--ipc", "--uts", "--net", *(["--cgroup"] if cgroupns else []),
            sys.executable, __file__, str(path)]
    if no_pivot:
        argv.append("--no-pivot")
    if console:
        argv.append("--console")
    argv += [f"{i}={fd}" for i, fd in (mount_fds or {}).items()]
    env = dict(os.environ, HARNESS_CGROUP2="1" if cgroup2 else "0")
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/", env=env,
                          pass_fds=tuple((mount_fds or {}).values()))


def fix_busybox_links(rootfs: Path) -> None:
    """`busybox --install -s` links applets to the host path of the binary; point them at /bin/busybox."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):
        if not (rootfs / d).is_dir():
            continue
        for entry in (rootfs / d).iterdir():
            if entry.is_symlink() and os.readlink(entry).endswith("/busybox") and os.readlink(entry) != "/bin/busybox":
                entry.unlink()
                entry.symlink_to("/bin/busybox")


def mountinfo_of(text: str) -> dict[str, tuple[str, str, str]]:
    """mountpoint -> (per-mount options, fstype, super options), the last mount per mountpoint winning."""
    out = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        out[lf[4]] = (lf[5], rf[0], rf[2] if len(rf) > 2 else "")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
