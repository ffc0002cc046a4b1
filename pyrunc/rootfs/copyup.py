"""`tmpcopyup`: a tmpfs that starts with a copy of the directory it covers.

runc mounts the tmpfs on a scratch directory of the host, copies, then moves the mount. Here the tmpfs is made
detached (fsopen/fsconfig/fsmount), filled through its fd with *at calls, and attached onto the mountpoint fd
with move_mount: no host directory, no path string, nothing to clean up if it fails.
The copy keeps type, mode, owner and times; it never follows a symlink (each entry is opened O_NOFOLLOW
relative to its parent fd), so content of the image cannot make us read or write outside it. Every entry opened
must still be the inode that was stat'ed: a directory of a shared volume can change while we copy it, and a
regular file swapped for a fifo would otherwise block the runtime forever in open(2) (opened O_NONBLOCK, checked).
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs.options import SB_FLAG_NAMES, fsmount_attrs

_CHUNK = 1 << 20


def mount_tmpfs_copyup(dst_fd: int, rel: str, flags: int, data: list[str]) -> None:
    """Mount a tmpfs with `flags`/`data` on the directory open at `dst_fd`, holding a copy of its content."""
    # "." from the O_PATH fd of the mountpoint: the directory itself, with no second lookup by path.
    src = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dst_fd)
    fs_fd = mnt_fd = -1
    try:
        fs_fd = lm.fsopen("tmpfs", what=rel)
        for opt in data:
            key, sep, value = opt.partition("=")
            lm.fsconfig_string(fs_fd, key, value if sep else None, what=rel)
        for ms, name in SB_FLAG_NAMES:
            if flags & ms:
                lm.fsconfig_string(fs_fd, name, None, what=rel)
        lm.fsconfig_create(fs_fd, what=rel)
        mnt_fd = lm.fsmount(fs_fd, fsmount_attrs(flags), what=rel)
        copy_tree(src, mnt_fd, rel)
        lm.attach_tree(mnt_fd, dst_fd, what=rel)
    finally:
        for fd in (src, fs_fd, mnt_fd):
            if fd >= 0:
                os.close(fd)


def copy_tree(src: int, dst: int, shown: str) -> None:
    """Copy the content of directory fd `src` into directory fd `dst` (recursively, no symlink followed)."""
    with os.scandir(src) as it:
        entries = list(it)
    for entry in entries:
        name = entry.name
        where = f"{shown.rstrip('/')}/{name}"
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
            copy_entry(src, dst, name, st, where)
        except SyscallError:
            raise
        except OSError as e:
            raise SyscallError("tmpcopyup", e.errno or errno.EIO, path=where) from None


def open_same(src: int, name: str, flags: int, st: os.stat_result, where: str) -> int:
    """Open `name` in directory fd `src` (never following a symlink, never blocking on a fifo or device) and check
    it is still the inode `st` described; else SyscallError ESTALE ("changed while being copied")."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino, stat.S_IFMT(now.st_mode)) != (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode)):
        os.close(fd)
        raise SyscallError("tmpcopyup", errno.ESTALE, path=where, detail="changed while being copied")
    return fd


def copy_entry(src: int, dst: int, name: str, st: os.stat_result, where: str) -> None:
    mode = st.st_mode
    perm = stat.S_IMODE(mode)
    if stat.S_ISDIR(mode):
        os.mkdir(name, 0o700, dir_fd=dst)
        sfd = open_same(src, name, os.O_RDONLY | os.O_DIRECTORY, st, where)
        try:
            dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
            try:
                copy_tree(sfd, dfd, where)
                linuxfs.fchown(dfd, st.st_uid, st.st_gid, what=where)
                os.fchmod(dfd, perm)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
    elif stat.S_ISREG(mode):
        sfd = open_same(src, name, os.O_RDONLY, st, where)
        try:
            dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=dst)
            try:
                while chunk := os.read(sfd, _CHUNK):
                    os.write(dfd, chunk)
                linuxfs.fchown(dfd, st.st_uid, st.st_gid, what=where)
                os.fchmod(dfd, perm)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        linuxfs.lchownat(dst, name, st.st_uid, st.st_gid, what=where)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(name, perm, dir_fd=dst)
        linuxfs.lchownat(dst, name, st.st_uid, st.st_gid, what=where)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        linuxfs.mknodat(dst, name, stat.S_IFMT(mode) | perm, st.st_rdev, what=where)
        linuxfs.lchownat(dst, name, st.st_uid, st.st_gid, what=where)
    else:
        return  # sockets: meaningless once copied
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst, follow_symlinks=False)
