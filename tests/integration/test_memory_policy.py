"""`linux.memoryPolicy` (runtime-spec 1.3) is applied with set_mempolicy(2) by the init and by exec'd processes:
/proc/self/numa_maps shows the policy of each mapping (bats memorypolicy.bats). Node 0 always exists."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from conftest import uniq

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not os.path.exists("/proc/self/numa_maps"), reason="kernel without NUMA (no numa_maps)"),
]

POLICY_OF_FIRST_MAPPING = "head -n 1 /proc/self/numa_maps | cut -d ' ' -f 2"


def policy(mode: str, nodes: str | None = None, flags: list[str] | None = None) -> Any:
    def edit(c: dict[str, Any]) -> None:
        mp: dict[str, Any] = {"mode": mode}
        if nodes is not None:
            mp["nodes"] = nodes
        if flags is not None:
            mp["flags"] = flags
        c["linux"]["memoryPolicy"] = mp
    return edit


@pytest.mark.parametrize(("mode", "nodes", "flags", "shown"), [
    ("MPOL_INTERLEAVE", "0", None, "interleave:0"),
    ("MPOL_BIND", "0", ["MPOL_F_STATIC_NODES"], "bind=static:0"),
    ("MPOL_PREFERRED", "0", None, "prefer:0"),
    ("MPOL_DEFAULT", None, None, "default"),
])
def test_policy_of_the_container_process(runtime: Any, make_bundle: Any, mode: str, nodes: str | None,
                                         flags: list[str] | None, shown: str) -> None:
    bundle = make_bundle(edit=policy(mode, nodes, flags), args=["sh", "-c", POLICY_OF_FIRST_MAPPING])
    p = runtime("run", "-b", str(bundle), uniq("c-mpol"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == shown


def test_exec_gets_the_containers_policy(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(edit=policy("MPOL_PREFERRED", "0", ["MPOL_F_RELATIVE_NODES"]), args=["sleep", "1000"])
    cid = uniq("c-mpol-exec")
    runtime.create(bundle, cid)
    runtime("start", cid, check=True)
    p = runtime("exec", cid, "sh", "-c", POLICY_OF_FIRST_MAPPING, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "prefer=relative:0"


def test_node_the_kernel_refuses_fails_create_cleanly(runtime: Any, make_bundle: Any) -> None:
    with open("/sys/devices/system/node/possible") as f:
        last = int(f.read().strip().replace("-", ",").split(",")[-1])
    cid = uniq("c-mpol-bad")
    p = runtime.create(make_bundle(edit=policy("MPOL_BIND", str(last + 1))), cid, check=False)
    assert p.returncode == 1
    assert "set_mempolicy: Invalid argument" in p.stderr and "(config: /linux/memoryPolicy)" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert runtime("state", cid).returncode != 0  # nothing left behind


@pytest.mark.parametrize(("edit", "message"), [
    (policy("MPOL_BIND", "0-9876543210", []), "/linux/memoryPolicy/nodes: invalid memory policy nodes"),
    (policy("MPOL_DEFAULT", "0-7"), "memory policy mode requires 0 nodes but got 8"),
    (policy("MPOL_BIND", ""), "memory policy mode requires at least one node but got 0"),
    # runc's wording for a name the schema refuses too (memorypolicy.bats)
    (policy("INTERLEAVE", "0"), "/linux/memoryPolicy/mode: invalid memory policy mode"),
    (policy("MPOL_PREFERRED", "0", ["MPOL_F_RELATIVE_NODES", "badflag"]),
     "/linux/memoryPolicy/flags/1: invalid memory policy flag"),
])
def test_invalid_policies_are_config_errors(runtime: Any, make_bundle: Any, edit: Any, message: str) -> None:
    p = runtime("run", "-b", str(make_bundle(edit=edit)), uniq("c-mpol-inv"), stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert message in p.stderr, p.stderr
