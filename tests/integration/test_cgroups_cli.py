"""`pyrunc pause|resume|update|events|ps` (and `kill --all`, `delete` on the cgroup) through the real CLI.

The "container" is a host process born in a real cgroup, with a state file saying so: enough for these verbs,
which only touch the cgroup, and no rootfs needed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Runtime
from test_cgroups_support import TEST_PARENT, leftovers, python, read, remove_test_parent, spawn_in, wait_for

from pyrunc.cgroups import detect_mode, manager_for
from pyrunc.runtime import state as statestore
from pyrunc.spec.model import Resources

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]


@pytest.fixture(scope="module", autouse=True)
def _parent() -> Iterator[None]:
    yield
    remove_test_parent()


@pytest.fixture
def container(runtime: Runtime) -> Iterator[Callable[..., tuple[str, Any, subprocess.Popen[bytes]]]]:
    made: list[tuple[Any, subprocess.Popen[bytes]]] = []

    def make(cid: str, resources: dict[str, Any] | None = None, argv: list[str] | None = None) -> tuple[str, Any, Any]:
        resources = resources or {"devices": [{"allow": False, "access": "rwm"}]}
        cg = manager_for(f"{TEST_PARENT}/{cid}", cid)
        cg.create()
        # limits first, as for a real container: v1 device rules are reset to deny-all before the allow rules
        # go in, which a process already running there could notice
        cg.set(Resources.from_dict(resources))
        p = spawn_in(cg, argv or LOOP, start_new_session=True)
        made.append((cg, p))
        root = str(runtime.root)
        statestore.reserve(root, cid)
        st = statestore.State(id=cid, bundle=str(runtime.root), rootfs="/", pid=p.pid,
                              pid_start=statestore.pid_start_time(p.pid), cgroup=cg.to_state(),
                              config={"linux": {"resources": resources, "namespaces": [{"type": "pid"}]}},
                              status_hint=statestore.RUNNING)
        statestore.save(root, st)
        runtime.ids.add(cid)
        return cid, cg, p

    yield make
    for cg, p in made:
        if p.poll() is None:
            p.kill()
        p.wait()
        cg.destroy()


def status(runtime: Runtime, cid: str) -> str:
    return str(runtime.state(cid)["status"])


def test_pause_and_resume(runtime: Runtime, container: Any, tmp_path: Path) -> None:
    counter = tmp_path / "n"
    cid, cg, _ = container("pr", argv=python(
        f"import time\ni = 0\nwhile True:\n    i += 1\n    open({str(counter)!r}, 'w').write(str(i))\n"
        "    time.sleep(0.005)"))
    assert wait_for(lambda: counter.exists() and counter.read_text() != "")
    runtime("pause", cid, check=True)
    assert status(runtime, cid) == "paused" and cg.is_frozen()
    if "freezer" in cg.paths():
        assert read(f"{cg.paths()['freezer']}/freezer.state") == "FROZEN"
    value = counter.read_text()
    time.sleep(0.3)
    assert counter.read_text() == value
    again = runtime("pause", cid)
    assert again.returncode == 1 and "container not running" in again.stderr
    runtime("resume", cid, check=True)
    assert status(runtime, cid) == "running" and not cg.is_frozen()
    assert wait_for(lambda: counter.read_text() != value)
    again = runtime("resume", cid)
    assert again.returncode == 1 and "container not paused" in again.stderr


def test_update_flags_stdin_and_file(runtime: Runtime, container: Any, tmp_path: Path) -> None:
    if detect_mode() == "v2":
        pytest.skip("checks v1 files")
    cid, cg, _ = container("upd", {"memory": {"limit": 256 << 20}, "pids": {"limit": 100}})
    d = cg.paths()
    runtime("update", "--memory", "64m", "--pids-limit", "20", "--cpu-quota", "30000", "--cpu-period", "100000",
            "--cpu-share", "256", "--cpuset-cpus", "0", "--blkio-weight", "200", cid, check=True)
    assert read(f"{d['memory']}/memory.limit_in_bytes") == str(64 << 20)
    assert read(f"{d['pids']}/pids.max") == "20"
    assert read(f"{d['cpu']}/cpu.cfs_quota_us") == "30000" and read(f"{d['cpu']}/cpu.shares") == "256"
    assert read(f"{d['cpuset']}/cpuset.cpus") == "0"
    # docker: --resources - with the document on stdin (zeros mean "unchanged")
    doc = {"memory": {"limit": 134217728, "reservation": 0, "swap": 268435456, "kernel": 0},
           "cpu": {"shares": 0, "quota": 0, "period": 0}, "blockIO": {"weight": 0}}
    runtime("update", "--resources", "-", cid, input=json.dumps(doc), check=True)
    assert read(f"{d['memory']}/memory.limit_in_bytes") == "134217728"
    assert read(f"{d['memory']}/memory.memsw.limit_in_bytes") == "268435456"
    assert read(f"{d['cpu']}/cpu.shares") == "256"
    # podman: --resources=FILE
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"pids": {"limit": 2048}, "cpu": {"cpus": "0-1"}}))
    runtime("update", f"--resources={f}", cid, check=True)
    assert read(f"{d['pids']}/pids.max") == "2048" and read(f"{d['cpuset']}/cpuset.cpus") == "0-1"
    saved = statestore.load(str(runtime.root), cid).config["linux"]["resources"]
    assert saved["memory"]["limit"] == 134217728 and saved["pids"]["limit"] == 2048


def test_update_rejected_value_is_clear_and_changes_nothing(runtime: Runtime, container: Any) -> None:
    cid, cg, p = container("updbad", {"pids": {"limit": 100}})
    bad = runtime("update", "--cpuset-cpus", "0-511", "--pids-limit", "5", cid)
    assert bad.returncode == 1
    assert "cpuset.cpus = '0-511'" in bad.stderr and "(config: /linux/resources/cpu/cpus)" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    saved = statestore.load(str(runtime.root), cid).config["linux"]["resources"]
    assert saved["pids"]["limit"] == 100 and "cpu" not in saved
    pids_dir = cg.paths().get("pids") or cg.paths()[""]
    assert read(f"{pids_dir}/pids.max") == "100"
    usage = runtime("update", "--memory", "12x", cid)
    assert usage.returncode == 1 and "invalid value for memory: invalid size: '12x'" in usage.stderr
    assert p.poll() is None


def test_events_stats(runtime: Runtime, container: Any) -> None:
    cid, _, _ = container("ev", {"pids": {"limit": 50}})
    out = runtime("events", "--stats", cid, check=True).stdout
    assert out.endswith("\n") and out.count("\n") == 1
    ev = json.loads(out)
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert set(data) >= {"cpu", "memory", "pids", "blkio", "hugetlb"}
    assert data["pids"]["current"] >= 1 and data["pids"]["limit"] == 50
    assert "usage" in data["cpu"] and "kernel" in data["cpu"]["usage"]
    assert "limit" in data["memory"]["usage"]


def test_events_stream_reports_oom_and_ends_with_the_container(runtime: Runtime, container: Any) -> None:
    if detect_mode() == "v2" and "memory" not in open("/sys/fs/cgroup/cgroup.controllers").read():
        pytest.skip("no memory controller")
    cid, cg, init = container("evs", {"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    argv = [*runtime.cmd, "--root", str(runtime.root), "events", "--interval", "200ms", cid]
    ev = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        first = json.loads(ev.stdout.readline())  # type: ignore[union-attr]
        assert first["type"] == "stats" and first["id"] == cid
        hog = spawn_in(cg, python("b = []\nwhile True: b.append(bytearray(1 << 20))"))
        assert hog.wait(timeout=60) == -signal.SIGKILL
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = ev.stdout.readline()  # type: ignore[union-attr]
            seen.append(json.loads(line)["type"])
            if "oom" in seen:
                break
        assert "oom" in seen, seen
        assert json.loads(json.dumps({"type": "oom", "id": cid})) == {"type": "oom", "id": cid}
        init.terminate()
        init.wait(timeout=10)
        assert ev.wait(timeout=10) == 0  # the stream ends when the container stops
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()
    gone = runtime("events", "--stats", cid)
    assert gone.returncode == 1 and f"container with id {cid} is not running" in gone.stderr


def test_ps(runtime: Runtime, container: Any) -> None:
    cid, cg, p = container("ps", argv=["sh", "-c", "sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)
    pids = json.loads(runtime("ps", "--format", "json", cid, check=True).stdout)
    assert sorted(pids) == cg.pids() and p.pid in pids
    table = runtime("ps", cid, check=True).stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"] and len(table) == 4
    custom = runtime("ps", cid, "-o", "pid,comm", check=True).stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and sorted(int(line.split()[0]) for line in custom[1:]) == pids
    bad = runtime("ps", "--format", "yaml", cid)
    assert bad.returncode == 1 and "invalid format option" in bad.stderr


def test_kill_all_and_delete_remove_the_cgroup(runtime: Runtime, container: Any) -> None:
    cid, cg, p = container("kd", argv=["sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)
    runtime("kill", "--all", cid, "KILL", check=True)
    assert p.wait(timeout=10) == -signal.SIGKILL
    assert wait_for(lambda: cg.pids() == [])
    runtime("delete", cid, check=True)
    assert leftovers("kd") == []
    assert not (runtime.root / cid).exists()


def test_delete_force_kills_what_is_left(runtime: Runtime, container: Any) -> None:
    cid, cg, p = container("df", argv=["sh", "-c", "sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)
    runtime("delete", "--force", cid, check=True)
    assert p.wait(timeout=10) != 0
    assert cg.pids() == [] and leftovers("df") == []


def test_cli_help_lists_runc_flags() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "pyrunc", "update", "--help"], capture_output=True, text=True,
                         env=env).stdout
    for flag in ("--resources", "--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-burst", "--cpu-share",
                 "--cpu-rt-period", "--cpu-rt-runtime", "--cpuset-cpus", "--cpuset-mems", "--memory",
                 "--memory-reservation", "--memory-swap", "--pids-limit", "--cpu-idle", "--l3-cache-schema",
                 "--mem-bw-schema"):
        assert flag in out, flag
    assert "--kernel-memory" not in out  # hidden, as in runc
