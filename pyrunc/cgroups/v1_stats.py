"""`events --stats` numbers from cgroup v1 files (runc fs `GetStats` per controller), shaped by `stats`."""

from __future__ import annotations

import os
from typing import Any

from pyrunc.cgroups import files, stats


def _ints(text: str | None) -> list[int]:
    return [int(x) for x in text.split()] if text else []


def cpu_usage(acct: str) -> dict[str, Any]:
    """cpuacct: total and per-cpu nanoseconds; user/kernel from cpuacct.stat (clock ticks -> ns)."""
    ticks = files.read_keyed(acct, "cpuacct.stat")
    ns_per_tick = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
    percpu_user: list[int] = []
    percpu_kernel: list[int] = []
    text = files.read_opt(acct, "cpuacct.usage_all")
    for line in (text or "").splitlines()[1:]:  # "cpu user system" header
        parts = line.split()
        if len(parts) == 3:
            percpu_user.append(int(parts[1]))
            percpu_kernel.append(int(parts[2]))
    return stats.cpu_usage(
        total=files.read_uint(acct, "cpuacct.usage", 0),
        percpu=_ints(files.read_opt(acct, "cpuacct.usage_percpu")),
        percpu_kernel=percpu_kernel,
        percpu_user=percpu_user,
        kernel=ticks.get("system", 0) * ns_per_tick,
        user=ticks.get("user", 0) * ns_per_tick,
    )


def throttling(cpu: str) -> dict[str, int]:
    s = files.read_keyed(cpu, "cpu.stat")
    return stats.throttling(s.get("nr_periods", 0), s.get("nr_throttled", 0), s.get("throttled_time", 0))


def cpuset(d: str) -> dict[str, Any]:
    p = "cpuset." if files.exists(d, "cpuset.cpus") else ""
    flags = {k: files.read_uint(d, p + k, 0) for k in (
        "cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
        "memory_spread_slab", "memory_pressure", "sched_load_balance")}
    level = (files.read_opt(d, p + "sched_relax_domain_level") or "0").strip()
    flags["sched_relax_domain_level"] = int(level) if level.lstrip("-").isdigit() else 0
    return stats.cpuset_entry(stats.parse_cpu_list(files.read_opt(d, p + "cpus") or ""),
                              stats.parse_cpu_list(files.read_opt(d, p + "mems") or ""), **flags)


def _memory_entry(d: str, prefix: str) -> dict[str, int]:
    if not files.exists(d, f"{prefix}.usage_in_bytes"):
        return stats.memory_entry(0, 0, 0, 0)  # swap (memsw) or kmem accounting off in this kernel
    return stats.memory_entry(
        files.read_uint(d, f"{prefix}.limit_in_bytes", 0),
        files.read_uint(d, f"{prefix}.usage_in_bytes", 0),
        files.read_uint(d, f"{prefix}.max_usage_in_bytes", 0),
        files.read_uint(d, f"{prefix}.failcnt", 0),
    )


def memory(d: str) -> dict[str, Any]:
    raw = files.read_keyed(d, "memory.stat")
    out: dict[str, Any] = {}
    if raw.get("cache"):
        out["cache"] = raw["cache"]
    out["usage"] = _memory_entry(d, "memory")
    out["swap"] = _memory_entry(d, "memory.memsw")
    out["kernel"] = _memory_entry(d, "memory.kmem")
    out["kernelTCP"] = _memory_entry(d, "memory.kmem.tcp")
    if raw:
        out["raw"] = raw
    return out


def pids(d: str) -> dict[str, int]:
    limit = files.read_uint(d, "pids.max", 0)
    return stats.pids_entry(files.read_uint(d, "pids.current", 0), 0 if limit == files.MAX_UINT64 else limit)


