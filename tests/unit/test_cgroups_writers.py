"""Every resource written to the right file of the right version, against a fake cgroupfs on tmp_path.

The fake is a directory holding the files a real cgroup has (writes never create files, so a wrong name fails).
`record` captures the sequence of (file, value) writes, for orderings and multi-line files like io.max.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from pyrunc.cgroups import files, v1, v2
from pyrunc.errors import CgroupError
from pyrunc.spec.model import Resources

V1_FILES = {
    "cpuset.cpus": "0-1\n", "cpuset.mems": "0\n",
    "memory.limit_in_bytes": "9223372036854771712\n", "memory.memsw.limit_in_bytes": "9223372036854771712\n",
    "memory.soft_limit_in_bytes": "", "memory.oom_control": "", "memory.swappiness": "60\n",
    "memory.usage_in_bytes": "5000000\n", "memory.max_usage_in_bytes": "6000000\n",
    "cpu.shares": "1024\n", "cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n", "cpu.cfs_burst_us": "0\n",
    "cpu.idle": "0\n", "cpu.rt_period_us": "1000000\n", "cpu.rt_runtime_us": "0\n",
    "pids.max": "max\n", "blkio.bfq.weight": "100\n", "blkio.bfq.weight_device": "",
    "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
    "hugetlb.2MB.limit_in_bytes": "", "hugetlb.2MB.rsvd.limit_in_bytes": "", "hugetlb.1GB.limit_in_bytes": "",
    "hugetlb.1GB.rsvd.limit_in_bytes": "",
    "net_cls.classid": "0\n", "net_prio.ifpriomap": "", "rdma.max": "", "devices.allow": "", "devices.deny": "",
}

V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma\n",
    "memory.max": "max\n", "memory.swap.max": "max\n", "memory.low": "0\n", "memory.current": "5000000\n",
    "cpu.weight": "100\n", "cpu.max": "max 100000\n", "cpu.max.burst": "0\n", "cpu.idle": "0\n",
    "cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max\n", "io.max": "", "io.weight": "default 100\n",
    "hugetlb.2MB.max": "max\n", "hugetlb.2MB.rsvd.max": "max\n", "rdma.max": "",
}


def fake(tmp_path: Path, contents: dict[str, str], name: str = "cg") -> str:
    d = tmp_path / name
    d.mkdir()
    for k, v in contents.items():
        (d / k).write_text(v)
    return str(d)


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    writes: list[tuple[str, str]] = []
    real = files.write

    def spy(dir: str, name: str, value: str, *, spec_path: str | None = None) -> None:
        writes.append((name, value))
        real(dir, name, value, spec_path=spec_path)

    monkeypatch.setattr(files, "write", spy)
    return writes


def res(d: dict[str, Any]) -> Resources:
    return Resources.from_dict(d)


def read(d: str, name: str) -> str:
    return Path(d, name).read_text()


# ------------------------------------------------------------------------------------------------ v1


def test_v1_memory(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    v1.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 27, "reservation": 1 << 25,
                                       "swappiness": 10, "disableOOMKiller": True}}))
    # a fresh cgroup (both unlimited): the limit goes down first, then memsw
    assert record == [("memory.limit_in_bytes", str(1 << 26)), ("memory.memsw.limit_in_bytes", str(1 << 27)),
                      ("memory.soft_limit_in_bytes", str(1 << 25)), ("memory.oom_control", "1"),
                      ("memory.swappiness", "10")]


def test_v1_memory_raising_writes_memsw_first(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    # current limit 32M (memsw 32M): raising to 64M+128M must raise memsw first, or limit > memsw is refused
    d = fake(tmp_path, {**V1_FILES, "memory.limit_in_bytes": str(1 << 25), "memory.memsw.limit_in_bytes": str(1 << 25)})
    v1.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 27}}))
    assert [n for n, _ in record] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]


def test_v1_memory_unlimited_makes_swap_unlimited_and_zero_is_unset(tmp_path: Path,
                                                                    record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    v1.apply_memory(d, res({"memory": {"limit": -1}}))
    assert record == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]
    record.clear()
    v1.apply_memory(d, res({"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0}}))
    assert record == []


def test_v1_memory_bad_swappiness(tmp_path: Path) -> None:
    d = fake(tmp_path, V1_FILES)
    with pytest.raises(CgroupError, match=r"invalid memory swappiness value: 101 \(valid range is 0-100\)") as e:
        v1.apply_memory(d, res({"memory": {"swappiness": 101}}))
    assert e.value.spec_path == "/linux/resources/memory/swappiness"


def test_v1_memory_limit_below_usage_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(tmp_path, V1_FILES)
    real = files.write

    def busy(dir: str, name: str, value: str, *, spec_path: str | None = None) -> None:
        if name == "memory.limit_in_bytes":
            raise CgroupError("cannot write cgroup file", os.path.join(dir, name), value, spec_path, errno.EBUSY)
        real(dir, name, value, spec_path=spec_path)

    monkeypatch.setattr(files, "write", busy)
    with pytest.raises(CgroupError) as e:
        v1.apply_memory(d, res({"memory": {"limit": 4096}}))
    msg = str(e.value)
    assert "below the current usage 5000000 (peak 6000000)" in msg
    assert "memory.limit_in_bytes" in msg and "(config: /linux/resources/memory/limit)" in msg


def test_v1_cpu(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    Path(d, "cpu.shares").write_text("512\n")  # what the kernel would read back
    v1.apply_cpu(d, res({"cpu": {"shares": 512, "quota": 20000, "period": 50000, "burst": 1000, "idle": 1,
                                 "realtimeRuntime": 950, "realtimePeriod": 1000}}))
    assert record == [("cpu.shares", "512"), ("cpu.cfs_period_us", "50000"), ("cpu.cfs_burst_us", "1000"),
                      ("cpu.cfs_quota_us", "20000"), ("cpu.idle", "1"), ("cpu.rt_period_us", "1000"),
                      ("cpu.rt_runtime_us", "950")]


def test_v1_cpu_shares_clamped_by_kernel_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(tmp_path, V1_FILES)
    real = files.write

    def clamp(dir: str, name: str, value: str, *, spec_path: str | None = None) -> None:
        real(dir, name, "262144" if name == "cpu.shares" else value, spec_path=spec_path)

    monkeypatch.setattr(files, "write", clamp)
    with pytest.raises(CgroupError, match="the maximum allowed cpu-shares is 262144"):
        v1.apply_cpu(d, res({"cpu": {"shares": 999999}}))


def test_v1_cpuset_pids_blkio_hugetlb_net_rdma(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    r = res({
        "cpu": {"cpus": "1", "mems": "0"},
        "pids": {"limit": 0},
        "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 1}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    })
    v1.apply_cpuset(d, r)
    v1.apply_pids(d, r)
    v1.apply_blkio(d, r)
    v1.apply_hugetlb(d, r)
    v1.apply_net_cls(d, r)
    v1.apply_net_prio(d, r)
    v1.apply_rdma(d, r)
    assert record == [
        ("cpuset.cpus", "1"), ("cpuset.mems", "0"),
        ("pids.max", "1"),  # 0 is a real limit, written as 1 (runc HEAD: systemd refuses TasksMax=0)
        ("blkio.bfq.weight", "300"), ("blkio.bfq.weight_device", "8:0 500"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"), ("blkio.throttle.write_iops_device", "8:16 100"),
        ("hugetlb.2MB.limit_in_bytes", "4194304"), ("hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
        ("hugetlb.1GB.limit_in_bytes", "0"), ("hugetlb.1GB.rsvd.limit_in_bytes", "0"),
        ("net_cls.classid", "1048577"), ("net_prio.ifpriomap", "eth0 5"), ("net_prio.ifpriomap", "lo 1"),
        ("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
    ]


def test_v1_pids_negative_is_max_and_cfq_weight_files(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, {"pids.max": "", "blkio.weight": "", "blkio.weight_device": "", "blkio.leaf_weight": "",
                        "blkio.leaf_weight_device": ""})
    r = res({"pids": {"limit": -1}, "blockIO": {"weight": 10, "leafWeight": 20,
                                               "weightDevice": [{"major": 8, "minor": 0, "leafWeight": 30}]}})
    v1.apply_pids(d, r)
    v1.apply_blkio(d, r)
    assert record == [("pids.max", "max"), ("blkio.weight", "10"), ("blkio.leaf_weight", "20"),
                      ("blkio.leaf_weight_device", "8:0 30")]


def test_v1_missing_knob_names_file_and_field(tmp_path: Path) -> None:
    d = fake(tmp_path, V1_FILES)  # no blkio.leaf_weight here, as on this kernel
    with pytest.raises(CgroupError) as e:
        v1.apply_blkio(d, res({"blockIO": {"leafWeight": 20}}))
    assert e.value.path == os.path.join(d, "blkio.leaf_weight")
    assert e.value.spec_path == "/linux/resources/blockIO/leafWeight"
    assert "not supported" in str(e.value)


def test_v1_devices_default_deny(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    v1.apply_devices(d, res({"devices": [{"allow": False, "access": "rwm"},
                                         {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"}]}),
                     device_paths=["/dev/null"])
    assert record[0] == ("devices.deny", "a")
    allowed = {v for n, v in record[1:] if n == "devices.allow"}
    assert len(allowed) == len(record) - 1
    assert allowed == {"c *:* m", "b *:* m", "c 4:64 rw", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
                       "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}  # no c 1:3: in linux.devices


def test_v1_devices_allow_all_then_deny_exceptions(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V1_FILES)
    v1.apply_devices(d, res({"devices": [{"allow": True, "access": "rwm"}, {"allow": False, "type": "b",
                                                                            "major": 8, "access": "w"}]}))
    assert record == [("devices.allow", "a"), ("devices.deny", "b 8:* w")]


def test_v1_manager_routes_controllers_and_refuses_missing_ones(tmp_path: Path) -> None:
    mem = fake(tmp_path, V1_FILES, "memory")
    dev = fake(tmp_path, V1_FILES, "devices")
    m = v1.V1Manager({"memory": mem, "devices": dev}, {"memory": str(tmp_path), "devices": str(tmp_path)})
    m.set(res({"memory": {"limit": 1 << 26}}))
    assert read(mem, "memory.limit_in_bytes") == str(1 << 26)
    with pytest.raises(CgroupError) as e:
        m.set(res({"network": {"classID": 1}}))
    assert "net_cls cgroup controller is not available" in str(e.value)
    assert e.value.spec_path == "/linux/resources/network/classID"
    with pytest.raises(CgroupError, match="cannot use unified on cgroup v1"):
        m.update(res({"unified": {"memory.high": "1"}}))
    nodev = v1.V1Manager({"memory": mem}, {"memory": str(tmp_path)})
    with pytest.raises(CgroupError, match="devices cgroup controller is not mounted"):
        nodev.set(res({}))


def test_v1_update_never_touches_devices(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    dev = fake(tmp_path, V1_FILES, "devices")
    pids = fake(tmp_path, V1_FILES, "pids")
    m = v1.V1Manager({"devices": dev, "pids": pids}, {"devices": str(tmp_path), "pids": str(tmp_path)})
    m.update(res({"devices": [{"allow": True, "access": "rwm"}], "pids": {"limit": 7}}))
    assert record == [("pids.max", "7")]


def test_v1_kernel_memory_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mem = fake(tmp_path, V1_FILES, "memory")
    m = v1.V1Manager({"memory": mem}, {"memory": str(tmp_path)})
    m.update(res({"memory": {"kernel": 1 << 20, "kernelTCP": 1 << 20}}))
    assert "Kernel memory settings are ignored" in caplog.text


# ------------------------------------------------------------------------------------------------ v2


def test_v2_conversions() -> None:
    assert [v2.cpu_weight(s) for s in (2, 1024, 262144, 512, 100000)] == [1, 100, 10000, 59, 4340]
    assert [v2.io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]
    assert v2.swap_max(1 << 27, 1 << 26) == 1 << 26
    assert v2.swap_max(0, -1) == -1 and v2.swap_max(-1, 1 << 26) == -1 and v2.swap_max(0, 1 << 26) == 0
    with pytest.raises(CgroupError, match="unable to set swap limit without memory limit"):
        v2.swap_max(1 << 27, 0)
    with pytest.raises(CgroupError, match="should be >= memory limit"):
        v2.swap_max(1 << 25, 1 << 26)


def test_v2_memory(tmp_path: Path, record: list[tuple[str, str]], caplog: pytest.LogCaptureFixture) -> None:
    d = fake(tmp_path, V2_FILES)
    v2.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 27, "reservation": 1 << 25,
                                       "swappiness": 10, "disableOOMKiller": True}}))
    assert record == [("memory.swap.max", str(1 << 26)), ("memory.max", str(1 << 26)), ("memory.low", str(1 << 25))]
    assert "swappiness ignored" in caplog.text and "disableOOMKiller ignored" in caplog.text
    record.clear()
    v2.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 26}}))  # swap == limit: no swap
    assert record == [("memory.swap.max", "0"), ("memory.max", str(1 << 26))]
    record.clear()
    v2.apply_memory(d, res({"memory": {"limit": -1}}))
    assert record == [("memory.swap.max", "max"), ("memory.max", "max")]


def test_v2_memory_without_swap_accounting(tmp_path: Path) -> None:
    d = fake(tmp_path, {k: v for k, v in V2_FILES.items() if k != "memory.swap.max"})
    v2.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 26}}))  # "0": fine without the file
    assert read(d, "memory.max") == str(1 << 26)
    with pytest.raises(CgroupError, match=r"memory\.swap\.max"):
        v2.apply_memory(d, res({"memory": {"limit": 1 << 26, "swap": 1 << 27}}))


def test_v2_check_before_update(tmp_path: Path) -> None:
    d = fake(tmp_path, V2_FILES)  # memory.current = 5000000
    with pytest.raises(CgroupError, match="rejecting memory limit 4000000 <= usage 5000000") as e:
        v2.apply_memory(d, res({"memory": {"limit": 4000000, "checkBeforeUpdate": True}}))
    assert e.value.spec_path == "/linux/resources/memory/limit"
    v2.apply_memory(d, res({"memory": {"limit": 4000000}}))  # without the check the kernel decides
    assert read(d, "memory.max") == "4000000"


def test_v2_cpu(tmp_path: Path, record: list[tuple[str, str]], caplog: pytest.LogCaptureFixture) -> None:
    d = fake(tmp_path, V2_FILES)
    v2.apply_cpu(d, res({"cpu": {"shares": 1024, "quota": 20000, "period": 50000, "burst": 1000, "idle": 0,
                                 "realtimeRuntime": 5}}))
    assert record == [("cpu.idle", "0"), ("cpu.weight", "100"), ("cpu.max.burst", "1000"), ("cpu.max", "20000 50000")]
    assert "realtime" in caplog.text


def test_v2_cpu_max_keeps_the_half_not_given(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, {**V2_FILES, "cpu.max": "30000 100000\n"})
    v2.apply_cpu(d, res({"cpu": {"period": 200000}}))
    v2.apply_cpu(d, res({"cpu": {"quota": 10000}}))
    v2.apply_cpu(d, res({"cpu": {"quota": -1}}))
    assert record == [("cpu.max", "30000 200000"), ("cpu.max", "10000 200000"), ("cpu.max", "max 200000")]


def test_v2_io(tmp_path: Path, record: list[tuple[str, str]], caplog: pytest.LogCaptureFixture) -> None:
    d = fake(tmp_path, V2_FILES)  # no BFQ: io.weight with conversion
    r = res({"blockIO": {"weight": 500, "leafWeight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}],
                         "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                         "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                         "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}],
                         "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 20}]}})
    v2.apply_io(d, r)
    assert record == [("io.weight", "4950"), ("io.max", "8:0 rbps=1048576"), ("io.max", "8:0 wbps=2097152"),
                      ("io.max", "8:0 riops=10"), ("io.max", "8:0 wiops=20")]
    assert "leafWeight ignored" in caplog.text and "weightDevice ignored" in caplog.text
    record.clear()
    bfq = fake(tmp_path, {**V2_FILES, "io.bfq.weight": "default 100\n"}, "bfq")
    v2.apply_io(bfq, r)
    assert record[:2] == [("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 50")]


def test_v2_pids_cpuset_hugetlb_rdma(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, V2_FILES)
    r = res({"pids": {"limit": 0}, "cpu": {"cpus": "0", "mems": "0"},
             "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}], "rdma": {"mlx4_0": {"hcaHandles": 2}}})
    v2.apply_pids(d, r)
    v2.apply_cpuset(d, r)
    v2.apply_hugetlb(d, r)
    v2.apply_rdma(d, r)
    assert record == [("pids.max", "1"), ("cpuset.cpus", "0"), ("cpuset.mems", "0"), ("hugetlb.2MB.max", "2097152"),
                      ("hugetlb.2MB.rsvd.max", "2097152"), ("rdma.max", "mlx4_0 hca_handle=2")]


def test_v2_unified(tmp_path: Path, record: list[tuple[str, str]]) -> None:
    d = fake(tmp_path, {**V2_FILES, "memory.high": "max\n", "cgroup.freeze": "0\n"})
    v2.apply_unified(d, res({"unified": {"memory.high": "1048576", "io.max": "8:0 rbps=1\n8:16 wbps=2"}}))
    assert record == [("memory.high", "1048576"), ("io.max", "8:0 rbps=1"), ("io.max", "8:16 wbps=2")]
    with pytest.raises(CgroupError, match="must be a file name") as e:
        v2.apply_unified(d, res({"unified": {"../memory.max": "1"}}))
    assert e.value.spec_path == "/linux/resources/unified/../memory.max"
    with pytest.raises(CgroupError, match="controller 'misc' not available"):
        v2.apply_unified(d, res({"unified": {"misc.max": "x 1"}}))
    with pytest.raises(CgroupError, match=r"CONTROLLER\.PARAMETER"):
        v2.apply_unified(d, res({"unified": {"nodot": "1"}}))


def test_v2_manager_refuses_controller_not_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(tmp_path, {**V2_FILES, "cgroup.controllers": "cpu pids\n"})
    m = v2.V2Manager(d, str(tmp_path))
    attached: list[bytes] = []
    from pyrunc.cgroups import devices_bpf

    monkeypatch.setattr(devices_bpf, "attach_program", lambda dir, prog, spec_path=None: attached.append(prog))
    m.set(res({"pids": {"limit": 5}, "devices": [{"allow": False, "access": "rwm"}]}))
    assert read(d, "pids.max") == "5" and len(attached) == 1
    with pytest.raises(CgroupError) as e:
        m.set(res({"memory": {"limit": 1 << 26}}))
    assert "'memory' is not enabled for this cgroup (available: cpu pids)" in str(e.value)
    assert e.value.spec_path == "/linux/resources/memory"
    m.update(res({"pids": {"limit": 9}, "devices": [{"allow": True, "access": "rwm"}]}))
    assert read(d, "pids.max") == "9" and len(attached) == 1  # update leaves devices alone


def test_v2_network_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = fake(tmp_path, V2_FILES)
    v2.V2Manager(d, str(tmp_path)).update(res({"network": {"classID": 5}}))
    assert "net_cls/net_prio" in caplog.text


def test_write_error_names_file_value_field(tmp_path: Path) -> None:
    with pytest.raises(CgroupError) as e:
        files.write(str(tmp_path), "nope.max", "12", spec_path="/linux/resources/x")
    s = str(e.value)
    assert s.startswith("cgroup file does not exist (controller or setting not supported here): ")
    assert f"{tmp_path}/nope.max = '12'" in s and s.endswith("(config: /linux/resources/x)")
    assert e.value.errno == errno.ENOENT


def test_pids_limit_exceeded_walks_up_to_the_first_limit_below_its_count(tmp_path: Path) -> None:
    from pyrunc.cgroups.files import pids_limit_exceeded

    root = tmp_path / "pids"
    pod = root / "pod"
    ctr = pod / "ctr"
    ctr.mkdir(parents=True)
    for d, limit, current in ((pod, "3", "3"), (ctr, "max", "3")):
        (d / "pids.max").write_text(limit + "\n")
        (d / "pids.current").write_text(current + "\n")
    assert pids_limit_exceeded([str(ctr)]) is None  # at the limit, not over it (root: no pids.max, the walk stops)
    (pod / "pids.current").write_text("4\n")
    assert pids_limit_exceeded([str(ctr)]) == str(pod / "pids.max")
    assert pids_limit_exceeded([str(tmp_path / "cpu")]) is None  # no pids controller there
