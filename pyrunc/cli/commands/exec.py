"""`pyrunc exec [options] <id> <command> [args...]` or `pyrunc exec [options] -p process.json <id>` (runc's flags).

As with runc, options end at the container id: everything after it is the command (`exec ID sh -c 'echo'`).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

# The plain command lines pyrunc.cli.main parses without argparse (see parse_plain there): containerd's
# `exec --process FILE --detach --pid-file FILE ID` and a shell's `exec [-t] ID cmd args...`.
_VALUE_OPTIONS = (("--console-socket", "console_socket"), ("--pidfd-socket", "pidfd_socket"), ("--cwd", "cwd"),
                  ("--user", "user"), ("-u", "user"), ("--process", "process"), ("-p", "process"),
                  ("--pid-file", "pid_file"), ("--process-label", "process_label"), ("--apparmor", "apparmor"),
                  ("--preserve-fds", "preserve_fds"))
PLAIN = {
    "positionals": (("container_id", None),),
    "required": 1,
    "flags": {"--tty": "tty", "-t": "tty", "--detach": "detach", "-d": "detach", "--no-new-privs": "no_new_privs",
              "--ignore-paused": "ignore_paused"},
    "options": {option: (dest, None) for option, dest in _VALUE_OPTIONS},
    "appends": {"--env": "env", "-e": "env", "--additional-gids": "additional_gids", "-g": "additional_gids",
                "--cap": "cap", "-c": "cap", "--cgroup": "cgroup"},
    "defaults": {dest: None for _, dest in _VALUE_OPTIONS} | {"preserve_fds": 0},
    "types": {"preserve_fds": int, "additional_gids": int},
    "remainder": "command",
}


def add_arguments(p: "argparse.ArgumentParser") -> None:
    import argparse

    p.add_argument("--console-socket", metavar="PATH",
                   help="path to an AF_UNIX socket which will receive a file descriptor referencing the master end "
                        "of the console's pseudoterminal")
    p.add_argument("--pidfd-socket", metavar="PATH",
                   help="path to an AF_UNIX socket which will receive a file descriptor referencing the exec process")
    p.add_argument("--cwd", metavar="DIR", help="current working directory in the container")
    p.add_argument("--env", "-e", action="append", default=[], metavar="KEY=VALUE", help="set environment variables")
    p.add_argument("--tty", "-t", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("--user", "-u", metavar="UID[:GID]", help="UID (format: <uid>[:<gid>])")
    p.add_argument("--additional-gids", "-g", action="append", type=int, default=[], metavar="GID",
                   help="additional gids")
    p.add_argument("--process", "-p", metavar="FILE", help="path to the process.json")
    p.add_argument("--detach", "-d", action="store_true", help="detach from the container's process")
    p.add_argument("--pid-file", metavar="PATH", help="specify the file to write the process id to")
    p.add_argument("--process-label", metavar="LABEL",
                   help="set the asm process label for the process commonly used with selinux")
    p.add_argument("--apparmor", metavar="PROFILE", help="set the apparmor profile for the process")
    p.add_argument("--no-new-privs", action="store_true", help="set the no new privileges value for the process")
    p.add_argument("--cap", "-c", action="append", default=[], metavar="CAP",
                   help="add a capability to the bounding set for the process")
    p.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                   help="pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")
    p.add_argument("--cgroup", action="append", default=[], metavar="[CONTROLLER:]PATH",
                   help="run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.")
    p.add_argument("--ignore-paused", action="store_true", help="allow exec in a paused container")
    p.add_argument("container_id", metavar="<container-id>")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="<command> [args...]")


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.exec import ExecOptions, exec_process

    cid = validate_id(args.container_id)
    opts = ExecOptions(
        args=args.command, process_file=args.process, console_socket=args.console_socket,
        pidfd_socket=args.pidfd_socket, cwd=args.cwd, env=args.env, tty=args.tty, user=args.user,
        additional_gids=args.additional_gids, detach=args.detach, pid_file=args.pid_file,
        process_label=args.process_label, apparmor=args.apparmor, no_new_privs=args.no_new_privs, caps=args.cap,
        preserve_fds=args.preserve_fds, cgroups=args.cgroup, ignore_paused=args.ignore_paused,
    )
    return exec_process(ctx.root, cid, opts)
