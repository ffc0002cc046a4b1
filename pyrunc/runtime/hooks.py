"""Implements `hooks` (runtime-spec config.md "POSIX-platform Hooks"): run one hook list with the state on stdin.

Which state status each kind receives (runtime-spec v1.3.0, runtime.md "Lifecycle"):

==================  ====================================================  ===========
kind                where it runs                                         status
==================  ====================================================  ===========
prestart            runtime namespace, after the container's namespaces   "creating"
                    exist, before pivot_root (deprecated; same moment
                    as createRuntime)
createRuntime       runtime namespace, same moment as prestart            "creating"
createContainer     container namespaces (the init), before pivot_root    "creating"
startContainer      container namespaces (the init), after `start`,      "created"
                    right before execve of the user process
poststart           runtime namespace, after the user process started     "running"
poststop            runtime namespace, after the container is deleted     "stopped"
==================  ====================================================  ===========

A failing hook of any kind but poststop fails the operation (the caller turns that into the spec's error path);
poststop failures are only logged (`warn_only=True`). Where each kind runs is the lifecycle code's job.

`run_hooks` is also called by the container's init process after pivot_root, where the host's Python library is
no longer reachable: so every module it uses is imported here, at import time, and nothing in it imports
lazily (`subprocess`'s `_posixsubprocess` fork_exec is a C function; `Popen` in binary mode imports nothing).
No threads: CPython's own `Popen.communicate` uses a selector (not threads) on POSIX, but buffers all output; we
run our own selector loop instead so a hook writing a lot costs bounded memory (the last `_KEEP` bytes of each
stream are kept for the error message).
"""

import errno
import os
import select
import selectors
import signal
import stat
import subprocess
import time

from pyrunc import quickjson
from pyrunc.errors import HookError
from pyrunc.log import get_logger
from pyrunc.runtime.hookstate import state_for_hooks as state_for_hooks  # the state on the hooks' stdin
from pyrunc.spec.model import Hook

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

log = get_logger(__name__)

_KEEP = 64 * 1024  # bytes of stdout/stderr kept per hook for messages
_READ = 64 * 1024
# After the hook exits, output still buffered in the pipes is read for at most this long; a background child that
# inherited the pipes must not keep us waiting (runc would hang on it).
_DRAIN_SECONDS = 0.1

STATUS_BY_KIND = {
    "prestart": "creating",
    "createRuntime": "creating",
    "createContainer": "creating",
    "startContainer": "created",
    "poststart": "running",
    "poststop": "stopped",
}


def run_hooks(kind: str, hooks: tuple[Hook, ...], state: "Mapping[str, Any]", *, warn_only: bool = False,
              cwd: str | None = None, default_env: list[str] | None = None) -> None:
    """Implements `hooks.<kind>`: run each hook in config order, `state` as JSON on its stdin.

    Each hook: execve(`path`, `args` (argv[0] included; [path] if empty), `env` (the hook's; when it has none,
    `default_env`, else empty)); stdin is the state, stdout and stderr are captured; every other fd is closed
    (close_fds). `timeout` seconds, if set, then SIGKILL. Every path is checked (absolute, a regular file,
    executable) before the first hook runs, so a broken list runs nothing. Failure raises HookError(kind, index,
    path, message), worded as runc's "error running <kind> hook #<index>: ..."; with `warn_only` (poststop) it is
    logged as a warning and the next hook runs.

    `default_env` is for startContainer hooks: runc runs those without an `env` of their own in the container
    process's environment (HOME included). Not in the runtime-spec, but hooks written for runc rely on it.
    """
    if not hooks:
        return
    log.debug("running %d %s hook(s)", len(hooks), kind)
    payload = quickjson.dumps(state, separators=(",", ":")).encode()
    # A hook that exits without reading its stdin must give us EPIPE, not kill us with SIGPIPE: Python ignores
    # SIGPIPE at startup, but the init may have reset dispositions for the container process.
    try:
        old_sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    except ValueError:  # not the main thread: dispositions are then Python's own (SIGPIPE ignored)
        old_sigpipe = None
    try:
        _run_all(kind, hooks, payload, warn_only, cwd, default_env)
    finally:
        if old_sigpipe is not None:
            signal.signal(signal.SIGPIPE, old_sigpipe)


def _run_all(kind: str, hooks: tuple[Hook, ...], payload: bytes, warn_only: bool, cwd: str | None,
             default_env: list[str] | None) -> None:
    broken: set[int] = set()
    for i, hook in enumerate(hooks):
        problem = _check_path(hook.path)
        if problem is None:
            continue
        err = HookError(kind, i, hook.path, problem)
        if not warn_only:
            raise err
        log.warning("%s", err)
        broken.add(i)
    for i, hook in enumerate(hooks):
        if i in broken:
            continue
        try:
            _run_one(kind, i, hook, payload, cwd, hook.env or tuple(default_env or ()))
        except HookError as err:
            if not warn_only:
                raise
            log.warning("%s", err)


