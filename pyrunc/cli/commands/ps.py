"""`pyrunc ps [--format table|json] <id> [ps options]`: the container's processes.

`json` prints a JSON array of host pids (what containerd and docker read); `table` runs ps(1) with the given options
(default `-ef`) and keeps the header and the container's rows, as runc does.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", default="table", help="select one of: table or json (default: table)")
    add_id(p)
    p.add_argument("ps_args", nargs=argparse.REMAINDER, help="options for ps(1) (default: -ef)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.errors import UsageError
    from pyrunc.paths import validate_id
    from pyrunc.runtime.resources import processes, ps_table

    if args.format not in ("table", "json"):
        raise UsageError("invalid format option")
    pids = processes(ctx.root, validate_id(args.container_id))
    if args.format == "json":
        sys.stdout.write(json.dumps(pids, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(ps_table(pids, list(args.ps_args)))
    return 0
