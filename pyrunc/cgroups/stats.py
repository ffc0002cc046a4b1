"""The `data` object of `events --stats`, in runc's shape (runc `types/events.go`, as runc 1.1 prints it).

Field names and the omit-when-zero rules follow runc's JSON tags: e.g. a memory entry always has `limit` and
`failcnt` but drops a zero `usage`/`max`; cpu `kernel`/`user` are always present. The version modules collect the
numbers; this module only shapes them.
"""

from __future__ import annotations

from typing import Any

Stats = dict[str, Any]


def _drop_zero(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (k in keys and not v)}


def new_stats() -> Stats:
    """An all-empty stats object (what runc prints for a cgroup with nothing to report)."""
    return {
        "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
        "cpuset": cpuset_entry(),
        "memory": {
            "usage": memory_entry(0, 0, 0, 0),
            "swap": memory_entry(0, 0, 0, 0),
            "kernel": memory_entry(0, 0, 0, 0),
            "kernelTCP": memory_entry(0, 0, 0, 0),
        },
        "pids": {},
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def cpu_usage(total: int = 0, percpu: list[int] | None = None, percpu_kernel: list[int] | None = None,
              percpu_user: list[int] | None = None, kernel: int = 0, user: int = 0) -> dict[str, Any]:
    """Nanoseconds. runc: total/percpu* omitempty, kernel/user always."""
    return _drop_zero(
        {"total": total, "percpu": percpu or [], "percpu_kernel": percpu_kernel or [],
         "percpu_user": percpu_user or [], "kernel": kernel, "user": user},
        ("total", "percpu", "percpu_kernel", "percpu_user"),
    )


def throttling(periods: int = 0, throttled_periods: int = 0, throttled_time: int = 0) -> dict[str, int]:
    return _drop_zero(
        {"periods": periods, "throttledPeriods": throttled_periods, "throttledTime": throttled_time},
        ("periods", "throttledPeriods", "throttledTime"),
    )


def memory_entry(limit: int, usage: int, max_usage: int, failcnt: int) -> dict[str, int]:
    return _drop_zero({"limit": limit, "usage": usage, "max": max_usage, "failcnt": failcnt}, ("usage", "max"))


def cpuset_entry(cpus: list[int] | None = None, mems: list[int] | None = None, **flags: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cpus:
        out["cpus"] = cpus
    out["cpu_exclusive"] = flags.get("cpu_exclusive", 0)
    if mems:
        out["mems"] = mems
    for k in ("mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page", "memory_spread_slab",
              "memory_pressure", "sched_load_balance", "sched_relax_domain_level"):
        out[k] = flags.get(k, 0)
    return out


def pids_entry(current: int, limit: int) -> dict[str, int]:
    """runc reports "no limit" as 0 and omits zeros."""
    return _drop_zero({"current": current, "limit": limit}, ("current", "limit"))


def blkio_entry(major: int, minor: int, op: str, value: int) -> dict[str, Any]:
    return _drop_zero({"major": major, "minor": minor, "op": op, "value": value}, ("major", "minor", "op", "value"))


def hugetlb_entry(usage: int, max_usage: int, failcnt: int) -> dict[str, int]:
    return _drop_zero({"usage": usage, "max": max_usage, "failcnt": failcnt}, ("usage", "max"))


def parse_cpu_list(text: str) -> list[int]:
    """"0-2,5" -> [0, 1, 2, 5] (cpuset.cpus / cpuset.mems)."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        out.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    return out