def _check_path(path: str) -> str | None:
    if not path.startswith("/"):
        return "path must be absolute"
    try:
        st = os.stat(path)
    except OSError as e:
        return f"cannot run: {os.strerror(e.errno or errno.ENOENT).lower()}"
    if not stat.S_ISREG(st.st_mode):
        return "cannot run: not a regular file"
    if not os.access(path, os.X_OK):
        return "cannot run: permission denied (not executable)"
    return None


def _env(entries: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key:
            log.debug("hook env entry %r ignored: not KEY=VALUE", entry)
            continue
        env[key] = value  # a repeated key: the last one wins (runc/Go's exec does the same)
    return env


def _last_line(data: bytes) -> str:
    for line in reversed(data.decode(errors="replace").splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _run_one(kind: str, index: int, hook: Hook, payload: bytes, cwd: str | None, env: tuple[str, ...]) -> None:
    argv = list(hook.args) or [hook.path]
    log.debug("running %s hook #%d: %s %s", kind, index, hook.path, argv)
    try:
        proc = subprocess.Popen(
            argv, executable=hook.path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_env(env), cwd=cwd, close_fds=True, restore_signals=True,
        )
    except OSError as e:
        raise HookError(kind, index, hook.path, f"cannot run: {e.strerror or e}") from None
    try:
        out, err, timed_out = _exchange(proc, payload, hook.timeout)
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        if proc.returncode is None:  # _exchange failed: never leave the hook behind
            proc.kill()
            proc.wait()
    if timed_out:
        raise HookError(kind, index, hook.path, f"timed out after {hook.timeout}s")
    rc = proc.returncode
    if out or err:
        log.debug("%s hook #%d (%s) output: stdout=%r stderr=%r", kind, index, hook.path, out[-1024:],
                  err[-1024:])
    if rc == 0:
        return
    if rc < 0:
        # Go's wording for a process killed by a signal (runc's hook errors are Go's): "signal: bad system call".
        try:
            what = f"signal: {(signal.strsignal(-rc) or str(-rc)).lower()} ({signal.Signals(-rc).name})"
        except ValueError:
            what = f"signal: {-rc}"
    else:
        what = f"exit status {rc}"
    last = _last_line(err) or _last_line(out)
    raise HookError(kind, index, hook.path, f"{what}: {last}" if last else what)


def _exchange(proc: subprocess.Popen[bytes], payload: bytes, timeout: int | None) -> tuple[bytes, bytes, bool]:
    """Feed `payload` to the hook's stdin and collect the tails of its stdout/stderr until it exits or times out.

    Returns (stdout tail, stderr tail, timed_out); the hook has been reaped either way.
    """
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    in_fd, out_fd, err_fd = proc.stdin.fileno(), proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    try:
        pidfd: int | None = os.pidfd_open(proc.pid)  # readable once the hook exits (Linux >= 5.3)
    except (OSError, AttributeError):
        pidfd = None
    view = memoryview(payload)
    sel = selectors.DefaultSelector()
    timed_out = False
    try:
        if view:
            sel.register(in_fd, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        if pidfd is not None:
            sel.register(pidfd, selectors.EVENT_READ)
        drain_until: float | None = None  # set once the hook has exited
        while sel.get_map():
            now = time.monotonic()
            if drain_until is not None:
                wait: float | None = max(0.0, drain_until - now)
            elif deadline is not None:
                wait = deadline - now
                if wait <= 0:
                    timed_out = True
                    break
            else:
                wait = None
            ready = sel.select(wait)
            if drain_until is not None and not ready:
                break
            for key, _ in ready:
                fd = key.fd
                if fd == pidfd:
                    sel.unregister(fd)
                    drain_until = time.monotonic() + _DRAIN_SECONDS
                elif fd == in_fd:
                    try:
                        # A writable pipe takes PIPE_BUF bytes without blocking (what communicate() relies on).
                        n = os.write(fd, view[: select.PIPE_BUF])
                    except BrokenPipeError:  # the hook does not read its stdin: fine
                        n = len(view)
                    view = view[n:]
                    if not view:
                        sel.unregister(fd)
                        proc.stdin.close()
                else:
                    chunk = os.read(fd, _READ)
                    if not chunk:
                        sel.unregister(fd)
                        continue
                    buf = bufs[fd]
                    buf += chunk
                    if len(buf) > _KEEP:
                        del buf[: len(buf) - _KEEP]
            if pidfd is None and out_fd not in sel.get_map() and err_fd not in sel.get_map():
                break  # no pidfd: both pipes at EOF means the hook is done (or handed its output away)
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    out, err = bytes(bufs[out_fd]), bytes(bufs[err_fd])
    if not timed_out:
        try:
            # Only without a pidfd can the hook still be running here (it closed its stdout and stderr).
            proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        proc.kill()
        proc.wait()
    return out, err, timed_out
