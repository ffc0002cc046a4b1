"""runc-compatible logging, without importing `logging` on hot paths.

runc (logrus) writes `{"level":"error","msg":"...","time":"<RFC3339>"}` lines with `--log-format json`, and
`time="..." level=error msg="..."` with `text`. containerd's shim keeps the last `"level":"error"` line of the
--log file; podman parses the whole file as ONE JSON object, so a failing command writes exactly one error line
(without --debug). When --log is given, the plain message also goes to stderr (runc's fatal()).

pyrunc's modules log through `get_logger(__name__)` (`logging.getLogger`, or a look-alike): once the CLI called
`bridge_std_logging()` (for commands that are not on the hot path) their records come here without `logging`
ever being imported; without the bridge (pyrunc as a library, the unit tests' caplog) they go to the standard
`logging` module.
Nothing here imports `json` (an 8 ms import, because of `re`): lines are encoded with pyrunc.quickjson, and only
when one is written. `posix` is the C module behind `os` (whose import costs ~1.5 ms: see pyrunc.runtime.state).
"""

import posix
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "fatal": 50}


class RuncLog:
    """The process-wide log sink configured from the global flags."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.fmt = "text"
        self.debug_enabled = False
        self._fd: int | None = None
        # In a child stage (intermediate, init, exec's stages) lines go to the parent over the sync socket instead:
        # the log fd was closed there (no runtime fd may reach the container), and fd 2 is the container's stderr.
        self.forward: Callable[[str, str], None] | None = None

    def configure(self, path: str | None, fmt: str, debug: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug
        if path:
            # runc opens the log O_CREATE|O_WRONLY|O_APPEND|O_SYNC, 0644, and always creates it: containerd says
            # "unable to retrieve OCI runtime error" when the file is missing.
            try:
                self._fd = posix.open(path, posix.O_CREAT | posix.O_WRONLY | posix.O_APPEND | posix.O_CLOEXEC, 0o644)
            except OSError as e:
                from pyrunc.errors import PyruncError

                # runc's wording (Go's *PathError), on stderr: the log file is what failed.
                raise PyruncError(f"open {path}: {(e.strerror or 'error').lower()}") from None

    @staticmethod
    def _now() -> str:
        # logrus' default timestamp: RFC3339 in seconds (Go's time.Time parses it; containerd requires RFC3339).
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def line(self, level: str, msg: str) -> str:
        try:
            from pyrunc.quickjson import dumps
        except (ImportError, OSError):  # no fd left to load _json: the error being reported may be just that
            dumps = _json_text

        msg = msg.replace("\n", " ").rstrip()
        if self.fmt == "json":
            return dumps({"level": level, "msg": msg, "time": self._now()}, separators=(",", ":")) + "\n"
        return f'time="{self._now()}" level={level} msg={dumps(msg)}\n'

    def write(self, level: str, msg: str) -> None:
        if level == "debug" and not self.debug_enabled:
            return
        if self.forward is not None:
            self.forward(level, msg)
            return
        data = self.line(level, msg).encode("utf-8", "backslashreplace")
        try:
            if self._fd is not None:
                posix.write(self._fd, data)
            else:
                posix.write(2, data)
        except OSError:
            pass

    def fatal(self, msg: str) -> None:
        """The one error line of a failing command, plus the plain message on stderr when logging to a file."""
        self.write("error", msg)
        if self._fd is not None:
            try:
                posix.write(2, (msg.replace("\n", " ") + "\n").encode("utf-8", "backslashreplace"))
            except OSError:
                pass

    def fd(self) -> int | None:
        return self._fd


LOG = RuncLog()


def _json_text(value: "str | dict[str, str]", separators: object = None) -> str:
    """JSON of a string or a flat dict of strings, without the `_json` module (RuncLog.line's fallback)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_text(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in out) + '"'


def debug(msg: str) -> None:
    LOG.write("debug", msg)


def warning(msg: str) -> None:
    LOG.write("warning", msg)


# The CLI asked for records to reach LOG (bridge_std_logging): get_logger then needs no `logging`.
_bridged = False
# Standard `logging` levels -> LOG's level names. "error" becomes "warning": one error line per failing command,
# and errors go through the CLI boundary.
_LEVEL_NAMES = {10: "debug", 20: "info", 30: "warning", 40: "warning", 50: "warning"}


class Logger:
    """What `logging.getLogger(name)` gives pyrunc's modules (`debug`, `warning`, %-style arguments), writing
    straight into LOG as the bridge's handler would, without the `logging` module."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _write(self, level: str, msg: str, args: tuple[object, ...]) -> None:
        try:
            LOG.write(level, str(msg) % args if args else str(msg))
        except Exception:  # pragma: no cover - logging must never fail the runtime
            pass

    def debug(self, msg: str, *args: object) -> None:
        if LOG.debug_enabled:
            self._write("debug", msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._write("warning", msg, args)


def get_logger(name: str) -> "logging.Logger":
    """`logging.getLogger(name)`; once the CLI called `bridge_std_logging`, a Logger instead: its records end up in
    LOG all the same, and `logging` (with `traceback`, `threading`, `string`, `weakref`: ~6 ms) is never imported.
    Without the bridge (pyrunc as a library, the unit tests and their caplog) it is the standard logger."""
    if _bridged:
        return Logger(name)  # type: ignore[return-value]
    import logging

    return logging.getLogger(name)


def bridge_std_logging() -> None:
    """Route log records into LOG: those of pyrunc's Loggers directly; if something already imported the standard
    `logging` module, its records too, through a handler on its root logger (pyrunc's own modules log through
    `get_logger`, so `logging` is not imported for them)."""
    global _bridged
    _bridged = True
    if "logging" in sys.modules:
        _install_std_handler()


def _install_std_handler() -> None:
    import logging

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                LOG.write(_LEVEL_NAMES.get(record.levelno, "info"), record.getMessage())
            except Exception:  # pragma: no cover - logging must never fail the runtime
                pass

    root = logging.getLogger()
    root.handlers[:] = [_Handler()]
    root.setLevel(logging.DEBUG if LOG.debug_enabled else logging.INFO)


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
