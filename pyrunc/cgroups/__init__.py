"""Cgroup managers: the host's mode is decided here, once, and nowhere else.

    detect_mode() -> "v1" | "v2" | "hybrid"
    manager_for(cgroups_path, container_id, systemd=False, rootless=False) -> CgroupManager
    manager_from_state(d) -> CgroupManager          (d = manager.to_state(), saved in the container state)

This module imports nothing heavy: `state`, `kill` and `list` reach it through `manager_from_state`.
"""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyrunc.cgroups.manager import CgroupManager
    from pyrunc.cgroups.mounts import Layout

SYSTEMD_RUNNING = "/run/systemd/system"

_layout: "Layout | None" = None


def _host_layout() -> "Layout":
    global _layout
    if _layout is None:
        from pyrunc.cgroups.mounts import read_layout

        _layout = read_layout()
    return _layout


def detect_mode() -> str:
    """"v1", "v2" or "hybrid", from /proc/self/mountinfo (read once per process)."""
    return _host_layout().mode


def manager_for(cgroups_path: str | None, container_id: str, *, systemd: bool = False,
                rootless: bool = False) -> "CgroupManager":
    """The manager for a new container's cgroup (`linux.cgroupsPath`, see `pyrunc.cgroups.paths`).

    `systemd=True` (`--systemd-cgroup`) asks for the systemd driver: where systemd is not running that is a clear
    error; where it is, this build has no systemd driver and says so.
    """
    from pyrunc.errors import CgroupError

    if systemd:
        if not os.path.isdir(SYSTEMD_RUNNING):
            raise CgroupError(f"systemd cgroup manager requested but systemd is not running (no {SYSTEMD_RUNNING})")
        if cgroups_path and cgroups_path.count(":") != 2:
            from pyrunc.errors import SpecError

            raise SpecError([("/linux/cgroupsPath", 'expected cgroupsPath to be of format "slice:prefix:name" for '
                              f"systemd cgroups, got {cgroups_path!r} instead")])
        raise CgroupError("the systemd cgroup driver is not implemented in pyrunc; run without --systemd-cgroup")

    from pyrunc.cgroups.mounts import read_own_cgroups
    from pyrunc.cgroups.paths import inner_path, resolve

    layout = _host_layout()
    inner = inner_path(cgroups_path, container_id)
    own = read_own_cgroups()
    if layout.mode == "v2":
        from pyrunc.cgroups.v2 import V2Manager

        assert layout.unified is not None
        d = resolve(inner, layout.unified, own.get(""), parent_of_own=True)
        return V2Manager(d, layout.unified.mountpoint, rootless=rootless)

    dirs: dict[str, str] = {}
    mounts: dict[str, str] = {}
    for m in layout.v1:
        d = resolve(inner, m, own.get(m.controllers[0]))
        for c in m.controllers:
            dirs[c] = d
            mounts[c] = m.mountpoint
    if layout.mode == "hybrid":
        from pyrunc.cgroups.hybrid import HybridManager

        assert layout.unified is not None
        ud = resolve(inner, layout.unified, own.get(""))
        return HybridManager(dirs, mounts, ud, layout.unified.mountpoint, rootless=rootless)
    from pyrunc.cgroups.v1 import V1Manager

    return V1Manager(dirs, mounts, rootless=rootless)


def manager_from_state(d: "dict[str, Any]") -> "CgroupManager":
    """Rebuild a container's manager from what its `to_state()` saved (cheap: no mountinfo read)."""
    mode = d.get("mode")
    if mode == "v2":
        from pyrunc.cgroups.v2 import V2Manager

        return V2Manager.from_state(d)
    if mode == "hybrid":
        from pyrunc.cgroups.hybrid import HybridManager

        return HybridManager.from_state(d)
    if mode == "v1":
        from pyrunc.cgroups.v1 import V1Manager

        return V1Manager.from_state(d)
    from pyrunc.errors import CgroupError

    raise CgroupError(f"unknown cgroup manager state (mode {mode!r})")
