"""Run the pyrunc CLI and SIGKILL it at one precise step: a fault injector that needs no hook in pyrunc.

    python tests/fault/killpoint.py TARGET:WHEN[:NTH] -- [pyrunc global flags] VERB ARGS...

TARGET is `module:function`, `module:Class.method`, or `cgroup.METHOD` (a method of the cgroup manager the
command gets from `pyrunc.cgroups.manager_for` / `manager_from_state`). WHEN is `before` or `after` the NTH call
(default 1). Only the pyrunc process itself is killed, never a child it forked (children inherit the patch): the
point is what a crash of the runtime leaves for `delete --force` to clean up. Exit status 3 if the point was never
reached (the command finished first), so a test can tell a stale kill point from a clean run.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from typing import Any

ME = os.getpid()
NOT_REACHED = 3


def killer(fn: Any, when: str, nth: int) -> Any:
    calls = [0]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        if os.getpid() != ME:
            return fn(*args, **kw)
        calls[0] += 1
        hit = calls[0] == nth
        if hit and when == "before":
            os.kill(ME, signal.SIGKILL)
        result = fn(*args, **kw)
        if hit and when == "after":
            os.kill(ME, signal.SIGKILL)
        return result

    return wrapper


def patch_cgroup(method: str, when: str, nth: int) -> None:
    import pyrunc.cgroups as cgroups

    for factory in ("manager_for", "manager_from_state"):
        original = getattr(cgroups, factory)

        def made(*args: Any, _original: Any = original, **kw: Any) -> Any:
            mgr = _original(*args, **kw)
            setattr(mgr, method, killer(getattr(mgr, method), when, nth))
            return mgr

        setattr(cgroups, factory, made)


def patch(target: str, when: str, nth: int) -> None:
    if target.startswith("cgroup."):
        patch_cgroup(target.split(".", 1)[1], when, nth)
        return
    modname, _, attr = target.partition(":")
    obj: Any = importlib.import_module(modname)
    *owners, name = attr.split(".")
    for o in owners:
        obj = getattr(obj, o)
    if not hasattr(obj, name):
        sys.stderr.write(f"killpoint: {target} does not exist (stale kill point)\n")
        sys.exit(4)
    setattr(obj, name, killer(getattr(obj, name), when, nth))


def main(argv: list[str]) -> int:
    spec, sep, rest = argv[0], argv[1], argv[2:]
    assert sep == "--", "usage: killpoint.py TARGET:WHEN[:NTH] -- ARGS..."
    parts = spec.split(":")
    if len(parts) >= 3 and parts[-1].isdigit():
        nth, when, target = int(parts[-1]), parts[-2], ":".join(parts[:-2])
    else:
        nth, when, target = 1, parts[-1], ":".join(parts[:-1])
    assert when in ("before", "after"), spec
    patch(target, when, nth)
    from pyrunc.cli.main import main as cli

    rc = cli(rest)
    return NOT_REACHED if rc == 0 else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
