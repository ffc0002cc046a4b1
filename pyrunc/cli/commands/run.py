"""`pyrunc run [options] <id>`: create and start a container; in the foreground, exit with its status.

On the create path every import counts: see pyrunc/cli/commands/create.py.
"""

from pyrunc.cli.commands.create import add_create_flags, create_plain, options

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

PLAIN = create_plain({"--detach": "detach", "-d": "detach", "--keep": "keep",
                      "--no-subreaper": "no_subreaper", "-no-subreaper": "no_subreaper"})


def add_arguments(p: "argparse.ArgumentParser") -> None:
    from pyrunc.cli.argparsing import add_id

    add_create_flags(p)
    p.add_argument("--detach", "-d", action="store_true", help="detach from the container's process")
    p.add_argument("--keep", action="store_true",
                   help="do not delete the container after it exits")
    # go-runc spells it with one dash (urfave/cli accepts both).
    p.add_argument("--no-subreaper", "-no-subreaper", action="store_true",
                   help="disable the use of the subreaper used to reap reparented processes")
    add_id(p)


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.container import run as run_container

    cid = validate_id(args.container_id)
    return run_container(ctx.root, cid, options(args, ctx, detach=args.detach))  # type: ignore[arg-type]
