"""Fixtures for the attack tests: the runtime under test, an attack rootfs, crafted bundles, a host target.

`rt` is parametrised over PYRUNC_SECURITY_RUNTIMES (default: pyrunc only; see runtimes.py), so each attack can be
replayed against runc 1.1.5 to show the test catches a runtime that has the bug.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import IS_ROOT, base_config

from .runtimes import Runtime, copy_rootfs, selected_runtimes
from .sectool import build_sectool

HERE = Path(__file__).resolve().parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rt_spec" in metafunc.fixturenames:
        specs = selected_runtimes()
        metafunc.parametrize("rt_spec", specs, ids=[name for name, _ in specs])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory every uid can traverse (a user-namespaced container's root must reach its rootfs)."""
    top = Path(tempfile.mkdtemp(prefix="pyrunc-sec-"))
    top.chmod(0o755)
    yield top
    # An attack that worked may have left mounts under it (in our namespace): never follow them when removing.
    for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
        point = line.split()[4]
        if point.startswith(str(top) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def rt(rt_spec: tuple[str, list[str]], world: Path) -> Iterator[Runtime]:
    name, cmd = rt_spec
    if not IS_ROOT:
        pytest.skip("needs root")
    if not shutil.which(cmd[0]):
        pytest.skip(f"runtime {cmd[0]} not installed")
    r = Runtime(name, cmd, world / f"state-{name}")
    yield r
    r.cleanup()


@pytest.fixture
def rootfs(busybox_rootfs: Path, world: Path) -> Path:
    """A private busybox rootfs the test may booby-trap."""
    return copy_rootfs(busybox_rootfs, world / "rootfs")


@pytest.fixture
def host_dir(world: Path) -> Path:
    """A host directory outside the rootfs: what attacks aim at. It holds one marker file."""
    d = world / "host-target"
    d.mkdir()
    (d / "marker").write_text("host file\n")
    return d


@pytest.fixture
def bundle(world: Path, rootfs: Path) -> Callable[..., Path]:
    """bundle(args, edit=None, name="bundle") -> a bundle dir whose config.json is base_config edited."""
    counter = [0]

    def make(args: list[str], edit: Callable[[dict[str, Any]], None] | None = None, rootfs_path: Path | None = None,
             ) -> Path:
        counter[0] += 1
        b = world / f"bundle{counter[0]}"
        b.mkdir()
        cfg = base_config(str(rootfs_path or rootfs), args)
        if edit:
            edit(cfg)
        (b / "config.json").write_text(json.dumps(cfg, indent=1))
        return b

    return make


@pytest.fixture(scope="session")
def sectool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/security/sectool.c, built static (it runs in a busybox rootfs without a libc)."""
    return build_sectool(tmp_path_factory.mktemp("sectool"))


def drop_dev_mount(cfg: dict[str, Any]) -> None:
    """No /dev tmpfs: /dev is the image's own directory, where a hostile image can plant symlinks."""
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]


def add_mount(cfg: dict[str, Any], dest: str, typ: str, src: str, options: list[str] | None = None) -> int:
    cfg["mounts"].append({"destination": dest, "type": typ, "source": src, "options": options or []})
    return len(cfg["mounts"]) - 1


def userns(cfg: dict[str, Any], host_id: int = 100000) -> None:
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": 65536}]
    # A user namespace cannot mount sysfs/cgroupfs of the host's network/cgroup namespaces read-write either.
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]


def chown_tree(top: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)
    os.lchown(top, uid, gid)
