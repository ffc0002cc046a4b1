"""Making and removing cgroup directories, and waiting for a cgroup to empty (shared by every version)."""

import errno
import os
import time

from pyrunc.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def make_dirs(path: str, top: str, *, on_new: "Callable[[str, str], None] | None" = None) -> list[str]:
    """mkdir `path` and its missing parents below `top` (a mount point). Returns the directories created, top-down.

    `on_new(dir, parent)` runs for each new directory before its child is made (v1 cpuset copies the parent's
    cpus/mems into it there, or no task could ever join it). On failure, what was created is removed again.
    """
    rel = os.path.relpath(path, top)
    created: list[str] = []
    cur = top
    try:
        for attempt in range(3):
            cur = top
            try:
                for comp in rel.split(os.sep):
                    parent, cur = cur, os.path.join(cur, comp)
                    try:
                        os.mkdir(cur, 0o755)
                    except FileExistsError:
                        continue
                    created.append(cur)
                    if on_new is not None:
                        on_new(cur, parent)
                break
            except FileNotFoundError:
                # A parent vanished between our mkdir and our child's: another create that had made it failed and
                # removed it (remove_dirs below). Walk again; it is made anew.
                if attempt == 2:
                    raise
    except OSError as e:
        remove_dirs(created)
        raise CgroupError("cannot create cgroup", path=cur, err=e.errno) from None
    except BaseException:
        remove_dirs(created)
        raise
    return created


def rmdir_retry(path: str, tries: int = 10) -> None:
    """rmdir a cgroup; EBUSY (tasks still exiting) is retried with a growing delay. A missing dir is fine."""
    delay = 0.001
    for attempt in range(tries + 1):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or attempt == tries:
                raise CgroupError("cannot remove cgroup", path=path, err=e.errno) from None
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def remove_tree(path: str) -> None:
    """Remove a cgroup and its sub-cgroups, deepest first (runc RemovePath)."""
    try:
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    try:
        subdirs = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as e:
        raise CgroupError("cannot remove cgroup", path=path, err=e.errno) from None
    for d in subdirs:
        remove_tree(d)
    rmdir_retry(path)


def remove_dirs(created: "Iterable[str]") -> None:
    """Best-effort removal of directories this process created (deepest first), to leave nothing behind. A plain
    rmdir each: a parent we made may meanwhile hold another container's cgroup, which must stay (the kernel
    refuses to remove a cgroup with children)."""
    for d in sorted(created, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass


def wait_until(predicate: "Callable[[], bool]", timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
