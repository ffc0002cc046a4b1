"""The pyrunc command line: runc's global flags, a lazily imported module per command, one error boundary.

Global flags come before the command, in both `--flag value` and `--flag=value` forms, as urfave/cli accepts them
for runc. Only the chosen command's module is imported (containerd runs `state` and `kill` for every container, so
their start-up cost matters: bench/ measures it against a bare interpreter start). A command module that declares
its plain command lines in `PLAIN` (see `parse_plain`) gets them parsed here without `argparse`. Every error ends
here: a PyruncError becomes one log line and exit 1; anything else is a bug, reported as one line (with the
traceback only under --debug) and exit 2.

Import discipline for `state`, `kill`, `list`, `start`, `delete` (tests/unit/test_perf_imports.py checks it; the
target of the first three is 1.3x a bare `python -I -S` start, and each module imported costs ~1% of that): built-in
modules and the few pyrunc modules they need, nothing else. No `os` (the C module `posix` instead: `os` costs
~1.5 ms, its `_collections_abc`), `argparse`, `json`, `re`, `typing`, `signal`, `enum`, `logging`, `importlib`,
`contextlib`; pyrunc.errors only once an error is raised; and no `from __future__ import annotations` in these
modules (it imports the `__future__` module, ~2% of an interpreter start): annotations that name what is imported
only for type checkers are quoted.
"""

import sys

from pyrunc import SPEC_VERSION, __version__

