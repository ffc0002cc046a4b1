"""`pyrunc start <id>`: run the user process of a created container (returns once it was executed).

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
    from pyrunc.paths import validate_id
    from pyrunc.runtime.start import start

    return start(ctx.root, validate_id(args.container_id))
