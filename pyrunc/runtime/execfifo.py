"""The create -> start handshake: `<root>/<id>/exec.fifo` (runc's design).

- `create` makes the fifo (mode 0622, so the init can open it for writing whatever uid it runs as) and gives the
  init an O_PATH fd to it before fork: after pivot_root the init can no longer name `<root>`.
- The init, once set up, opens `/proc/self/fd/<n>` for writing. The open blocks until a reader appears: this is
  where a created container waits. It then writes one byte and keeps the write end (close-on-exec) open
  until execve.
- `start` opens the fifo for reading (that unblocks the init), reads the byte, removes the fifo (from then on the
  container is `running`: status "created" means "the fifo exists"), and waits for EOF, which comes when execve
  closed the write end, so poststart hooks run after the user process was executed (runtime-spec lifecycle step 9).
- If the init fails between the byte and execve (a startContainer hook, execve itself), it writes a JSON error
  (`pyrunc.process.sync.error_fields`) before exiting: anything after the byte is that error, which `start` reports.
"""

import errno
import os
import select
import stat

from pyrunc.errors import InvalidTransition, SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FIFO_NAME = "exec.fifo"


def create(state_dir: str) -> str:
    path = os.path.join(state_dir, FIFO_NAME)
    try:
        os.mkfifo(path, 0o622)
        os.chmod(path, 0o622)  # mkfifo's mode is filtered by our umask
    except OSError as e:
        raise SyscallError("mkfifo", e.errno or errno.EIO, path=path) from None
    return path


def open_path(path: str) -> int:
    """O_PATH fd the init inherits; it re-opens it through /proc/self/fd after pivot_root."""
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path=path) from None


def check_reopenable(path_fd: int) -> None:
    """Init side, before telling the parent it is ready: /proc/self/fd/<n> must resolve (procfs mounted)."""
    try:
        st = os.stat(f"/proc/self/fd/{path_fd}")
    except OSError as e:
        raise SyscallError("stat exec fifo", e.errno or errno.ENOENT, path=f"/proc/self/fd/{path_fd}",
                           detail="the container needs /proc mounted", spec_path="/mounts") from None
    if not stat.S_ISFIFO(st.st_mode):
        raise SyscallError("stat exec fifo", errno.EINVAL, path=f"/proc/self/fd/{path_fd}", detail="not a fifo")


def wait_for_start(path_fd: int) -> int:
    """Init side: block until `start` opens the fifo, write the byte. Returns the (close-on-exec) write fd."""
    try:
        wfd = os.open(f"/proc/self/fd/{path_fd}", os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open exec fifo", e.errno or errno.EIO, path=f"/proc/self/fd/{path_fd}",
                           detail="is /proc mounted in the container?") from None
    os.write(wfd, b"0")
    return wfd


def release(path: str, alive: "Callable[[], bool]", *, poll: float = 0.1) -> bytes:
    """Start side: unblock the waiting init, remove the fifo, then wait until the init has exec'd (or died).

    Returns what the init wrote after the start byte: empty when it exec'd the user process, else its error report.
    Raises InvalidTransition("cannot start a container that has stopped") if the init is gone before it
    answered (runc's wording).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidTransition("cannot start an already running container") from None
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path=path) from None
    try:
        got = b""
        while not got:
            ready, _, _ = select.select([fd], [], [], poll)
            if ready:
                got = os.read(fd, 1)
                if not got:  # the writer closed without writing: the init died
                    raise InvalidTransition("cannot start a container that has stopped")
            elif not alive():
                raise InvalidTransition("cannot start a container that has stopped")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        # Wait for EOF: the init's write end is close-on-exec, so EOF means execve happened (or the init died).
        report = b""
        while True:
            ready, _, _ = select.select([fd], [], [], poll)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                if not chunk:
                    return report
                if len(report) < 65536:
                    report += chunk
            elif not alive():
                return report
    finally:
        os.close(fd)
