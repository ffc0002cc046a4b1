"""The pyrunc command line: runc's global flags, a lazily imported module per command, one error boundary.

Global flags come before the command, in both `--flag value` and `--flag=value` forms, as urfave/cli accepts them
for runc. Only the chosen command's module is imported (containerd runs `state` and `kill` for every container, so
their start-up cost matters). Every error ends here: a PyruncError becomes one log line and exit 1; anything else is
a bug, reported as one line (with the traceback only under --debug) and exit 2.
"""

from __future__ import annotations

import os
import sys

from pyrunc import SPEC_VERSION, __version__

# command -> (module under pyrunc.cli.commands, one-line help). Order is `--help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "create": ("create", "create a container"),
    "delete": ("delete", "delete any resources held by the container often used with detached container"),
    "events": ("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics"),
    "exec": ("exec", "execute new process inside the container"),
    "features": ("features", "show the enabled features"),
    "kill": ("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process"),
    "list": ("list", "lists containers started by pyrunc with the given root"),
    "pause": ("pause", "pause suspends all processes inside the container"),
    "ps": ("ps", "ps displays the processes running inside a container"),
    "resume": ("resume", "resumes all processes that have been previously paused"),
    "run": ("run", "create and run a container"),
    "spec": ("spec", "create a new specification file"),
    "start": ("start", "executes the user defined process in a created container"),
    "state": ("state", "output the state of a container"),
    "update": ("update", "update container resource constraints"),
    "validate": ("validate", "check a bundle's config.json and print every problem (not in runc)"),
}
ALIASES = {"ls": "list"}
# Commands on containerd's hot path: they must not pull in `logging` or the process-setup code.
HOT = frozenset({"state", "kill", "list", "delete", "start", "ps", "pause", "resume"})

USAGE = """NAME:
   pyrunc - Open Container Initiative runtime, written in Python

USAGE:
   pyrunc [global options] command [command options] [arguments...]

COMMANDS:
{commands}

GLOBAL OPTIONS:
   --debug                 enable debug logging
   --log value             set the log file to write pyrunc logs to (default is '/dev/stderr')
   --log-format value      set the log format ('text' (default), or 'json') (default: "text")
   --root value            root directory for storage of container state (default: "{root}")
   --systemd-cgroup        enable systemd cgroup support
   --rootless value        ignore cgroup permission errors ('true', 'false', or 'auto') (default: "auto")
   --criu value            accepted for compatibility and ignored
   --help, -h              show help
   --version, -v           print the version
"""


def version_text() -> str:
    """First line `pyrunc version X` (go-runc's parser keys on "<name> version "), then `spec: 1.3.0`."""
    import platform

    return (
        f"pyrunc version {__version__}\n"
        f"spec: {SPEC_VERSION}\n"
        f"python: {platform.python_version()}\n"
    )


def _usage() -> str:
    from pyrunc.paths import default_root

    cmds = "\n".join(f"   {name:<10} {text}" for name, (_, text) in COMMANDS.items())
    return USAGE.format(commands=cmds + "\n   help, h    shows a list of commands or help for one command",
                        root=default_root())


def parse_global(argv: list[str]) -> tuple[dict[str, object], list[str]]:
    """Split `[global flags] command [args]`. Returns (options, rest starting at the command)."""
    opts: dict[str, object] = {}
    i = 0
    takes_value = {"--log", "--log-format", "--root", "--criu", "--rootless"}
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        if arg == "--":
            i += 1
            break
        name, eq, value = arg.partition("=")
        if name.startswith("-") and not name.startswith("--"):
            name = "-" + name  # urfave/cli accepts single-dash long flags: -root, -debug
        if name in ("--help", "--h"):
            opts["help"] = True
        elif name in ("--version", "--v"):
            opts["version"] = True
        elif name in ("--debug", "--systemd-cgroup"):
            if eq and value.lower() not in ("true", "false", "1", "0"):
                from pyrunc.errors import UsageError

                raise UsageError(f"invalid boolean value {value!r} for flag {name}")
            opts[name[2:]] = (value.lower() in ("true", "1")) if eq else True
        elif name in takes_value:
            if not eq:
                if name == "--rootless" and (i + 1 >= len(argv) or argv[i + 1] not in ("true", "false", "auto")):
                    value = "true"
                else:
                    i += 1
                    if i >= len(argv):
                        from pyrunc.errors import UsageError

                        raise UsageError(f"flag needs an argument: {name}")
                    value = argv[i]
            opts[name[2:]] = value
        else:
            from pyrunc.errors import UsageError

            raise UsageError(f"flag provided but not defined: {arg}")
        i += 1
    return opts, argv[i:]


def build_parser(name: str, module: object):  # type: ignore[no-untyped-def]
    import argparse

    from pyrunc.cli.argparsing import RuncArgumentParser

    p: argparse.ArgumentParser = RuncArgumentParser(prog=f"pyrunc {name}", description=COMMANDS[name][1])
    module.add_arguments(p)  # type: ignore[attr-defined]
    return p


def main(argv: list[str] | None = None) -> int:
    from pyrunc.errors import PyruncError
    from pyrunc.log import LOG

    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, rest = parse_global(argv)
        if opts.get("version"):
            sys.stdout.write(version_text())
            return 0
        if opts.get("help") or not rest or rest[0] in ("help", "h"):
            if len(rest) >= 2 and rest[0] in ("help", "h"):
                rest = [rest[1], "--help"]
            else:
                sys.stdout.write(_usage())
                return 0
        log_format = str(opts.get("log-format", "text"))
        if log_format not in ("text", "json"):
            raise PyruncError(f"invalid log-format: {log_format}")
        log_path = opts.get("log")
        LOG.configure(str(log_path) if log_path else None, log_format, bool(opts.get("debug")))
        if "criu" in opts:
            LOG.write("warning", "--criu is ignored")
        rootless = str(opts.get("rootless", "auto"))
        if rootless not in ("true", "false", "auto"):
            raise PyruncError(f"invalid --rootless value: {rootless}")

        cmd = ALIASES.get(rest[0], rest[0])
        if cmd not in COMMANDS:
            raise PyruncError(f"No help topic for '{rest[0]}'")
        from importlib import import_module

        module = import_module(f"pyrunc.cli.commands.{COMMANDS[cmd][0]}")
        if cmd not in HOT:
            from pyrunc.log import bridge_std_logging

            bridge_std_logging()
        args = build_parser(cmd, module).parse_args(rest[1:])

        from pyrunc.cli.context import Context
        from pyrunc.paths import default_root

        root = str(opts.get("root") or default_root())
        ctx = Context(
            root=os.path.abspath(root),
            log_path=str(log_path) if log_path else None,
            log_format=log_format,
            debug=bool(opts.get("debug")),
            systemd_cgroup=bool(opts.get("systemd-cgroup")),
            rootless=rootless,
            command=cmd,
        )
        return int(module.run(args, ctx) or 0)
    except PyruncError as e:
        LOG.fatal(str(e))
        if LOG.debug_enabled:
            import traceback

            traceback.print_exc()
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except SystemExit as e:  # argparse --help (0) and usage errors (already converted by RuncArgumentParser)
        return e.code if isinstance(e.code, int) else 1
    except Exception as e:  # a bug: still one line, never a bare traceback unless --debug
        LOG.fatal(f"internal error: {type(e).__name__}: {e}")
        if LOG.debug_enabled:
            import traceback

            traceback.print_exc()
        return 2
