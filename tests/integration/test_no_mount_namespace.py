"""Containers without a mount namespace (no "mount" entry in linux.namespaces), with real containers.

runtime-spec: the container inherits the runtime's mount namespace (runtime-tools linux_ns_itype checks the inode).
Its mounts are made there, on a private clone of the rootfs, and chroot is the switch (pyrunc.rootfs.hostroot). What
matters on the host: its "/" keeps its propagation, nothing is left mounted once the container is deleted (or its
create failed), and `exec` lands in the container's root, not the host's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root


def no_mntns(c: dict[str, Any]) -> None:
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
    c["linux"].pop("maskedPaths", None)
    c["linux"].pop("readonlyPaths", None)


def host_mounts_under(path: Path) -> list[str]:
    """Mount points in our (the host's) mount namespace at or under `path`."""
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def root_propagation() -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return " ".join(f for f in fields[6:fields.index("-")])  # optional fields: shared:N, master:N
    return ""


def wait_for(pred: Any, timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def rootfs(private_rootfs: Path) -> Path:
    (private_rootfs / "marker").write_text("container root\n")
    return private_rootfs


def test_run_shares_the_host_mount_namespace_in_a_chroot(runtime: Any, make_bundle: Any, rootfs: Path) -> None:
    before = root_propagation()
    script = ("readlink /proc/self/ns/mnt; cat /marker; test -c /dev/null && echo devnull; "
              "grep -c ' /proc proc ' /proc/self/mounts; touch /x 2>/dev/null || echo read-only")
    bundle = make_bundle(edit=no_mntns, args=["sh", "-c", script], rootfs=rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-nomnt"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == os.readlink("/proc/self/ns/mnt")
    assert lines[1:] == ["container root", "devnull", "1", "read-only"]
    # Nothing left on the host, whose "/" kept its propagation.
    assert host_mounts_under(rootfs) == []
    assert root_propagation() == before
    assert not (rootfs / "x").exists()


def test_mounts_live_until_delete_and_exec_enters_the_container_root(runtime: Any, make_bundle: Any,
                                                                       rootfs: Path) -> None:
    cid = uniq("c-nomnt-d")
    bundle = make_bundle(edit=no_mntns, args=["sleep", "60"], rootfs=rootfs)
    runtime.create(bundle, cid)
    assert runtime("start", cid).returncode == 0
    points = host_mounts_under(rootfs)
    assert str(rootfs) in points and f"{rootfs}/proc" in points and f"{rootfs}/dev" in points
    # exec: same (host) mount namespace, but the container's root and its mounts.
    e = runtime("exec", cid, "sh", "-c", "readlink /proc/self/ns/mnt; cat /marker; pwd; ls /dev/pts/ptmx")
    assert e.returncode == 0, e.stderr
    assert e.stdout.splitlines() == [os.readlink("/proc/self/ns/mnt"), "container root", "/", "/dev/pts/ptmx"]
    e = runtime("exec", "--cwd", "/etc", cid, "sh", "-c", "pwd; ls /host-only 2>&1 || true")
    assert e.stdout.splitlines()[0] == "/etc"
    assert runtime("delete", "--force", cid).returncode == 0
    assert host_mounts_under(rootfs) == []


def test_failed_create_leaves_no_mount(runtime: Any, make_bundle: Any, rootfs: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        no_mntns(c)
        c["mounts"].append({"destination": "/bad", "type": "pyrunc-no-such-fs", "source": "none"})

    cid = uniq("c-nomnt-f")
    bundle = make_bundle(edit=edit, args=["true"], rootfs=rootfs)
    p = runtime("run", "-b", str(bundle), cid)
    assert p.returncode != 0 and "(config: /mounts/7)" in p.stderr, p.stderr
    assert host_mounts_under(rootfs) == []
    assert not (runtime.root / cid).exists()


def test_no_pivot_is_a_chroot_too(runtime: Any, make_bundle: Any, rootfs: Path) -> None:
    """--no-pivot would MS_MOVE onto the host's "/" (and detach the host's /proc first): not without a mount
    namespace of our own. The host's /proc is still there afterwards."""
    bundle = make_bundle(edit=no_mntns, args=["cat", "/marker"], rootfs=rootfs)
    p = runtime("run", "--no-pivot", "-b", str(bundle), uniq("c-nomnt-np"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "container root\n"
    assert os.path.exists("/proc/self/mountinfo") and host_mounts_under(rootfs) == []


def test_masked_and_readonly_paths_need_a_mount_namespace(runtime: Any, make_bundle: Any, rootfs: Path) -> None:
    """runc's validator refuses them too ("unable to restrict sys entries without a private MNT namespace")."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]

    cid = uniq("c-nomnt-m")
    p = runtime("run", "-b", str(make_bundle(edit=edit, args=["true"], rootfs=rootfs)), cid)
    assert p.returncode != 0
    assert "/linux/maskedPaths" in p.stderr and "needs a mount namespace" in p.stderr, p.stderr
    assert host_mounts_under(rootfs) == [] and not (runtime.root / cid).exists()


def test_user_namespace_without_mount_namespace_is_a_clear_error(runtime: Any, make_bundle: Any,
                                                                  userns_rootfs: Path) -> None:
    rootfs = userns_rootfs

    def edit(c: dict[str, Any]) -> None:
        no_mntns(c)
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    p = runtime("run", "-b", str(make_bundle(edit=edit, args=["true"], rootfs=rootfs)), uniq("c-nomnt-u"))
    assert p.returncode != 0
    assert "cannot mount in the host's mount namespace" in p.stderr and "(config: /linux/namespaces)" in p.stderr
    assert host_mounts_under(rootfs) == []


def test_joining_our_own_mount_namespace_by_path_is_refused(runtime: Any, make_bundle: Any, rootfs: Path) -> None:
    """pivot_root there would move the root of every host process still at "/" into the rootfs."""
    def edit(c: dict[str, Any]) -> None:
        for n in c["linux"]["namespaces"]:
            if n["type"] == "mount":
                n["path"] = f"/proc/{os.getpid()}/ns/mnt"

    p = runtime("run", "-b", str(make_bundle(edit=edit, args=["true"], rootfs=rootfs)), uniq("c-nomnt-j"))
    assert p.returncode != 0
    assert "the runtime's own mount namespace" in p.stderr, p.stderr
    assert host_mounts_under(rootfs) == []
