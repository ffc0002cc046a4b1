"""`pyrunc state <id>`: print the container's state JSON (runtime-spec "state" + runc's rootfs/created/owner)."""

from __future__ import annotations

import argparse
import json
import sys

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_id(p)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime import state

    cid = validate_id(args.container_id)
    st = state.load(ctx.root, cid)
    sys.stdout.write(json.dumps(st.oci(state.status(ctx.root, st)), indent=2) + "\n")
    return 0
