"""Session keyrings: a container gets its own (runc's default; `--no-new-keyring` keeps the caller's).

Without a new session keyring, every container would share the host's session keyring, and keys (kerberos tickets,
fscrypt keys) stored there would be visible to them all.
"""

import errno

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import MACHINE, call, libc

KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
# possessor: all; user: all; group/other: none. runc keeps the possessor bits and grants view/read/write/search/link
# to the owning user, so the container's user can use its keyring.
SESSION_PERM = 0x3F3F0000


def _keyctl(*args: int | bytes | None, op: str) -> int:
    nr = _SYS_KEYCTL.get(MACHINE)
    if nr is None:
        raise SyscallError(op, errno.ENOSYS, detail=f"unsupported architecture {MACHINE}")
    conv = [cabi.c_ulong(a) if isinstance(a, int) else a for a in args]
    return call(libc.syscall, cabi.c_long(nr), *conv, op=op)


def join_session_keyring(name: str) -> int | None:
    """Join a new session keyring named `name`; None where keyctl(2) is not available (ENOSYS), as runc does."""
    try:
        serial = _keyctl(KEYCTL_JOIN_SESSION_KEYRING, name.encode(), op="keyctl(JOIN_SESSION_KEYRING)")
    except SyscallError as e:
        if e.errno == errno.ENOSYS:
            return None
        raise
    try:
        _keyctl(KEYCTL_SETPERM, serial, SESSION_PERM, op="keyctl(SETPERM)")
    except SyscallError as e:
        if e.errno != errno.ENOSYS:
            raise
    return serial
