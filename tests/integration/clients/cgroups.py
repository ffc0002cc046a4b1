"""Where a container's processes are in the host's cgroup hierarchies (v1, v2 or hybrid), seen from the host."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _cgroup_mounts() -> dict[str, Path]:
    """Controller key ("memory", "cpu,cpuacct", "name=systemd", "" for v2) -> the host's mount point of it."""
    mounts: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, super_opts = right.split()[:3]
            point = Path(left.split()[4])
            if fstype == "cgroup2":
                mounts.setdefault("", point)
            elif fstype == "cgroup":
                keys = [o for o in super_opts.split(",") if o not in ("rw", "ro") and not o.startswith("release_agent")
                        and o not in ("noprefix", "clone_children", "xattr", "cpuset_v2_mode")]
                mounts.setdefault(",".join(sorted(keys)), point)
    return mounts


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """Controller key -> the directory holding `pid`, for every mounted hierarchy that `pid` appears in."""
    mounts = _cgroup_mounts()
    dirs: dict[str, Path] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            key = ",".join(sorted(controllers.split(","))) if controllers else ""
            if key in mounts:
                dirs[key] = mounts[key] / path.lstrip("/")
    return dirs


def memory_limit_file(dirs: dict[str, Path]) -> Path:
    """memory.limit_in_bytes (v1) or memory.max (v2) of a process's memory cgroup."""
    for key, d in dirs.items():
        if "memory" in key.split(","):
            return d / "memory.limit_in_bytes"
    return dirs[""] / "memory.max"


def freezer_state(dirs: dict[str, Path]) -> str:
    """"FROZEN"/"THAWED" from v1 freezer.state ("FREEZING" is not frozen yet) or v2 cgroup.freeze."""
    for key, d in dirs.items():
        if "freezer" in key.split(","):
            return (d / "freezer.state").read_text().strip()
    return "FROZEN" if (dirs[""] / "cgroup.freeze").read_text().strip() == "1" else "THAWED"


def remove_cgroup_tree(relative: str) -> None:
    """rmdir `/<relative>` and its (empty) descendants in every mounted hierarchy: the parent cgroups clients create.

    rmdir only removes empty cgroups, so a cgroup that still has processes stays (and shows up as a leak elsewhere).
    """
    points = set(_cgroup_mounts().values())
    # conmon (cgroupfs manager) also creates its parent, and a `tasks` file, under /sys/fs/cgroup/<controller> for
    # controllers that are not mounted here (hugetlb, net_cls, net_prio, perf_event): plain files on the tmpfs.
    base = Path("/sys/fs/cgroup")
    if base.is_dir():
        for plain in base.iterdir():
            if plain.is_dir() and not plain.is_symlink() and plain not in points and not os.path.ismount(plain):
                shutil.rmtree(plain / relative.strip("/"), ignore_errors=True)
                try:
                    plain.rmdir()  # the controller directory itself, if conmon made it and nothing else is in it
                except OSError:
                    pass
    for point in points:
        top = point / relative.strip("/")
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
