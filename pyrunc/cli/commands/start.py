"""`pyrunc start <id>`: run the user process of a created container (returns once it was executed)."""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_id(p)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.container import start

    return start(ctx.root, validate_id(args.container_id))
