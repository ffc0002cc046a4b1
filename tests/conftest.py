"""Shared fixtures: a busybox rootfs, bundles built from a base config, and a pyrunc runner with a private root."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `root` need root; in CI (CI=true) we are root, so a skip there would hide a failure."""
    if IS_ROOT:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError("CI must run as root: root-marked tests would be skipped")
    skip = pytest.mark.skip(reason="needs root (runs real containers)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def build_busybox_rootfs(dest: Path) -> Path:
    """A minimal rootfs: busybox-static with its applets, /etc/passwd and /etc/group."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var", "home"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    # Link every applet to /bin/busybox as the container sees it (`busybox --install -s` would link to the
    # busybox's host path, which does not exist inside the container).
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True, text=True).stdout.split()
    for rel in applets:
        link = dest / rel
        if rel == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
    (dest / "etc" / "hostname").write_text("busybox\n")
    return dest


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine rootfs shared by the session. Tests that modify a rootfs must copy it (see `private_rootfs`)."""
    return build_busybox_rootfs(tmp_path_factory.mktemp("rootfs-busybox") / "rootfs")


@pytest.fixture
def private_rootfs(busybox_rootfs: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "private-rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    return dest


def base_config(rootfs: str, args: list[str] | None = None) -> dict[str, Any]:
    """runc's default spec, non-interactive, for tests: edit a few keys per test."""
    return {
        "ociVersion": "1.3.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args or ["/bin/true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for k in ("bounding", "effective", "permitted")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "pyrunc-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


class Runtime:
    """Runs `python -m pyrunc --root <private root> ...` (or $PYRUNC) and cleans up what it created."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cmd = os.environ.get("PYRUNC", f"{sys.executable} -m pyrunc").split()
        self.ids: set[str] = set()

    def __call__(self, *args: str, check: bool = False, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
        argv = [*self.cmd, "--root", str(self.root), *args]
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        p = subprocess.run(argv, timeout=timeout, env=env, cwd=kw.pop("cwd", REPO), **kw)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def create(self, bundle: Path, cid: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        """`create` with stdio that the container may keep (the init inherits create's stdio, as with runc):
        captured pipes would only reach EOF when the container exits."""
        with open(self.root.parent / f"create-{cid}.err", "w+") as err:
            p = subprocess.run([*self.cmd, "--root", str(self.root), "create", "--bundle", str(bundle), *extra, cid],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60,
                               env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
            err.seek(0)
            p.stderr = err.read()
        self.ids.add(cid)
        if check and p.returncode != 0:
            raise AssertionError(f"create {cid} exited {p.returncode}: {p.stderr}")
        return p

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self("state", cid, check=True).stdout)

    def cleanup(self) -> None:
        for cid in list(self.ids):
            self("delete", "--force", cid)


_ids = iter(range(1, 1 << 30))
RUN_TAG = f"{os.getpid():x}"


def uniq(name: str) -> str:
    """A name unique to this test session (container ids, cgroup paths, netns names)."""
    return f"{name}-{RUN_TAG}"


@pytest.fixture
def userns_rootfs(busybox_rootfs: Path) -> Iterator[Path]:
    """The rootfs on a path the container's mapped root can traverse (pytest's temp dirs are 0700)."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="pyrunc-userns-"))
    top.chmod(0o755)
    dest = top / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    yield dest
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def cid() -> str:
    """A container id unique to this test session: the default cgroup path derives from the id, so ids must not
    collide with containers of a concurrent run."""
    return f"t{os.getpid()}-{next(_ids)}"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    root = tmp_path / "state-root"
    rt = Runtime(root)
    yield rt
    if root.exists():
        for cid in os.listdir(root):
            rt.ids.add(cid)
        rt.cleanup()


@pytest.fixture
def make_bundle(busybox_rootfs: Path, tmp_path: Path) -> Callable[..., Path]:
    """make_bundle(edit=None, args=None, rootfs=None) -> bundle dir with config.json from base_config()."""
    counter = [0]

    def make(edit: Callable[[dict[str, Any]], None] | None = None, args: list[str] | None = None,
             rootfs: Path | None = None) -> Path:
        counter[0] += 1
        bundle = tmp_path / f"bundle{counter[0]}"
        bundle.mkdir()
        cfg = base_config(str(rootfs or busybox_rootfs), args)
        if edit:
            edit(cfg)
        (bundle / "config.json").write_text(json.dumps(cfg, indent=2))
        return bundle

    return make


@pytest.fixture
def config() -> Callable[..., dict[str, Any]]:
    return lambda rootfs="rootfs", args=None: copy.deepcopy(base_config(rootfs, args))
