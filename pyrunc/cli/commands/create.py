"""`pyrunc create [options] <id>`: create a container; its init waits for `start` (runc's flags)."""

from __future__ import annotations

import argparse

from pyrunc.cli.argparsing import add_id
from pyrunc.cli.context import Context


def add_create_flags(p: argparse.ArgumentParser) -> None:
    """The flags `create` and `run` share."""
    p.add_argument("--bundle", "-b", default=".", help="path to the root of the bundle directory")
    p.add_argument("--console-socket", metavar="PATH",
                   help="path to an AF_UNIX socket which will receive a file descriptor of the pty master")
    p.add_argument("--pidfd-socket", metavar="PATH",
                   help="path to an AF_UNIX socket which will receive a pidfd of the init process")
    p.add_argument("--pid-file", metavar="PATH", help="specify the file to write the process id to")
    p.add_argument("--no-pivot", action="store_true",
                   help="do not use pivot root to jail process inside rootfs")
    p.add_argument("--no-new-keyring", action="store_true",
                   help="do not create a new session keyring for the container")
    p.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                   help="pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_create_flags(p)
    add_id(p)


def options(args: argparse.Namespace, ctx: Context, *, detach: bool) -> object:
    from pyrunc.runtime.container import CreateOptions

    return CreateOptions(
        bundle=args.bundle, console_socket=args.console_socket, pid_file=args.pid_file,
        pidfd_socket=args.pidfd_socket, no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
        preserve_fds=args.preserve_fds, detach=detach,
        keep=getattr(args, "keep", False), no_subreaper=getattr(args, "no_subreaper", False),
        systemd_cgroup=ctx.systemd_cgroup, rootless=ctx.rootless == "true",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.container import create

    cid = validate_id(args.container_id)
    return create(ctx.root, cid, options(args, ctx, detach=True))  # type: ignore[arg-type]
