"""pause/resume/update/events/ps logic with the real state store on tmp_path and a recording fake manager."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

import pyrunc.cgroups
from pyrunc.errors import ContainerError, NotRunning, UsageError
from pyrunc.runtime import resources as verbs
from pyrunc.runtime import state as statestore


class FakeManager:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.frozen = False
        self.fail_update = False

    def freeze(self) -> None:
        self.frozen = True
        self.calls.append(("freeze", None))

    def thaw(self) -> None:
        self.frozen = False
        self.calls.append(("thaw", None))

    def is_frozen(self) -> bool:
        return self.frozen

    def update(self, r: Any) -> None:
        self.calls.append(("update", r))
        if self.fail_update and len([c for c in self.calls if c[0] == "update"]) == 1:
            from pyrunc.errors import CgroupError

            raise CgroupError("cannot write cgroup file", path="/x/cpuset.cpus", value="0-99", err=22,
                              spec_path="/linux/resources/cpu/cpus")

    def pids(self) -> list[int]:
        return [os.getpid()]

    def stats(self) -> dict[str, Any]:
        return {"pids": {"current": 1}}

    def oom_watcher(self) -> Any:
        from pyrunc.errors import CgroupError

        raise CgroupError("cannot watch for OOM events: the memory cgroup controller is not available")


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, FakeManager]:
    root = str(tmp_path / "root")
    statestore.reserve(root, "c1")
    st = statestore.State(id="c1", bundle=str(tmp_path), pid=os.getpid(),
                          pid_start=statestore.pid_start_time(os.getpid()),
                          cgroup={"mode": "fake"}, config={"linux": {"resources": {
                              "memory": {"limit": 1 << 26},
                              "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}}},
                          status_hint=statestore.RUNNING)
    statestore.save(root, st)
    fake = FakeManager()
    monkeypatch.setattr(pyrunc.cgroups, "manager_from_state", lambda d: fake)
    return root, "c1", fake


def test_pause_resume(container: tuple[str, str, FakeManager]) -> None:
    root, cid, fake = container
    verbs.pause(root, cid)
    st = statestore.load(root, cid)
    assert fake.frozen and statestore.status(root, st) == statestore.PAUSED
    with pytest.raises(NotRunning):  # runc: pausing a paused container is "container not running"
        verbs.pause(root, cid)
    verbs.resume(root, cid)
    assert not fake.frozen and statestore.status(root, statestore.load(root, cid)) == statestore.RUNNING
    with pytest.raises(ContainerError, match="container not paused"):
        verbs.resume(root, cid)


def test_verbs_on_a_stopped_container(container: tuple[str, str, FakeManager]) -> None:
    root, cid, _ = container
    st = statestore.load(root, cid)
    st.pid_start += 1  # a reused pid: the container is stopped
    statestore.save(root, st)
    with pytest.raises(NotRunning):
        verbs.pause(root, cid)
    with pytest.raises(NotRunning):
        verbs.update(root, cid, {"pids": {"limit": 1}})
    with pytest.raises(ContainerError, match="container with id c1 is not running"):
        verbs.stats_event(root, cid)


def test_update_applies_and_remembers(container: tuple[str, str, FakeManager]) -> None:
    root, cid, fake = container
    verbs.update(root, cid, {"memory": {"limit": 1 << 27, "swap": 1 << 28, "swappiness": 5},
                             "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 9},
                                                                   {"major": 8, "minor": 16, "rate": 3}]},
                             "devices": [{"allow": True, "access": "rwm"}], "network": {"classID": 3}})
    (_, r), = fake.calls
    assert r.memory.limit == 1 << 27 and r.memory.swap == 1 << 28
    assert r.memory.swappiness is None and r.devices == () and r.network is None  # not updatable (runc)
    saved = statestore.load(root, cid).config["linux"]["resources"]
    assert saved["memory"]["limit"] == 1 << 27
    assert saved["blockIO"]["throttleReadBpsDevice"] == [{"major": 8, "minor": 0, "rate": 9},
                                                         {"major": 8, "minor": 16, "rate": 3}]


def test_update_failure_restores_and_keeps_state(container: tuple[str, str, FakeManager]) -> None:
    root, cid, fake = container
    fake.fail_update = True
    from pyrunc.errors import CgroupError

    with pytest.raises(CgroupError) as e:
        verbs.update(root, cid, {"memory": {"limit": 1 << 27}})
    assert "(config: /linux/resources/cpu/cpus)" in str(e.value)
    assert [c[0] for c in fake.calls] == ["update", "update"]
    assert fake.calls[1][1].memory.limit == 1 << 26  # the previous value put back
    assert statestore.load(root, cid).config["linux"]["resources"]["memory"]["limit"] == 1 << 26


def test_updatable_checks_types_and_fixes_up() -> None:
    assert verbs.updatable({"memory": {"limit": -1}}) == {"memory": {"limit": -1, "swap": 0}}
    with pytest.raises(UsageError, match=r"update --resources: /memory/limit: must be an integer"):
        verbs.updatable({"memory": {"limit": "1g"}})
    with pytest.raises(UsageError, match=r"/blockIO/weightDevice/0/major: must be an integer"):
        verbs.updatable({"blockIO": {"weightDevice": [{"major": "8"}]}})
    with pytest.raises(UsageError, match="must be a JSON object"):
        verbs.updatable([])  # type: ignore[arg-type]
    # docker's document: zeros mean "unchanged"
    doc = {"memory": {"limit": 134217728, "reservation": 0, "swap": 268435456, "kernel": 0},
           "cpu": {"shares": 0, "quota": 0, "period": 0}, "blockIO": {"weight": 0}}
    assert verbs.updatable(doc) == doc


def test_flags_to_resources() -> None:
    doc = verbs.resources_from_flags({"memory": "128m", "memory-swap": "-1", "cpu-quota": "-1", "cpuset-cpus": "0",
                                      "cpu-share": "", "blkio-weight": 300, "pids-limit": 0})
    assert doc == {"memory": {"limit": 128 << 20, "swap": -1}, "cpu": {"quota": -1, "cpus": "0"},
                   "blockIO": {"weight": 300}, "pids": {"limit": 0}}
    with pytest.raises(UsageError, match="invalid value for memory: invalid size: '12x'"):
        verbs.resources_from_flags({"memory": "12x"})
    with pytest.raises(UsageError, match="invalid value for cpu-period"):
        verbs.resources_from_flags({"cpu-period": "abc"})


@pytest.mark.parametrize(("text", "want"), [("1024", 1024), ("1k", 1024), ("1.5GiB", 3 << 29), ("64 MB", 64 << 20),
                                            ("2t", 2 << 40)])
def test_parse_ram(text: str, want: int) -> None:
    assert verbs.parse_ram(text) == want


@pytest.mark.parametrize(("text", "want"), [("5s", 5.0), ("100ms", 0.1), ("1m30s", 90.0), ("1.5h", 5400.0),
                                            ("0", 0.0), ("-1s", -1.0), ("250us", 0.00025)])
def test_parse_duration(text: str, want: float) -> None:
    assert verbs.parse_duration(text) == pytest.approx(want)


@pytest.mark.parametrize("text", ["5", "s", "", "1x", "5 s"])
def test_parse_duration_errors(text: str) -> None:
    with pytest.raises(UsageError, match="for flag -interval"):
        verbs.parse_duration(text)


def test_merge_resources_upserts_devices() -> None:
    old = {"cpu": {"shares": 2, "cpus": "0"}, "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}}
    new = verbs.merge_resources(old, {"cpu": {"shares": 5}, "blockIO": {"weightDevice": [
        {"major": 8, "minor": 0, "leafWeight": 20}, {"major": 9, "minor": 1, "weight": 30}]}, "unified": {"a.b": "1"}})
    assert new == {"cpu": {"shares": 5, "cpus": "0"}, "unified": {"a.b": "1"}, "blockIO": {"weightDevice": [
        {"major": 8, "minor": 0, "weight": 10, "leafWeight": 20}, {"major": 9, "minor": 1, "weight": 30}]}}
    assert old["cpu"]["shares"] == 2  # not modified in place


def test_ps_filter() -> None:
    out = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n"
    assert verbs.filter_ps_output(out, [42]) == "UID PID PPID CMD\nroot 42 1 sleep\n"
    from pyrunc.errors import PyruncError

    with pytest.raises(PyruncError, match="couldn't find PID field in ps output"):
        verbs.filter_ps_output("UID CMD\n", [1])


def test_processes_and_ps_table(container: tuple[str, str, FakeManager]) -> None:
    root, cid, _ = container
    assert verbs.processes(root, cid) == [os.getpid()]
    table = verbs.ps_table([os.getpid()], ["-o", "pid,comm"])
    lines = table.splitlines()
    assert lines[0].split()[0] == "PID" and len(lines) == 2 and lines[1].split()[0] == str(os.getpid())


def test_events_stats_and_stream(container: tuple[str, str, FakeManager], monkeypatch: pytest.MonkeyPatch) -> None:
    root, cid, _ = container
    assert verbs.stats_event(root, cid) == {"type": "stats", "id": "c1", "data": {"pids": {"current": 1}}}
    out: list[dict[str, Any]] = []
    real_status = statestore.status

    def status(r: str, st: Any) -> str:  # the container stops after three stats events
        return statestore.STOPPED if len(out) >= 3 else real_status(r, st)

    monkeypatch.setattr(statestore, "status", status)
    verbs.stream_events(root, cid, 0.01, out.append)  # FakeManager has no oom_watcher: stats only
    assert out == [{"type": "stats", "id": "c1", "data": {"pids": {"current": 1}}}] * 3
    with pytest.raises(UsageError, match="duration interval must be greater than 0"):
        verbs.stream_events(root, cid, 0, out.append)


def test_read_resources_doc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "r.json"
    f.write_text('{"pids": {"limit": 3}}')
    assert verbs.read_resources_doc(str(f)) == {"pids": {"limit": 3}}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"cpu": {"shares": 2}})))
    assert verbs.read_resources_doc("-") == {"cpu": {"shares": 2}}
    f.write_text("{nope")
    with pytest.raises(UsageError, match="invalid JSON"):
        verbs.read_resources_doc(str(f))


def test_pause_and_resume_a_created_container(container: tuple[str, str, FakeManager]) -> None:
    root, cid, fake = container
    Path(statestore.fifo_path(root, cid)).write_text("")  # still waiting for `start`
    verbs.pause(root, cid)  # runc allows pausing a created container
    assert fake.frozen
    verbs.resume(root, cid)
    assert not fake.frozen
    assert statestore.load(root, cid).status_hint == statestore.CREATED
    with pytest.raises(ContainerError, match="container not paused"):
        verbs.resume(root, cid)
