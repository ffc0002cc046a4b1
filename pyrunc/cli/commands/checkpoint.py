"""`pyrunc checkpoint` and `pyrunc restore`: runc's CRIU commands, declared so that scripts and clients asking for
them (or for their `--help`) get runc's command line, and a clear error: pyrunc has no CRIU support."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

# runc's flags of both commands (value-taking ones, then booleans); accepted, then refused with the command.
_VALUES = ("--image-path", "--work-path", "--parent-path", "--page-server", "--manage-cgroups-mode", "--empty-ns",
           "--status-fd", "--lsm-profile", "--lsm-mount-context")
_FLAGS = ("--leave-running", "--tcp-established", "--tcp-skip-in-flight", "--link-remap", "--ext-unix-sk",
          "--shell-job", "--lazy-pages", "--file-locks", "--pre-dump", "--auto-dedup")
_RESTORE_VALUES = ("--bundle", "--console-socket", "--pid-file")
_RESTORE_FLAGS = ("--detach", "--no-subreaper", "--no-pivot")


def add_arguments(p: argparse.ArgumentParser) -> None:
    restore = p.prog.endswith(" restore")
    for name in _VALUES + (_RESTORE_VALUES if restore else ()):
        short = ("-b",) if name == "--bundle" else ()
        p.add_argument(*short, name, metavar="value")
    for name in _FLAGS + (_RESTORE_FLAGS if restore else ()):
        short = ("-d",) if name == "--detach" else ()
        p.add_argument(*short, name, action="store_true")
    p.add_argument("container_id", metavar="<container-id>")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pyrunc.errors import PyruncError

    raise PyruncError(f"{ctx.command} failed: checkpoint/restore is not supported by pyrunc (no CRIU support)")