def _blkio_file(d: str, name: str) -> list[dict[str, Any]] | None:
    text = files.read_opt(d, name)
    if text is None:
        return None
    out = []
    for line in text.splitlines():
        f = line.replace(":", " ").split()
        if len(f) == 4:
            out.append(stats.blkio_entry(int(f[0]), int(f[1]), f[2], int(f[3])))
        elif len(f) == 3:
            out.append(stats.blkio_entry(int(f[0]), int(f[1]), "", int(f[2])))
    return out


# The first group whose first file exists wins (runc: bfq, cfq, throttle recursive, throttle).
_BLKIO_GROUPS = (
    (("ioServiceBytesRecursive", "blkio.bfq.io_service_bytes_recursive"),
     ("ioServicedRecursive", "blkio.bfq.io_serviced_recursive")),
    (("ioServiceBytesRecursive", "blkio.io_service_bytes_recursive"),
     ("ioServicedRecursive", "blkio.io_serviced_recursive"),
     ("ioQueueRecursive", "blkio.io_queued_recursive"),
     ("ioServiceTimeRecursive", "blkio.io_service_time_recursive"),
     ("ioWaitTimeRecursive", "blkio.io_wait_time_recursive"),
     ("ioMergedRecursive", "blkio.io_merged_recursive"),
     ("ioTimeRecursive", "blkio.time_recursive"),
     ("sectorsRecursive", "blkio.sectors_recursive")),
    (("ioServiceBytesRecursive", "blkio.throttle.io_service_bytes_recursive"),
     ("ioServicedRecursive", "blkio.throttle.io_serviced_recursive")),
    (("ioServiceBytesRecursive", "blkio.throttle.io_service_bytes"),
     ("ioServicedRecursive", "blkio.throttle.io_serviced")),
)


def blkio(d: str) -> dict[str, Any]:
    for group in _BLKIO_GROUPS:
        first = _blkio_file(d, group[0][1])
        if not first:
            continue
        out: dict[str, Any] = {group[0][0]: first}
        for key, name in group[1:]:
            entries = _blkio_file(d, name)
            if entries:
                out[key] = entries
        return out
    return {}


def hugepage_sizes() -> list[str]:
    """"2MB", "1GB", ... from /sys/kernel/mm/hugepages (the names the hugetlb files use)."""
    out = []
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    for n in sorted(names):
        kb = int(n.removeprefix("hugepages-").removesuffix("kB"))
        for unit, size in (("GB", 1 << 20), ("MB", 1 << 10), ("KB", 1)):
            if kb % size == 0:
                out.append(f"{kb // size}{unit}")
                break
    return out


def hugetlb(d: str) -> dict[str, Any]:
    out = {}
    for size in hugepage_sizes():
        prefix = f"hugetlb.{size}.rsvd" if files.exists(d, f"hugetlb.{size}.rsvd.usage_in_bytes") else f"hugetlb.{size}"
        if not files.exists(d, f"{prefix}.usage_in_bytes"):
            continue
        out[size] = stats.hugetlb_entry(files.read_uint(d, f"{prefix}.usage_in_bytes", 0),
                                        files.read_uint(d, f"{prefix}.max_usage_in_bytes", 0),
                                        files.read_uint(d, f"{prefix}.failcnt", 0))
    return out


def collect(dirs: dict[str, str]) -> dict[str, Any]:
    s = stats.new_stats()
    if "cpuacct" in dirs:
        s["cpu"]["usage"] = cpu_usage(dirs["cpuacct"])
    if "cpu" in dirs:
        s["cpu"]["throttling"] = throttling(dirs["cpu"])
    if "cpuset" in dirs:
        s["cpuset"] = cpuset(dirs["cpuset"])
    if "memory" in dirs:
        s["memory"] = memory(dirs["memory"])
    if "pids" in dirs:
        s["pids"] = pids(dirs["pids"])
    if "blkio" in dirs:
        s["blkio"] = blkio(dirs["blkio"])
    if "hugetlb" in dirs:
        s["hugetlb"] = hugetlb(dirs["hugetlb"])
    return s
