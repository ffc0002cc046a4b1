"""Mode detection from mountinfo, /proc/self/cgroup parsing, and cgroupsPath resolution (no root needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyrunc.cgroups.mounts import CgroupMount, layout_of, parse_mountinfo, parse_proc_cgroup
from pyrunc.cgroups.paths import inner_path, resolve
from pyrunc.errors import CgroupError, SpecError

HYBRID_SPLIT_CPU = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

V1_COMOUNTED = """\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/x,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
"""

V2 = """\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""


def test_hybrid_with_separate_cpu_and_cpuacct() -> None:
    lay = layout_of(parse_mountinfo(HYBRID_SPLIT_CPU))
    assert lay.mode == "hybrid"
    assert [m.controllers for m in lay.v1] == [("cpu",), ("cpuacct",), ("cpuset",), ("memory",), ("devices",),
                                               ("freezer",), ("name=systemd",)]
    assert lay.unified == CgroupMount("/sys/fs/cgroup/unified", "/", 2)


def test_v1_comounted_controllers_and_superoptions() -> None:
    lay = layout_of(parse_mountinfo(V1_COMOUNTED))
    assert lay.mode == "v1"
    assert ("cpu", "cpuacct") in [m.controllers for m in lay.v1]
    assert ("net_cls", "net_prio") in [m.controllers for m in lay.v1]
    # xattr and release_agent=... are options, not controllers
    assert ("name=systemd",) in [m.controllers for m in lay.v1]


def test_v2_mode() -> None:
    lay = layout_of(parse_mountinfo(V2))
    assert lay.mode == "v2" and lay.unified is not None and lay.unified.mountpoint == "/sys/fs/cgroup"


def test_no_cgroup_mount_is_an_error() -> None:
    with pytest.raises(CgroupError, match="no cgroup filesystem"):
        layout_of(parse_mountinfo("22 1 0:21 / /sys rw - sysfs sysfs rw\n"))


def test_mountinfo_escapes() -> None:
    m = parse_mountinfo("40 31 0:37 / /mnt/cg\\040x rw - cgroup cgroup rw,pids\n")
    assert m[0].mountpoint == "/mnt/cg x"


def test_proc_cgroup() -> None:
    own = parse_proc_cgroup("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/u\n")
    assert own == {"name=systemd": "/", "memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "": "/u"}


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (None, "cid"),  # absent: the id, relative (runc's default)
        ("/a/b", "/a/b"),
        ("a/b", "a/b"),
        ("/a/./b//c/", "/a/b/c"),
        ("a/../b", "b"),
        ("/a/x/../b", "/a/b"),
        ("system.slice:docker:1", "system.slice:docker:1"),  # cgroupfs driver: just a name
    ],
)
def test_inner_path(raw: str | None, want: str) -> None:
    assert inner_path(raw, "cid") == want


@pytest.mark.parametrize("raw", ["/../etc", "/a/../../x", "../x", "a/../../x", "/", ".", "a/.."])
def test_inner_path_refuses_escapes_and_empty(raw: str) -> None:
    with pytest.raises(SpecError) as e:
        inner_path(raw, "cid")
    assert str(e.value).startswith("config.json: /linux/cgroupsPath: ")


def test_resolve_absolute_relative_and_v2_parent() -> None:
    mem = CgroupMount("/sys/fs/cgroup/memory", "/", 1, ("memory",))
    assert resolve("/x/y", mem, "/own") == "/sys/fs/cgroup/memory/x/y"
    assert resolve("y", mem, "/own/sub") == "/sys/fs/cgroup/memory/own/sub/y"
    uni = CgroupMount("/sys/fs/cgroup", "/", 2)
    # v2: the runtime's own cgroup is a leaf, relative paths start at its parent (runc fs2)
    assert resolve("c1", uni, "/user.slice/session-1.scope", parent_of_own=True) == "/sys/fs/cgroup/user.slice/c1"
    assert resolve("c1", uni, "/", parent_of_own=True) == "/sys/fs/cgroup/c1"


def test_resolve_with_a_mount_root_below_the_hierarchy_root() -> None:
    # inside a container: the hierarchy's /docker/abc is mounted at /sys/fs/cgroup/memory
    mem = CgroupMount("/sys/fs/cgroup/memory", "/docker/abc", 1, ("memory",))
    assert resolve("c1", mem, "/docker/abc/sub") == "/sys/fs/cgroup/memory/sub/c1"
    assert resolve("c1", mem, "/docker/abc") == "/sys/fs/cgroup/memory/c1"


def test_detect_mode_and_manager_for_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyrunc.cgroups as cg

    assert cg.detect_mode() in ("v1", "v2", "hybrid")
    monkeypatch.setattr(cg, "SYSTEMD_RUNNING", str(tmp_path / "no-such-dir"))
    with pytest.raises(CgroupError, match=r"systemd cgroup manager requested but systemd is not running \(no "):
        cg.manager_for(None, "x", systemd=True)
    monkeypatch.setattr(cg, "SYSTEMD_RUNNING", str(tmp_path))
    with pytest.raises(SpecError, match="slice:prefix:name"):
        cg.manager_for("/plain/path", "x", systemd=True)
    with pytest.raises(CgroupError, match="not implemented"):
        cg.manager_for("system.slice:pyrunc:x", "x", systemd=True)


