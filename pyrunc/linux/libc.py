"""The one handle on libc. Every ctypes call in pyrunc goes through `call()`.

`call()` retries EINTR and turns a negative return into `SyscallError(op, errno, path)`, so callers never look at
return codes or errno themselves (ARCHITECTURE rule 2). libc is loaded at import time, before any fork: after
pivot_root the host's libraries are no longer reachable by path.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

libc = cabi.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = cabi.c_long

# Syscall numbers for calls glibc does not wrap (or wraps only in newer versions than we can assume).
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155, "capget": 125, "capset": 126, "seccomp": 317, "setns": 308, "unshare": 272,
        "pidfd_open": 434, "pidfd_send_signal": 424, "close_range": 436, "openat2": 437, "mount_setattr": 442,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "clone3": 435,
        "sched_setattr": 314, "ioprio_set": 251, "set_mempolicy": 238, "personality": 135,
    },
    "aarch64": {
        "pivot_root": 41, "capget": 90, "capset": 91, "seccomp": 277, "setns": 268, "unshare": 97,
        "pidfd_open": 434, "pidfd_send_signal": 424, "close_range": 436, "openat2": 437, "mount_setattr": 442,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "clone3": 435,
        "sched_setattr": 274, "ioprio_set": 30, "set_mempolicy": 237, "personality": 92,
    },
}
MACHINE = os.uname().machine  # not `platform`: it costs ~4 ms to import


def sysno(name: str) -> int:
    """Number of syscall `name` on this machine's architecture."""
    try:
        return _SYSCALLS[MACHINE][name]
    except KeyError:
        raise SyscallError(name, errno.ENOSYS, detail=f"unsupported architecture {MACHINE}") from None


def call(
    fn: "Callable[..., Any]",
    *args: "Any",
    op: str,
    path: str | None = None,
    detail: str | None = None,
    spec_path: str | None = None,
) -> int:
    """Call a libc function; retry EINTR; raise SyscallError on a negative return."""
    while True:
        cabi.set_errno(0)
        ret = fn(*args)
        if ret is None or ret >= 0:
            return int(ret or 0)
        err = cabi.get_errno()
        if err == errno.EINTR:
            continue
        raise SyscallError(op, err, path=path, detail=detail, spec_path=spec_path)


def raw_syscall(name: str, *args: "Any", path: str | None = None, detail: str | None = None,
                spec_path: str | None = None) -> int:
    """A syscall by name through syscall(2), for calls glibc does not wrap."""
    return call(libc.syscall, cabi.c_long(sysno(name)), *args, op=name, path=path, detail=detail,
                spec_path=spec_path)


def fsencode(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else os.fsencode(s)
