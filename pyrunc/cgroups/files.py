"""Reading and writing cgroup interface files: one write per value, errors that name the file, value and config field.

cgroupfs files take a whole value in a single write(2) and never need creating, so `write` opens without O_CREAT:
a missing file means the controller or the knob does not exist here, and is reported as such instead of being
silently created (which would also hide typos in the unit tests' fake cgroupfs).
"""

import errno
import os

from pyrunc.errors import CgroupError

MAX_UINT64 = (1 << 64) - 1


def write(dir: str, name: str, value: str, *, spec_path: str | None = None) -> None:
    """Write `value` to `<dir>/<name>` in one write(2). CgroupError names the file, the value and the config field."""
    path = os.path.join(dir, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno == errno.ENOENT:
            msg = "cgroup file does not exist (controller or setting not supported here)"
        else:
            msg = "cannot write cgroup file"
        raise CgroupError(msg, path=path, value=value, spec_path=spec_path, err=e.errno) from None


def join_tasks(dirs: list[str]) -> list[str]:
    """Move the calling thread into each v1 cgroup directory by writing "0" to its `tasks`; the directories
    joined (a refused one is left out: the caller's parent then writes our pid to cgroup.procs its usual way).

    Why not cgroup.procs: that write takes the kernel's global threadgroup lock for writing, which waits for an
    RCU grace period (~10 ms); a thread moving itself skips that lock. Callers are single-threaded processes
    (the intermediates), so the thread is the whole process."""
    joined = []
    for d in dirs:
        try:
            write(d, "tasks", "0")
            joined.append(d)
        except CgroupError:
            pass
    return joined


def pids_limit_exceeded(dirs: "list[str]") -> str | None:
    """The first pids.max, in these cgroup directories or their ancestors, below its pids.current; else None.

    The pids controller refuses a fork past a limit, but not a process that joins the cgroup. exec's one-stage
    child joins instead of being forked in it, so it checks here, once it is counted, what its fork would have
    been refused for (and fails the same way): a container at its pids limit (or a pod at its own) gets no
    new process, as with runc. Two execs joining at once may both see the excess and both fail: never more
    processes than the limit."""
    for d in dirs:
        while True:
            limit = _read_small(f"{d}/pids.max")
            if limit is None:
                break  # no pids controller here, or the hierarchy's root (which has no limit)
            current = _read_small(f"{d}/pids.current")
            if limit.strip() != b"max" and current is not None and int(current) > int(limit):
                return f"{d}/pids.max"
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return None


def _read_small(path: str) -> bytes | None:
    """A few bytes of a cgroup file with plain syscalls (no text-file object: this runs on exec's path for every
    hierarchy, most of which have no such file); None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)


# Cgroup files are ASCII; they are read as UTF-8 (the same text) because that codec is loaded at interpreter
# start, while the first "ascii" file would import encodings.ascii (~0.15 ms of every create).
def read(dir: str, name: str) -> str:
    path = os.path.join(dir, name)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        raise CgroupError("cannot read cgroup file", path=path, err=e.errno) from None


def read_opt(dir: str, name: str) -> str | None:
    """The file's content, or None if it does not exist (optional knobs, removed cgroups)."""
    try:
        with open(os.path.join(dir, name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ENODEV:  # the cgroup was removed while we read it
            return None
        raise CgroupError("cannot read cgroup file", path=os.path.join(dir, name), err=e.errno) from None


def exists(dir: str, name: str) -> bool:
    return os.path.exists(os.path.join(dir, name))


def parse_uint(text: str) -> int:
    """A cgroup number: "max" is unlimited (MAX_UINT64); negative values (v1's -1) too."""
    text = text.strip()
    if text == "max":
        return MAX_UINT64
    v = int(text)
    return MAX_UINT64 if v < 0 else v


def read_uint(dir: str, name: str, default: int | None = None) -> int:
    """A single-number file. With `default`, a missing file gives the default."""
    text = read_opt(dir, name) if default is not None else read(dir, name)
    if text is None:
        return default or 0
    try:
        return parse_uint(text)
    except ValueError:
        raise CgroupError("cannot parse cgroup file", path=os.path.join(dir, name), value=text.strip()) from None


def parse_keyed(text: str) -> dict[str, int]:
    """A flat keyed file (`key value` per line: cpu.stat, memory.stat, memory.events, pids.events)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = parse_uint(parts[1])
            except ValueError:
                continue
    return out


def read_keyed(dir: str, name: str) -> dict[str, int]:
    """A flat keyed file; empty if the file does not exist."""
    text = read_opt(dir, name)
    return parse_keyed(text) if text is not None else {}


def read_pids(dir: str, *, recursive: bool = True) -> list[int]:
    """Pids in `cgroup.procs` of `dir` (and of every sub-cgroup when `recursive`). A missing dir is empty."""
    pids: list[int] = []
    stack = [dir]
    while stack:
        d = stack.pop()
        text = read_opt(d, "cgroup.procs")
        if text is None:
            continue
        pids.extend(int(p) for p in text.split())
        if recursive:
            try:
                stack.extend(e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
            except (FileNotFoundError, NotADirectoryError):
                pass
    return pids
