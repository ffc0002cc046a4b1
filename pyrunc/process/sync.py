"""The typed protocol between the parent (the `pyrunc create`/`run` process) and its child stages.

One AF_UNIX SOCK_SEQPACKET socketpair: one datagram per message, JSON `{"type": "<MSG>", ...fields}`, fds (the seccomp
notify fd) attached with SCM_RIGHTS. Both children (intermediate, then init) use the same child end; the intermediate
drops it when it exits, so from then on an EOF at the parent means the init closed it.

    parent (host)                                 intermediate (stage 1)          init (stage 2, pid 1)
    -------------                                 ----------------------          ---------------------
    cgroup create, fork ───────────────────────▶  pdeathsig, non-dumpable
    cgroup apply(intermediate), set ── GO ──────▶ (all later children are in the cgroup)
                                                  unshare(CLONE_NEWUSER)
    write setgroups/uid_map/gid_map ◀─ MAP_REQUEST
                                     ── MAP_DONE ▶ setresuid(0); setns(paths); unshare(rest);
                                                  timens offsets; fork ──────────▶ setsid, keyring, lo up
    reap intermediate, save pid ◀──── INIT_PID ── _exit(0)                        prepare_rootfs (mounts)
    prestart + createRuntime hooks ◀───────────────────────────────────── HOOKS ─
                                     ── HOOKS_DONE(state) ───────────────────────▶ createContainer hooks,
                                                                                   pivot_root, console, sysctl,
                                                                                   hostname, ro/masked paths, nnp
    rlimits, oom_score_adj, save ◀─────────────────────────────────────── READY ─
    "created"                        ── RUN ─────────────────────────────────────▶ seccomp (no nnp), user, caps,
                                                                                   cwd, lookup args[0],
    send fd to listenerPath ◀──────────────────────────────── SECCOMP(+fd) ────── seccomp (nnp)
                                     ── SECCOMP_DONE ────────────────────────────▶
    (logged)                 ◀────────────────────────────────────────── WARN ── (any time, e.g. ambient caps)
    (written to --log)       ◀──────────────────────────────────── LOG(level, msg) (any time, only with --debug
                                                                                   or for a warning)
    create succeeds          ◀────────────────────────────────────────── EOF ─── close socket; wait exec.fifo
    cleanup, InitError       ◀──────────────────────── ERROR(step, errno, message, spec_path) ── _exit(255)

An EOF where a message was expected means the other side died: a child seeing it exits (the parent is gone, nothing
will clean up after it otherwise); the parent turns it into an InitError naming the stage that vanished.
"""

from __future__ import annotations

import array
import enum
import json
import os
import socket
from typing import Any

from pyrunc.errors import InitError, PyruncError, SyscallError
from pyrunc.log import LOG

MAX_MSG = 64 * 1024


class Msg(enum.Enum):
    GO = "GO"
    MAP_REQUEST = "MAP_REQUEST"
    MAP_DONE = "MAP_DONE"
    INIT_PID = "INIT_PID"
    HOOKS = "HOOKS"
    HOOKS_DONE = "HOOKS_DONE"
    READY = "READY"
    RUN = "RUN"
    SECCOMP = "SECCOMP"
    SECCOMP_DONE = "SECCOMP_DONE"
    WARN = "WARN"
    LOG = "LOG"
    ERROR = "ERROR"


class SyncEOF(Exception):
    """The other side closed the socket (it exited) while a message was expected."""


class ProtocolError(Exception):
    """A message other than the expected one arrived."""


def socketpair() -> tuple[socket.socket, socket.socket]:
    """(parent end, child end), both close-on-exec: neither may reach the container process."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    return a, b


def send(sock: socket.socket, kind: Msg, fd: int | None = None, **fields: Any) -> None:
    data = json.dumps({"type": kind.value, **fields}, separators=(",", ":")).encode()
    if fd is None:
        sock.sendall(data)
    else:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def recv(sock: socket.socket) -> tuple[Msg, dict[str, Any], int | None]:
    """Next message: (kind, fields, attached fd or None). Raises SyncEOF on EOF."""
    fds = array.array("i")
    while True:
        try:
            data, anc, _flags, _addr = sock.recvmsg(MAX_MSG, socket.CMSG_SPACE(fds.itemsize))
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        except ConnectionResetError:
            data, anc = b"", []
            break
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        for fd in fds:
            os.close(fd)
        raise SyncEOF()
    msg = json.loads(data)
    return Msg(msg.pop("type")), msg, (fds[0] if fds else None)


def forward_log(sock: socket.socket) -> None:
    """In a child stage: send what it logs (pyrunc.log, and `logging` through it) to the parent as LOG messages,
    which the parent writes to --log or its stderr (runc's init forwards its logrus lines the same way). The child
    has no log fd of its own (closed with every other runtime fd) and its fd 2 belongs to the container. Once the
    socket is closed, lines are dropped."""

    def forward(level: str, msg: str) -> None:
        try:
            send(sock, Msg.LOG, level=level, msg=msg)
        except (OSError, ValueError):
            pass

    LOG.forward = forward


def debug(message: str) -> None:
    """A debug line from a child stage (forwarded by `forward_log`); costs nothing without --debug."""
    if LOG.debug_enabled:
        LOG.write("debug", message)


def expect(sock: socket.socket, kind: Msg) -> dict[str, Any]:
    """Wait for message `kind` (a child's view: the parent never sends ERROR). EOF -> SyncEOF."""
    got, fields, fd = recv(sock)
    if fd is not None:
        os.close(fd)
    if got is not kind:
        raise ProtocolError(f"sync: expected {kind.value}, got {got.value}")
    return fields


class StepError(Exception):
    """A failure a child stage describes itself (e.g. `exec: "sh": executable file not found in $PATH`)."""

    def __init__(self, step: str, message: str, err: int = 0, spec_path: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.errno = err
        self.spec_path = spec_path


def error_fields(exc: BaseException, step: str) -> dict[str, Any]:
    """The ERROR message for an exception raised in a child stage at `step`."""
    if isinstance(exc, StepError):
        return {"step": exc.step, "errno": exc.errno, "message": exc.message, "spec_path": exc.spec_path}
    spec_path = getattr(exc, "spec_path", None)
    err = 0
    if isinstance(exc, SyscallError):
        err = exc.errno or 0
        where = f" {exc.path}" if exc.path else ""
        detail = f" ({exc.detail})" if exc.detail else ""
        message = f"{exc.op}{where}: {os.strerror(err) if err else 'error'}{detail}"
    elif isinstance(exc, PyruncError):
        raw_err = getattr(exc, "errno", 0)
        err = raw_err if isinstance(raw_err, int) else 0
        message = str(exc)
        if spec_path:
            message = message.removesuffix(f" (config: {spec_path})")
    elif isinstance(exc, OSError):
        err = exc.errno or 0
        message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return {"step": step, "errno": err, "message": message, "spec_path": spec_path if isinstance(spec_path, str)
            else None}


def send_error(sock: socket.socket | None, exc: BaseException, step: str) -> None:
    """Best effort: report a child's failure to the parent. Never raises (the child is about to _exit)."""
    if sock is None:
        return
    try:
        send(sock, Msg.ERROR, **error_fields(exc, step))
    except BaseException:  # the parent is gone; nothing else to tell
        pass


def init_error(fields: dict[str, Any]) -> InitError:
    """Rebuild the child's ERROR message as the parent's typed exception."""
    return InitError(str(fields.get("step") or "init"), str(fields.get("message") or "error"),
                     int(fields.get("errno") or 0), fields.get("spec_path"))
