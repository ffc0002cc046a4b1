"""Switching into the rootfs: pivot_root(".", ".") or, with --no-pivot, MS_MOVE onto / and chroot."""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import mount as lm
from pyrunc.rootfs.mountinfo import parse_mountinfo


def pivot_root(rootfs: str) -> None:
    """pivot_root(".", ".") inside the rootfs, then detach the old root stacked under it.

    pivot_root(".", ".") puts the old root on top of the new one at "/", reachable as our cwd; so no directory
    has to be created in the rootfs for it (the LXC trick runc uses). The old root is made rslave before the
    lazy unmount so that the unmounts do not propagate to the host's mounts.
    """
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(new_root)
        finally:
            os.close(new_root)
        lm.pivot_root(".", ".")
        # The kernel leaves "." on the old root today; fchdir makes that explicit rather than assumed.
        os.fchdir(old_root)
        lm.mount(None, ".", None, lm.MS_SLAVE | lm.MS_REC, path="old root")
        lm.umount2(".", lm.MNT_DETACH, path="old root")
    finally:
        os.close(old_root)
    os.chdir("/")


def move_root(rootfs: str) -> None:
    """--no-pivot: mount the rootfs over "/" with MS_MOVE and chroot into it (runc's msMoveRoot).

    chroot leaves the host's mounts in our mount namespace. The kernel lets a new procfs/sysfs be mounted only
    where a full, uncovered one is visible, so first every full host procfs and sysfs outside the rootfs is
    detached (or covered by a tmpfs if it cannot be), and the container cannot mount a fresh one to escape.
    """
    prefix = rootfs.rstrip("/") + "/"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        rows = parse_mountinfo(f.read())
    for root, mountpoint, fstype, _ in rows:
        if root != "/" or fstype not in ("proc", "sysfs") or mountpoint.startswith(prefix) or mountpoint == rootfs:
            continue
        try:
            lm.mount(None, mountpoint, None, lm.MS_SLAVE | lm.MS_REC)  # unmounts must not reach the host
        except SyscallError as e:
            if e.errno == errno.ENOENT:
                continue  # a parent was already detached
            raise
        try:
            lm.umount2(mountpoint, lm.MNT_DETACH)
        except SyscallError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM):
                raise
            lm.mount("tmpfs", mountpoint, "tmpfs", 0)
    os.chdir(rootfs)
    lm.mount(rootfs, "/", None, lm.MS_MOVE)
    lm.chroot(".")
    os.chdir("/")
