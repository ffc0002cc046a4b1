"""Real cgroups on this host (v1 controllers; hybrid hosts also place the process in cgroup2): placement, every
resource written to the kernel, limits that measurably hold, freeze, update, kill, destroy, and bad input.

Processes are plain host processes born inside the container's cgroup (the cgroup is joined before exec), so these
tests exercise the kernel without needing a container rootfs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cgroups_support import (
    TEST_PARENT,
    leftovers,
    python,
    read,
    remove_test_parent,
    restore_subtree_control,
    spawn_in,
    unified_root,
    wait_for,
)

from pyrunc.cgroups import detect_mode, manager_for
from pyrunc.errors import CgroupError, SpecError
from pyrunc.spec.model import Resources

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(detect_mode() == "v2", reason="v1 controllers needed (this host is pure cgroup v2)"),
]


@pytest.fixture(scope="module", autouse=True)
def _parent() -> Iterator[None]:
    root = unified_root()
    before = read(os.path.join(root, "cgroup.subtree_control")) if root else ""
    yield
    remove_test_parent()
    restore_subtree_control(before)


@pytest.fixture
def make_cg(request: pytest.FixtureRequest) -> Iterator[Any]:
    made: list[Any] = []
    procs: list[subprocess.Popen[bytes]] = []

    def make(name: str | None = None) -> Any:
        cg = manager_for(f"{TEST_PARENT}/{name or request.node.name[:40]}", "unused")
        cg.create()
        made.append(cg)
        return cg

    make.procs = procs  # type: ignore[attr-defined]
    yield make
    for p in procs:
        if p.poll() is None:
            p.kill()
    for cg in made:
        cg.destroy()
    for p in procs:
        p.wait()


def start(make_cg: Any, cg: Any, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    p = spawn_in(cg, argv, **kw)
    make_cg.procs.append(p)
    return p


def res(d: dict[str, Any]) -> Resources:
    return Resources.from_dict(d)


def test_placed_in_every_hierarchy(make_cg: Any) -> None:
    cg = make_cg()
    p = start(make_cg, cg, ["sleep", "100"])
    inner = f"{TEST_PARENT}/test_placed_in_every_hierarchy"
    lines = read(f"/proc/{p.pid}/cgroup").splitlines()
    assert lines and all(line.endswith(":" + inner) for line in lines), lines  # 0:: too on a hybrid host
    assert cg.pids() == [p.pid]
    assert set(cg.paths()) >= {"memory", "cpu", "pids", "devices", "freezer"}
    assert cg.stats()["pids"]["current"] == 1


def test_default_and_relative_paths_are_below_our_own_cgroup() -> None:
    from pyrunc.cgroups.mounts import read_own_cgroups

    own = read_own_cgroups()
    cg = manager_for(None, "pyrunc-rel-test")
    assert cg.paths()["memory"] == os.path.normpath(f"/sys/fs/cgroup/memory/{own['memory']}/pyrunc-rel-test")
    cg.create()
    try:
        assert os.path.isdir(cg.paths()["memory"])
    finally:
        cg.destroy()
    assert not os.path.exists(cg.paths()["memory"])
    with pytest.raises(SpecError, match="escapes"):
        manager_for("../../x", "c")


def test_every_v1_resource_reaches_its_file(make_cg: Any) -> None:
    cg = make_cg()
    p = start(make_cg, cg, ["sleep", "100"])
    r = {
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 4, "minor": 64,
                                                         "access": "rw"}],
        "memory": {"limit": 64 << 20, "swap": 64 << 20, "reservation": 32 << 20, "swappiness": 10,
                   "disableOOMKiller": False, "kernel": 1 << 20},
        "cpu": {"shares": 512, "quota": 20000, "period": 50000, "burst": 1000, "idle": 0, "cpus": "0", "mems": "0",
                "realtimePeriod": 1000000, "realtimeRuntime": 1000},
        "pids": {"limit": 32},
        # (per-device weights need the device to use the BFQ scheduler: not the case for vda here)
        "blockIO": {"weight": 300,
                    "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
    }
    if not os.path.exists("/sys/dev/block/254:0"):
        del r["blockIO"]["throttleReadBpsDevice"], r["blockIO"]["throttleWriteIOPSDevice"]
    # realtime bandwidth comes out of the parent's: give the test parent some (the root has 950000us)
    with open(os.path.join(os.path.dirname(cg.paths()["cpu"]), "cpu.rt_runtime_us"), "w") as f:
        f.write("2000")
    cg.set(res(r))
    d = cg.paths()
    assert read(f"{d['memory']}/memory.limit_in_bytes") == str(64 << 20)
    assert read(f"{d['memory']}/memory.memsw.limit_in_bytes") == str(64 << 20)
    assert read(f"{d['memory']}/memory.soft_limit_in_bytes") == str(32 << 20)
    assert read(f"{d['memory']}/memory.swappiness") == "10"
    assert read(f"{d['cpu']}/cpu.shares") == "512"
    assert read(f"{d['cpu']}/cpu.cfs_quota_us") == "20000"
    assert read(f"{d['cpu']}/cpu.cfs_period_us") == "50000"
    assert read(f"{d['cpu']}/cpu.rt_runtime_us") == "1000"
    if os.path.exists(f"{d['cpu']}/cpu.cfs_burst_us"):
        assert read(f"{d['cpu']}/cpu.cfs_burst_us") == "1000"
    assert read(f"{d['cpuset']}/cpuset.cpus") == "0" and read(f"{d['cpuset']}/cpuset.mems") == "0"
    assert read(f"/proc/{p.pid}/status").split("Cpus_allowed_list:")[1].split()[0] == "0"
    assert read(f"{d['pids']}/pids.max") == "32"
    weight = "blkio.weight" if os.path.exists(f"{d['blkio']}/blkio.weight") else "blkio.bfq.weight"
    assert read(f"{d['blkio']}/{weight}").split()[-1] == "300"
    if "throttleReadBpsDevice" in r["blockIO"]:
        assert read(f"{d['blkio']}/blkio.throttle.read_bps_device") == "254:0 1048576"
        assert read(f"{d['blkio']}/blkio.throttle.write_iops_device") == "254:0 100"
    devices = read(f"{d['devices']}/devices.list").splitlines()
    assert "c 4:64 rw" in devices and "c 1:3 rwm" in devices and "a *:* rwm" not in devices


def test_hugetlb_limits(make_cg: Any) -> None:
    from pyrunc.cgroups import v1_stats

    sizes = sorted(v1_stats.hugepage_sizes(), key=lambda s: ("KB", "MB", "GB").index(s[-2:]))
    if not sizes:
        pytest.skip("kernel without hugetlb pages")
    size = sizes[0]  # the smallest: the limit below is a whole number of its pages
    cg = make_cg()
    try:
        cg.set(res({"hugepageLimits": [{"pageSize": size, "limit": 4 << 20}]}))
    except CgroupError as e:
        assert "hugetlb" in str(e) and e.spec_path == "/linux/resources/hugepageLimits"
        pytest.skip(f"no hugetlb controller on this host: {e}")
    d = cg.paths().get("hugetlb")
    if d:  # v1 hierarchy
        assert read(f"{d}/hugetlb.{size}.limit_in_bytes") == str(4 << 20)
    else:  # hybrid: set on cgroup2
        assert read(f"{cg.paths()['']}/hugetlb.{size}.max") == str(4 << 20)
        assert read(f"{cg.paths()['']}/hugetlb.{size}.rsvd.max") == str(4 << 20)
        assert cg.stats()["hugetlb"][size] == {"failcnt": 0}


def test_memory_hog_is_oom_killed_at_the_limit_and_reported(make_cg: Any) -> None:
    cg = make_cg()
    cg.set(res({"memory": {"limit": 32 << 20, "swap": 32 << 20}}))
    watcher = cg.oom_watcher()
    try:
        hog = start(make_cg, cg, python("b = []\nwhile True: b.append(bytearray(1 << 20))"))
        assert hog.wait(timeout=60) == -signal.SIGKILL
        import select

        assert select.select([watcher], [], [], 5)[0], "no OOM notification"
        ooms, gone = watcher.read()
        assert ooms >= 1 and not gone
    finally:
        watcher.close()
    s = cg.stats()["memory"]
    assert s["usage"]["limit"] == 32 << 20
    # the peak reached the limit (this kernel's failcnt counters may stay 0)
    assert max(s["usage"].get("max", 0), s["swap"].get("max", 0)) > (32 << 20) - (2 << 20), s
    assert s["usage"].get("max", 0) <= 32 << 20
    d = cg.paths()["memory"]
    oom_control = dict(line.split() for line in read(f"{d}/memory.oom_control").splitlines())
    assert int(oom_control.get("oom_kill", "1")) >= 1


def test_fork_bomb_stops_at_pids_max(make_cg: Any) -> None:
    cg = make_cg()
    cg.set(res({"pids": {"limit": 8}}))
    bomb = start(make_cg, cg, ["sh", "-c", "for i in $(seq 40); do sleep 30 & done; wait"],
                 stderr=subprocess.PIPE)
    d = cg.paths()["pids"]
    assert wait_for(lambda: int(read(f"{d}/pids.events").split()[1]) > 0)  # "max N": forks refused
    assert int(read(f"{d}/pids.current")) <= 8
    assert len(cg.pids()) <= 8
    cg.kill_all(signal.SIGKILL)
    bomb.wait(timeout=10)
    assert wait_for(lambda: cg.pids() == [])


def test_cpu_hog_is_throttled_to_its_quota(make_cg: Any) -> None:
    cg = make_cg()
    cg.set(res({"cpu": {"quota": 10000, "period": 100000}}))  # 10% of one CPU
    hog = start(make_cg, cg, python("while True: pass"))
    time.sleep(1.5)
    ticks = [int(x) for x in read(f"/proc/{hog.pid}/stat").rsplit(")", 1)[1].split()[11:13]]
    cpu_seconds = sum(ticks) / os.sysconf("SC_CLK_TCK")
    assert cpu_seconds < 0.4, f"hog got {cpu_seconds:.2f}s of CPU in 1.5s with a 10% quota"
    throttling = cg.stats()["cpu"]["throttling"]
    assert throttling.get("throttledPeriods", 0) > 0


def test_pause_really_freezes(make_cg: Any, tmp_path: Path) -> None:
    cg = make_cg()
    counter = tmp_path / "counter"
    worker = start(make_cg, cg, python(
        f"import time\ni = 0\nwhile True:\n    i += 1\n    open({str(counter)!r}, 'w').write(str(i))\n"
        "    time.sleep(0.005)"))
    assert wait_for(lambda: counter.exists() and counter.read_text() != "")
    cg.freeze()
    assert cg.is_frozen()
    assert read(f"{cg.paths()['freezer']}/freezer.state") == "FROZEN"
    frozen_at = counter.read_text()
    time.sleep(0.3)
    assert counter.read_text() == frozen_at, "the process kept running while frozen"
    cg.thaw()
    assert not cg.is_frozen()
    assert wait_for(lambda: counter.read_text() != frozen_at)
    assert worker.poll() is None


def test_update_changes_limits_of_a_running_process(make_cg: Any) -> None:
    cg = make_cg()
    cg.set(res({"memory": {"limit": 256 << 20}, "pids": {"limit": 100}, "cpu": {"shares": 1024}}))
    p = start(make_cg, cg, python("b = bytearray(8 << 20)\nimport time\ntime.sleep(100)"))
    d = cg.paths()
    assert wait_for(lambda: int(read(f"{d['memory']}/memory.usage_in_bytes")) > 8 << 20)
    # docker's document: zeros are "unchanged"
    cg.update(res({"memory": {"limit": 128 << 20, "reservation": 0, "swap": 256 << 20, "kernel": 0},
                   "cpu": {"shares": 0, "quota": 0, "period": 0}, "blockIO": {"weight": 0}}))
    assert read(f"{d['memory']}/memory.limit_in_bytes") == str(128 << 20)
    assert read(f"{d['memory']}/memory.memsw.limit_in_bytes") == str(256 << 20)
    assert read(f"{d['cpu']}/cpu.shares") == "1024"
    cg.update(res({"pids": {"limit": 5}, "cpu": {"quota": 50000}}))
    assert read(f"{d['pids']}/pids.max") == "5" and read(f"{d['cpu']}/cpu.cfs_quota_us") == "50000"
    # raising both limits above the current memsw needs memsw first: handled
    cg.update(res({"memory": {"limit": 512 << 20, "swap": 1 << 30}}))
    assert read(f"{d['memory']}/memory.limit_in_bytes") == str(512 << 20)
    # below the usage: the kernel refuses, and the error says why, with the file and the field
    with pytest.raises(CgroupError) as e:
        cg.update(res({"memory": {"limit": 1 << 20, "swap": 1 << 30}}))
    msg = str(e.value)
    assert "below the current usage" in msg and "memory.limit_in_bytes" in msg
    assert msg.endswith("(config: /linux/resources/memory/limit)")
    assert p.poll() is None


def test_kill_all_signals_every_process_and_destroy_cleans_up(make_cg: Any) -> None:
    cg = make_cg("killall")
    p = start(make_cg, cg, ["sh", "-c", "sleep 100 & sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 4)
    cg.kill_all(signal.SIGTERM)
    assert p.wait(timeout=10) != 0 or True
    assert wait_for(lambda: cg.pids() == [])
    assert not cg.is_frozen()
    # leftovers at destroy time are killed first
    q = start(make_cg, cg, ["sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)
    cg.destroy()
    q.wait(timeout=10)
    assert leftovers("killall") == []
    cg.destroy()  # idempotent


def test_kill_all_keeps_a_paused_container_paused(make_cg: Any) -> None:
    cg = make_cg()
    start(make_cg, cg, ["sleep", "100"])
    cg.freeze()
    cg.kill_all(signal.SIGUSR1)  # not a kill: the container stays paused
    assert cg.is_frozen()
    cg.kill_all(signal.SIGKILL)  # a kill thaws, or the frozen tasks would never die
    assert wait_for(lambda: cg.pids() == [])


def test_nonempty_or_frozen_cgroup_is_refused() -> None:
    cg = manager_for(f"{TEST_PARENT}/busy", "x")
    cg.create()
    p = spawn_in(cg, ["sleep", "100"])
    try:
        again = manager_for(f"{TEST_PARENT}/busy", "y")
        with pytest.raises(CgroupError, match=r"container's cgroup is not empty: 1 process\(es\) found"):
            again.create()
    finally:
        p.kill()
        p.wait()
        cg.destroy()


@pytest.mark.parametrize(("resources", "field", "file"), [
    ({"cpu": {"cpus": "0-511"}}, "/linux/resources/cpu/cpus", "cpuset.cpus"),
    ({"cpu": {"mems": "7"}}, "/linux/resources/cpu/mems", "cpuset.mems"),
    ({"blockIO": {"leafWeight": 500}}, "/linux/resources/blockIO/leafWeight", "blkio.leaf_weight"),
    ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}, "/linux/resources/hugepageLimits/0", "hugetlb.3MB"),
])
def test_kernel_rejections_name_field_and_file(resources: dict[str, Any], field: str, file: str) -> None:
    cg = manager_for(f"{TEST_PARENT}/bad", "x")
    cg.create()
    try:
        with pytest.raises(CgroupError) as e:
            cg.set(res(resources))
    finally:
        cg.destroy()
    if e.value.spec_path == "/linux/resources/hugepageLimits":
        pytest.skip("no hugetlb controller here")
    assert e.value.spec_path == field
    assert file in str(e.value) and str(e.value).endswith(f"(config: {field})")
    assert leftovers("bad") == []


def test_absent_v1_controller_is_a_clear_error() -> None:
    cg = manager_for(f"{TEST_PARENT}/absent", "x")
    missing = [c for c in ("net_cls", "net_prio", "rdma") if c not in cg.paths()]
    if not missing:
        pytest.skip("net_cls, net_prio and rdma are all mounted here")
    doc = {"net_cls": {"network": {"classID": 1}}, "net_prio": {"network": {"priorities": [{"name": "lo",
                                                                                            "priority": 1}]}},
           "rdma": {"rdma": {"mlx5_0": {"hcaHandles": 1}}}}[missing[0]]
    cg.create()
    try:
        with pytest.raises(CgroupError, match=f"the {missing[0]} cgroup controller is not available"):
            cg.set(res(doc))
    finally:
        cg.destroy()
    assert leftovers("absent") == []


def test_device_rules_are_enforced(make_cg: Any) -> None:
    def opens(path: str) -> bool:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            return True
        except OSError:
            return False

    extra = [d for d in ("/dev/kmsg", "/dev/loop0", "/dev/loop-control", "/dev/fuse") if opens(d)]
    if not extra:
        pytest.skip("no device outside the default set can be opened here")
    paths = ["/dev/null", "/dev/zero", "/dev/urandom", *extra]
    probe = python("import os, sys\nfor p in sys.argv[1:]:\n    try:\n        os.close(os.open(p, os.O_RDONLY | "
                   "os.O_NONBLOCK))\n        print('ok')\n    except PermissionError:\n        print('denied')")
    cg = make_cg()
    cg.set(res({"devices": [{"allow": False, "access": "rwm"}]}))  # docker's and podman's list
    out = start(make_cg, cg, [*probe, *paths], stdout=subprocess.PIPE).communicate(timeout=10)[0].decode()
    assert out.split() == ["ok"] * 3 + ["denied"] * len(extra)
