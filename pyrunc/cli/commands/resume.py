"""`pyrunc resume <id>`: resume the processes of a paused container."""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_id(p)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.resources import resume

    resume(ctx.root, validate_id(args.container_id))
    return 0
