"""A container without a mount namespace (no "mount" entry in `linux.namespaces`): its rootfs in the host's.

runtime-spec: a namespace type that is not listed is inherited from the runtime, so the container's processes live
in the runtime's mount namespace, and `mounts[]` are made there. runc then changes the propagation of the host's
"/" (rslave), bind-mounts the rootfs onto itself, mounts everything, chroots, and leaves all of it mounted on the
host after the container is gone. pyrunc does the same steps with three differences:

- the host's "/" and the rootfs's parent mount are never touched;
- the rootfs is attached onto itself as a *private* recursive clone (open_tree + mount_setattr + move_mount), so the
  container's mounts, made on top of that clone, do not propagate anywhere, and they all hang off one mount;
- that mount goes away with the container: `create` records which mount the rootfs path was on before (its mount
  id, in the state), and `delete` (or a failed create) detaches everything stacked on the rootfs path above it.

The switch into the rootfs is a chroot (pivot_root needs a mount namespace of our own; runc chroots too), also
with --no-pivot: runc's MS_MOVE onto "/" would move the host's root. `exec` enters the container's root through
/proc/<init>/root (pyrunc.process.execproc), since joining "its" mount namespace would leave it at the host's "/".
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm

STATE_KEY = "host_rootfs_mount"  # State.extra: mount id the rootfs path was on before create


def mount_id(fd: int) -> int | None:
    """The mount id of the mount `fd` is on (the `mnt_id` line of /proc/self/fdinfo), or None."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def mount_id_of(path: str) -> int | None:
    """The mount id of the mount on top of directory `path` (no symlink followed at the end), or None."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return mount_id(fd)
    finally:
        os.close(fd)


def attach_private_root(rootfs: str) -> None:
    """Bind the rootfs (recursively) onto itself as a private tree, in the host's mount namespace.

    The clone is made private *before* it is attached, so nothing mounted on it later (mounts[], /dev, the console)
    is propagated to the host's other mounts or namespaces; the host's "/" keeps its propagation.
    """
    try:
        fd = os.open(rootfs, linuxfs.O_PATH_DIR | os.O_NOFOLLOW)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path=rootfs) from None
    tree = -1
    try:
        tree = lm.open_tree(fd, "", lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH | lm.AT_RECURSIVE,
                            what=rootfs)
        lm.mount_setattr(tree, "", lm.AT_EMPTY_PATH | lm.AT_RECURSIVE, propagation=lm.MS_PRIVATE, what=rootfs)
        lm.attach_tree(tree, fd, what=rootfs)
    finally:
        if tree >= 0:
            os.close(tree)
        os.close(fd)


def chroot_into(rootfs: str) -> None:
    """chroot into the rootfs (the private clone attached on it), cwd "/"."""
    fd = os.open(rootfs, linuxfs.O_PATH_DIR | os.O_NOFOLLOW)
    try:
        os.fchdir(fd)
    finally:
        os.close(fd)
    lm.chroot(".")
    os.chdir("/")


def release(rootfs: str, under: int | None, limit: int = 64) -> None:
    """Detach every mount stacked on the `rootfs` path above the mount with id `under` (where it was before
    create): the private clone and whatever was mounted over it. Only the top mount at the path can be named, so
    one at a time; MNT_DETACH takes each with all its submounts. Nothing is done without a recorded `under`."""
    if under is None:
        return
    for _ in range(limit):
        try:
            fd = os.open(rootfs, linuxfs.O_PATH_DIR | os.O_NOFOLLOW)
        except OSError:
            return
        try:
            top = mount_id(fd)
            if top is None or top == under:
                return
            # Through the fd: the mount we just looked at, not whatever the path names by the time of the call.
            lm.umount2(f"/proc/self/fd/{fd}", lm.MNT_DETACH, path=rootfs)
        except SyscallError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return  # not a mount point (any more)
            raise
        finally:
            os.close(fd)
