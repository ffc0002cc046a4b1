"""`pyrunc delete [--force] <id>`: release a container's resources (runc's rules, see runtime.teardown)."""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", "-f", action="store_true",
                   help="Forcibly deletes the container if it is still running (uses SIGKILL)")
    add_id(p)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.teardown import delete

    delete(ctx.root, validate_id(args.container_id), force=args.force)
    return 0
