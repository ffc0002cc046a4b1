"""pyrunc.linux.proc's fd hygiene after fork: which fds a child keeps (CVE-2024-21626: no host fd may reach the
container), with close_range(2) and with its /proc/self/fd fallback."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from console_io import read_until_eof

from pyrunc.errors import SyscallError
from pyrunc.linux import proc


def _in_child(body: Callable[[set[int]], None], keep: set[int]) -> list[int]:
    """Open fds 3..20 in a forked child, run body(keep) there, and return the fds it still has open."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            w2 = os.dup2(w, 40)
            os.close(w)
            for fd in range(3, 21):
                try:
                    os.dup2(0, fd)
                except OSError:
                    pass
            body(keep | {w2})
            left = [fd for fd in range(3, 64) if fd != w2 and proc.fd_is_open(fd)]
            os.write(w2, ",".join(map(str, left)).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = read_until_eof(r)
    os.close(r)
    os.waitpid(pid, 0)
    return [int(x) for x in data.decode().split(",") if x]


@pytest.mark.parametrize("keep", [set(), {3}, {5, 9}, {9, 5, 20}, {1, 2, 4}])
def test_close_fds_except_keeps_exactly_what_it_is_told(keep: set[int]) -> None:
    assert _in_child(proc.close_fds_except, keep) == sorted(k for k in keep if k >= 3)


def test_close_fds_except_without_close_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels before 5.9: the /proc/self/fd walk gives the same result."""
    def no_close_range(name: str, *args: object, **kw: object) -> int:
        raise SyscallError(name, 38)  # ENOSYS

    monkeypatch.setattr(proc, "raw_syscall", no_close_range)
    assert _in_child(proc.close_fds_except, {5, 9}) == [5, 9]
