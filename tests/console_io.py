"""Reading a container's console in tests: the pty master a console socket receives (runc's framing: one fd,
the pty name as payload), and everything written to it until the slave side closes."""

from __future__ import annotations

import array
import os
import select
import socket
import time


def recv_master(conn: socket.socket) -> tuple[int, bytes]:
    """The fd (a pty master, or a pidfd) and the payload (the pty's name) of the one message on an accepted socket."""
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    assert len(anc) == 1
    level, kind, data = anc[0]
    assert (level, kind, len(data)) == (socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.itemsize)
    fds.frombytes(data)
    return fds[0], msg


def read_until_eof(fd: int, timeout: float = 20) -> bytes:
    """Everything read from a pty master until EOF or EIO (the slave side closed), for at most `timeout` s."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out