# command -> (module under pyrunc.cli.commands, one-line help). Order is `--help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "create": ("create", "create a container"),
    "delete": ("delete", "delete any resources held by the container often used with detached container"),
    "events": ("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics"),
    "exec": ("exec", "execute new process inside the container"),
    "checkpoint": ("checkpoint", "checkpoint a running container (not supported: pyrunc has no CRIU support)"),
    "features": ("features", "show the enabled features"),
    "kill": ("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process"),
    "list": ("list", "lists containers started by pyrunc with the given root"),
    "pause": ("pause", "pause suspends all processes inside the container"),
    "ps": ("ps", "ps displays the processes running inside a container"),
    "restore": ("checkpoint", "restore a container from a previous checkpoint (not supported: no CRIU support)"),
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
    return (
        f"pyrunc version {__version__}\n"
        "commit: none\n"  # dockerd's version parser looks for this line, as in runc's output
        f"spec: {SPEC_VERSION}\n"
        f"python: {sys.version.split()[0]}\n"
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


class Args:
    """What argparse.Namespace would hold, for a command line `parse_plain` understood."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Args(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


def parse_plain(
    argv: list[str],
    positionals: tuple[tuple[str, object], ...] = (),
    required: int = 0,
    flags: dict[str, str] | None = None,
    options: dict[str, tuple[str, tuple[str, ...] | None]] | None = None,
    defaults: dict[str, object] | None = None,
    types: dict[str, type] | None = None,
    appends: dict[str, str] | None = None,
    remainder: str | None = None,
) -> Args | None:
    """Parse a command's plain command line without argparse (a ~10 ms import), or return None.

    A command module may declare `PLAIN = dict(positionals=((dest, default), ...), required=N, flags={option:
    dest}, options={option: (dest, choices or None)}, defaults={dest: value}, types={dest: int})`: its positionals
    (the first `required` of them required), store_true flags, one-value options (`--opt v`, `--opt=v`; any value
    when choices is None, converted by `types`) and the defaults of the options, all as its argparse parser
    (add_arguments) defines them. Anything else (`--help`, `--`, an unknown flag, `--flag=value` on a flag, a wrong
    number of positionals, positionals split by options, a value not among the choices or that `types` refuses, a
    value that starts with "-", `-fjson`) returns None, so argparse parses it with its usual messages and exit
    codes; a plain line gives the values argparse would (tests/unit/test_perf_imports.py compares them).
    `appends={option: dest}` are repeatable one-value options collected in a list (argparse's action="append",
    default []; converted by `types` too), and `remainder=dest` takes everything after the last positional as a
    list (argparse.REMAINDER, as `exec ID cmd args...`).
    """
    flags = flags or {}
    options = options or {}
    appends = appends or {}
    values: dict[str, object] = {dest: False for dest in flags.values()}
    values.update(defaults or {})
    for dest in appends.values():
        values[dest] = []
    pos: list[str] = []
    options_after_positionals = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if options_after_positionals:
                return None  # `ID --all SIG`: argparse consumes positionals in one run and refuses this
            pos.append(arg)
            if remainder is not None and len(pos) == len(positionals):
                rest = argv[i:]
                if rest[:1] == ["--"]:
                    return None  # argparse's own rules for `--` before a remainder
                values[remainder] = rest
                break
            continue
        options_after_positionals = bool(pos)
        dest = flags.get(arg)
        if dest is not None:
            values[dest] = True
            continue
        name, eq, value = arg.partition("=")
        opt = options.get(name)
        if opt is None:
            append_dest = appends.get(name)
            if append_dest is None:
                return None
            opt = (append_dest, None)
        if not eq:
            if i >= len(argv) or argv[i].startswith("-"):
                return None
            value = argv[i]
            i += 1
        dest, choices = opt
        if choices is not None and value not in choices:
            return None
        convert = (types or {}).get(dest)
        converted: object = value
        if convert is not None:
            try:
                converted = convert(value)
            except ValueError:
                return None
        if name in appends:
            values[dest].append(converted)  # type: ignore[attr-defined]
        else:
            values[dest] = converted
    if not required <= len(pos) <= len(positionals):
        return None
    if remainder is not None and remainder not in values:
        values[remainder] = []
    for n, (dest, default) in enumerate(positionals):
        values[dest] = pos[n] if n < len(pos) else default
    return Args(**values)


def build_parser(name: str, module: object):  # type: ignore[no-untyped-def]
    import argparse

    from pyrunc.cli.argparsing import RuncArgumentParser

    p: argparse.ArgumentParser = RuncArgumentParser(prog=f"pyrunc {name}", description=COMMANDS[name][1])
    module.add_arguments(p)  # type: ignore[attr-defined]
    return p


def _abspath(path: str) -> str:
    """os.path.abspath, without importing `os` for the usual already clean absolute path (see the module doc)."""
    if path == "/" or (path.startswith("/") and all(c not in ("", ".", "..") for c in path[1:].split("/"))):
        return path
    import os

    return os.path.abspath(path)


def _error(message: str) -> Exception:
    from pyrunc.errors import PyruncError

    return PyruncError(message)


def main(argv: list[str] | None = None, *, quick_exit: bool = False, code_cache: str | None = None) -> int:
    """Run one pyrunc command line; returns its exit code. With `quick_exit` (the installed launcher,
    pyrunc.launcher), the commands of QUICK_EXIT end the process themselves (see `_exit_now`); the SETUP commands
    import through `code_cache` (the launcher's pyrunc.codecache file) when it is given and usable."""
    global _quick_exit, _code_cache
    _quick_exit = quick_exit
    _code_cache = code_cache
    _hold_closed_stdio()
    code = _main(sys.argv[1:] if argv is None else argv)
    if quick_exit and _command in QUICK_EXIT:
        _exit_now(code)
    return code


# Commands whose process ends with os._exit when run by the launcher: their code (this package's state, teardown
# and cgroups modules) leaves nothing for the interpreter's finalization to do but free memory, and that
# finalization (tearing down every module) costs ~20% of an interpreter start. A command belongs here only when
# nothing it runs relies on finalization: no unclosed buffered file, no __del__ or weakref.finalize clean-up.
# create/start/run/exec qualify too: the log and state files are written with raw fds, every socket, fd and the
# terminal relay are closed (and the tty mode restored) before they return (a socket's __del__ would only close
# its fd, which the kernel does at exit), and exit work someone registered (logging's, threads) is handled by
# `_exit_now`.
QUICK_EXIT = frozenset({"state", "kill", "list", "delete", "features", "create", "start", "run", "exec"})
# Commands that build a container process (see _main: no garbage collection while they do).
SETUP = frozenset({"create", "run", "exec"})
_command = ""  # the command main() ran
_quick_exit = False  # main()'s quick_exit
_code_cache: str | None = None  # main()'s code_cache


def _hold_closed_stdio() -> None:
    """Started with fd 0, 1 or 2 closed: put /dev/null there, close-on-exec, for this process's lifetime.

    Otherwise the next file or socket the runtime opens lands on that number, where the init (which keeps fds
    0-2 for the container), a hook or `run`'s relay would take it for stdio: a log or state file as the
    container's stderr. Close-on-exec, so every execve closes it again: the container and the hooks find the fd
    closed, as with runc. CPython left sys.stdout/sys.stderr None for such an fd; they now write to /dev/null.
    Three fstat calls when nothing is closed."""
    import posix

    for fd in (0, 1, 2):
        try:
            posix.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
        except OSError:
            return
        if null != fd:
            posix.dup2(null, fd, False)
            posix.close(null)
        if fd == 1 and sys.stdout is None:
            sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        elif fd == 2 and sys.stderr is None:
            sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)


def _exit_now(code: int) -> None:
    """Flush stdout and stderr and `_exit(code)`, unless exit work was registered (atexit handlers, which also
    covers weakref.finalize, or threads), or flushing fails: then return, and the interpreter ends as usual."""
    import posix

    # Exit work is registered through the `atexit` module: if nothing imported it, there is none (and importing it
    # here would cost ~0.5% of an interpreter start).
    logging = None
    atexit = sys.modules.get("atexit")
    if atexit is not None:
        registered = getattr(atexit, "_ncallbacks", None)
        if registered is None:
            return
        pending = registered()
        # `logging` registers exactly one exit hook when imported, shutdown(): if it is the only one, run it here
        # (it flushes and closes the handlers; pyrunc.log's bridge handler writes unbuffered) rather than finalize
        # for it.
        logging = sys.modules.get("logging") if pending == 1 else None
        if pending and logging is None:
            return
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    try:
        if logging is not None:
            logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return
    posix._exit(code)


def _main(argv: list[str]) -> int:
    global _command
    from pyrunc.log import LOG

    _command = ""
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
            raise _error(f"invalid log-format: {log_format}")
        log_path = opts.get("log")
        LOG.configure(str(log_path) if log_path else None, log_format, bool(opts.get("debug")))
        if "criu" in opts:
            LOG.write("warning", "--criu is ignored")
        rootless = str(opts.get("rootless", "auto"))
        if rootless not in ("true", "false", "auto"):
            raise _error(f"invalid --rootless value: {rootless}")

        cmd = ALIASES.get(rest[0], rest[0])
        if cmd not in COMMANDS:
            raise _error(f"No help topic for '{rest[0]}'")
        _command = cmd
        if cmd in SETUP or (_quick_exit and cmd in QUICK_EXIT):
            import gc

            # No cyclic garbage collection while setting up a container: a collection walks every object (the
            # imports alone trigger dozens), and in the forked children it would write to every object's header,
            # copying the whole inherited heap. A foreground `run`/`exec` turns it back on to wait
            # (pyrunc.runtime.handoff.collect_again). Nor in a command that ends with `_exit`: what a collection
            # would free goes with the process (~1% of `list`'s time).
            gc.disable()
        if cmd in SETUP and _code_cache:
            # ~110 modules to import: from the launcher's code cache (pyrunc.codecache), not module by module.
            from pyrunc import codecache

            codecache.install(_code_cache)
        # __import__ with a fromlist returns the submodule itself (importlib is a 1 ms import).
        module = __import__(f"pyrunc.cli.commands.{COMMANDS[cmd][0]}", fromlist=["run"])
        if cmd not in HOT:
            from pyrunc.log import bridge_std_logging

            bridge_std_logging()
        plain = getattr(module, "PLAIN", None)
        args = parse_plain(rest[1:], **plain) if plain is not None else None
        if args is None:
            args = build_parser(cmd, module).parse_args(rest[1:])

        from pyrunc.cli.context import Context

        root = opts.get("root")
        if not root:
            from pyrunc.paths import default_root

            root = default_root()
        root = str(root)
        ctx = Context(
            root=_abspath(root),
            log_path=str(log_path) if log_path else None,
            log_format=log_format,
            debug=bool(opts.get("debug")),
            systemd_cgroup=bool(opts.get("systemd-cgroup")),
            rootless=rootless,
            command=cmd,
            root_explicit=bool(opts.get("root")),
        )
        return int(module.run(args, ctx) or 0)
    except KeyboardInterrupt:
        return 130
    except SystemExit as e:  # argparse --help (0) and usage errors (already converted by RuncArgumentParser)
        return e.code if isinstance(e.code, int) else 1
    except Exception as e:
        return _report(e)


# errnos of a host out of resources (EAGAIN, ENOMEM, ENFILE, EMFILE, ENOSPC, EDQUOT on Linux): see _report.
_EXHAUSTED = frozenset({11, 12, 23, 24, 28, 122})


def _report(e: Exception) -> int:
    """The error boundary: one line for every error, exit 1 for a PyruncError, 2 for a bug (pyrunc.errors is
    imported here, not before: a command that succeeds never needs it)."""
    from pyrunc.errors import PyruncError
    from pyrunc.log import LOG

    if isinstance(e, PyruncError):
        LOG.fatal(str(e))
        code = e.exit_code
    elif isinstance(e, BrokenPipeError):
        return 1
    elif isinstance(e, OSError) and e.errno in _EXHAUSTED:
        # The host ran out of something (fds, memory, processes, disk space) at a call that had no error of its
        # own: not a bug, and the one line says what ran out. What the command had made is already undone.
        where = f": {e.filename}" if e.filename else ""
        LOG.fatal(f"{(e.strerror or 'resource exhausted').lower()}{where}")
        code = 1
    else:  # a bug: still one line, never a bare traceback unless --debug
        LOG.fatal(f"internal error: {type(e).__name__}: {e}")
        code = 2
    if LOG.debug_enabled:
        import traceback

        traceback.print_exception(e)
    return code
