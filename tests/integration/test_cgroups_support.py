"""Helpers (no tests) for the real-cgroup tests: unique cgroup paths, processes born inside a cgroup, clean-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

TEST_PARENT = f"/pyrunc-test-{os.getpid()}"


def cgroup_mountpoints() -> list[str]:
    """Every cgroup/cgroup2 mount point of this host."""
    from pyrunc.cgroups.mounts import read_layout

    lay = read_layout()
    return [m.mountpoint for m in lay.v1] + ([lay.unified.mountpoint] if lay.unified else [])


def remove_test_parent() -> None:
    """Remove TEST_PARENT (and anything left below it) from every hierarchy."""
    from pyrunc.cgroups.dirs import remove_tree

    for mp in cgroup_mountpoints():
        remove_tree(os.path.join(mp, TEST_PARENT.lstrip("/")))


def leftovers(name: str) -> list[str]:
    """Directories named `name` below TEST_PARENT in any hierarchy."""
    return [p for mp in cgroup_mountpoints() if os.path.exists(p := os.path.join(mp, TEST_PARENT.lstrip("/"), name))]


def spawn_in(cg: Any, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    """Start argv with its process already in the cgroup before it runs any code (apply in the child pre-exec)."""
    return subprocess.Popen(argv, preexec_fn=lambda: cg.apply(os.getpid()), **kw)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def unified_root() -> str | None:
    from pyrunc.cgroups.mounts import read_layout

    lay = read_layout()
    return lay.unified.mountpoint if lay.unified else None


def restore_subtree_control(before: str) -> None:
    """Disable on the cgroup2 root the controllers the tests enabled (setting hugetlb limits on a hybrid host
    enables it there). Call after remove_test_parent(): a child using a controller keeps it busy."""
    root = unified_root()
    if root is None:
        return
    now = read(os.path.join(root, "cgroup.subtree_control")).split()
    for c in set(now) - set(before.split()):
        try:
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as f:
                f.write(f"-{c}")
        except OSError:
            pass  # some other cgroup now uses it: leave it
