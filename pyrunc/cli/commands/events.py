"""`pyrunc events [--interval D] [--stats] <id>`: stats (runc's JSON shape) every interval, and OOM events.

`--stats` prints one stats event and exits. Each event is one JSON line:
`{"type":"stats","id":...,"data":{...}}` or `{"type":"oom","id":...}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", default="5s", help="set the stats collection interval (default: 5s)")
    p.add_argument("--stats", action="store_true", help="display the container's stats then exit")
    add_id(p)


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.resources import parse_duration, stats_event, stream_events

    cid = validate_id(args.container_id)
    interval = parse_duration(args.interval)
    if args.stats:
        _emit(stats_event(ctx.root, cid))
        return 0
    stream_events(ctx.root, cid, interval, _emit)
    return 0
