"""`linux.resources.pids.limit` as runc HEAD applies it (runtime-spec 1.3: 0 is a real limit, -1 is "max"): 0 is
written as pids.max=1 (runc: systemd refuses TasksMax=0), any negative as "max", and a limit too small for the
runtime's own processes still lets the container start: pids.max is written once the init exists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Runtime
from test_cgroups_container import cgdir, start
from test_cgroups_support import read, remove_test_parent

from pyrunc.cgroups import detect_mode

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(detect_mode() == "v2", reason="checks v1 controller files (this host is pure cgroup v2)"),
]


@pytest.fixture(scope="module", autouse=True)
def _parent() -> Iterator[None]:
    yield
    remove_test_parent()


@pytest.mark.parametrize(("limit", "pids_max"), [(0, "1"), (1, "1"), (2, "2"), (-1, "max"), (-7, "max")])
def test_pids_limit(runtime: Runtime, make_bundle: Any, limit: int, pids_max: str) -> None:
    cid, _ = start(runtime, make_bundle, f"pids{limit}".replace("-", "m"), ["sleep", "100"],
                   {"pids": {"limit": limit}})
    assert read(f"{cgdir('pids', cid)}/pids.max").strip() == pids_max
    assert runtime.state(cid)["status"] == "running"


def test_limit_zero_refuses_every_new_process(runtime: Runtime, make_bundle: Any) -> None:
    cid, _ = start(runtime, make_bundle, "pids0fork", ["sleep", "100"], {"pids": {"limit": 0}})
    p = runtime("exec", cid, "true")
    assert p.returncode != 0
    assert int(read(f"{cgdir('pids', cid)}/pids.current")) == 1
    assert os.path.exists(f"/proc/{runtime.state(cid)['pid']}")


def test_update_pids_limit_zero(runtime: Runtime, make_bundle: Any) -> None:
    cid, _ = start(runtime, make_bundle, "pidsupd", ["sleep", "100"], {"pids": {"limit": 10}})
    runtime("update", "--pids-limit", "0", cid, check=True)
    assert read(f"{cgdir('pids', cid)}/pids.max").strip() == "1"


def test_pids_without_limit_leaves_pids_max_alone(runtime: Runtime, make_bundle: Any, tmp_path: Any) -> None:
    """runtime-spec 1.3.0 (#1279): `limit` is OPTIONAL; absent, nothing is written (runc: a nil PidsLimit), at
    create as at `update -r`."""
    cid, _ = start(runtime, make_bundle, "pidsnone", ["sleep", "100"], {"pids": {}})
    pids_max = f"{cgdir('pids', cid)}/pids.max"
    assert read(pids_max).strip() == "max"
    runtime("update", "--pids-limit", "7", cid, check=True)
    doc = tmp_path / "r.json"
    doc.write_text('{"pids": {}}')
    runtime("update", "-r", str(doc), cid, check=True)
    assert read(pids_max).strip() == "7"


def test_exec_respects_an_ancestor_pids_limit(runtime: Runtime, make_bundle: Any) -> None:
    """A limit on a parent cgroup (a pod's) holds for exec as for a fork: exec's process joins the container's
    cgroup rather than being forked there, which the kernel does not limit, so the runtime checks (as runc's exec,
    which forks in the cgroup, is refused)."""
    import subprocess

    from conftest import uniq
    from test_cgroups_support import TEST_PARENT

    cid = uniq("pidspod")
    pod = f"/sys/fs/cgroup/pids{TEST_PARENT}/{cid}-pod"

    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = f"{TEST_PARENT}/{cid}-pod/{cid}"

    runtime.ids.add(cid)
    runtime("run", "-d", "-b", str(make_bundle(edit, args=["sleep", "100"])), cid, check=True, capture_output=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{pod}/pids.max", "w") as f:
        f.write("1")
    p = runtime("exec", cid, "true")
    assert p.returncode != 0 and "pids limit" in p.stderr, p.stderr
    assert int(read(f"{pod}/pids.current")) == 1
    with open(f"{pod}/pids.max", "w") as f:
        f.write("2")
    runtime("exec", cid, "true", check=True)
