"""Binds made on the host side for a user-namespaced container keep the locks of the host's mount flags.

A bind source the container's root cannot reach (a 0700 directory of the host's root), and every id-mapped bind,
is cloned by a helper that is still the host's root (pyrunc.rootfs.hostmounts). Cloned in the *host's* mount
namespace, the tree would carry the host mount's nosuid/nodev unlocked: the container's root, which owns the
mount namespace the tree lands in, could then `mount -o remount,bind,suid,dev` it and run set-uid programs or open
device nodes on a file system the host mounted nosuid,nodev. Cloned in the container's mount namespace (a copy the
kernel made for a less privileged user namespace), those flags are locked (MNT_LOCK_NOSUID, MNT_LOCK_NODEV), as for a
bind the init makes itself. runc 1.1.5 does the same (its mount fds are opened in the container's namespace).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import add_mount, chown_tree, userns
from .runtimes import Runtime, uniq

pytestmark = pytest.mark.root

SCRIPT = r"""
grep ' /locked ' /proc/self/mountinfo | cut -d' ' -f6
mount -o remount,bind,suid,dev /locked 2>/dev/null && echo REMOUNTED
grep ' /locked ' /proc/self/mountinfo | cut -d' ' -f6
cat /locked/marker
"""


@pytest.fixture
def nosuid_source(world: Path) -> Iterator[Path]:
    """A directory on a host mount that is nosuid,nodev, behind a 0700 directory of the host's root."""
    top = world / "nosuid"
    top.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,nodev,size=64k", "tmpfs", str(top)], check=True)
    try:
        (top / "private" / "data").mkdir(parents=True)
        (top / "private").chmod(0o700)
        (top / "private" / "data" / "marker").write_text("host data\n")
        yield top / "private" / "data"
    finally:
        subprocess.run(["umount", "-l", str(top)], check=True)


@pytest.mark.parametrize("options", [["rbind"], ["rbind", "idmap"]], ids=["unreachable-source", "idmap"])
def test_host_made_bind_keeps_locked_nosuid_nodev(rt: Runtime, bundle: Any, rootfs: Path, nosuid_source: Path,
                                                  options: list[str]) -> None:
    if "idmap" in options and not rt.is_pyrunc:
        pytest.skip("runc 1.1.5 has no id-mapped mounts")
    chown_tree(rootfs, 100000, 100000)

    def edit(c: dict[str, Any]) -> None:
        userns(c)
        c["root"]["readonly"] = False
        for kind in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][kind].append("CAP_SYS_ADMIN")
        add_mount(c, "/locked", "bind", str(nosuid_source), options)

    p = rt.run(bundle(["sh", "-c", SCRIPT], edit), uniq("locked"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "REMOUNTED" not in lines, p.stdout
    assert lines[-1] == "host data"
    for flags in (lines[0], lines[-2]):
        assert {"nosuid", "nodev"} <= set(flags.split(",")), p.stdout
