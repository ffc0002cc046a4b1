"""The typed protocol between the parent (the `pyrunc create`/`run` process) and its child stages.

One AF_UNIX SOCK_SEQPACKET socketpair: one datagram per message, JSON `{"type": "<MSG>", ...fields}`, fds (the seccomp
notify fd, detached mount trees) attached with SCM_RIGHTS. Both children (intermediate, then init) use the same child
end; the intermediate drops it when it exits, so from then on an EOF at the parent means the init closed it.

    parent (host)                                 intermediate (stage 1)          init (stage 2, pid 1)
    -------------                                 ----------------------          ---------------------
    cgroup create, fork (into the v2 cgroup) ──▶  pdeathsig, non-dumpable
                                     ◀─ JOINED ── write "0" to the v1 cgroups' `tasks`
    cgroup apply(rest), set ───────── GO ───────▶ (all later children are in the cgroup)
                                                  unshare(CLONE_NEWUSER)
    write setgroups/uid_map/gid_map ◀─ MAP_REQUEST
                                     ── MAP_DONE ▶ setresuid(0); setns(paths); unshare(rest);
                                                  timens offsets; fork ──────────▶ setsid, keyring, lo up
    reap intermediate, save pid ◀──── INIT_PID ── _exit(0)
    (user namespace only: binds the init cannot reach, id-mapped binds)
    helper in the init's mntns ◀──────────────────────────────── MOUNT_REQUEST(mounts) ─ prepare_rootfs, at
      makes detached trees     ── MOUNT_FD(index)+fd, one per mount ────────────▶ each such mount's turn
    prestart + createRuntime hooks ◀───────────────────────────────────── HOOKS ─ (only with hooks)
                                     ── HOOKS_DONE(state) ───────────────────────▶ createContainer hooks,
                                                                                   pivot_root, console, sysctl,
                                                                                   hostname, ro/masked paths, nnp
    rlimits, oom_score_adj       ◀─────────────────────────────────────── READY ─
    save "created" (meanwhile)       ── RUN ─────────────────────────────────────▶ seccomp (no nnp), user, caps,
                                                                                   cwd, lookup args[0],
    send fd to listenerPath ◀──────────────────────────────── SECCOMP(+fd) ────── seccomp (nnp)
                                     ── SECCOMP_DONE ────────────────────────────▶
    (logged)                 ◀────────────────────────────────────────── WARN ── (any time, e.g. ambient caps)
    (written to --log)       ◀──────────────────────────────────── LOG(level, msg) (any time, only with --debug
                                                                                   or for a warning)
    create succeeds          ◀────────────────────────────────────────── EOF ─── close socket; wait exec.fifo
    cleanup, InitError       ◀──────────────────────── ERROR(step, errno, message, spec_path) ── _exit(255)

One stage (pyrunc.process.spawn, when the namespaces need no second fork: no user namespace, no new time namespace,
no pid namespace given by path): the parent's clone3 makes the init itself (in the cgroup, pid 1 of a new pid
namespace). It runs the intermediate's column without the user namespace steps, reports INIT_PID for itself
instead of forking, and goes on with the init's; the parent then knows the init as its own child and reaps no
intermediate. The death signal set in the first column is cleared before the EOF.

An EOF where a message was expected means the other side died: a child seeing it exits (the parent is gone, nothing
will clean up after it otherwise); the parent turns it into an InitError naming the stage that vanished.
"""

import _socket
import os
import struct

from pyrunc import quickjson
from pyrunc.errors import InitError, PyruncError, SyscallError
from pyrunc.log import LOG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_MSG = 64 * 1024
_INT = struct.calcsize("i")  # SCM_RIGHTS carries C ints