def test_manager_from_state_round_trip() -> None:
    from pyrunc.cgroups import manager_from_state

    v1 = {"mode": "v1", "dirs": {"pids": "/sys/fs/cgroup/pids/a"}, "mounts": {"pids": "/sys/fs/cgroup/pids"},
          "rootless": False}
    assert manager_from_state(v1).to_state() == v1
    v2 = {"mode": "v2", "dir": "/sys/fs/cgroup/a", "mountpoint": "/sys/fs/cgroup", "rootless": False}
    assert manager_from_state(v2).to_state() == v2
    hy = {**v1, "mode": "hybrid", "unified": "/sys/fs/cgroup/unified/a", "unified_mount": "/sys/fs/cgroup/unified"}
    m = manager_from_state(hy)
    assert m.to_state() == hy and m.mode == "hybrid" and m.paths()[""] == "/sys/fs/cgroup/unified/a"
    from pyrunc.errors import CorruptState

    with pytest.raises(CorruptState, match="unknown cgroup manager state"):
        manager_from_state({"mode": "v9"})
    # Damaged shapes: a clean CorruptState (delete --force then recovers from the id), never a KeyError.
    for bad in ({"mode": "v1"}, {**v1, "dirs": {"pids": 5}}, {**v1, "dirs": {"pids": "relative/a"}},
                {**v1, "dirs": {"pids": "/sys/fs/cgroup/pids/../../etc"}}, {**v1, "dirs": {"pids": "/elsewhere/a"}},
                {**v2, "dir": None}, {**hy, "unified": "/sys/fs/cgroup/unified/../x"}, [], None):
        with pytest.raises(CorruptState):
            manager_from_state(bad)  # type: ignore[arg-type]


def _saved(tmp_path: Path, mode: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """A saved manager (to_state()) whose directories are plain directories under tmp_path, made here."""
    dirs = {c: tmp_path / c / "ctr" for c in ("cpu", "memory", "freezer", "devices", "unified")}
    dirs["cpuacct"] = dirs["cpu"]  # co-mounted: one directory
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    v1 = {c: str(d) for c, d in dirs.items() if c != "unified"}
    if mode == "v2":
        for c in v1:
            if dirs[c].exists():
                dirs[c].rmdir()
        return {"mode": "v2", "dir": str(dirs["unified"]), "mountpoint": str(tmp_path)}, {"": dirs["unified"]}
    state: dict[str, Any] = {"mode": mode, "dirs": v1, "mounts": {c: str(dirs[c].parent) for c in v1}}
    if mode == "hybrid":
        state.update(unified=str(dirs["unified"]), unified_mount=str(tmp_path / "unified"))
    else:
        dirs["unified"].rmdir()
    return state, dirs


@pytest.mark.parametrize("mode", ["v1", "hybrid", "v2"])
def test_remove_if_empty_removes_every_directory(tmp_path: Path, mode: str) -> None:
    from pyrunc.cgroups import remove_if_empty

    state, dirs = _saved(tmp_path, mode)
    assert remove_if_empty(state) is True
    assert [d for d in dirs.values() if d.exists()] == []
    assert remove_if_empty(state) is True  # already gone: nothing to do


def test_remove_if_empty_stops_at_a_busy_directory_and_keeps_freezer_and_devices_for_last(tmp_path: Path) -> None:
    """rmdir fails on a cgroup with a process or a child cgroup in it (here: a child directory); the caller then
    destroys through the manager, which still needs the freezer's and the devices' directories."""
    from pyrunc.cgroups import remove_if_empty

    state, dirs = _saved(tmp_path, "hybrid")
    (dirs["memory"] / "child").mkdir()
    assert remove_if_empty(state) is False
    assert dirs["freezer"].exists() and dirs["devices"].exists() and dirs["memory"].exists()

    (dirs["memory"] / "child").rmdir()
    (dirs["freezer"] / "child").mkdir()
    assert remove_if_empty(state) is False
    assert not dirs["cpu"].exists() and not dirs["memory"].exists() and not dirs["unified"].exists()
    assert dirs["freezer"].exists() and dirs["devices"].exists()

    (dirs["freezer"] / "child").rmdir()
    assert remove_if_empty(state) is True


@pytest.mark.parametrize("state", [{"mode": "v9"}, {}, {"mode": "v1"}, {"mode": "v2"}, {"mode": "v1", "dirs": {}},
                                   {"mode": "v1", "dirs": {"pids": 3}}, {"mode": "v1", "dirs": ["x"]}])
def test_remove_if_empty_leaves_an_unknown_state_to_the_manager(state: dict[str, Any]) -> None:
    from pyrunc.cgroups import remove_if_empty

    assert remove_if_empty(state) is False


def test_saved_paths_equal_the_managers_paths() -> None:
    """exec reads the cgroup directories from the saved state without building a manager: the same mapping."""
    from pyrunc.cgroups import manager_from_state, saved_paths
    from pyrunc.cgroups.hybrid import HybridManager
    from pyrunc.cgroups.v1 import V1Manager
    from pyrunc.cgroups.v2 import V2Manager

    dirs = {"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c1",
            "memory": "/sys/fs/cgroup/memory/c1", "name=systemd": "/sys/fs/cgroup/systemd/c1"}
    mounts = {c: d.rsplit("/", 1)[0] for c, d in dirs.items()}
    for manager in (V2Manager("/sys/fs/cgroup/c1", "/sys/fs/cgroup"), V1Manager(dirs, mounts),
                    HybridManager(dirs, mounts, "/sys/fs/cgroup/unified/c1", "/sys/fs/cgroup/unified")):
        saved = manager.to_state()
        assert saved_paths(saved) == manager_from_state(saved).paths() == manager.paths()
