"""Device nodes a hostile image plants in its own /dev (no /dev tmpfs in the config, so /dev is the image's):
CVE-2025-31133 (masking with a /dev/null that is a symlink), CVE-2025-52565 (/dev/console a symlink),
and masked paths that must stay masked whatever the container tries.

The procfs file the attacks aim at is a harmless, host-global sysctl (vm.stat_interval): a runtime with the bug
lets the container change it on the host. The fixture restores the value either way.
"""

from __future__ import annotations

import array
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import add_mount, drop_dev_mount
from .hostprobe import read_text, tree_digest, wait_until
from .runtimes import Runtime, uniq

pytestmark = pytest.mark.root

SYSCTL = "/proc/sys/vm/stat_interval"


@pytest.fixture
def host_sysctl() -> Iterator[str]:
    """The host value of SYSCTL; put back after the test whatever happened."""
    value = read_text(SYSCTL)
    yield value
    if read_text(SYSCTL) != value:
        with open(SYSCTL, "w") as f:
            f.write(value)


# --------------------------------------------------------------------------------------------- CVE-2025-31133
def test_cve_2025_31133_dev_null_symlink_is_not_used_to_mask(rt: Runtime, rootfs: Path, world: Path, bundle: Any,
                                                              host_sysctl: str) -> None:
    """CVE-2025-31133: masking bind-mounts /dev/null over each masked path. With /dev/null a symlink to a procfs
    file, that file is mounted over the masked path, and the container writes the host's sysctl through it.
    (The container reports into a volume file: its stdio may itself be hijacked, see the next test.)"""
    (rootfs / "dev" / "null").symlink_to(SYSCTL)
    out = world / "out"
    out.mkdir()
    new_value = str(int(host_sysctl) + 3)
    script = (f"exec >/out/result 2>&1; head -c 64 /proc/timer_list; echo; "
              f"echo {new_value} > /proc/timer_list 2>/dev/null && echo WROTE; stat -c %t:%T /proc/timer_list; true")

    def edit(c: dict[str, Any]) -> None:
        drop_dev_mount(c)
        c["linux"]["maskedPaths"] = ["/proc/timer_list", "/proc/keys", "/proc/acpi"]
        add_mount(c, "/out", "bind", str(out), ["rbind"])

    p = rt.run(bundle(["sh", "-c", script], edit), uniq("c31133"))
    assert read_text(SYSCTL) == host_sysctl, f"the container changed the host's {SYSCTL} (CVE-2025-31133)"
    if p.returncode == 0:
        result = read_text(out / "result")
        lines = result.splitlines()
        assert lines and lines[0] == "" and "WROTE" not in result, f"masked path not masked: {result!r}"
        assert lines[-1] == "1:3", f"/proc/timer_list is not masked by the null device: {result!r}"


def test_dev_null_symlink_does_not_hijack_stdio(rt: Runtime, rootfs: Path, world: Path, bundle: Any) -> None:
    """runc's reOpenDevNull (crun CVE-2026-88265): stdio fds that "are /dev/null" (compared by st_rdev only, and a
    regular file has rdev 0 like a pipe) are re-opened from the container's /dev/null. With /dev/null a symlink to a
    file of a host volume, the container's stdout and stderr are written into that host file instead of ours."""
    vol = world / "volume"
    vol.mkdir()
    (vol / "precious").write_text("precious host data\n")
    before = tree_digest(vol)
    (rootfs / "dev" / "null").symlink_to("/vol/precious")

    def edit(c: dict[str, Any]) -> None:
        drop_dev_mount(c)
        c["linux"]["maskedPaths"] = []
        add_mount(c, "/vol", "bind", str(vol), ["rbind"])

    p = rt.run(bundle(["sh", "-c", "echo STDOUT-REACHED-US; echo STDERR-REACHED-US >&2"], edit), uniq("cnull"))
    assert tree_digest(vol) == before, (
        f"the container's output went into the host's file: {(vol / 'precious').read_bytes()!r}")
    if p.returncode == 0:
        assert "STDOUT-REACHED-US" in p.stdout and "STDERR-REACHED-US" in p.stderr, (p.stdout, p.stderr)


