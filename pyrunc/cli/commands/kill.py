"""`pyrunc kill [--all] <id> [signal]`: signal the init (default SIGTERM); names, SIG-names and numbers.

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import, quoted annotations).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

# The plain command lines pyrunc.cli.main parses without argparse (see parse_plain there).
PLAIN = {
    "positionals": (("container_id", None), ("signal", "SIGTERM")),
    "required": 1,
    "flags": {"--all": "all", "-a": "all"},
}


def add_arguments(p: "argparse.ArgumentParser") -> None:
    from pyrunc.cli.argparsing import add_id

    p.add_argument("--all", "-a", action="store_true",
                   help="send the specified signal to all processes inside the container")
    add_id(p)
    p.add_argument("signal", nargs="?", default="SIGTERM")


def signal_number(raw: str) -> int:
    """pyrunc.process.signals.parse_signal, answered here for a number or a plain name (`9`, `KILL`, `SIGTERM`,
    `term`), as containerd, podman and runtime-tools send them, from `_signal` (the C module behind `signal`, whose
    enums cost ~4 ms). Everything else (RTMIN+n, errors) goes to parse_signal; tests/unit/test_perf_imports.py
    checks that both agree on every name."""
    import _signal

    text = raw.strip()
    if text.isascii() and text.isdigit():
        n = int(text)
        if 0 < n <= _signal.SIGRTMAX:
            return n
    else:
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        num = getattr(_signal, name, None)
        if type(num) is int and not name.startswith("SIG_"):
            return num
    from pyrunc.process.signals import parse_signal

    return parse_signal(raw)


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    from pyrunc.paths import validate_id
    from pyrunc.runtime.teardown import kill

    cid = validate_id(args.container_id)
    kill(ctx.root, cid, signal_number(args.signal), all_processes=args.all)
    return 0
