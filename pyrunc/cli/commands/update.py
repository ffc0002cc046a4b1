"""`pyrunc update [flags] <id>`: change the resource limits of a running container.

`--resources FILE` (or `-` for stdin) takes a LinuxResources JSON document, and then the other flags are ignored
(runc). Device rules are never changed by update.
"""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context

# runc's flags (update.go), all taking a value; kernel-memory* are hidden and obsolete.
VALUE_FLAGS = (
    ("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
    ("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("cpu-burst", "CPU CFS hardcap burst limit (in usecs)"),
    ("cpu-share", "CPU shares (relative weight vs. other containers)"),
    ("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
    ("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("cpuset-cpus", "CPU(s) to use"),
    ("cpuset-mems", "Memory node(s) to use"),
    ("cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
    ("memory", "Memory limit (in bytes)"),
    ("memory-reservation", "Memory reservation or soft_limit (in bytes)"),
    ("memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    ("kernel-memory", argparse.SUPPRESS),
    ("kernel-memory-tcp", argparse.SUPPRESS),
    ("l3-cache-schema", "The string of Intel RDT/CAT L3 cache schema"),
    ("mem-bw-schema", "The string of Intel RDT/MBA memory bandwidth schema"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resources", "-r", default="",
                   help="path to the file containing the resources to update or '-' to read from the standard input")
    p.add_argument("--blkio-weight", type=int, default=0, help="Specifies per cgroup weight, range is from 10 to 1000")
    p.add_argument("--pids-limit", type=int, default=None, help="Maximum number of pids allowed in the container")
    for name, text in VALUE_FLAGS:
        p.add_argument(f"--{name}", default="", help=text)
    add_id(p)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.errors import PyruncError
    from pyrunc.paths import validate_id
    from pyrunc.runtime.resources import read_resources_doc, resources_from_flags, update

    cid = validate_id(args.container_id)
    if args.resources:
        doc = read_resources_doc(args.resources)
    else:
        if args.l3_cache_schema:  # no Intel RDT support (runc's wording when the host lacks it)
            raise PyruncError("Intel RDT/CAT: l3 cache schema is not enabled")
        if args.mem_bw_schema:
            raise PyruncError("Intel RDT/MBA: memory bandwidth schema is not enabled")
        values = {name: getattr(args, name.replace("-", "_")) for name, _ in VALUE_FLAGS}
        values["blkio-weight"] = args.blkio_weight
        values["pids-limit"] = args.pids_limit
        doc = resources_from_flags(values)
    update(ctx.root, cid, doc)
    return 0