def test_cve_2025_31133_masked_paths_stay_masked_after_remount_attempts(rt: Runtime, bundle: Any) -> None:
    """Masked paths stay masked whatever the (default-capability) container does: umount, lazy umount, remount,
    bind the file elsewhere, mount a new procfs, unshare a mount namespace."""
    script = r"""
umount /proc/timer_list 2>/dev/null && echo UMOUNTED
umount -l /proc/timer_list 2>/dev/null && echo LAZY-UMOUNTED
umount /proc/acpi 2>/dev/null && echo UMOUNTED-DIR
mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNTED
mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null && echo NEW-PROC
unshare -m sh -c 'umount /proc/timer_list' 2>/dev/null && echo UNSHARED
echo 1 > /proc/sys/vm/stat_interval 2>/dev/null && echo WROTE-SYSCTL
echo "timer_list=$(head -c 32 /proc/timer_list | wc -c) acpi=$(ls -A /proc/acpi | wc -l)"
stat -c %t:%T /proc/timer_list
"""

    def edit(c: dict[str, Any]) -> None:
        c["root"]["readonly"] = False
        c["linux"]["maskedPaths"] = ["/proc/timer_list", "/proc/acpi"]

    p = rt.run(bundle(["sh", "-c", script], edit), uniq("cmask"))
    assert p.returncode == 0, p.stderr
    out = p.stdout.split()
    for bad in ("UMOUNTED", "LAZY-UMOUNTED", "UMOUNTED-DIR", "REMOUNTED", "NEW-PROC", "UNSHARED", "WROTE-SYSCTL"):
        assert bad not in out, p.stdout
    assert "timer_list=0" in out and "acpi=0" in out and out[-1] == "1:3", p.stdout


# --------------------------------------------------------------------------------------------- /dev/console
class ConsoleSocket:
    """The other end of --console-socket: receives the pty master, reads what the container writes to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(path))
        self.srv.listen(1)
        self.srv.settimeout(30)
        self.output = b""
        self.master = -1
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn:
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            return
        self.master = fds[0]
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk

    def close(self) -> None:
        self.srv.close()
        self.thread.join(timeout=5)
        if self.master >= 0:
            os.close(self.master)


def test_cve_2025_52565_dev_console_symlink_is_not_followed(rt: Runtime, rootfs: Path, world: Path,
                                                             bundle: Any) -> None:
    """CVE-2025-52565 (and runc 9be1dbf4a): with a terminal, the runtime creates /dev/console and bind-mounts the
    pty onto it. If the image's /dev/console is a symlink, creating it with O_TRUNC (and mounting on it) follows
    the symlink to whatever it names: here a file of a volume the host shares with the container."""
    vol = world / "volume"
    vol.mkdir()
    (vol / "precious").write_text("precious host data\n")
    before = tree_digest(vol)
    (rootfs / "dev" / "console").symlink_to("/vol/precious")

    def edit(c: dict[str, Any]) -> None:
        drop_dev_mount(c)
        c["process"]["terminal"] = True
        add_mount(c, "/vol", "bind", str(vol), ["rbind"])

    cs = ConsoleSocket(world / "console.sock")
    cid = uniq("c52565")
    try:
        p = rt.create(bundle(["sh", "-c", "echo CONSOLE-OK; stat -c %F /dev/console; sleep 1"], edit), cid,
                      "--console-socket", str(cs.path))
        if p.returncode == 0:
            rt.start(cid)
            wait_until(lambda: b"CONSOLE-OK" in cs.output, timeout=10)
    finally:
        rt.delete(cid)
        cs.close()
    assert tree_digest(vol) == before, (
        f"the host's volume file was changed through /dev/console: {(vol / 'precious').read_bytes()!r}")


def test_cve_2026_41579_dev_symlink_to_host_dir_is_not_populated(rt: Runtime, rootfs: Path, host_dir: Path,
                                                                  bundle: Any) -> None:
    """CVE-2026-41579: with no /dev mounts and the image's /dev a symlink to a host directory, the runtime's /dev
    set-up (device nodes, /dev/fd and /dev/std* symlinks, removing /dev/ptmx) must stay inside the rootfs. The image
    also has a directory at the same path, so the symlink resolves fine *inside* the rootfs."""
    (host_dir / "ptmx").write_text("host file\n")
    before = tree_digest(host_dir)
    os.rmdir(rootfs / "dev")
    (rootfs / "dev").symlink_to(host_dir)
    (rootfs / str(host_dir).lstrip("/")).mkdir(parents=True)

    def edit(c: dict[str, Any]) -> None:
        c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev")]
        c["linux"]["maskedPaths"] = []

    rt.run(bundle(["true"], edit), uniq("c41579"))
    assert tree_digest(host_dir) == before, f"the runtime changed the host directory /dev pointed at: {host_dir}"
