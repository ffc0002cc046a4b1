"""SIGKILL of pyrunc at each step of create, start and delete; then `delete --force` must restore a clean host.

The kill points are placed with tests/fault/killpoint.py (a wrapper that patches one function of pyrunc to SIGKILL
its own process before or after it runs). After the crash:
- a half-made container is never reported healthy (`created`/`running`) unless create had really finished;
- `delete --force <id>` succeeds;
- nothing is left: no <root>/<id>, no cgroup, no process of the container, no mount.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from security.hostprobe import (
    cgroup_dirs,
    mounts_mentioning,
    processes,
    pyrunc_stage_processes,
    read_text,
    remove_cgroups,
    wait_until,
)
from security.runtimes import SRC, Runtime, uniq

pytestmark = pytest.mark.root

KILLPOINT = Path(__file__).resolve().parent / "killpoint.py"
NOT_REACHED = 3

CREATE_POINTS = [
    # (kill point, whether `create` had finished: then "created" is the truth, not a half-made container)
    ("pyrunc.runtime.state:reserve:after", False),
    ("pyrunc.runtime.state:save:after:1", False),           # state "creating" written, nothing else yet
    ("pyrunc.runtime.execfifo:create:after", False),
    ("cgroup.create:after", False),                          # cgroup exists, no process in it
    ("pyrunc.runtime.container:_Parent.on_intermediate:before", False),  # intermediate forked, not in the cgroup
    ("cgroup.apply:after", False),
    ("pyrunc.runtime.container:_Parent.on_intermediate:after", False),   # limits set
    ("pyrunc.runtime.container:_Parent.on_init_pid:before", False),      # init forked, its pid not saved yet
    ("pyrunc.runtime.container:_Parent.on_init_pid:after", False),       # init pid saved
    ("pyrunc.runtime.container:_Parent.on_ready:before", False),         # init has done the rootfs
    ("pyrunc.runtime.container:_Parent.on_ready:after", False),          # rlimits set, RUN not sent
    ("pyrunc.runtime.container:_Parent.on_run:before", False),           # RUN sent, state still "creating"
    # State "created" saved, RUN sent: the init finishes its set-up and parks on exec.fifo (really created)
    # unless a late step fails, and then it exits (stopped).
    ("pyrunc.runtime.container:_Parent.on_run:after", True),
    ("pyrunc.process.spawn:spawn:after", True),                          # create done, before exit
]

START_POINTS = [
    "pyrunc.runtime.execfifo:release:before",
    "pyrunc.runtime.execfifo:release:after",    # the program runs, state not yet saved as running
    "pyrunc.runtime.state:save:after",
]

DELETE_POINTS = [
    "pyrunc.runtime.teardown:send_to_init:after",  # SIGKILL sent to the pid namespace's init, not waited for
    "pyrunc.runtime.teardown:destroy:before",
    "pyrunc.cgroups:remove_if_empty:after",        # cgroup gone, state dir still there
    "pyrunc.runtime.teardown:remove_state_dir:before",
]


def killed(rt: Runtime, point: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `pyrunc --root R args...` through killpoint; it must die by SIGKILL at `point`."""
    argv = [sys.executable, str(KILLPOINT), point, "--", "--root", str(rt.root), *args]
    with open(rt.root.parent / "kp.out", "w+") as out, open(rt.root.parent / "kp.err", "w+") as err:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout, env=rt.env,
                           cwd="/")
        err.seek(0)
        p.stderr = err.read()
    assert p.returncode != NOT_REACHED, f"kill point {point} was never reached"
    assert p.returncode == -signal.SIGKILL, f"{point}: exit {p.returncode}: {p.stderr}"
    return p


