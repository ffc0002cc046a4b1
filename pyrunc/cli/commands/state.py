"""`pyrunc state <id>`: print the container's state JSON (runtime-spec "state" + runc's rootfs/created/owner).

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import, quoted annotations).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

# The plain command lines pyrunc.cli.main parses without argparse (see parse_plain there).
PLAIN = {"positionals": (("container_id", None),), "required": 1}


def add_arguments(p: "argparse.ArgumentParser") -> None:
    from pyrunc.cli.argparsing import add_id

    add_id(p)


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    import sys

    from pyrunc.paths import validate_id
    from pyrunc.quickjson import dumps
    from pyrunc.runtime import state

    cid = validate_id(args.container_id)
    st = state.load(ctx.root, cid)
    sys.stdout.write(dumps(st.oci(state.status(ctx.root, st)), indent=2) + "\n")
    return 0
