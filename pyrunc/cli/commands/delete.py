"""`pyrunc delete [--force] <id>`: release a container's resources (runc's rules, see runtime.teardown).

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import, quoted annotations).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

# The plain command lines pyrunc.cli.main parses without argparse (see parse_plain there).
PLAIN = {"positionals": (("container_id", None),), "required": 1, "flags": {"--force": "force", "-f": "force"}}


def add_arguments(p: "argparse.ArgumentParser") -> None:
    from pyrunc.cli.argparsing import add_id

    p.add_argument("--force", "-f", action="store_true",
                   help="Forcibly deletes the container if it is still running (uses SIGKILL)")
    add_id(p)


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.teardown import delete

    delete(ctx.root, validate_id(args.container_id), force=args.force)
    return 0
