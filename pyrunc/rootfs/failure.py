"""Turning a low-level SyscallError into the one-line error of a rootfs step, naming the config field.

`mount tmpfs on /data: No such device (mount /data: src=tmpfs fstype=tmpfs ...) (config: /mounts/3)`: the step
and what it was about first, the errno, the failing call with its operands, then the JSON pointer.
"""

import errno

from pyrunc.errors import SyscallError


def step_of(e: SyscallError) -> str:
    """`mknodat /dev/x: mode=0o20666 dev=1:3`: the low-level call of an error, for the detail of the step."""
    s = e.op + (f" {e.path}" if e.path else "")
    return s + (f": {e.detail}" if e.detail else "")


def step_error(step: str, e: SyscallError, spec_path: str | None, detail: str | None = None) -> SyscallError:
    """A SyscallError for `step` (same errno) whose detail is the failing call."""
    return SyscallError(step, e.errno or errno.EIO, detail=detail or step_of(e), spec_path=spec_path or e.spec_path)
