"""Looking at the host from the outside: what a container (or a failed runtime) may have left or changed.

Every probe is scoped to names this test session owns (a unique id prefix, our temporary directories), because the
machine is shared: other test runs mount, create cgroups and start processes at the same time, and a global
before/after diff would blame us for their work.

- `mounts_mentioning(*needles)`: host mount table lines naming one of our paths or ids;
- `cgroup_dirs(needle)`: cgroup directories (every hierarchy) whose name contains `needle`;
- `processes(needle)`: live processes whose command line, comm or cgroup mentions `needle`;
- `own_fds()`: the fds of this (pytest) process;
- `tree_digest(path)`: names, types, modes and contents of a host directory tree (what an escape would change);
- `container_mounts(pid)`: the mount table of a running container, read from the host.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


def read_text(path: str | Path, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


# --------------------------------------------------------------------------------------------- mounts
def mount_lines(pid: int | str = "self") -> list[str]:
    return read_text(f"/proc/{pid}/mountinfo").splitlines()


def mounts_mentioning(*needles: str, pid: int | str = "self") -> list[str]:
    """Mount table lines (mount point or source) that contain one of `needles`."""
    out = []
    for line in mount_lines(pid):
        fields = line.split()
        if len(fields) < 5:
            continue
        _left, _, right = line.partition(" - ")
        where = fields[4]
        src = right.split()[1] if len(right.split()) > 1 else ""
        if any(n and (n in where or n in src) for n in needles):
            out.append(line)
    return out


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    parent_id: int
    root: str
    point: str
    options: str
    fstype: str
    source: str


def container_mounts(pid: int) -> list[MountEntry]:
    """The mount table of process `pid` (a container's init), as the host sees it."""
    out = []
    for line in mount_lines(pid):
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        out.append(MountEntry(int(lf[0]), int(lf[1]), unescape(lf[3]), unescape(lf[4]), lf[5], rf[0],
                              rf[1] if len(rf) > 1 else ""))
    return out


def unescape(s: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


# --------------------------------------------------------------------------------------------- cgroups
def cgroup_mountpoints() -> list[str]:
    points = []
    for line in mount_lines():
        left, sep, right = line.partition(" - ")
        if sep and right.split()[0] in ("cgroup", "cgroup2"):
            points.append(unescape(left.split()[4]))
    return points


def cgroup_dirs(needle: str) -> list[str]:
    """Directories in every cgroup hierarchy whose name contains `needle` (the container ids we used)."""
    found = []
    for top in cgroup_mountpoints():
        for dirpath, dirnames, _ in os.walk(top, onerror=lambda e: None):
            for d in list(dirnames):
                if needle in d:
                    found.append(os.path.join(dirpath, d))
                    dirnames.remove(d)  # its children are found with it
    return sorted(found)


# --------------------------------------------------------------------------------------------- processes
def processes(needle: str) -> dict[int, str]:
    """pid -> description of live (non-zombie) processes whose cmdline, comm or cgroup names `needle`."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == os.getpid():
            continue
        stat_line = read_text(f"/proc/{pid}/stat")
        if not stat_line:
            continue
        state = stat_line[stat_line.rfind(")") + 2:][:1]
        if state in ("Z", "X"):
            continue
        cmdline = read_text(f"/proc/{pid}/cmdline").replace("\0", " ")
        comm = read_text(f"/proc/{pid}/comm").strip()
        cgroup = read_text(f"/proc/{pid}/cgroup")
        if needle in cmdline or needle in comm or needle in cgroup:
            found[pid] = f"{comm}: {cmdline.strip()}"
    return found


def pyrunc_stage_processes() -> dict[int, str]:
    """Processes still named as pyrunc's intermediate or init stages (a create that never finished)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            comm = read_text(f"/proc/{entry}/comm").strip()
            if comm.startswith("pyrunc:["):
                stat_line = read_text(f"/proc/{entry}/stat")
                if stat_line[stat_line.rfind(")") + 2:][:1] not in ("Z", "X", ""):
                    out[int(entry)] = comm
    return out


def pid_alive(pid: int) -> bool:
    stat_line = read_text(f"/proc/{pid}/stat")
    return bool(stat_line) and stat_line[stat_line.rfind(")") + 2:][:1] not in ("Z", "X")


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------------------------- fds
def own_fds() -> dict[int, str]:
    """fd -> what it points at, for this process (the listing fd itself excluded)."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return out


# --------------------------------------------------------------------------------------------- files
def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(top: str | Path) -> dict[str, str]:
    """relative path -> "type mode uid:gid size sha256/target" for everything under `top` (symlinks not followed)."""
    top = str(top)
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            kind = stat.S_IFMT(st.st_mode)
            desc = f"{kind:o} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}"
            if stat.S_ISLNK(st.st_mode):
                desc += " -> " + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                desc += f" {st.st_size} {file_digest(p)}"
            out[rel] = desc
    return out


@dataclass
class HostSnapshot:
    """What must be identical before and after an attack or a fault (see the module docstring)."""

    needles: tuple[str, ...]
    watched: tuple[Path, ...] = ()
    mounts: list[str] = field(default_factory=list)
    cgroups: dict[str, list[str]] = field(default_factory=dict)
    procs: dict[str, dict[int, str]] = field(default_factory=dict)
    fds: dict[int, str] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def take(cls, needles: Iterable[str], watched: Iterable[Path] = ()) -> HostSnapshot:
        snap = cls(tuple(needles), tuple(Path(w) for w in watched))
        snap.mounts = mounts_mentioning(*snap.needles)
        snap.cgroups = {n: cgroup_dirs(n) for n in snap.needles if n and "/" not in n}
        snap.procs = {n: processes(n) for n in snap.needles if n}
        snap.fds = own_fds()
        snap.trees = {str(w): tree_digest(w) for w in snap.watched}
        return snap

    def differences(self, after: HostSnapshot | None = None) -> list[str]:
        """Human-readable differences between this snapshot and `after` (default: now)."""
        after = after or HostSnapshot.take(self.needles, self.watched)
        out = []
        if set(after.mounts) != set(self.mounts):
            out.append(f"host mounts changed: +{sorted(set(after.mounts) - set(self.mounts))} "
                       f"-{sorted(set(self.mounts) - set(after.mounts))}")
        for n, dirs in after.cgroups.items():
            if dirs != self.cgroups.get(n, []):
                out.append(f"cgroups named {n!r}: before {self.cgroups.get(n)} after {dirs}")
        for n, procs in after.procs.items():
            new = set(procs) - set(self.procs.get(n, {}))
            if new:
                out.append(f"processes mentioning {n!r} left: {[procs[p] for p in sorted(new)]}")
        if set(after.fds) != set(self.fds):
            out.append(f"pytest's fds changed: before {self.fds} after {after.fds}")
        for w, tree in after.trees.items():
            if tree != self.trees.get(w):
                before = self.trees.get(w, {})
                changed = sorted(k for k in set(tree) | set(before) if tree.get(k) != before.get(k))
                out.append(f"host tree {w} changed: {changed[:20]}")
        return out


def remove_cgroups(needle: str) -> None:
    """Last-resort clean-up after a failed test: SIGKILL what is in the cgroups named `needle`, remove them."""
    import signal

    for top in cgroup_dirs(needle):
        walk = sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True)
        for sub, _, _ in walk:
            for pid in read_text(os.path.join(sub, "cgroup.procs")).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for sub, _, _ in walk:
            for _ in range(50):
                try:
                    os.rmdir(sub)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
