"""Checks that a container left nothing behind: no process, no runtime state, no cgroup."""

from __future__ import annotations

import json
from pathlib import Path

from .commands import pid_alive, run, wait_until


def listed_ids(binary: Path, root: Path | None) -> list[str]:
    """Ids in `<binary> [--root root] list --format json`."""
    p = run([str(binary), *(["--root", str(root)] if root else []), "list", "--format", "json"], timeout=30)
    return [c["id"] for c in json.loads(p.stdout or "null") or []]


def assert_container_gone(binary: Path, root: Path | None, cid: str, pid: int, cgroups: dict[str, Path]) -> None:
    """The init `pid` is dead, the runtime no longer lists `cid`, its state dir and cgroup directories are gone."""
    wait_until(lambda: not pid_alive(pid), timeout=10, what=f"container init {pid} to die")
    wait_until(lambda: cid not in listed_ids(binary, root), timeout=10, what=f"{binary} to stop listing {cid}")
    if root is not None:
        assert not (root / cid).exists(), f"state dir {root / cid} left behind"
    wait_until(lambda: not [d for d in cgroups.values() if d.exists()], timeout=10,
               what=f"cgroups of {cid} to be removed: {[str(d) for d in cgroups.values() if d.exists()]}")


def missing(paths: tuple[Path, ...]) -> list[Path]:
    """The paths that do not exist yet: note them before a daemon starts, and `remove_created` them after."""
    return [p for p in paths if not p.exists() and not p.is_symlink()]


def remove_created(paths: list[Path]) -> None:
    """Remove host paths a daemon created outside its own directories (files; directories only when empty)."""
    for path in paths:  # deepest first
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass  # not empty: something else uses it now