class Msg:
    """The message types (the "type" of each datagram). Plain strings: `enum` costs ~4 ms to import. `recv`
    returns these very objects, so `kind is Msg.X` holds."""

    JOINED = "JOINED"
    GO = "GO"
    MAP_REQUEST = "MAP_REQUEST"
    MAP_DONE = "MAP_DONE"
    INIT_PID = "INIT_PID"
    MOUNT_REQUEST = "MOUNT_REQUEST"
    MOUNT_FD = "MOUNT_FD"
    HOOKS = "HOOKS"
    HOOKS_DONE = "HOOKS_DONE"
    READY = "READY"
    RUN = "RUN"
    SECCOMP = "SECCOMP"
    SECCOMP_DONE = "SECCOMP_DONE"
    WARN = "WARN"
    LOG = "LOG"
    ERROR = "ERROR"


_KINDS = {v: v for k, v in vars(Msg).items() if not k.startswith("_")}


class SyncEOF(Exception):
    """The other side closed the socket (it exited) while a message was expected."""


class ProtocolError(Exception):
    """A message other than the expected one arrived."""


class SyncSocket(_socket.socket):
    """One end of the pair: the C socket type (the `socket` module costs ~2 ms, its enums), plus `with`."""

    __slots__ = ()

    def __enter__(self) -> "SyncSocket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def socketpair() -> tuple[SyncSocket, SyncSocket]:
    """(parent end, child end), both close-on-exec: neither may reach the container process."""
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    return (SyncSocket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, a.detach()),
            SyncSocket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, b.detach()))


def send(sock: _socket.socket, kind: str, fd: int | None = None, **fields: "Any") -> None:
    data = quickjson.dumps({"type": kind, **fields}, separators=(",", ":")).encode()
    if fd is None:
        sock.sendall(data)
    else:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))])


def recv(sock: _socket.socket) -> "tuple[str, dict[str, Any], int | None]":
    """Next message: (kind, one of Msg's strings; fields; attached fd or None). Raises SyncEOF on EOF."""
    fds: list[int] = []
    while True:
        try:
            # Received fds are close-on-exec from the start: nothing passed here may reach a container process.
            data, anc, _flags, _addr = sock.recvmsg(MAX_MSG, _socket.CMSG_SPACE(_INT), _socket.MSG_CMSG_CLOEXEC)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        except ConnectionResetError:
            data, anc = b"", []
            break
    for level, kind, payload in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(payload) // _INT
            fds += struct.unpack(f"{n}i", payload[: n * _INT])
    if not data:
        for fd in fds:
            os.close(fd)
        raise SyncEOF()
    msg = quickjson.loads(data)
    kind = msg.pop("type")
    known = _KINDS.get(kind) if isinstance(kind, str) else None
    if known is None:
        raise ValueError(f"{kind!r} is not a valid Msg")
    return known, msg, (fds[0] if fds else None)


def forward_log(sock: "_socket.socket") -> None:
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


def expect(sock: _socket.socket, kind: str) -> "dict[str, Any]":
    """Wait for message `kind` (a child's view: the parent never sends ERROR). EOF -> SyncEOF."""
    got, fields, fd = recv(sock)
    if fd is not None:
        os.close(fd)
    if got != kind:
        raise ProtocolError(f"sync: expected {kind}, got {got}")
    return fields


class StepError(Exception):
    """A failure a child stage describes itself (e.g. `exec: "sh": executable file not found in $PATH`)."""

    def __init__(self, step: str, message: str, err: int = 0, spec_path: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.errno = err
        self.spec_path = spec_path


def error_fields(exc: BaseException, step: str) -> "dict[str, Any]":
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


def send_error(sock: _socket.socket | None, exc: BaseException, step: str) -> None:
    """Best effort: report a child's failure to the parent. Never raises (the child is about to _exit)."""
    if sock is None:
        return
    try:
        send(sock, Msg.ERROR, **error_fields(exc, step))
    except BaseException:  # the parent is gone; nothing else to tell
        pass


def init_error(fields: "dict[str, Any]") -> InitError:
    """Rebuild the child's ERROR message as the parent's typed exception."""
    return InitError(str(fields.get("step") or "init"), str(fields.get("message") or "error"),
                     int(fields.get("errno") or 0), fields.get("spec_path"))
