"""`pyrunc create [options] <id>`: create a container; its init waits for `start` (runc's flags).

On the create path every import counts (bench/README.md): no argparse unless the command line is unusual (PLAIN),
no __future__ import, annotations quoted.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

_CREATE_OPTIONS = (("--bundle", "bundle"), ("-b", "bundle"), ("--console-socket", "console_socket"),
                   ("--pidfd-socket", "pidfd_socket"), ("--pid-file", "pid_file"), ("--preserve-fds", "preserve_fds"))


def create_plain(flags: "dict[str, str] | None" = None) -> "dict[str, object]":
    """The plain command lines of `create` (and, with its own `flags`, `run`) that pyrunc.cli.main.parse_plain
    parses without argparse: the same options and defaults as `add_create_flags`."""
    return {
        "positionals": (("container_id", None),),
        "required": 1,
        "flags": {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring", **(flags or {})},
        "options": {option: (dest, None) for option, dest in _CREATE_OPTIONS},
        "defaults": {"bundle": ".", "console_socket": None, "pidfd_socket": None, "pid_file": None,
                     "preserve_fds": 0},
        "types": {"preserve_fds": int},
    }


PLAIN = create_plain()


def add_create_flags(p: "argparse.ArgumentParser") -> None:
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


def add_arguments(p: "argparse.ArgumentParser") -> None:
    from pyrunc.cli.argparsing import add_id

    add_create_flags(p)
    add_id(p)


def options(args: "argparse.Namespace", ctx: "Context", *, detach: bool) -> object:
    from pyrunc.runtime.container import CreateOptions

    return CreateOptions(
        bundle=args.bundle, console_socket=args.console_socket, pid_file=args.pid_file,
        pidfd_socket=args.pidfd_socket, no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
        preserve_fds=args.preserve_fds, detach=detach,
        keep=getattr(args, "keep", False), no_subreaper=getattr(args, "no_subreaper", False),
        systemd_cgroup=ctx.systemd_cgroup, rootless=ctx.rootless == "true",
    )


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.container import create

    cid = validate_id(args.container_id)
    return create(ctx.root, cid, options(args, ctx, detach=True))  # type: ignore[arg-type]
