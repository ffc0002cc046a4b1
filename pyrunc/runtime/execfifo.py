"""The create -> start handshake: `<root>/<id>/exec.fifo` (runc's design).

- `create` makes the fifo (mode 0622, so the init can open it for writing whatever uid it runs as) and gives the
  init an O_PATH fd to it before fork: after pivot_root the init can no longer name `<root>`.
- The init, once set up, opens `/proc/self/fd/<n>` for writing. The open blocks until a reader appears: this is
  where a created container waits. It then writes one byte and keeps the write end (close-on-exec) open
  until execve.
- `start` opens the fifo for reading (that unblocks the init), reads the byte, removes the fifo (from then on the
  container is `running`: status "created" means "the fifo exists"), and waits for EOF, which comes when execve
  closed the write end, so poststart hooks run after the user process was executed (runtime-spec lifecycle step 9).
- If a startContainer hook fails between the byte and execve, the init writes a JSON error
  (`pyrunc.process.sync.error_fields`) before exiting: anything after the byte is that error, which `start` reports.
  A failing execve itself is not `start`'s error (runc): the init tells the container's stderr and exits 255.

`start` is on containerd's hot path: this module imports only `posix` (the C module behind `os`, whose import costs
~1.5 ms) at the top, `select` where `start` waits, and pyrunc.errors where an error is raised. No
`from __future__ import annotations` (see "Import discipline" in pyrunc.cli.main).
"""

import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FIFO_NAME = "exec.fifo"
_EIO = 5  # errno.EIO, errno.ENOENT, errno.EINVAL on Linux
_ENOENT = 2
_EINVAL = 22


def _syscall_error(op: str, err: int, **kw: "str | None") -> Exception:
    from pyrunc.errors import SyscallError

    return SyscallError(op, err, **kw)


def _invalid(message: str) -> Exception:
    from pyrunc.errors import InvalidTransition

    return InvalidTransition(message)


def create(state_dir: str) -> str:
    path = f"{state_dir}/{FIFO_NAME}"
    try:
        posix.mkfifo(path, 0o622)
        posix.chmod(path, 0o622)  # mkfifo's mode is filtered by our umask
    except OSError as e:
        raise _syscall_error("mkfifo", e.errno or _EIO, path=path) from None
    return path


def open_path(path: str) -> int:
    """O_PATH fd the init inherits; it re-opens it through /proc/self/fd after pivot_root."""
    try:
        return posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except OSError as e:
        raise _syscall_error("open", e.errno or _EIO, path=path) from None


def check_reopenable(path_fd: int) -> None:
    """Init side, before telling the parent it is ready: /proc/self/fd/<n> must resolve (procfs mounted)."""
    try:
        st = posix.stat(f"/proc/self/fd/{path_fd}")
    except OSError as e:
        raise _syscall_error("stat exec fifo", e.errno or _ENOENT, path=f"/proc/self/fd/{path_fd}",
                             detail="the container needs /proc mounted", spec_path="/mounts") from None
    if st.st_mode & 0o170000 != 0o010000:  # stat.S_ISFIFO
        raise _syscall_error("stat exec fifo", _EINVAL, path=f"/proc/self/fd/{path_fd}", detail="not a fifo")


def wait_for_start(path_fd: int) -> int:
    """Init side: block until `start` opens the fifo, write the byte. Returns the (close-on-exec) write fd."""
    try:
        wfd = posix.open(f"/proc/self/fd/{path_fd}", posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise _syscall_error("open exec fifo", e.errno or _EIO, path=f"/proc/self/fd/{path_fd}",
                             detail="is /proc mounted in the container?") from None
    posix.write(wfd, b"0")
    return wfd


def release(path: str, alive: "Callable[[], bool]", *, poll: float = 0.1,
            released: "Callable[[], None] | None" = None) -> bytes:
    """Start side: unblock the waiting init, remove the fifo, then wait until the init has exec'd (or died).

    Returns what the init wrote after the start byte: empty when it exec'd the user process, else its error report.
    Raises InvalidTransition("cannot start a container that has stopped") if the init is gone before it
    answered (runc's wording). `released` runs once the fifo is removed, before the wait: work done there
    overlaps with the init's way to execve (~1 ms).
    """
    from select import select

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except FileNotFoundError:
        raise _invalid("cannot start an already running container") from None
    except OSError as e:
        raise _syscall_error("open", e.errno or _EIO, path=path) from None
    try:
        got = b""
        while not got:
            ready, _, _ = select([fd], [], [], poll)
            if ready:
                got = posix.read(fd, 1)
                if not got:  # the writer closed without writing: the init died
                    raise _invalid("cannot start a container that has stopped")
            elif not alive():
                raise _invalid("cannot start a container that has stopped")
        try:
            posix.unlink(path)
        except FileNotFoundError:
            pass
        if released is not None:
            released()
        # Wait for EOF: the init's write end is close-on-exec, so EOF means execve happened (or the init died).
        report = b""
        while True:
            ready, _, _ = select([fd], [], [], poll)
            if ready:
                try:
                    chunk = posix.read(fd, 4096)
                except BlockingIOError:
                    continue
                if not chunk:
                    return report
                if len(report) < 65536:
                    report += chunk
            elif not alive():
                return report
    finally:
        posix.close(fd)
