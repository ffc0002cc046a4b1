"""`linux.readonlyPaths` and `linux.maskedPaths`, after pivot_root.

Both are done with the fd-based mount API (open_tree + mount_setattr + move_mount): the target is resolved once
inside the new root (no magic links), and the mount goes onto that fd. Nothing needs the container's /proc to
be a procfs for this, and no path is walked twice. A path that does not exist is skipped, as runc does.
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs import securejoin
from pyrunc.rootfs.failure import step_of

CLONE = lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH


def _open_target(root: int, path: str) -> int | None:
    try:
        return securejoin.open_in_root(root, path, os.O_PATH)
    except SyscallError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise



def make_readonly_paths(paths: tuple[str, ...]) -> None:
    """Implements `linux.readonlyPaths`: each path is bind-mounted (recursively) onto itself and the top mount
    made read-only; its nosuid/nodev/noexec stay as they were (mount_setattr only adds MOUNT_ATTR_RDONLY)."""
    root = os.open("/", linuxfs.O_PATH_DIR)
    try:
        for i, path in enumerate(paths):
            try:
                fd = _open_target(root, path)
                if fd is None:
                    continue
                tree = -1
                try:
                    tree = lm.open_tree(fd, "", CLONE | lm.AT_RECURSIVE, what=path)
                    lm.mount_setattr(tree, "", lm.AT_EMPTY_PATH, attr_set=lm.MOUNT_ATTR_RDONLY, what=path)
                    lm.attach_tree(tree, fd, what=path)
                finally:
                    if tree >= 0:
                        os.close(tree)
                    os.close(fd)
            except SyscallError as e:
                raise SyscallError(f"make {path} read-only", e.errno or errno.EIO, detail=step_of(e),
                                   spec_path=f"/linux/readonlyPaths/{i}") from None
    finally:
        os.close(root)


class _Masks:
    """The two sources masks are cloned from: the container's /dev/null, and one tiny read-only tmpfs."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.dev_null = -1
        self.tmpfs = -1  # an attached masking tmpfs, cloned for every further directory

    def close(self) -> None:
        for fd in (self.dev_null, self.tmpfs):
            if fd >= 0:
                os.close(fd)

    def null(self) -> int:
        """The container's /dev/null, which must *be* the null device, char 1:3.

        CVE-2025-31133: with /dev/null replaced by a symlink (e.g. to /proc/sys/kernel/core_pattern), runc
        bind-mounted the symlink's target read-write over the masked paths. The resolved inode is checked.
        """
        if self.dev_null < 0:
            fd = securejoin.open_in_root(self.root, "/dev/null", os.O_PATH)
            if not linuxfs.is_char_device(fd, 1, 3):
                os.close(fd)
                raise SyscallError("open", errno.EPERM, path="/dev/null",
                                   detail="not the null device (char 1:3), refusing to mask with it "
                                          "(CVE-2025-31133)")
            self.dev_null = fd
        return self.dev_null

    def mask_dir(self, target: int, path: str) -> None:
        """A read-only, empty tmpfs over the directory open at `target`."""
        if self.tmpfs >= 0:
            try:
                tree = lm.open_tree(self.tmpfs, "", CLONE, what=path)
            except SyscallError:
                tree = -1
            if tree >= 0:
                try:
                    lm.attach_tree(tree, target, what=path)
                finally:
                    os.close(tree)
                return
        mnt = new_mask_tmpfs(path)
        try:
            lm.attach_tree(mnt, target, what=path)
        except BaseException:
            os.close(mnt)
            raise
        if self.tmpfs < 0:
            self.tmpfs = mnt  # now attached: later masks clone it instead of making one tmpfs each
        else:
            os.close(mnt)


def new_mask_tmpfs(path: str) -> int:
    """A detached read-only tmpfs that can hold nothing (nr_blocks=1, nr_inodes=1; 2 where a kernel wants 2)."""
    last: SyscallError | None = None
    for inodes in ("1", "2"):
        fs_fd = lm.fsopen("tmpfs", what=path)
        try:
            lm.fsconfig_string(fs_fd, "nr_blocks", "1", what=path)
            lm.fsconfig_string(fs_fd, "nr_inodes", inodes, what=path)
            lm.fsconfig_create(fs_fd, what=path)
            return lm.fsmount(fs_fd, lm.MOUNT_ATTR_RDONLY | lm.MOUNT_ATTR_NOSUID | lm.MOUNT_ATTR_NODEV
                              | lm.MOUNT_ATTR_NOEXEC, what=path)
        except SyscallError as e:
            last = e
        finally:
            os.close(fs_fd)
    assert last is not None
    raise last


def mask_paths(paths: tuple[str, ...]) -> None:
    """Implements `linux.maskedPaths`: a directory gets an empty read-only tmpfs, anything else /dev/null."""
    root = os.open("/", linuxfs.O_PATH_DIR)
    masks = _Masks(root)
    done: set[str] = set()
    try:
        for i, path in enumerate(paths):
            clean = securejoin.clean(path)
            if clean in done:
                continue
            done.add(clean)
            try:
                fd = _open_target(root, path)
                if fd is None:
                    continue
                try:
                    if stat.S_ISDIR(os.fstat(fd).st_mode):
                        masks.mask_dir(fd, path)
                    else:
                        tree = lm.open_tree(masks.null(), "", CLONE, what="/dev/null")
                        try:
                            lm.attach_tree(tree, fd, what=path)
                        finally:
                            os.close(tree)
                finally:
                    os.close(fd)
            except SyscallError as e:
                raise SyscallError(f"mask {path}", e.errno or errno.EIO, detail=step_of(e),
                                   spec_path=f"/linux/maskedPaths/{i}") from None
    finally:
        masks.close()
        os.close(root)
