"""File-system primitives for resolving and creating paths inside a rootfs without trusting its contents.

openat2(2) with RESOLVE_IN_ROOT resolves `..` and absolute symlinks against a root fd, so nothing outside the
rootfs can be reached (CVE-2021-30465, CVE-2024-45310, CVE-2025-52881); the caller keeps a per-component
O_NOFOLLOW fallback for kernels without it (`pyrunc.rootfs.securejoin`). Also here: mknodat, fchownat, statfs
magic numbers and the checks that an open fd is the inode we expect (char device with a given major:minor, a file
on procfs).
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import call, fsencode, libc, raw_syscall

# openat2 RESOLVE_* (include/uapi/linux/openat2.h)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# statfs f_type magic numbers (include/uapi/linux/magic.h)
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
TMPFS_MAGIC = 0x01021994
DEVPTS_SUPER_MAGIC = 0x1CD1
CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270

PROC_ROOT_INO = 1  # only the root of a procfs superblock has inode 1

O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class OpenHow(cabi.Structure):
    _fields_ = [("flags", cabi.c_uint64), ("mode", cabi.c_uint64), ("resolve", cabi.c_uint64)]


_openat2_ok: bool | None = None


def openat2_available() -> bool:
    """Whether the kernel has openat2 (5.6+). Probed once, with a harmless open of "/"."""
    global _openat2_ok
    if _openat2_ok is None:
        try:
            fd = openat2(-100, "/", os.O_PATH | os.O_CLOEXEC, 0, 0)
        except SyscallError as e:
            _openat2_ok = e.errno not in (errno.ENOSYS, errno.EPERM)  # EPERM: seccomp filters of old runtimes
        else:
            os.close(fd)
            _openat2_ok = True
    return _openat2_ok


def openat2(dirfd: int, path: str, flags: int, mode: int, resolve: int, *, what: str | None = None) -> int:
    """openat2(2). EAGAIN (a concurrent rename seen during RESOLVE_IN_ROOT) is retried a few times."""
    how = OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    for _ in range(16):
        try:
            return raw_syscall("openat2", cabi.c_int(dirfd), cabi.c_char_p(fsencode(path)), cabi.byref(how),
                               cabi.c_size_t(cabi.sizeof(how)), path=what or path)
        except SyscallError as e:
            if e.errno != errno.EAGAIN:
                raise
    raise SyscallError("openat2", errno.EAGAIN, path=what or path, detail="path kept changing during resolution")


def mknodat(dirfd: int, name: str, mode: int, dev: int, *, what: str | None = None) -> None:
    """mknodat(2) of `name` in the directory open at `dirfd` (never follows a symlink at `name`: EEXIST)."""
    try:
        os.mknod(name, mode, dev, dir_fd=dirfd)
    except OSError as e:
        raise SyscallError("mknodat", e.errno or errno.EIO, path=what or name,
                           detail=f"mode={mode:#o} dev={os.major(dev)}:{os.minor(dev)}") from None


def lchownat(dirfd: int, name: str, uid: int, gid: int, *, what: str | None = None) -> None:
    """fchownat(dirfd, name, AT_SYMLINK_NOFOLLOW): a symlink swapped in is chowned itself, not its target."""
    try:
        os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
    except OSError as e:
        raise SyscallError("fchownat", e.errno or errno.EIO, path=what or name, detail=f"{uid}:{gid}") from None


def fchown(fd: int, uid: int, gid: int, *, what: str | None = None) -> None:
    try:
        os.fchown(fd, uid, gid)
    except OSError as e:
        raise SyscallError("fchown", e.errno or errno.EIO, path=what, detail=f"{uid}:{gid}") from None


AT_FDCWD = -100
AT_EACCESS = 0x200


def eaccess(path: str, mode: int) -> int:
    """faccessat(AT_FDCWD, path, mode, AT_EACCESS): 0 if this process may access `path` with its *effective* ids
    and capabilities (what execve checks: root, or CAP_DAC_OVERRIDE, may execute a file with any x bit), else the
    errno. access(2) would use the real ids and, for a non-root real uid, no capabilities at all."""
    try:
        call(libc.faccessat, cabi.c_int(AT_FDCWD), fsencode(path), cabi.c_int(mode), cabi.c_int(AT_EACCESS),
             op="faccessat", path=path)
    except SyscallError as e:
        return e.errno or errno.EACCES
    return 0


RENAME_EXCHANGE = 2


def exchange(a: str, b: str) -> bool:
    """renameat2(a, b, RENAME_EXCHANGE): swap the two names atomically. False when this kernel or file system
    cannot (or `b` does not exist yet), for the caller to rename instead; other errors raise OSError."""
    cabi.set_errno(0)
    if libc.renameat2(cabi.c_int(AT_FDCWD), fsencode(a), cabi.c_int(AT_FDCWD), fsencode(b),
                      cabi.c_uint(RENAME_EXCHANGE)) == 0:
        return True
    err = cabi.get_errno()
    if err in (errno.ENOENT, errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


class _Statfs(cabi.Structure):
    # struct statfs on 64-bit glibc (__fsword_t is long)
    _fields_ = [("f_type", cabi.c_long), ("f_bsize", cabi.c_long), ("f_blocks", cabi.c_ulong),
                ("f_bfree", cabi.c_ulong), ("f_bavail", cabi.c_ulong), ("f_files", cabi.c_ulong),
                ("f_ffree", cabi.c_ulong), ("f_fsid", cabi.c_int * 2), ("f_namelen", cabi.c_long),
                ("f_frsize", cabi.c_long), ("f_flags", cabi.c_long), ("f_spare", cabi.c_long * 4)]


def fstatfs_type(fd: int, *, what: str | None = None) -> int:
    """f_type of the file system `fd` is on (works on O_PATH fds)."""
    buf = _Statfs()
    call(libc.fstatfs, cabi.c_int(fd), cabi.byref(buf), op="fstatfs", path=what)
    return int(buf.f_type) & 0xFFFFFFFF


def fd_path(fd: int) -> str:
    """What /proc/self/fd/N says the fd points at (only meaningful while /proc is a trusted procfs)."""
    return os.readlink(f"/proc/self/fd/{fd}")


def is_char_device(fd: int, major: int | range, minor: int | None = None) -> bool:
    """fstat(fd) is a character device with that major (or one in the range) and minor (CVE-2025-31133/52565)."""
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode):
        return False
    majors = major if isinstance(major, range) else range(major, major + 1)
    return os.major(st.st_rdev) in majors and (minor is None or os.minor(st.st_rdev) == minor)


def is_procfs_root(fd: int) -> bool:
    """`fd` is the root directory of a procfs superblock (not a look-alike dir, not a bind of a subdir)."""
    st = os.fstat(fd)
    return (stat.S_ISDIR(st.st_mode) and st.st_ino == PROC_ROOT_INO
            and fstatfs_type(fd) == PROC_SUPER_MAGIC)
