"""Everything the init process does to the container's file system, in the order it must happen.

The init (inside its new mount namespace, as root) calls, in this order:

    prepare_rootfs(spec, cgroup_paths=..., mount_fds=...)   # before pivot_root
        1. "/" becomes rslave (or `linux.rootfsPropagation`), so no mount made here reaches the host;
           the rootfs's parent mount is made private/slave (pivot_root refuses a shared parent);
           the rootfs is bind-mounted onto itself (pivot_root needs a mount point).
           Without a mount namespace: only a private clone of the rootfs onto itself (hostroot.py).
        2. every `mounts[]` entry, in order (mounts.py / cgroupfs.py), resolved inside the rootfs by fd;
        3. /dev: default devices, `linux.devices`, /dev/ptmx, /dev symlinks (devices.py), unless /dev is a bind.
    [createContainer hooks run here, before the switch, as in runc]
    pivot_rootfs(rootfs, no_pivot=...)                      # pivot_root(".", "."), MS_MOVE + chroot, or
                                                            # chroot without a mount namespace
    mount_console(slave_fd)                                 # if process.terminal; /dev must still be writable
    apply_sysctl(spec)                                      # before readonlyPaths makes /proc/sys read-only
    finalize_rootfs(spec)                                   # propagation of "/", readonlyPaths, maskedPaths,
                                                            # read-only tmpfs and /dev, root.readonly
Every module on this path is imported here, at the top, except those only some configs need (`modules_needed`):
the runtime imports them before the first fork (pyrunc.process.init.preload), and prepare_rootfs does if it did
not. After pivot_root the host's Python library is gone.
Each step raises SyscallError naming the step and the config field (`(config: /mounts/3)`).
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs import cgroupfs, devices, hostroot, mounts, paths, pivot, securejoin
from pyrunc.rootfs.context import RootContext
from pyrunc.rootfs.failure import step_error
from pyrunc.rootfs.options import PROPAGATION, parse
from pyrunc.spec.model import Mount, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyrunc.rootfs.context import MountTrees

PTY_SLAVE_MAJORS = range(136, 144)  # UNIX98_PTY_SLAVE_MAJOR .. + UNIX98_PTY_MAJOR_COUNT


def modules_needed(spec: Spec) -> list[str]:
    """The rootfs modules this config needs that are not imported at the top: `linux.sysctl`'s, and those of
    mounts with `tmpcopyup` or an id mapping."""
    names = ["pyrunc.rootfs.sysctl"] if spec.linux.sysctl else []
    if spec.linux.mount_label:
        names.append("pyrunc.security.lsm")
    for mnt in spec.mounts:
        opts = parse(mnt.options)
        if opts.copyup:
            names.append("pyrunc.rootfs.copyup")
        if opts.idmap or mnt.uid_mappings or mnt.gid_mappings:
            names.append("pyrunc.rootfs.idmap")
    return names

# How pivot_rootfs enters the rootfs, decided by prepare_rootfs (the init calls both): "pivot" (pivot_root, or
# MS_MOVE with --no-pivot) in the container's own mount namespace, "chroot" in the host's.
_switch = "pivot"


# --------------------------------------------------------------------------------------------- before pivot_root
def prepare_rootfs(spec: Spec, *, cgroup_paths: dict[str, str] | None = None,
                   mount_fds: "MountTrees | None" = None) -> None:
    """Implements `linux.rootfsPropagation`, `mounts`, `linux.devices` and the default /dev, before pivot_root.

    `cgroup_paths`: controller ("memory", "name=systemd", "" for v2) -> the container's cgroup path, for the
    `cgroup` mount type; default: read from /proc/self/cgroup (the init is already in its cgroup).
    `mount_fds`: mount index -> a detached mount tree made by the runtime on the host side (the mounts named by
    `host_side_mounts`), looked up when that mount's turn comes; it is attached instead of cloning the source.
    The caller closes them.
    """
    global _switch
    rootfs = spec.root.path
    # Whatever the later steps need must be loaded before pivot_root. The runtime imported it before forking (see
    # pyrunc.process.init.preload): then this imports nothing.
    for name in modules_needed(spec):
        __import__(name)
    check_host_proc()
    if spec.linux.namespace("mount") is None:
        # No mount namespace of its own: everything is mounted in the host's, on a private clone of the rootfs
        # that `delete` detaches (hostroot.py); the host's "/" keeps its propagation. Then chroot, as runc.
        _switch = "chroot"
        try:
            hostroot.attach_private_root(rootfs)
        except SyscallError as e:
            if e.errno == errno.EPERM and spec.linux.namespace("user") is not None:
                # The host's mount namespace belongs to the host's user namespace: root in ours may not mount there.
                raise step_error("bind-mount the rootfs onto itself (private)", e, "/linux/namespaces",
                                 'a user namespace cannot mount in the host\'s mount namespace: add a "mount" '
                                 "namespace") from None
            raise step_error("bind-mount the rootfs onto itself (private)", e, "/root/path") from None
    else:
        _switch = "pivot"
        prepare_root(rootfs, spec.linux.rootfs_propagation)
    # Opened after the self-bind, so that the fd is on the new mount, which pivot_root will move.
    try:
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open rootfs", e.errno or errno.EIO, path=rootfs, spec_path="/root/path") from None
    mount_label = None
    if spec.linux.mount_label:
        from pyrunc.security import lsm  # preloaded (modules_needed): only configs with a mount label

        # `linux.mountLabel`: the SELinux context of the container's file systems, given as context= (runc's
        # label.FormatMountLabel); without SELinux there is nothing to label (runc's go-selinux ignores it too).
        mount_label = spec.linux.mount_label if lsm.selinux_enabled() else None
    try:
        ctx = RootContext(
            fd=root_fd, path=linuxfs.fd_path(root_fd), bundle=spec.bundle, userns=in_user_namespace(spec),
            cgroupns=spec.linux.namespace("cgroup") is not None, cgroup_paths=cgroup_paths,
            uid_mappings=spec.linux.uid_mappings, gid_mappings=spec.linux.gid_mappings,
            mount_fds=mount_fds, mount_label=mount_label)
        for mnt in in_rootfs(spec):
            mount_one(ctx, mnt)
        if devices.needs_setup_dev(spec):
            devices.setup_dev(ctx, spec)
    finally:
        os.close(root_fd)


def host_side_mounts(spec: Spec) -> list[int]:
    """Indices of the `mounts[]` the init of a user-namespaced container cannot make itself, so that the runtime
    must make their trees on the host side (`pyrunc.rootfs.hostmounts`): id-mapped binds (MOUNT_ATTR_IDMAP needs
    privilege over the host's file systems) and binds whose source its root cannot reach (e.g. under a 0700
    directory of the host's root), as runc's mount-fd requests. Called in the init, in its namespaces."""
    if spec.linux.namespace("user") is None or spec.linux.namespace("mount") is None:
        return []  # (no mount namespace: prepare_rootfs refuses the container anyway)
    wanted = []
    for mnt in spec.mounts:
        opts = parse(mnt.options)
        if mounts.kind_of(mnt, opts) != "bind":
            continue
        if opts.idmap or mnt.uid_mappings or mnt.gid_mappings:
            wanted.append(mnt.index)
            continue
        source = mnt.source or ""
        try:
            os.stat(os.path.join(spec.bundle, source))  # an absolute source stays as it is
        except PermissionError:
            wanted.append(mnt.index)
        except OSError:
            pass  # missing etc.: the mount itself reports it, as without a user namespace
    return wanted


def check_host_proc() -> None:
    """Mounts go onto /proc/self/fd/N before pivot_root: that /proc must be a real procfs root."""
    try:
        fd = os.open("/proc", linuxfs.O_PATH_DIR | os.O_NOFOLLOW)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path="/proc", detail="the runtime needs /proc") from None
    try:
        if not linuxfs.is_procfs_root(fd):
            raise SyscallError("open", errno.EPERM, path="/proc", detail="the runtime's /proc is not a procfs")
    finally:
        os.close(fd)


def in_user_namespace(spec: Spec) -> bool:
    """In a user namespace (the container's or one we run in): mknod is refused, devices are bind-mounted."""
    if spec.linux.namespace("user") is not None:
        return True
    try:
        with open("/proc/self/uid_map", encoding="utf-8") as f:  # ASCII; utf-8 is the codec already loaded
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def prepare_root(rootfs: str, propagation: str | None) -> None:
    """Propagation of "/" and of the rootfs's parent, then the rootfs bind-mounted onto itself (runc prepareRoot)."""
    ptr = "/linux/rootfsPropagation" if propagation else None
    if propagation is not None and propagation not in PROPAGATION:
        raise SyscallError("set rootfsPropagation", errno.EINVAL, detail=f"unknown value {propagation!r}",
                           spec_path=ptr)
    # Default rslave: host mounts still propagate in, but nothing we mount or unmount goes back out.
    flag = PROPAGATION[propagation] if propagation else lm.MS_SLAVE | lm.MS_REC
    parent_flag = lm.MS_SLAVE if propagation and flag & lm.MS_SLAVE else lm.MS_PRIVATE  # as runc
    try:
        lm.mount(None, "/", None, flag)
        make_parent_unshared(rootfs, parent_flag)
    except SyscallError as e:
        raise step_error("set mount propagation", e, ptr) from None
    try:
        lm.mount(rootfs, rootfs, "bind", lm.MS_BIND | lm.MS_REC)
    except SyscallError as e:
        raise step_error("bind-mount the rootfs onto itself", e, "/root/path") from None


def make_parent_unshared(path: str, flag: int) -> None:
    """The mount the rootfs lives on must not be shared: pivot_root refuses it, and the self-bind would
    propagate (leak) to the host. EINVAL means "not a mount point": walk up until one is found."""
    while True:
        try:
            lm.mount(None, path, None, flag)
            return
        except SyscallError as e:
            if e.errno != errno.EINVAL or path == "/":
                raise
        path = os.path.dirname(path)


def in_rootfs(spec: Spec) -> tuple[Mount, ...]:
    """`mounts` with each destination that names a path inside the rootfs *on the host* (`<rootfs>/data`) taken
    as the container path it is (`/data`), as runc does (LexicallyStripRoot); purely lexical, resolution inside
    the rootfs comes later. Any other destination is a container path already."""
    root = securejoin.clean(spec.root.path)
    if root == "/":
        return spec.mounts
    out = []
    for mnt in spec.mounts:
        dest = securejoin.clean(mnt.destination)
        if dest == root or dest.startswith(root + "/"):
            mnt = mnt.replace(destination=dest[len(root):] or "/")
        out.append(mnt)
    return tuple(out)


def mount_one(ctx: RootContext, mnt: Mount) -> None:
    """One `mounts[]` entry, by kind; errors name the mount and its index."""
    opts = parse(mnt.options)
    kind = mounts.kind_of(mnt, opts)
    try:
        if kind == "bind":
            mounts.mount_bind(ctx, mnt, opts)
        elif kind in ("proc", "sysfs"):
            mounts.mount_proc_or_sysfs(ctx, mnt, opts, kind)
        elif kind == "tmpfs":
            mounts.mount_tmpfs(ctx, mnt, opts)
        elif kind == "cgroup":
            cgroupfs.mount_cgroup(ctx, mnt, opts)
        else:
            mounts.mount_filesystem(ctx, mnt, opts)
    except SyscallError as e:
        raise step_error(f"mount {mounts.describe(mnt, opts)}", e, mnt.spec_path) from None


# --------------------------------------------------------------------------------------------- the switch
def pivot_rootfs(rootfs: str, *, no_pivot: bool) -> None:
    """Make the rootfs "/": pivot_root(".", "."), or with --no-pivot MS_MOVE onto "/" and chroot. cwd is "/".

    Without a mount namespace of its own (see prepare_rootfs) a plain chroot, --no-pivot or not: pivot_root and
    MS_MOVE would act on the host's root.
    """
    try:
        if _switch == "chroot":
            hostroot.chroot_into(rootfs)
        elif no_pivot:
            pivot.move_root(rootfs)
        else:
            pivot.pivot_root(rootfs)
    except SyscallError as e:
        step = "move the rootfs onto / (--no-pivot)" if no_pivot else "pivot_root into the rootfs"
        raise step_error(step, e, "/root/path") from None


# --------------------------------------------------------------------------------------------- after pivot_root
def apply_sysctl(spec: Spec) -> None:
    """Implements `linux.sysctl` (after pivot_root, before finalize_rootfs)."""
    if spec.linux.sysctl:
        from pyrunc.rootfs import sysctl  # loaded before pivot_root (modules_needed): only configs with sysctls

        sysctl.apply_sysctl(spec)


def mount_console(slave_fd: int) -> None:
    """Bind the pty slave `slave_fd` onto /dev/console (for `process.terminal`).

    CVE-2025-52565: runc bind-mounted /dev/pts/$n by path, and a symlink swapped in there put an arbitrary
    file (a procfs file masked later) rw over /dev/console. Here the source is the open fd itself, checked to be
    a pty slave (char, major 136-143), and /dev/console is created with O_CREAT|O_EXCL|O_NOFOLLOW (an existing
    symlink there is refused, never followed).
    """
    try:
        if not linuxfs.is_char_device(slave_fd, PTY_SLAVE_MAJORS):
            raise SyscallError("fstat", errno.EINVAL, path=f"fd {slave_fd}",
                               detail="not a pty slave (char 136-143) (CVE-2025-52565)")
        root = os.open("/", linuxfs.O_PATH_DIR)
        try:
            target = securejoin.create_file(root, "/dev/console", 0o600)
        finally:
            os.close(root)
        tree = -1
        try:
            tree = lm.open_tree(slave_fd, "", lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH,
                                what="pty slave")
            lm.attach_tree(tree, target, what="/dev/console")
        finally:
            if tree >= 0:
                os.close(tree)
            os.close(target)
    except SyscallError as e:
        raise step_error("mount the console on /dev/console", e, "/process/terminal") from None


def finalize_rootfs(spec: Spec) -> None:
    """After pivot_root (and after apply_sysctl): propagation of "/", `linux.readonlyPaths`,
    `linux.maskedPaths`, read-only tmpfs and /dev mounts, then `root.readonly` last."""
    apply_root_propagation(spec.linux.rootfs_propagation)
    paths.make_readonly_paths(spec.linux.readonly_paths)
    paths.mask_paths(spec.linux.masked_paths)
    remount_delayed_readonly(spec)
    if spec.root.readonly:
        try:
            # mount_setattr only adds MOUNT_ATTR_RDONLY: nosuid/nodev/... (and flags locked in a user namespace)
            # stay as they are, which runc gets by re-reading statfs flags.
            lm.mount_setattr(-100, "/", 0, attr_set=lm.MOUNT_ATTR_RDONLY, what="/")
        except SyscallError as e:
            raise step_error("make the rootfs read-only", e, "/root/readonly") from None


def apply_root_propagation(propagation: str | None) -> None:
    """shared/unbindable for "/" only now: before pivot_root it would have applied to the host's mount.
    private and slave were applied in prepare_root (runc does the same split)."""
    if not propagation:
        return
    flag = PROPAGATION[propagation]
    if flag & (lm.MS_PRIVATE | lm.MS_SLAVE):
        return
    try:
        lm.mount(None, "/", None, flag)
    except SyscallError as e:
        raise step_error("set rootfsPropagation on /", e, "/linux/rootfsPropagation") from None


def remount_delayed_readonly(spec: Spec) -> None:
    """tmpfs mounts (and the cgroup v1 tmpfs) and /dev were mounted rw so that nodes and mountpoints could be
    made in them; now make those whose options say ro (or rro) read-only."""
    root = os.open("/", linuxfs.O_PATH_DIR)
    try:
        for mnt in in_rootfs(spec):
            opts = parse(mnt.options)
            kind = mounts.kind_of(mnt, opts)
            rro = bool(opts.rec_set & lm.MOUNT_ATTR_RDONLY)
            if not (opts.flags & lm.MS_RDONLY or rro):
                continue
            if not (kind in ("tmpfs", "cgroup") or securejoin.clean(mnt.destination) == "/dev"):
                continue
            try:
                fd = securejoin.open_in_root(root, mnt.destination, os.O_PATH)
                try:
                    if kind == "cgroup" and linuxfs.fstatfs_type(fd) != linuxfs.TMPFS_MAGIC:
                        continue  # cgroup2 (or a bind): already mounted read-only
                    at = lm.AT_EMPTY_PATH | (lm.AT_RECURSIVE if rro else 0)
                    lm.mount_setattr(fd, "", at, attr_set=lm.MOUNT_ATTR_RDONLY, what=mnt.destination)
                finally:
                    os.close(fd)
            except SyscallError as e:
                raise step_error(f"make {mnt.destination} read-only", e, mnt.spec_path) from None
    finally:
        os.close(root)
