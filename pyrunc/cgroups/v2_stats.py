"""`events --stats` numbers from cgroup v2 files (runc fs2 `Stats`), shaped by `stats`."""

from __future__ import annotations

from typing import Any

from pyrunc.cgroups import files, stats


def collect(dir: str) -> dict[str, Any]:
    """runc fs2 GetStats, shaped as `events --stats` data."""
    s = stats.new_stats()
    cpu = files.read_keyed(dir, "cpu.stat")
    s["cpu"]["usage"] = stats.cpu_usage(total=cpu.get("usage_usec", 0) * 1000,
                                        kernel=cpu.get("system_usec", 0) * 1000, user=cpu.get("user_usec", 0) * 1000)
    s["cpu"]["throttling"] = stats.throttling(cpu.get("nr_periods", 0), cpu.get("nr_throttled", 0),
                                              cpu.get("throttled_usec", 0) * 1000)
    if files.exists(dir, "memory.current"):
        raw = files.read_keyed(dir, "memory.stat")
        usage, limit = files.read_uint(dir, "memory.current", 0), files.read_uint(dir, "memory.max", 0)
        mem: dict[str, Any] = {}
        if raw.get("file"):
            mem["cache"] = raw["file"]
        mem["usage"] = stats.memory_entry(limit, usage, files.read_uint(dir, "memory.peak", 0),
                                          files.read_keyed(dir, "memory.events").get("max", 0))
        # v1 reports swap as memory+swap: combine for compatibility, as runc does
        swap_usage = files.read_uint(dir, "memory.swap.current", 0)
        swap_limit = files.read_uint(dir, "memory.swap.max", 0)
        if swap_limit != files.MAX_UINT64:
            swap_limit = min(files.MAX_UINT64, swap_limit + limit)
        mem["swap"] = stats.memory_entry(swap_limit, swap_usage + usage, 0, 0)
        mem["kernel"] = stats.memory_entry(0, 0, 0, 0)
        mem["kernelTCP"] = stats.memory_entry(0, 0, 0, 0)
        if raw:
            mem["raw"] = raw
        s["memory"] = mem
    if files.exists(dir, "pids.current"):
        limit = files.read_uint(dir, "pids.max", 0)
        s["pids"] = stats.pids_entry(files.read_uint(dir, "pids.current", 0), 0 if limit == files.MAX_UINT64 else limit)
    else:
        s["pids"] = stats.pids_entry(len(files.read_pids(dir, recursive=False)), 0)
    s["blkio"] = io_stats(dir)
    s["hugetlb"] = hugetlb_stats(dir)
    return s


def io_stats(dir: str) -> dict[str, Any]:
    text = files.read_opt(dir, "io.stat") or ""
    tables: dict[str, list[dict[str, Any]]] = {}
    names = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
             "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}
    for line in text.splitlines():
        fields = line.split()
        if not fields or ":" not in fields[0]:
            continue
        major, minor = (int(x) for x in fields[0].split(":"))
        for item in fields[1:]:
            key, _, value = item.partition("=")
            if key in names:
                table, op = names[key]
                tables.setdefault(table, []).append(stats.blkio_entry(major, minor, op, int(value)))
    return tables


def hugetlb_stats(dir: str) -> dict[str, Any]:
    from pyrunc.cgroups.v1_stats import hugepage_sizes

    out = {}
    for size in hugepage_sizes():
        usage_file = f"hugetlb.{size}.rsvd.current" if files.exists(dir, f"hugetlb.{size}.rsvd.current") \
            else f"hugetlb.{size}.current"
        if not files.exists(dir, usage_file):
            continue
        out[size] = stats.hugetlb_entry(files.read_uint(dir, usage_file, 0), 0,
                                        files.read_keyed(dir, f"hugetlb.{size}.events").get("max", 0))
    return out
