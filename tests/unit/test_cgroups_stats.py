"""`events --stats` data in runc's shape, from fake v1 and v2 cgroup files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pyrunc.cgroups import stats, v1_stats, v2_stats

RUNC_TOP_KEYS = ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]


def write(d: Path, contents: dict[str, str]) -> str:
    d.mkdir(parents=True, exist_ok=True)
    for k, v in contents.items():
        (d / k).write_text(v)
    return str(d)


def test_v1_stats_shape(tmp_path: Path) -> None:
    tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    dirs = {
        "cpuacct": write(tmp_path / "cpuacct", {
            "cpuacct.usage": "13157747\n", "cpuacct.usage_percpu": "11227104 1930643 \n",
            "cpuacct.usage_all": "cpu user system\n0 0 11901703\n1 0 0\n", "cpuacct.stat": "user 0\nsystem 1\n"}),
        "cpu": write(tmp_path / "cpu", {"cpu.stat": "nr_periods 4\nnr_throttled 2\nthrottled_time 5000\n"}),
        "cpuset": write(tmp_path / "cpuset", {
            "cpuset.cpus": "0-1\n", "cpuset.mems": "0\n", "cpuset.cpu_exclusive": "0\n",
            "cpuset.sched_load_balance": "1\n", "cpuset.sched_relax_domain_level": "-1\n"}),
        "memory": write(tmp_path / "memory", {
            "memory.stat": "cache 430080\nrss 118784\n", "memory.usage_in_bytes": "1466368\n",
            "memory.max_usage_in_bytes": "2768896\n", "memory.failcnt": "0\n", "memory.limit_in_bytes": "67108864\n",
            "memory.memsw.usage_in_bytes": "1466368\n", "memory.memsw.max_usage_in_bytes": "2768896\n",
            "memory.memsw.failcnt": "0\n", "memory.memsw.limit_in_bytes": "9223372036854771712\n"}),
        "pids": write(tmp_path / "pids", {"pids.current": "2\n", "pids.max": "max\n"}),
        "blkio": write(tmp_path / "blkio", {
            "blkio.throttle.io_service_bytes_recursive": "254:0 Read 4096\n254:0 Write 0\nTotal 4096\n",
            "blkio.throttle.io_serviced_recursive": "254:0 Read 1\nTotal 1\n"}),
    }
    s = v1_stats.collect(dirs)
    assert list(s) == RUNC_TOP_KEYS
    assert s["cpu"] == {
        "usage": {"total": 13157747, "percpu": [11227104, 1930643], "percpu_kernel": [11901703, 0],
                  "percpu_user": [0, 0], "kernel": tick_ns, "user": 0},
        "throttling": {"periods": 4, "throttledPeriods": 2, "throttledTime": 5000},
    }
    assert s["cpuset"]["cpus"] == [0, 1] and s["cpuset"]["mems"] == [0]
    assert s["cpuset"]["sched_relax_domain_level"] == -1 and s["cpuset"]["sched_load_balance"] == 1
    m = s["memory"]
    assert m["cache"] == 430080 and m["raw"]["rss"] == 118784
    assert m["usage"] == {"limit": 67108864, "usage": 1466368, "max": 2768896, "failcnt": 0}
    assert m["swap"]["limit"] == 9223372036854771712
    assert m["kernel"] == {"limit": 0, "failcnt": 0}  # no kmem files: zero entry, still present
    assert s["pids"] == {"current": 2}  # "max" is reported as no limit (0, omitted)
    assert s["blkio"]["ioServiceBytesRecursive"][0] == {"major": 254, "op": "Read", "value": 4096}
    assert s["blkio"]["ioServiceBytesRecursive"][1] == {"major": 254, "op": "Write"}
    assert s["intel_rdt"] == {} and s["network_interfaces"] is None
    json.dumps(s)


def test_v2_stats_shape(tmp_path: Path) -> None:
    d = write(tmp_path / "cg", {
        "cpu.stat": "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 10\nnr_throttled 3\n"
                    "throttled_usec 7\n",
        "memory.current": "4096\n", "memory.max": "max\n", "memory.peak": "8192\n",
        "memory.stat": "anon 4096\nfile 0\n",
        "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
        "memory.swap.current": "0\n", "memory.swap.max": "max\n",
        "pids.current": "3\n", "pids.max": "10\n",
        "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    })
    s = v2_stats.collect(d)
    assert list(s) == RUNC_TOP_KEYS
    assert s["cpu"]["usage"] == {"total": 100000, "kernel": 40000, "user": 60000}
    assert s["cpu"]["throttling"] == {"periods": 10, "throttledPeriods": 3, "throttledTime": 7000}
    assert s["memory"]["usage"] == {"limit": 2**64 - 1, "usage": 4096, "max": 8192, "failcnt": 2}
    assert s["memory"]["swap"] == {"limit": 2**64 - 1, "usage": 4096, "failcnt": 0}
    assert "cache" not in s["memory"] and s["memory"]["raw"] == {"anon": 4096, "file": 0}
    assert s["pids"] == {"current": 3, "limit": 10}
    assert s["blkio"] == {
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 100},
                                    {"major": 8, "op": "Write", "value": 200}],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}, {"major": 8, "op": "Write", "value": 2}],
    }


def test_v2_stats_without_controllers(tmp_path: Path) -> None:
    # a cgroup2 directory with no controllers enabled (this host's unified hierarchy)
    d = write(tmp_path / "cg", {"cpu.stat": "usage_usec 0\n", "cgroup.procs": "1\n2\n"})
    s = v2_stats.collect(d)
    assert s["pids"] == {"current": 2} and s["memory"]["usage"] == {"limit": 0, "failcnt": 0}


def test_helpers() -> None:
    assert stats.parse_cpu_list("0-2,5,7-8\n") == [0, 1, 2, 5, 7, 8]
    assert stats.parse_cpu_list("") == []
    assert v1_stats.hugepage_sizes() == sorted(v1_stats.hugepage_sizes())
    for size in v1_stats.hugepage_sizes():
        assert size[-2:] in ("KB", "MB", "GB")
