"""Reading the host's view of a container: /proc/<pid>, mountinfo, cgroup dirs, capability masks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Capability numbers from linux/capability.h (only the ones the cases use).
CAP_NUMBERS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_RESOURCE": 24,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}


def cap_mask(names: list[str] | tuple[str, ...]) -> int:
    mask = 0
    for n in names:
        mask |= 1 << CAP_NUMBERS[n]
    return mask


def ns_inode(pid: int | str, ns: str) -> int:
    """Inode of /proc/<pid>/ns/<ns> ("self" for the harness itself)."""
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


def kernel_has_ns(ns: str) -> bool:
    return os.path.exists(f"/proc/self/ns/{ns}")


def proc_status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    parent_id: int
    root: str
    mountpoint: str
    options: tuple[str, ...]  # per-mount options (ro, nosuid, ...)
    optional: tuple[str, ...]  # shared:N, master:N, ...
    fstype: str
    source: str
    super_options: tuple[str, ...]


def _unescape(s: str) -> str:
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text: str) -> list[MountEntry]:
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-")
        entries.append(
            MountEntry(
                mount_id=int(parts[0]),
                parent_id=int(parts[1]),
                root=_unescape(parts[3]),
                mountpoint=_unescape(parts[4]),
                options=tuple(parts[5].split(",")),
                optional=tuple(parts[6:sep]),
                fstype=parts[sep + 1],
                source=_unescape(parts[sep + 2]),
                super_options=tuple(parts[sep + 3].split(",")) if len(parts) > sep + 3 else (),
            )
        )
    return entries


def mounts_at(entries: list[MountEntry], mountpoint: str) -> list[MountEntry]:
    return [e for e in entries if e.mountpoint == mountpoint]


def top_mount(entries: list[MountEntry], mountpoint: str) -> MountEntry | None:
    """The last (visible) mount at `mountpoint`."""
    found = mounts_at(entries, mountpoint)
    return found[-1] if found else None


@cache
def _hierarchies() -> tuple[tuple[str, frozenset[str], str], ...]:
    """(mountpoint, controllers, "v1"|"v2") for every cgroup hierarchy mounted on the host."""
    out = []
    for e in parse_mountinfo(Path("/proc/self/mountinfo").read_text()):
        if e.fstype == "cgroup2":
            out.append((e.mountpoint, frozenset(), "v2"))
        elif e.fstype == "cgroup":
            ctrls = frozenset(o.removeprefix("name=") for o in e.super_options if o not in ("rw", "ro"))
            out.append((e.mountpoint, ctrls, "v1"))
    return tuple(out)


def cgroup_mode() -> str:
    kinds = {k for _, _, k in _hierarchies()}
    if kinds == {"v2"}:
        return "v2"
    return "hybrid" if "v2" in kinds else "v1"


def cgroup_dir(pid: int, controller: str) -> tuple[Path, str] | None:
    """Host directory of `pid`'s cgroup for `controller` and "v1"/"v2", or None if not mounted.

    On a v1/hybrid host the v1 hierarchy carrying the controller wins; on pure v2 the unified one.
    """
    membership: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hid, ctrls, path = line.split(":", 2)
        if hid == "0" and ctrls == "":
            membership["<v2>"] = path
        for c in ctrls.split(","):
            if c:
                membership[c.removeprefix("name=")] = path
    for mnt, ctrls, kind in _hierarchies():
        if kind == "v1" and controller in ctrls and controller in membership:
            return Path(mnt + membership[controller]), "v1"
    if cgroup_mode() == "v2" and "<v2>" in membership:
        for mnt, _, kind in _hierarchies():
            if kind == "v2":
                return Path(mnt + membership["<v2>"]), "v2"
    return None


def cgroup_dirs_for_path(cgroups_path: str) -> list[Path]:
    """Where an absolute cgroupsPath would live in every hierarchy (for leftover checks)."""
    rel = cgroups_path.lstrip("/")
    return [Path(mnt) / rel for mnt, _, _ in _hierarchies()]


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            out.extend(int(x) for x in text.split())
    except OSError:
        pass
    return out