def assert_clean(rt: Runtime, cid: str, world: Path) -> None:
    """Nothing of container `cid` is left; whatever is left is removed anyway (never leave the host dirty)."""
    problems = []
    if not wait_until(lambda: not processes(cid), timeout=10):
        problems.append(f"processes left: {processes(cid)}")
    if (rt.root / cid).exists():
        problems.append(f"state dir left: {list((rt.root / cid).iterdir())}")
    if cgroup_dirs(cid):
        problems.append(f"cgroups left: {cgroup_dirs(cid)}")
    if mounts_mentioning(str(world), cid):
        problems.append(f"mounts left: {mounts_mentioning(str(world), cid)}")
    stages = {pid: comm for pid, comm in pyrunc_stage_processes().items() if cid in read_text(f"/proc/{pid}/cgroup")}
    if stages:
        problems.append(f"pyrunc stage processes left: {stages}")
    remove_cgroups(cid)  # kills what is still in them too
    assert not problems, problems


@pytest.mark.parametrize(("point", "finished"), CREATE_POINTS, ids=[p for p, _ in CREATE_POINTS])
def test_sigkill_during_create(pyrunc: Runtime, sleeper: Path, world: Path, point: str, finished: bool) -> None:
    cid = uniq("kcreate")
    killed(pyrunc, point, "create", "-b", str(sleeper), cid)
    # The orphaned init (if any) notices its parent is gone and exits; give it a moment.
    time.sleep(0.3)
    st = pyrunc.state(cid)
    if st is not None and not finished:
        assert wait_until(lambda: (pyrunc.state(cid) or {}).get("status") in (None, "creating", "stopped"),
                          timeout=5), f"half-made container reported {pyrunc.state(cid)}"
    listed = pyrunc("list", "--format", "json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    d = pyrunc.delete(cid)
    assert d.returncode == 0, d.stderr
    assert_clean(pyrunc, cid, world)


@pytest.mark.parametrize("point", START_POINTS)
def test_sigkill_during_start(pyrunc: Runtime, sleeper: Path, world: Path, point: str) -> None:
    cid = uniq("kstart")
    p = pyrunc.create(sleeper, cid)
    assert p.returncode == 0, p.stderr
    killed(pyrunc, point, "start", cid)
    st = pyrunc.state(cid)
    assert st is not None and st["status"] in ("created", "running", "stopped"), st
    d = pyrunc.delete(cid)
    assert d.returncode == 0, d.stderr
    assert_clean(pyrunc, cid, world)


@pytest.mark.parametrize("point", DELETE_POINTS)
def test_sigkill_during_delete(pyrunc: Runtime, sleeper: Path, world: Path, point: str) -> None:
    cid = uniq("kdelete")
    p = pyrunc.run(sleeper, cid, "-d")
    assert p.returncode == 0, p.stderr
    killed(pyrunc, point, "delete", "--force", cid)
    # Whatever is left, `state` and `list` still answer, and a second delete --force finishes the job.
    for verb in (("state", cid), ("list",)):
        q = pyrunc(*verb)
        assert "Traceback" not in q.stderr and "internal error" not in q.stderr, q.stderr
    d = pyrunc.delete(cid)
    assert d.returncode == 0, d.stderr
    assert_clean(pyrunc, cid, world)


def test_sigkill_of_run_in_the_foreground(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    """`run` killed while it waits for its container: the container keeps running (runc too); delete --force."""
    cid = uniq("krun")
    p = subprocess.Popen([*pyrunc.cmd, "--root", str(pyrunc.root), "run", "-b", str(sleeper), cid],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=pyrunc.env)
    try:
        assert wait_until(lambda: (pyrunc.state(cid) or {}).get("status") == "running", timeout=20)
    finally:
        p.kill()
        p.wait(timeout=10)
    d = pyrunc.delete(cid)
    assert d.returncode == 0, d.stderr
    assert_clean(pyrunc, cid, world)


def test_kill_points_resolve() -> None:
    """Every kill point still names a function of pyrunc (the code moves; a stale point would test nothing)."""
    import importlib

    sys.path.insert(0, str(SRC))
    for point in [p for p, _ in CREATE_POINTS] + START_POINTS + DELETE_POINTS:
        target = point.rsplit(":", 2)[0] if point.split(":")[-1].isdigit() else point.rsplit(":", 1)[0]
        if target.startswith("cgroup."):
            continue
        mod, _, attr = target.partition(":")
        obj = importlib.import_module(mod)
        for name in attr.split("."):
            obj = getattr(obj, name)
