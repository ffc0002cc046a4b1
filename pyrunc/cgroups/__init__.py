"""Cgroup managers: the host's mode is decided here, once, and nowhere else.

    detect_mode() -> "v1" | "v2" | "hybrid"
    manager_for(cgroups_path, container_id, systemd=False, rootless=False) -> CgroupManager
    manager_from_state(d) -> CgroupManager          (d = manager.to_state(), saved in the container state)
    saved_paths(d) -> {controller: dir}             (what manager_from_state(d).paths() gives, without a manager)
    remove_if_empty(d) -> bool                      (`delete` of a container with nothing left in its cgroup)

This module imports nothing heavy (only `posix`, the C module behind `os`, whose import costs ~1.5 ms): `state`,
`kill`, `list` and `delete` reach it through `manager_from_state` and `remove_if_empty`.
"""

import posix

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
    import os

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


def _inside_mount(path: object, mount: object) -> bool:
    """`path` is an absolute, normalised directory at or below the absolute `mount` (where a cgroup can be)."""
    if not (isinstance(path, str) and isinstance(mount, str) and path.startswith("/") and mount.startswith("/")):
        return False
    if any(part in ("", ".", "..") for part in path.split("/")[1:]):
        return False
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def check_saved(d: "Any") -> None:
    """Raise CorruptState unless `d` has the shape a manager's `to_state()` saves (a damaged cgroup.json must give
    a clean error, and `delete --force` its recovery from the id, never a KeyError deep in a manager)."""
    mode = d.get("mode") if isinstance(d, dict) else None
    pairs: list[tuple[object, object]] = []  # (directory, the mount it must be in)
    if mode == "v2":
        pairs = [(d.get("dir"), d.get("mountpoint"))]
    elif mode in ("v1", "hybrid"):
        dirs, mounts = d.get("dirs"), d.get("mounts")
        if isinstance(dirs, dict) and isinstance(mounts, dict) and dirs and dirs.keys() == mounts.keys():
            pairs = [(dirs[c], mounts[c]) for c in dirs]
            if mode == "hybrid":
                pairs.append((d.get("unified"), d.get("unified_mount")))
    if not pairs or not all(_inside_mount(path, mount) for path, mount in pairs):
        from pyrunc.errors import CorruptState

        what = "" if mode in ("v1", "v2", "hybrid") else f": unknown cgroup manager state (mode {mode!r})"
        raise CorruptState(f"corrupt cgroup.json in the container's state directory{what}")


def manager_from_state(d: "dict[str, Any]") -> "CgroupManager":
    """Rebuild a container's manager from what its `to_state()` saved (cheap: no mountinfo read)."""
    check_saved(d)
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


def saved_paths(d: "dict[str, Any]") -> dict[str, str]:
    """`manager_from_state(d).paths()` (controller -> directory, "" for the cgroup2 one) read straight from the saved
    state: `exec` needs only these, and the v1/v2/hybrid manager modules are ~2 ms of its imports. CorruptState for
    a damaged one (check_saved)."""
    check_saved(d)
    if d["mode"] == "v2":
        return {"": d["dir"]}
    paths = dict(d["dirs"])
    if d["mode"] == "hybrid":
        paths[""] = d["unified"]
    return paths


def _saved_dirs(d: "dict[str, Any]") -> list[str]:
    """The directories of a saved manager (`to_state()`), each once; the freezer's and then the devices' last (see
    `remove_if_empty`). CorruptState for a damaged one."""
    paths = saved_paths(d)
    unified = paths.pop("", None)
    last = [paths[c] for c in ("freezer", "devices") if c in paths]
    dirs = [p for p in paths.values() if p not in last]
    if unified is not None:
        dirs.append(unified)
    return list(dict.fromkeys(dirs + last))


def remove_if_empty(d: "dict[str, Any]") -> bool:
    """Remove a container's cgroup (given as its manager's `to_state()`) if nothing is left in it, without building
    the manager (whose modules import `os` and pyrunc.errors: ~3 ms on `delete`'s path). One rmdir(2) per
    directory, which is the kernel's own check that a cgroup has no process and no child cgroup.

    True when every directory is gone. False as soon as one is not removed (a process or a child cgroup left in it,
    or any other error), with that one and the rest untouched: the caller then destroys the cgroup through its
    manager, which kills what is left first and reports errors. The directories that could be removed had no
    process in them; the freezer's and the devices' are tried last, so that unless they were empty too the manager
    still finds both for the kill (it freezes the cgroup around it, and checks that the cgroup exists by the
    devices directory).
    """
    try:
        # Checked (check_saved): never an rmdir of a damaged (relative, foreign) path; the manager's error path
        # reports the damage.
        dirs = _saved_dirs(d)
    except Exception:  # CorruptState (imported only when raised), or anything a damaged document may cause
        return False
    if not dirs:
        return False
    for path in dirs:
        if not isinstance(path, str):
            return False
        try:
            posix.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return True
