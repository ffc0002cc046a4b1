"""Mount syscalls: mount(2), umount2(2), pivot_root(2), chroot(2) and the fd-based mount API
(open_tree, move_mount, mount_setattr, fsopen/fsconfig/fsmount), with their MS_*/MNT_*/MOUNT_ATTR_* constants.

Every wrapper raises SyscallError (EINTR retried in `libc.call`). The fd-based calls exist because they need no
path string: a mount made with `move_mount(tree_fd -> target_fd)` cannot be redirected by a symlink swapped in
after the target was resolved (CVE-2021-30465, CVE-2025-52881), and needs no /proc to reach the fd.
"""

import os

from pyrunc.linux import cabi
from pyrunc.linux.libc import call, fsencode, libc, raw_syscall

# ----------------------------------------------------------------------------------------- mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MS_PROPAGATION = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE
MS_ATIME_ENUM = MS_NOATIME | MS_RELATIME | MS_STRICTATIME
MS_ATIME = MS_ATIME_ENUM | MS_NODIRATIME

# umount2(2)
MNT_FORCE = 0x1
MNT_DETACH = 0x2
MNT_EXPIRE = 0x4
UMOUNT_NOFOLLOW = 0x8

# statvfs(3) f_flag bits (ST_*), as returned by os.statvfs/os.fstatvfs
ST_RDONLY = 0x1
ST_NOSUID = 0x2
ST_NODEV = 0x4
ST_NOEXEC = 0x8
ST_SYNCHRONOUS = 0x10
ST_MANDLOCK = 0x40
ST_NOATIME = 0x400
ST_NODIRATIME = 0x800
ST_RELATIME = 0x1000
ST_NOSYMFOLLOW = 0x2000

# mount_setattr(2) / fsmount(2) attributes
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

# *at(2) flags used by the new mount API
AT_SYMLINK_NOFOLLOW = 0x100
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC

MOVE_MOUNT_F_SYMLINKS = 0x1
MOVE_MOUNT_F_AUTOMOUNTS = 0x2
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_SYMLINKS = 0x10
MOVE_MOUNT_T_AUTOMOUNTS = 0x20
MOVE_MOUNT_T_EMPTY_PATH = 0x40

FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6

_MS_NAMES = (
    ("MS_RDONLY", MS_RDONLY), ("MS_NOSUID", MS_NOSUID), ("MS_NODEV", MS_NODEV), ("MS_NOEXEC", MS_NOEXEC),
    ("MS_SYNCHRONOUS", MS_SYNCHRONOUS), ("MS_REMOUNT", MS_REMOUNT), ("MS_MANDLOCK", MS_MANDLOCK),
    ("MS_DIRSYNC", MS_DIRSYNC), ("MS_NOSYMFOLLOW", MS_NOSYMFOLLOW), ("MS_NOATIME", MS_NOATIME),
    ("MS_NODIRATIME", MS_NODIRATIME), ("MS_BIND", MS_BIND), ("MS_MOVE", MS_MOVE), ("MS_REC", MS_REC),
    ("MS_SILENT", MS_SILENT), ("MS_POSIXACL", MS_POSIXACL), ("MS_UNBINDABLE", MS_UNBINDABLE),
    ("MS_PRIVATE", MS_PRIVATE), ("MS_SLAVE", MS_SLAVE), ("MS_SHARED", MS_SHARED), ("MS_RELATIME", MS_RELATIME),
    ("MS_I_VERSION", MS_I_VERSION), ("MS_STRICTATIME", MS_STRICTATIME), ("MS_LAZYTIME", MS_LAZYTIME),
)
_ATTR_NAMES = (
    ("RDONLY", MOUNT_ATTR_RDONLY), ("NOSUID", MOUNT_ATTR_NOSUID), ("NODEV", MOUNT_ATTR_NODEV),
    ("NOEXEC", MOUNT_ATTR_NOEXEC), ("NOATIME", MOUNT_ATTR_NOATIME), ("STRICTATIME", MOUNT_ATTR_STRICTATIME),
    ("NODIRATIME", MOUNT_ATTR_NODIRATIME), ("IDMAP", MOUNT_ATTR_IDMAP), ("NOSYMFOLLOW", MOUNT_ATTR_NOSYMFOLLOW),
)


def flag_names(flags: int) -> str:
    """`MS_BIND|MS_REC` for error messages."""
    names = [n for n, b in _MS_NAMES if flags & b]
    rest = flags & ~sum(b for _, b in _MS_NAMES)
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


def attr_names(attrs: int) -> str:
    names = [n for n, b in _ATTR_NAMES if attrs & b]
    return "|".join(names) or "0"


def statvfs_to_ms(st_flag: int) -> int:
    """statvfs f_flag -> MS_* flags (calculate_f_flags in fs/statfs.c, in reverse).

    There is no ST_STRICTATIME: a mount with none of noatime/relatime is strictatime.
    """
    pairs = ((ST_RDONLY, MS_RDONLY), (ST_NOSUID, MS_NOSUID), (ST_NODEV, MS_NODEV), (ST_NOEXEC, MS_NOEXEC),
             (ST_MANDLOCK, MS_MANDLOCK), (ST_SYNCHRONOUS, MS_SYNCHRONOUS), (ST_NOATIME, MS_NOATIME),
             (ST_NODIRATIME, MS_NODIRATIME), (ST_RELATIME, MS_RELATIME), (ST_NOSYMFOLLOW, MS_NOSYMFOLLOW))
    flags = 0
    for st, ms in pairs:
        if st_flag & st:
            flags |= ms
    if not flags & MS_ATIME_ENUM:
        flags |= MS_STRICTATIME
    return flags


def _cstr(s: str | bytes | None) -> bytes | None:
    return None if s is None else fsencode(s)


