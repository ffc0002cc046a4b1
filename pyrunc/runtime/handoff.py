"""What `create`, `run` and `exec` share at their edges: the caller's extra fds, the console socket, the pid file,
the pidfd socket, and turning garbage collection back on for a foreground wait.

Its own module so that `exec` loads these without the container set-up module (pyrunc.runtime.container).
"""

import errno
import os

from pyrunc.errors import SyscallError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket


def collect_again() -> None:
    """Before a long foreground wait (`run`, `exec`): turn garbage collection back on (pyrunc.cli.main turned it
    off for the set-up), with what exists now frozen out of every future collection."""
    import gc

    gc.freeze()
    gc.enable()


def check_extra_fds(listen: int, preserve: int) -> None:
    from pyrunc.linux import proc

    if preserve < 0:
        raise UsageError(f"--preserve-fds: invalid value {preserve}")
    for fd in range(3, 3 + listen + preserve):
        if not proc.fd_is_open(fd):
            what = "LISTEN_FDS" if fd < 3 + listen else "--preserve-fds"
            raise UsageError(f"{what}: fd {fd} is not open")


def connect_console(path: str) -> "socket.socket":
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise SyscallError("connect", e.errno or errno.ECONNREFUSED, path=path, detail="--console-socket") from None
    return s


def write_pid_file(path: str, pid: int) -> None:
    """`--pid-file`: written atomically (tmp + rename): a reader (containerd's shim) never sees it half-written."""
    path = os.path.abspath(path)
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SyscallError("write pid file", e.errno or errno.EIO, path=path) from None


def send_pidfd(path: str, pid: int) -> None:
    """`--pidfd-socket`: send a pidfd of the init over the socket (same framing as the console socket)."""
    import socket

    from pyrunc.linux import proc, pty

    pidfd = proc.pidfd_open(pid)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(path)
            pty.send_fd(s, pidfd, "pidfd")
        except OSError as e:
            raise SyscallError("send pidfd", e.errno or errno.EIO, path=path, detail="--pidfd-socket") from None
        finally:
            s.close()
    finally:
        os.close(pidfd)
