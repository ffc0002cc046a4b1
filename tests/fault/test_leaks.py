"""Leak check: create/start/kill/delete cycles leave the host exactly as they found it.

    PYRUNC_LEAK_CYCLES=500 pytest tests/fault/test_leaks.py     # the full run (a few minutes)

CI runs 30 cycles. Compared before and after, scoped to this test's ids and directories (the machine is shared):
host mounts, cgroup directories, processes, the test process's own fds, and the entries of the state root.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from security.hostprobe import (
    HostSnapshot,
    own_fds,
    pyrunc_stage_processes,
    read_text,
    remove_cgroups,
    wait_until,
)
from security.runtimes import SESSION, Runtime

pytestmark = pytest.mark.root

CYCLES = int(os.environ.get("PYRUNC_LEAK_CYCLES", "30"))


def test_create_start_kill_delete_cycles_leak_nothing(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    prefix = f"leak-{SESSION}"
    before = HostSnapshot.take([prefix, str(world)])
    fds_before = own_fds()

    def our_stages() -> set[int]:  # other test runs on the machine have their own pyrunc inits
        return {pid for pid in pyrunc_stage_processes() if prefix in read_text(f"/proc/{pid}/cgroup")}

    stages_before = our_stages()
    t0 = time.monotonic()
    try:
        cycles(pyrunc, sleeper, prefix)
    finally:
        elapsed = time.monotonic() - t0
        wait_until(lambda: not HostSnapshot.take([prefix, str(world)]).differences(before), timeout=10)
        leaked = HostSnapshot.take([prefix, str(world)]).differences(before)
        pyrunc.cleanup()
        remove_cgroups(prefix)  # whatever a failing run leaked must not stay on the host
    assert not leaked, leaked
    assert own_fds() == fds_before
    assert our_stages() <= stages_before
    assert not os.listdir(pyrunc.root), os.listdir(pyrunc.root)
    print(f"{CYCLES} cycles in {elapsed:.1f}s ({elapsed / CYCLES * 1000:.0f} ms per cycle)")


def cycles(pyrunc: Runtime, sleeper: Path, prefix: str) -> None:
    for i in range(CYCLES):
        cid = f"{prefix}-{i}"
        p = pyrunc.create(sleeper, cid)
        assert p.returncode == 0, f"cycle {i}: create: {p.stderr}"
        assert pyrunc.start(cid).returncode == 0, f"cycle {i}: start"
        k = pyrunc.kill(cid, "KILL")
        assert k.returncode == 0, f"cycle {i}: kill: {k.stderr}"
        assert wait_until(lambda cid=cid: (pyrunc.state(cid) or {}).get("status") == "stopped", timeout=10), i
        d = pyrunc.delete(cid, force=False)
        assert d.returncode == 0, f"cycle {i}: delete: {d.stderr}"