# ----------------------------------------------------------------------------------------- classic calls
# No argtypes on the shared `libc` handle (another module could want other ones): every argument is passed as an
# explicit ctypes value or bytes/None, which ctypes converts to char * / NULL.


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None, *,
          path: str | None = None, spec_path: str | None = None) -> None:
    """mount(2). `path` names the target in errors when `target` is a /proc/self/fd/N alias."""
    detail = f"src={source} fstype={fstype} flags={flag_names(flags)}" + (f" data={data}" if data else "")
    call(libc.mount, _cstr(source), _cstr(target), _cstr(fstype), cabi.c_ulong(flags), _cstr(data or None),
         op="mount", path=path or target, detail=detail, spec_path=spec_path)


def umount2(target: str, flags: int = 0, *, path: str | None = None) -> None:
    call(libc.umount2, _cstr(target), cabi.c_int(flags), op="umount2", path=path or target)


def pivot_root(new_root: str, put_old: str) -> None:
    raw_syscall("pivot_root", cabi.c_char_p(fsencode(new_root)), cabi.c_char_p(fsencode(put_old)),
                path=new_root)


def chroot(path: str) -> None:
    call(libc.chroot, _cstr(path), op="chroot", path=path)


# ----------------------------------------------------------------------------------------- fd-based mount API
class MountAttr(cabi.Structure):
    """struct mount_attr (include/uapi/linux/mount.h), MOUNT_ATTR_SIZE_VER0 = 32 bytes."""

    _fields_ = [("attr_set", cabi.c_uint64), ("attr_clr", cabi.c_uint64),
                ("propagation", cabi.c_uint64), ("userns_fd", cabi.c_uint64)]


def mount_setattr(dfd: int, path: str, flags: int, *, attr_set: int = 0, attr_clr: int = 0, propagation: int = 0,
                  userns_fd: int = 0, what: str | None = None) -> None:
    """mount_setattr(2): change per-mount attributes (and propagation) of the mount at dfd/path.

    With AT_EMPTY_PATH and path "" it acts on the mount `dfd` itself belongs to; AT_RECURSIVE covers the subtree.
    """
    attr = MountAttr(attr_set, attr_clr, propagation, userns_fd)
    detail = f"set={attr_names(attr_set)} clr={attr_names(attr_clr)}"
    if propagation:
        detail += f" propagation={flag_names(propagation)}"
    if flags & AT_RECURSIVE:
        detail += " recursive"
    raw_syscall("mount_setattr", cabi.c_int(dfd), cabi.c_char_p(fsencode(path)), cabi.c_uint(flags),
                cabi.byref(attr), cabi.c_size_t(cabi.sizeof(attr)), path=what or path, detail=detail)


def open_tree(dfd: int, path: str, flags: int, *, what: str | None = None) -> int:
    """open_tree(2): with OPEN_TREE_CLONE, a detached copy of the mount (tree, with AT_RECURSIVE) at dfd/path."""
    return raw_syscall("open_tree", cabi.c_int(dfd), cabi.c_char_p(fsencode(path)), cabi.c_uint(flags),
                       path=what or path, detail=f"flags={flags:#x}")


def move_mount(from_dfd: int, from_path: str, to_dfd: int, to_path: str, flags: int, *,
               what: str | None = None) -> None:
    """move_mount(2): attach (or move) the mount at from_dfd/from_path onto to_dfd/to_path."""
    raw_syscall("move_mount", cabi.c_int(from_dfd), cabi.c_char_p(fsencode(from_path)), cabi.c_int(to_dfd),
                cabi.c_char_p(fsencode(to_path)), cabi.c_uint(flags), path=what or to_path)


def attach_tree(tree_fd: int, target_fd: int, *, what: str | None = None) -> None:
    """Attach the detached mount `tree_fd` on top of the inode open at `target_fd` (both fds, no path)."""
    move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH, what=what)


def fsopen(fstype: str, *, what: str | None = None) -> int:
    return raw_syscall("fsopen", cabi.c_char_p(fsencode(fstype)), cabi.c_uint(FSOPEN_CLOEXEC),
                       path=what, detail=f"fstype={fstype}")


def fsconfig_string(fs_fd: int, key: str, value: str | None, *, what: str | None = None) -> None:
    """fsconfig(FSCONFIG_SET_STRING key=value), or FSCONFIG_SET_FLAG key when value is None."""
    if value is None:
        raw_syscall("fsconfig", cabi.c_int(fs_fd), cabi.c_uint(FSCONFIG_SET_FLAG),
                    cabi.c_char_p(fsencode(key)), cabi.c_void_p(None), cabi.c_int(0),
                    path=what, detail=key)
    else:
        raw_syscall("fsconfig", cabi.c_int(fs_fd), cabi.c_uint(FSCONFIG_SET_STRING),
                    cabi.c_char_p(fsencode(key)), cabi.c_char_p(fsencode(value)), cabi.c_int(0),
                    path=what, detail=f"{key}={value}")


def fsconfig_create(fs_fd: int, *, what: str | None = None) -> None:
    raw_syscall("fsconfig", cabi.c_int(fs_fd), cabi.c_uint(FSCONFIG_CMD_CREATE), cabi.c_char_p(None),
                cabi.c_void_p(None), cabi.c_int(0), path=what, detail="FSCONFIG_CMD_CREATE")


def fsmount(fs_fd: int, attr_flags: int = 0, *, what: str | None = None) -> int:
    """fsmount(2): a detached mount of the superblock made by fsopen/fsconfig."""
    return raw_syscall("fsmount", cabi.c_int(fs_fd), cabi.c_uint(FSMOUNT_CLOEXEC), cabi.c_uint(attr_flags),
                       path=what, detail=f"attrs={attr_names(attr_flags)}")
