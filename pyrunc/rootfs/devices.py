"""/dev: the default devices, `linux.devices`, /dev/ptmx and the /dev/{fd,stdin,stdout,stderr,core} symlinks.

Done before pivot_root, relative to the rootfs fd: when the config has no /dev tmpfs, /dev is the image's own
directory, and it may be a symlink to anywhere. Resolving it inside the rootfs keeps every node, symlink and
unlink in the container (CVE-2026-41579: runc created /dev symlinks and removed "ptmx" on the host through a
/dev symlink).
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs import securejoin
from pyrunc.rootfs.context import RootContext
from pyrunc.rootfs.failure import step_of
from pyrunc.rootfs.options import parse
from pyrunc.spec.model import Spec


class DeviceNode:
    """A device to create: from `linux.devices` (with its spec_path) or one of the defaults."""

    __slots__ = ("gid", "major", "minor", "mode", "path", "spec_path", "type", "uid")

    def __init__(self, path: str, type: str, major: int = 0, minor: int = 0, mode: int = 0o666, uid: int = 0,
                 gid: int = 0, spec_path: str | None = None) -> None:
        self.path = path
        self.type = type  # "c", "b" or "p"
        self.major = major
        self.minor = minor
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.spec_path = spec_path

    @property
    def fmt(self) -> int:
        return {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[self.type]

    @property
    def rdev(self) -> int:
        return os.makedev(self.major, self.minor) if self.type != "p" else 0


# Created in every container whose /dev is not a bind mount (runc's AllowedDevices with a path).
DEFAULT_DEVICES = (
    DeviceNode("/dev/null", "c", 1, 3),
    DeviceNode("/dev/zero", "c", 1, 5),
    DeviceNode("/dev/full", "c", 1, 7),
    DeviceNode("/dev/random", "c", 1, 8),
    DeviceNode("/dev/urandom", "c", 1, 9),
    DeviceNode("/dev/tty", "c", 5, 0),
)

DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def needs_setup_dev(spec: Spec) -> bool:
    """/dev is populated unless the config bind-mounts something on /dev (runc's needsSetupDev). A destination
    spelt as the host path <rootfs>/dev is /dev too (prepare.in_rootfs)."""
    root_dev = securejoin.clean(spec.root.path).rstrip("/") + "/dev"
    for mnt in spec.mounts:
        if (securejoin.clean(mnt.destination) in ("/dev", root_dev)
                and (mnt.type == "bind" or parse(mnt.options).bind)):
            return False
    return True


def device_nodes(spec: Spec) -> list[DeviceNode]:
    """Defaults first (minus those the config redefines at the same path), then `linux.devices` in order."""
    spec_paths = {securejoin.clean(d.path) for d in spec.linux.devices}
    nodes = [d for d in DEFAULT_DEVICES if d.path not in spec_paths]
    for i, d in enumerate(spec.linux.devices):
        mode = d.file_mode if d.file_mode is not None else 0o666
        nodes.append(DeviceNode(
            path=securejoin.clean(d.path), type="c" if d.type == "u" else d.type, major=d.major or 0,
            minor=d.minor or 0, mode=stat.S_IMODE(mode), uid=d.uid or 0, gid=d.gid or 0,
            spec_path=f"/linux/devices/{i}"))
    return nodes


def setup_dev(ctx: RootContext, spec: Spec) -> None:
    """Device nodes, then /dev/ptmx, then the /dev symlinks (runc's doSetupDev order)."""
    for node in device_nodes(spec):
        if node.path == "/dev/ptmx":
            continue  # always the pts/ptmx symlink, below
        try:
            create_device(ctx, node)
        except SyscallError as e:
            raise SyscallError(f"create device {node.path}", e.errno or errno.EIO, detail=step_of(e),
                               spec_path=node.spec_path) from None
    try:
        setup_ptmx(ctx)
        setup_dev_symlinks(ctx)
    except SyscallError as e:
        raise SyscallError("set up /dev", e.errno or errno.EIO, detail=step_of(e)) from None



def create_device(ctx: RootContext, node: DeviceNode) -> None:
    """mknod the node; in a user namespace (or if mknod is refused with EPERM) bind-mount the host's node."""
    dfd, name = securejoin.open_parent(ctx.fd, node.path)
    try:
        if ctx.userns and node.type != "p":
            bind_device(dfd, name, node)
            return
        try:
            mknod_device(dfd, name, node)
        except SyscallError as e:
            if e.errno == errno.EEXIST:
                return  # keep what the rootfs (or an earlier entry) has, as runc
            if e.errno == errno.EPERM and node.type != "p":
                bind_device(dfd, name, node)
                return
            raise
    finally:
        os.close(dfd)


def mknod_device(dfd: int, name: str, node: DeviceNode) -> None:
    """mknodat relative to the verified parent fd; the new inode is checked, then chowned without following."""
    old = os.umask(0)  # the mode must be exactly fileMode
    try:
        linuxfs.mknodat(dfd, name, node.fmt | node.mode, node.rdev, what=node.path)
    finally:
        os.umask(old)
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    try:
        st = os.fstat(fd)
        if stat.S_IFMT(st.st_mode) != node.fmt or (node.type != "p" and st.st_rdev != node.rdev):
            raise SyscallError("mknodat", errno.EEXIST, path=node.path,
                               detail="the new inode is not the device just created")
    finally:
        os.close(fd)
    linuxfs.lchownat(dfd, name, node.uid, node.gid, what=node.path)


def bind_device(dfd: int, name: str, node: DeviceNode) -> None:
    """Bind-mount the host's device node of the same path (user namespaces cannot mknod)."""
    try:
        src = os.open(node.path, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open host device", e.errno or errno.EIO, path=node.path) from None
    dst = tree = -1
    try:
        st = os.fstat(src)
        if stat.S_IFMT(st.st_mode) != node.fmt or st.st_rdev != node.rdev:
            raise SyscallError("open host device", errno.ENODEV, path=node.path,
                               detail=f"not {node.type} {node.major}:{node.minor}")
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC, 0o000,
                         dir_fd=dfd)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as e:
            raise SyscallError("openat", e.errno or errno.EIO, path=node.path, detail="O_CREAT|O_EXCL") from None
        dst = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        if stat.S_ISLNK(os.fstat(dst).st_mode) or stat.S_ISDIR(os.fstat(dst).st_mode):
            raise SyscallError("openat", errno.EEXIST, path=node.path, detail="a symlink or directory is there")
        tree = lm.open_tree(src, "", lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH, what=node.path)
        lm.attach_tree(tree, dst, what=node.path)
    finally:
        for fd in (tree, dst, src):
            if fd >= 0:
                os.close(fd)


def setup_ptmx(ctx: RootContext) -> None:
    """/dev/ptmx becomes a symlink to pts/ptmx (the container's own devpts instance), as in runc.

    The old entry is removed with unlinkat on the fd of the container's /dev: never on the host's /dev, even if
    /dev is a symlink (CVE-2026-41579).
    """
    securejoin.unlink(ctx.fd, "/dev/ptmx")
    securejoin.symlink("pts/ptmx", ctx.fd, "/dev/ptmx")


def setup_dev_symlinks(ctx: RootContext) -> None:
    """/dev/fd, /dev/std{in,out,err} -> /proc/self/fd/..., and /dev/core -> /proc/kcore if the host has one."""
    links = list(DEV_SYMLINKS)
    if os.path.exists("/proc/kcore"):  # host /proc: kcore exists only with CONFIG_PROC_KCORE
        links.append(("/proc/kcore", "/dev/core"))
    for target, path in links:
        try:
            securejoin.symlink(target, ctx.fd, path)
        except FileExistsError:
            pass
