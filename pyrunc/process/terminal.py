"""Foreground `run`: relay signals to the container's init, reap children, and (with a terminal) copy bytes.

One select loop, no threads. Signals arrive through `signal.set_wakeup_fd`: their numbers are read from a pipe
in the loop, so nothing runs inside a signal handler. SIGCHLD reaps (we are a child subreaper, every orphan
lands here), SIGWINCH resizes the pty, every other catchable signal is forwarded to the init (runc does the same).
With a terminal and no --console-socket, the pty master comes to us; our own terminal goes to raw mode (restored
on exit) and bytes are copied both ways.
"""

import _signal
import errno
import os
import select
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def exit_status(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the signal that killed the process."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except OSError:
            return False
        view = view[n:]
    return True


class Relay:
    def __init__(self, pid: int, master: int, signals: "Iterable[int]") -> None:
        if pid <= 0:  # os.kill(0 or -1, ...) would signal our own process group, or everything
            raise ValueError(f"Relay: invalid pid {pid}")
        self.pid = pid
        self.master = master
        self.status: int | None = None
        self._old_handlers: dict[int, Any] = {}
        self._old_tty: list[Any] | None = None
        self._stdin_open = master >= 0
        self._stdout_ok = True
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_wakeup = _signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        for sig in (*signals, _signal.SIGCHLD, _signal.SIGWINCH):
            try:
                self._old_handlers[sig] = _signal.signal(sig, self._noop)
            except (OSError, ValueError):
                pass
        if master >= 0:
            self._setup_tty()

    @staticmethod
    def _noop(signum: int, frame: "Any") -> None:
        """The handler only exists so the signal is caught; the loop reads its number from the wakeup pipe."""

    def _setup_tty(self) -> None:
        from pyrunc.linux import pty

        # We relay the container's pty: ONLCR off on it (as runc's relay), before the program writes a byte (the
        # relay exists before `start`, or before RUN for `exec`). A console socket's owner keeps the defaults.
        pty.clear_onlcr(self.master)
        if os.isatty(0):
            import termios  # imported here: only a relay with a terminal needs these
            import tty

            try:
                self._old_tty = termios.tcgetattr(0)
                tty.setraw(0, termios.TCSANOW)  # not TCSAFLUSH: keep what the user typed ahead (as runc)
                # Raw, but with output processing kept, as runc's (containerd/console's SetRaw): the container's
                # pty has ONLCR off (pty.clear_onlcr), so this terminal turns each "\n" into "\r\n" once; without
                # OPOST every line would start where the last one ended.
                attrs = termios.tcgetattr(0)
                attrs[1] |= termios.OPOST
                termios.tcsetattr(0, termios.TCSANOW, attrs)
            except termios.error:
                pass
        self._resize()

    def _resize(self) -> None:
        if self.master < 0:
            return
        from pyrunc.linux import pty

        for fd in (0, 1):
            if os.isatty(fd):
                try:
                    rows, cols = pty.get_winsize(fd)
                    pty.set_winsize(self.master, rows, cols)
                except OSError:
                    pass
                return

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                if self.status is None:
                    # No child left, ours included: someone else reaped it. Its status is lost; do not wait forever.
                    self.status = 255
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.status = exit_status(status)

    def _forward(self, sig: int) -> None:
        if self.status is not None:
            return
        try:
            os.kill(self.pid, sig)  # our unreaped child: the pid cannot have been reused
        except ProcessLookupError:
            pass

    def _on_signals(self) -> None:
        try:
            data = os.read(self._r, 4096)
        except BlockingIOError:
            return
        for sig in data:
            if sig == _signal.SIGCHLD:
                self._reap()
            elif sig == _signal.SIGWINCH:
                self._resize()
            else:
                self._forward(sig)

    def _copy_out(self) -> bool:
        """Master -> stdout. False at EOF (EIO once every slave fd is closed)."""
        try:
            data = os.read(self.master, 65536)
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):
                return False
            raise
        if not data:
            return False
        if self._stdout_ok:
            self._stdout_ok = _write_all(1, data)
        return True

    def wait(self) -> int:
        """Run the loop until the init exits; its exit status."""
        self._reap()
        master_open = self.master >= 0
        while self.status is None:
            rlist = [self._r]
            if master_open:
                rlist.append(self.master)
                if self._stdin_open:
                    rlist.append(0)
            try:
                ready, _, _ = select.select(rlist, [], [], 1.0)
            except InterruptedError:  # pragma: no cover
                continue
            if not ready:
                self._reap()  # belt and braces: a SIGCHLD lost while the wakeup pipe was full
                continue
            if self._r in ready:
                self._on_signals()
            if master_open and self.master in ready:
                master_open = self._copy_out()
            if 0 in ready:
                try:
                    data = os.read(0, 65536)
                except OSError:
                    data = b""
                if not data:
                    self._stdin_open = False
                else:
                    _write_all(self.master, data)
        # The program is gone: whatever it wrote is still buffered in the pty.
        while master_open:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                break
            master_open = self._copy_out()
        return self.status

    def close(self) -> None:
        if self._old_tty is not None:
            import termios

            try:
                termios.tcsetattr(0, termios.TCSADRAIN, self._old_tty)
            except termios.error:
                pass
            self._old_tty = None
        for sig, old in self._old_handlers.items():
            try:
                _signal.signal(sig, old)
            except (OSError, ValueError, TypeError):
                pass
        self._old_handlers.clear()
        try:
            _signal.set_wakeup_fd(self._old_wakeup)
        except ValueError:
            pass
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._r = self._w = -1
        sys.stdout.flush()
