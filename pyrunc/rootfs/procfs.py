"""Writing to the container's /proc from the init after pivot_root, without being redirected.

CVE-2025-52881 (and CVE-2019-16884 before it): a mount over /proc, or over a file under it, redirected the
runtime's writes: a sysctl value into /proc/sysrq-trigger or core_pattern, an LSM label into a plain file (so
no profile was applied). So /proc must be the root of a procfs (inode 1, PROC_SUPER_MAGIC), a path is resolved
beneath it with no symlink and without crossing any mount (RESOLVE_NO_XDEV), and the opened file must still be
on procfs. Used for `linux.sysctl` (pyrunc.rootfs.sysctl) and the LSM labels (pyrunc.security.lsm).
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs


def open_root(purpose: str) -> int:
    """O_PATH fd of the container's /proc, refused unless it is the root of a real procfs."""
    try:
        fd = os.open("/proc", linuxfs.O_PATH_DIR | os.O_NOFOLLOW)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path="/proc", detail=f"{purpose} needs /proc") from None
    if not linuxfs.is_procfs_root(fd):
        os.close(fd)
        raise SyscallError("open", errno.EPERM, path="/proc",
                           detail=f"not the root of a procfs, refusing to write {purpose} (CVE-2025-52881)")
    return fd


def open_beneath(proc: int, rel: str) -> int:
    """Open /proc/<rel> for writing: no symlinks, no mount crossings, nothing outside /proc."""
    if linuxfs.openat2_available():
        return linuxfs.openat2(proc, rel, os.O_WRONLY | os.O_NOFOLLOW, 0,
                               linuxfs.RESOLVE_BENEATH | linuxfs.RESOLVE_NO_XDEV | linuxfs.RESOLVE_NO_SYMLINKS
                               | linuxfs.RESOLVE_NO_MAGICLINKS, what="/proc/" + rel)
    # Without openat2: one component at a time with O_NOFOLLOW, each on the same device as /proc.
    dev = os.fstat(proc).st_dev
    parts = rel.split("/")
    fd = os.dup(proc)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = (os.O_WRONLY if last else os.O_PATH | os.O_DIRECTORY) | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError as e:
                raise SyscallError("openat", e.errno or errno.EIO, path="/proc/" + rel) from None
            os.close(fd)
            fd = nfd
            if os.fstat(fd).st_dev != dev:
                raise SyscallError("openat", errno.EXDEV, path="/proc/" + rel, detail="crosses a mount")
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(proc: int, rel: str, value: str) -> None:
    """Write `value` to /proc/<rel> (`open_beneath`), which must still be a regular file of procfs once open."""
    fd = open_beneath(proc, rel)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or linuxfs.fstatfs_type(fd) != linuxfs.PROC_SUPER_MAGIC:
            raise SyscallError("open", errno.EPERM, path="/proc/" + rel,
                               detail="not a procfs file (CVE-2025-52881, CVE-2019-16884)")
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise SyscallError("write", e.errno or errno.EIO, path="/proc/" + rel, detail=f"value {value!r}") from None
    finally:
        os.close(fd)
