"""Running client commands from tests: always with a timeout, failures reported with the full argv and output."""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0  # a container here runs in about a second; a hang must not eat CI's budget


def run(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run with text output captured and a timeout; `check` raises AssertionError naming argv and output."""
    try:
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL, env=env, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(argv)}\nstdout: {_text(e.stdout)}\n"
                             f"stderr: {_text(e.stderr)}") from None
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {' '.join(argv)}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode(errors="replace")


def describe(p: subprocess.CompletedProcess[str]) -> str:
    return f"exit {p.returncode}: {' '.join(map(str, p.args))}\nstdout: {p.stdout}\nstderr: {p.stderr}"


def wait_until(probe: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
        last = probe()
    return last


@dataclass
class TtyResult:
    returncode: int
    output: str  # everything written to the terminal, with every "\r" removed
    raw: str = ""  # the same, "\r" kept


def run_in_pty(argv: Sequence[str], *, rows: int = 24, cols: int = 80, timeout: float = DEFAULT_TIMEOUT,
               env: dict[str, str] | None = None) -> TtyResult:
    """Run a client with a pseudo-terminal (of rows x cols) as its stdin/stdout/stderr, as a user at a shell would.

    Clients such as `ctr run -t` and `docker run -it` refuse to run unless stdin is a terminal.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    try:
        proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                                close_fds=True)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                raise AssertionError(f"timed out after {timeout}s: {' '.join(argv)}\n"
                                     f"terminal: {b''.join(chunks).decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError as e:  # EIO: every slave fd is closed
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                # The client exited but something (a container process?) still holds the slave open: stop reading.
                break
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    return TtyResult(rc, text.replace("\r", ""), text)


def mounts_under(path: Path) -> list[str]:
    """Mount points (in this mount namespace) at or below `path`, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].replace("\\040", " ")
            if mnt == prefix or mnt.startswith(prefix + "/"):
                found.append(mnt)
    return sorted(found, key=len, reverse=True)


def unmount_all_under(path: Path) -> None:
    """Lazily detach every mount below `path` (overlay rootfs, shm, netns files a daemon left behind)."""
    for _ in range(5):
        mnts = mounts_under(path)
        if not mnts:
            return
        for m in mnts:
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)


def pids_matching(needle: str) -> list[int]:
    """Pids whose command line contains `needle` (used to find the daemons and shims a test started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            found.append(int(entry))
    return found


def kill_pids(pids: Sequence[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[Any], *, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
