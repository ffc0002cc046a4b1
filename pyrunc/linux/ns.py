"""Namespaces: CLONE_* flags, unshare(2), setns(2), opening and checking namespace files.

Python 3.12 has `os.unshare`/`os.setns`; 3.11 does not, so ctypes is used there. Both raise SyscallError.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux.libc import call, libc

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# OCI `linux.namespaces[].type` -> (clone flag, name under /proc/<pid>/ns/).
NAMESPACES: dict[str, tuple[int, str]] = {
    "user": (CLONE_NEWUSER, "user"),
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "mount": (CLONE_NEWNS, "mnt"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

NSFS_MAGIC = 0x6E736673
# ioctl(NS_GET_NSTYPE) returns the CLONE_* flag of a namespace fd (Linux 4.11).
NS_GET_NSTYPE = 0xB703


def flag_names(flags: int) -> str:
    return "|".join(f"CLONE_NEW{n.upper()}" for n, (f, _) in NAMESPACES.items() if flags & f) or "0"


def unshare(flags: int) -> None:
    """unshare(2). Needs a single-threaded process for CLONE_NEWUSER (pyrunc never starts threads)."""
    if hasattr(os, "unshare"):
        try:
            os.unshare(flags)  # type: ignore[attr-defined]
        except OSError as e:
            raise SyscallError("unshare", e.errno or errno.EINVAL, detail=flag_names(flags)) from None
        return
    call(libc.unshare, flags, op="unshare", detail=flag_names(flags))


def setns(fd: int, nstype: int = 0, *, path: str | None = None, spec_path: str | None = None) -> None:
    """setns(2) into the namespace open at `fd`; `nstype` (a CLONE_* flag) makes the kernel check the type."""
    if hasattr(os, "setns"):
        try:
            os.setns(fd, nstype)  # type: ignore[attr-defined]
        except OSError as e:
            raise SyscallError("setns", e.errno or errno.EINVAL, path=path, spec_path=spec_path) from None
        return
    call(libc.setns, fd, nstype, op="setns", path=path, spec_path=spec_path)


def nstype_of(fd: int) -> int:
    """The CLONE_NEW* flag of an open namespace file (NS_GET_NSTYPE); 0 if the fd is no namespace."""
    import fcntl

    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        return 0


def open_ns(path: str, kind: str, spec_path: str | None = None) -> int:
    """Open a namespace file given in `linux.namespaces[].path` and check it is a namespace of type `kind`.

    A wrong file (a regular file, a namespace of another type) is refused here, with the config field, rather
    than by a confusing EINVAL from setns later.
    """
    flag = NAMESPACES[kind][0]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open namespace", e.errno or errno.EINVAL, path=path, spec_path=spec_path) from None
    got = nstype_of(fd)
    if got != flag:
        os.close(fd)
        what = f"a {flag_names(got)} namespace" if got else "not a namespace file"
        raise SyscallError("open namespace", errno.EINVAL, path=path,
                           detail=f"{what}, want {kind}", spec_path=spec_path)
    return fd


def ns_inode(pid: int | str, name: str) -> int:
    """Inode of /proc/<pid>/ns/<name> (two processes share a namespace iff the inodes are equal)."""
    return os.stat(f"/proc/{pid}/ns/{name}").st_ino


def write_time_offsets(offsets: dict[str, tuple[int, int]]) -> None:
    """Write `linux.timeOffsets` to /proc/self/timens_offsets: after unshare(CLONE_NEWTIME), before any child.

    Format per line: `<clock> <secs> <nanosecs>`, clock `monotonic` or `boottime`.
    """
    data = "".join(f"{clock} {secs} {nsecs}\n" for clock, (secs, nsecs) in offsets.items())
    try:
        fd = os.open("/proc/self/timens_offsets", os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path="/proc/self/timens_offsets",
                           spec_path="/linux/timeOffsets") from None
    try:
        os.write(fd, data.encode())
    except OSError as e:
        raise SyscallError("write", e.errno or errno.EIO, path="/proc/self/timens_offsets", detail=data.strip(),
                           spec_path="/linux/timeOffsets") from None
    finally:
        os.close(fd)
