"""Pseudo-terminals for `process.terminal`: opened inside the container's devpts, peer by TIOCGPTPEER.

The master is opened from the container's /dev/ptmx (after pivot_root, so the pty belongs to the container's own
devpts instance), and the slave is reached with TIOCGPTPEER instead of by path: a path under /dev/pts could be
swapped for a symlink by a racing process (SECURITY rule 2, CVE-2025-52565 is the console variant).
"""

import _socket
import array
import errno
import fcntl
import os
import stat
import struct
import termios

from pyrunc.errors import SyscallError

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
PTMX_MAJOR, PTMX_MINOR = 5, 2
PTS_MAJORS = range(136, 144)  # UNIX98_PTY_SLAVE_MAJOR .. + UNIX98_PTY_MAJOR_COUNT


def _check_chr(fd: int, what: str, majors: range, minor: int | None = None) -> None:
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) not in majors or (
            minor is not None and os.minor(st.st_rdev) != minor):
        raise SyscallError("open", errno.EINVAL, path=what,
                           detail=f"not the expected character device ({os.major(st.st_rdev)}:{os.minor(st.st_rdev)})")


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, int, str]:
    """Open a new pty pair: (master fd, slave fd, slave name `/dev/pts/N`). Both fds are close-on-exec."""
    try:
        master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path=ptmx, spec_path="/process/terminal") from None
    try:
        _check_chr(master, ptmx, range(PTMX_MAJOR, PTMX_MAJOR + 1), PTMX_MINOR)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        _check_chr(slave, f"/dev/pts/{n}", PTS_MAJORS)
        # The pty keeps the kernel's defaults (ONLCR on): the console socket's owner (containerd's shim, conmon,
        # Docker) relays it to a client terminal in raw mode, which needs the "\r\n". Only our own relay
        # (pyrunc.process.terminal.Relay) clears ONLCR (clear_onlcr), as runc's does.
    except OSError as e:
        os.close(master)
        if isinstance(e, SyscallError):
            raise
        raise SyscallError("ioctl", e.errno or errno.EIO, path=ptmx, detail="pty set-up",
                           spec_path="/process/terminal") from None
    return master, slave, f"/dev/pts/{n}"


def set_controlling_tty(fd: int) -> None:
    """Make `fd` the controlling terminal of this session (the caller is a session leader)."""
    try:
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    except OSError as e:
        raise SyscallError("ioctl(TIOCSCTTY)", e.errno or errno.EIO, spec_path="/process/terminal") from None


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def send_fd(sock: _socket.socket, fd: int, name: str) -> None:
    """runc's console-socket protocol: ONE sendmsg, payload = the pty's name, ONE fd in an SCM_RIGHTS cmsg.

    go-runc's receiver requires exactly CmsgSpace(4) bytes of ancillary data.
    """
    sock.sendmsg([name.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]))])


def clear_onlcr(master: int) -> None:
    """Turn off ONLCR on the pty pair (termios set through the master apply to the slave): a program's "\n"
    reaches our stdout as "\n", not "\r\n". runc's own relay (`run`/`exec` with a terminal and no
    --console-socket) does this, and scripts compare that output; a console socket's owner gets the defaults."""
    attrs = termios.tcgetattr(master)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(master, termios.TCSANOW, attrs)


def recv_fd(sock: _socket.socket) -> tuple[int, str]:
    """The receiving side of `send_fd` (used by `run` with a terminal and no --console-socket)."""
    fds = array.array("i")
    msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise SyscallError("recvmsg", errno.EBADMSG, detail="no pty master fd received")
    for extra in fds[1:]:
        os.close(extra)
    return fds[0], msg.decode(errors="replace")


def hand_over(console: _socket.socket, master: int, slave: int, spec_path: str | None = None) -> None:
    """Send the pty master to the console socket (runc's protocol: one SCM_RIGHTS fd, "/dev/ptmx" as payload),
    close our copies, and make the slave this session's stdio and controlling terminal. Closes `console`."""
    try:
        send_fd(console, master, "/dev/ptmx")
    except OSError as e:
        raise SyscallError("sendmsg", e.errno or errno.EPIPE, detail="console socket", spec_path=spec_path) from None
    os.close(master)
    console.close()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    set_controlling_tty(0)
