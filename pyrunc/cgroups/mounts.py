"""Where the cgroup hierarchies are: /proc/self/mountinfo, /proc/self/cgroup, and the host's mode from them.

Modes: "v2" (one cgroup2 hierarchy, usually at /sys/fs/cgroup), "v1" (only legacy hierarchies) and "hybrid"
(legacy hierarchies for the controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified, as systemd's
hybrid layout). Controllers are read from each v1 mount's super options, so any co-mounting (`cpu,cpuacct`
together or apart, `net_cls,net_prio`) is handled the same way.
"""

from pyrunc.errors import CgroupError

V1_CONTROLLERS = frozenset({
    "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "perf_event", "net_prio",
    "hugetlb", "pids", "rdma", "misc", "debug",
})


class CgroupMount:
    """One cgroup filesystem mount. `root` is the hierarchy path mounted at `mountpoint` (field 4 of mountinfo).
    A value: equal to another with the same fields (a plain class, not a dataclass: see bench/README.md)."""

    __slots__ = ("controllers", "mountpoint", "root", "version")

    def __init__(self, mountpoint: str, root: str, version: int, controllers: tuple[str, ...] = ()) -> None:
        self.mountpoint = mountpoint
        self.root = root
        self.version = version  # 1 or 2
        self.controllers = controllers  # v1 only: ("cpu", "cpuacct"), ("name=systemd",)

    def _key(self) -> tuple[str, str, int, tuple[str, ...]]:
        return self.mountpoint, self.root, self.version, self.controllers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CgroupMount):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "CgroupMount(mountpoint={!r}, root={!r}, version={!r}, controllers={!r})".format(*self._key())


def _unescape(s: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and len(s[i + 1:i + 4]) == 3 and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """Every cgroup/cgroup2 mount in a mountinfo text, in mount order."""
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        if len(fields) < sep + 4 or len(fields) < 5:
            continue
        fstype = fields[sep + 1]
        if fstype == "cgroup2":
            mounts.append(CgroupMount(_unescape(fields[4]), _unescape(fields[3]), 2))
        elif fstype == "cgroup":
            opts = fields[sep + 3].split(",")
            ctrls = tuple(o for o in opts if o in V1_CONTROLLERS or o.startswith("name="))
            if ctrls:
                mounts.append(CgroupMount(_unescape(fields[4]), _unescape(fields[3]), 1, ctrls))
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controller: path}; the v2 entry ("0::/path") is under the key ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            out[""] = path
            continue
        for c in ctrls.split(","):
            out[c] = path
    return out


class Layout:
    """The cgroup layout seen by this process: its mode, the v1 hierarchies, the cgroup2 mount."""

    __slots__ = ("mode", "unified", "v1")

    def __init__(self, mode: str, v1: tuple[CgroupMount, ...], unified: CgroupMount | None) -> None:
        self.mode = mode
        self.v1 = v1
        self.unified = unified


def layout_of(mounts: list[CgroupMount]) -> Layout:
    """Decide the mode. One mount per hierarchy: the first one wins (later ones are usually bind mounts)."""
    v1: list[CgroupMount] = []
    seen: set[tuple[str, ...]] = set()
    unified: CgroupMount | None = None
    for m in mounts:
        if m.version == 2:
            # Prefer the canonical /sys/fs/cgroup mount when cgroup2 is mounted more than once.
            if unified is None or m.mountpoint == "/sys/fs/cgroup":
                unified = m
        elif m.controllers not in seen:
            seen.add(m.controllers)
            v1.append(m)
    has_v1_controllers = any(c in V1_CONTROLLERS for m in v1 for c in m.controllers)
    if has_v1_controllers:
        return Layout("hybrid" if unified is not None else "v1", tuple(v1), unified)
    if unified is not None:
        return Layout("v2", (), unified)
    raise CgroupError("no cgroup filesystem is mounted (looked in /proc/self/mountinfo)")


def read_layout(mountinfo: str = "/proc/self/mountinfo") -> Layout:
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        return layout_of(parse_mountinfo(f.read()))


def read_own_cgroups(path: str = "/proc/self/cgroup") -> dict[str, str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return parse_proc_cgroup(f.read())
