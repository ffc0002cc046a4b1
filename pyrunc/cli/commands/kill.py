"""`pyrunc kill [--all] <id> [signal]`: signal the init (default SIGTERM); names, SIG-names and numbers."""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", "-a", action="store_true",
                   help="send the specified signal to all processes inside the container")
    add_id(p)
    p.add_argument("signal", nargs="?", default="SIGTERM")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.process.signals import parse_signal
    from pyrunc.runtime.teardown import kill

    cid = validate_id(args.container_id)
    kill(ctx.root, cid, parse_signal(args.signal), all_processes=args.all)
    return 0
