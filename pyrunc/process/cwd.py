"""Implements `process.cwd` for the init and for `exec`: create (init only), chdir, and verify it is inside the root.

The verification answers CVE-2024-21626 ("Leaky Vessels"): a cwd reached through a leaked host directory fd
(`/proc/self/fd/N`) lies outside the container's root; getcwd(3) then reports "(unreachable)..." or fails.
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError


def make_cwd(cwd: str, spec_path: str | None = "/process/cwd") -> None:
    """runc creates a missing cwd (inside the jail, before the root may become read-only)."""
    try:
        st = os.stat(cwd)
    except FileNotFoundError:
        try:
            os.makedirs(cwd, 0o755, exist_ok=True)
        except OSError as e:
            raise SyscallError("mkdir", e.errno or errno.EIO, path=cwd, spec_path=spec_path) from None
        return
    except OSError as e:
        raise SyscallError("stat", e.errno or errno.EIO, path=cwd, spec_path=spec_path) from None
    if not stat.S_ISDIR(st.st_mode):
        raise SyscallError("chdir", errno.ENOTDIR, path=cwd, spec_path=spec_path)


def change_dir(cwd: str, *, allow_eacces: bool, spec_path: str | None = "/process/cwd") -> bool:
    """chdir(cwd). False if denied and `allow_eacces` (the caller retries as the container's user)."""
    try:
        os.chdir(cwd)
    except OSError as e:
        if allow_eacces and e.errno in (errno.EACCES, errno.EPERM):
            return False
        raise SyscallError("chdir", e.errno or errno.EIO, path=cwd, spec_path=spec_path) from None
    return True


def verify_cwd(spec_path: str | None = "/process/cwd") -> None:
    """The cwd must lie inside the process's root (CVE-2024-21626)."""
    try:
        where = os.getcwd()
    except OSError as e:
        raise SyscallError("getcwd", e.errno or errno.ENOENT, detail="cwd is outside the container root",
                           spec_path=spec_path) from None
    if not where.startswith("/"):
        raise SyscallError("getcwd", errno.ENOENT, path=where, detail="cwd is outside the container root",
                           spec_path=spec_path)
