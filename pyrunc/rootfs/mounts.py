"""`mounts[]`: one function per kind of mount, each resolving its destination inside the rootfs by fd.

Order of work for every mount (runc's mountToRootfs, made fd-based):
1. resolve the destination inside the rootfs (`securejoin`), creating the mountpoint if missing: a directory, or
   an empty file for a bind mount of a non-directory;
2. check the resolved *real* path: inside the rootfs, not the rootfs itself, not inside /proc, and only procfs
   at /proc and sysfs at /sys;
3. mount onto that fd: file systems with mount(2) on /proc/self/fd/N (host procfs, before pivot_root), bind
   mounts with open_tree(OPEN_TREE_CLONE) + move_mount onto the fd, so no path string is walked again;
4. propagation, then recursive attributes, on the new mount (mount_setattr on its fd).

Read-only for tmpfs and /dev is delayed to `finalize` (devices and mountpoints are still created in them).
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs import securejoin
from pyrunc.rootfs.context import RootContext
from pyrunc.rootfs.options import (
    LOCKABLE,
    MountOptions,
    bind_attrs,
    propagation_name,
    wants_bind_remount,
)
from pyrunc.spec.model import Mount

# Files under /proc that may be over-mounted (what lxcfs emulates), as runc's checkProcMount allows.
PROC_MOUNT_ALLOWED = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
})

# What runc gives a fresh tmpfs/cgroup helper mount when the config says nothing.
DEFAULT_FLAGS = lm.MS_NOEXEC | lm.MS_NOSUID | lm.MS_NODEV


def kind_of(mnt: Mount, opts: MountOptions) -> str:
    """"bind" if the options or the type say so (the type of a bind mount is otherwise ignored), else the type."""
    if opts.bind or mnt.type == "bind":
        return "bind"
    return mnt.type or ""


def describe(mnt: Mount, opts: MountOptions) -> str:
    """`tmpfs on /data`, `bind /host/dir on /data`: how a mount is named in errors."""
    kind = kind_of(mnt, opts)
    if kind == "bind":
        return f"bind {mnt.source} on {mnt.destination}"
    return f"{kind or '(no type)'} on {mnt.destination}"


def refuse(dest: str, err: int, why: str) -> SyscallError:
    return SyscallError("check destination", err, path=dest, detail=why)


def close(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


# --------------------------------------------------------------------------------------------- destination
def open_mountpoint(ctx: RootContext, dest: str, *, directory: bool = True) -> tuple[int, bool, str]:
    """(O_PATH fd of the mountpoint, whether it existed, its real container path).

    Symlinks in `dest` are followed only inside the rootfs (CVE-2021-30465, CVE-2025-52881). A missing
    mountpoint is made where `dest` leads inside the rootfs, through dangling symlinks too (`/etc/hosts ->
    /run/hosts` makes /run/hosts, as runc does), with mkdirat / openat(O_CREAT|O_EXCL|O_NOFOLLOW) on verified
    parent fds (CVE-2024-45310). The real path is then read back from the fd and checked.
    """
    existed = True
    try:
        fd = securejoin.open_in_root(ctx.fd, dest, os.O_PATH)
    except SyscallError as e:
        if e.errno != errno.ENOENT:
            raise
        existed = False
        where = securejoin.resolve_missing(ctx.fd, dest)
        fd = securejoin.mkdir_all(ctx.fd, where) if directory else securejoin.create_file(ctx.fd, where, 0o644)
    try:
        rel = check_in_root(ctx, fd, dest)
    except BaseException:
        os.close(fd)
        raise
    return fd, existed, rel


def open_mountpoint_strict(ctx: RootContext, dest: str, kind: str = "proc") -> tuple[int, str]:
    """Mountpoint for procfs and sysfs: no component of `dest` may be a symlink, even one inside the rootfs.

    CVE-2019-19921 / CVE-2023-27561 / CVE-2023-28642 (and youki's CVE-2025-54867): with /proc replaced by a
    symlink, procfs was mounted wherever the image pointed, and LSM labels / sysctls were then written to a
    fake /proc. Each component is opened with O_NOFOLLOW from its parent fd and must be a directory.
    """
    comps = securejoin.components(dest)
    try:
        # The rootfs itself: a user-namespaced container's root may be refused search permission on it (EACCES);
        # the caller names the mount and its config pointer (rootfs.prepare.mount_one), this names the rootfs.
        fd = os.open(".", linuxfs.O_PATH_DIR, dir_fd=ctx.fd)
    except OSError as e:
        raise SyscallError("openat", e.errno or errno.EIO, path=ctx.path) from None
    try:
        for i, comp in enumerate(comps):
            shown = "/" + "/".join(comps[: i + 1])
            try:
                nfd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                try:
                    os.mkdir(comp, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                except OSError as e:
                    raise SyscallError("mkdirat", e.errno or errno.EIO, path=shown) from None
                try:
                    nfd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as e:
                    raise SyscallError("openat", e.errno or errno.EIO, path=shown) from None
            except OSError as e:
                raise SyscallError("openat", e.errno or errno.EIO, path=shown) from None
            mode = os.fstat(nfd).st_mode
            if not stat.S_ISDIR(mode):
                os.close(nfd)
                what = "a symlink" if stat.S_ISLNK(mode) else "not a directory"
                # runc's wording ("filesystem "proc" must be mounted on ordinary directory"), which its tests
                # and users match on.
                raise refuse(shown, errno.ELOOP if stat.S_ISLNK(mode) else errno.ENOTDIR,
                             f'{what}: filesystem "{kind}" must be mounted on ordinary directory '
                             "(CVE-2019-19921, CVE-2023-27561)")
            os.close(fd)
            fd = nfd
        rel = check_in_root(ctx, fd, dest)
    except BaseException:
        os.close(fd)
        raise
    return fd, rel


def check_in_root(ctx: RootContext, fd: int, dest: str) -> str:
    """The container path of mountpoint `fd`; refuses one outside the rootfs or the rootfs itself."""
    rel = securejoin.real_path_in_root(fd, ctx.path)
    if rel is None:
        raise refuse(dest, errno.EXDEV, f"resolves to {linuxfs.fd_path(fd)}, outside the rootfs")
    if rel == "/":
        raise refuse(dest, errno.EINVAL, "resolves to the top of the rootfs")
    return rel


def check_proc_sys(dest: str, rel: str, kind: str, src_magic: int | None) -> None:
    """Only procfs at /proc, only sysfs at /sys, nothing inside /proc but the lxcfs files.

    CVE-2019-16884: a tmpfs or bind over /proc made the runtime write LSM labels into a fake
    /proc/self/attr; CVE-2025-52881: a destination that is (or runs through) a symlink into /proc put a mount
    over procfs files the runtime writes later (sysctls, /proc/self/attr/*, /proc/sysrq-trigger).
    `rel` is the resolved real path, so a symlink into /proc is caught here too.
    """
    if rel == "/proc":
        if kind == "proc" or (kind == "bind" and src_magic == linuxfs.PROC_SUPER_MAGIC):
            return
        raise refuse(dest, errno.EPERM, "only a procfs may be mounted on /proc (CVE-2019-16884)")
    if rel.startswith("/proc/"):
        if rel in PROC_MOUNT_ALLOWED:
            return
        raise refuse(dest, errno.EPERM, f"resolves to {rel}, inside /proc (CVE-2025-52881)")
    if rel == "/sys":
        if kind == "sysfs" or (kind == "bind" and src_magic == linuxfs.SYSFS_MAGIC):
            return
        raise refuse(dest, errno.EPERM, "only a sysfs may be mounted on /sys")


# --------------------------------------------------------------------------------------------- after the mount
def mount_on_fd(ctx: RootContext, source: str | None, fd: int, fstype: str | None, flags: int, data: str,
                rel: str) -> int:
    """mount(2) onto the mountpoint open at `fd` (through /proc/self/fd/N); returns an O_PATH fd of the new mount.

    The target string is a magic link to the fd we resolved, so a symlink swapped in meanwhile cannot redirect
    the mount (CVE-2021-30465). The new mount is then re-opened by its path, and the path must not have changed.
    """
    lm.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data or None, path=rel)
    if flags & (lm.MS_REMOUNT | lm.MS_MOVE):
        return os.dup(fd)
    return reopen_mount(ctx, rel)


def reopen_mount(ctx: RootContext, rel: str) -> int:
    """An O_PATH fd on the mount now on top of `rel` (a lookup by path crosses into the new mount)."""
    fd = securejoin.open_in_root(ctx.fd, rel, os.O_PATH)
    if securejoin.real_path_in_root(fd, ctx.path) != rel:
        os.close(fd)
        raise refuse(rel, errno.EXDEV, "mountpoint moved while it was being mounted on")
    return fd


def apply_propagation(fd: int, opts: MountOptions, rel: str) -> None:
    """Propagation options (shared, rslave, ...) in config order, on the mount open at `fd`."""
    for flag in opts.propagation:
        at = lm.AT_EMPTY_PATH | (lm.AT_RECURSIVE if flag & lm.MS_REC else 0)
        try:
            lm.mount_setattr(fd, "", at, propagation=flag & ~lm.MS_REC, what=rel)
        except SyscallError as e:
            e.detail = f"propagation {propagation_name(flag)}"
            raise


def apply_rec_attrs(fd: int, attr_set: int, attr_clr: int, rel: str) -> None:
    """rro, rnosuid, rnoatime, ...: mount_setattr(AT_RECURSIVE) on the new mount and everything under it."""
    if attr_set or attr_clr:
        lm.mount_setattr(fd, "", lm.AT_EMPTY_PATH | lm.AT_RECURSIVE, attr_set=attr_set, attr_clr=attr_clr,
                         what=rel)


def delays_readonly(mnt: Mount, kind: str) -> bool:
    """tmpfs and /dev are mounted rw and made read-only in `finalize` (devices, mountpoints come first)."""
    return kind == "tmpfs" or securejoin.clean(mnt.destination) == "/dev"


# --------------------------------------------------------------------------------------------- the kinds
def mount_bind(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    """`bind`/`rbind`: clone the source (tree) with open_tree and attach it on the destination fd.

    Flags named in the options (ro, nosuid, noatime...) are set on the clone before it is attached, with the
    semantics of `mount --bind -o <flags>`; flags the kernel locked on the source (user namespaces) are kept
    unless the config explicitly clears them, which is an error (runc's behaviour).
    """
    source = mnt.source or ""
    if not os.path.isabs(source):
        source = os.path.join(ctx.bundle, source)  # relative to the bundle, as runc
    premade = ctx.mount_fds.get(mnt.index)
    try:
        src_fd = os.open(source, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        if premade is None:
            raise SyscallError("open mount source", e.errno or errno.EIO, path=source) from None
        src_fd = os.dup(premade)  # the host-side tree is the source (its path may not be visible here)
    dst_fd = tree = None
    try:
        src_is_dir = stat.S_ISDIR(os.fstat(src_fd).st_mode)
        dst_fd, _, rel = open_mountpoint(ctx, mnt.destination, directory=src_is_dir)
        check_proc_sys(mnt.destination, rel, "bind", linuxfs.fstatfs_type(src_fd))
        idmapped = bool(opts.idmap or mnt.uid_mappings or mnt.gid_mappings)
        if premade is not None:
            tree = os.dup(premade)  # already cloned (and id-mapped) by the runtime on the host side
        else:
            flags = lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH
            if opts.recursive:
                flags |= lm.AT_RECURSIVE
            tree = lm.open_tree(src_fd, "", flags, what=source)
            if idmapped:
                if ctx.userns:
                    raise SyscallError("idmap", errno.EOPNOTSUPP, path=rel,
                                       detail="in a user namespace the id-mapped mount must be made host-side")
                from pyrunc.rootfs import idmap  # preloaded (prepare.modules_needed): only id-mapped mounts

                idmap.apply(tree, mnt.uid_mappings or ctx.uid_mappings, mnt.gid_mappings or ctx.gid_mappings,
                            recursive=opts.idmap == "ridmap", what=rel)
        if wants_bind_remount(opts):
            set_bind_flags(tree, src_fd, opts, rel)
        lm.attach_tree(tree, dst_fd, what=rel)
        apply_propagation(tree, opts, rel)
        apply_rec_attrs(tree, opts.rec_set, opts.rec_clr, rel)
    finally:
        close(tree)
        close(dst_fd)
        os.close(src_fd)


def set_bind_flags(tree: int, src_fd: int, opts: MountOptions, rel: str) -> None:
    """The per-mount flags of a bind mount, on the detached clone `tree`."""
    attr_set, attr_clr = bind_attrs(opts.flags)
    try:
        lm.mount_setattr(tree, "", lm.AT_EMPTY_PATH, attr_set=attr_set, attr_clr=attr_clr, what=rel)
        return
    except SyscallError as e:
        if e.errno != errno.EPERM:
            raise
    # Locked flags (MNT_LOCK_*: a mount inherited from a more privileged user namespace). Keep what is locked on
    # the source, unless the config asked to clear it: silently giving a rw or suid mount would be worse.
    src_flags = lm.statvfs_to_ms(os.fstatvfs(src_fd).f_flag)
    cannot_clear = src_flags & opts.cleared & LOCKABLE
    if cannot_clear:
        raise SyscallError("mount_setattr", errno.EPERM, path=rel,
                           detail=f"cannot clear locked flags {lm.flag_names(cannot_clear)}")
    want_atime = opts.flags & lm.MS_ATIME
    if want_atime and want_atime != src_flags & lm.MS_ATIME:
        raise SyscallError("mount_setattr", errno.EPERM, path=rel,
                           detail=f"cannot change locked atime flags {lm.flag_names(src_flags & lm.MS_ATIME)}")
    attr_set, attr_clr = bind_attrs(opts.flags | (src_flags & LOCKABLE))
    lm.mount_setattr(tree, "", lm.AT_EMPTY_PATH, attr_set=attr_set, attr_clr=attr_clr, what=rel)


def mount_tmpfs(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    """`tmpfs`: the root of the tmpfs gets the mode of the directory it covers unless `mode=` says otherwise
    (runc); `tmpcopyup` copies that directory's content into the new tmpfs first."""
    dst_fd, existed, rel = open_mountpoint(ctx, mnt.destination)
    new = None
    try:
        check_proc_sys(mnt.destination, rel, "tmpfs", None)
        data = list(opts.data)
        if existed:
            data.insert(0, f"mode={stat.S_IMODE(os.fstat(dst_fd).st_mode):04o}")
        if ctx.mount_label:
            data.append(context_option(ctx.mount_label))
        flags = opts.flags & ~lm.MS_RDONLY  # made read-only in finalize
        if opts.copyup:
            from pyrunc.rootfs import copyup  # preloaded (prepare.modules_needed): only tmpcopyup mounts

            copyup.mount_tmpfs_copyup(dst_fd, rel, flags, data)
            new = reopen_mount(ctx, rel)
        else:
            new = mount_on_fd(ctx, mnt.source or "tmpfs", dst_fd, "tmpfs", flags, ",".join(data), rel)
        apply_propagation(new, opts, rel)
        apply_rec_attrs(new, opts.rec_set & ~lm.MOUNT_ATTR_RDONLY, opts.rec_clr, rel)
    finally:
        close(new)
        os.close(dst_fd)


def mount_proc_or_sysfs(ctx: RootContext, mnt: Mount, opts: MountOptions, kind: str) -> None:
    """`proc` / `sysfs`: only on a real directory reached without any symlink (see open_mountpoint_strict)."""
    dst_fd, rel = open_mountpoint_strict(ctx, mnt.destination, kind)
    new = None
    try:
        check_proc_sys(mnt.destination, rel, kind, None)
        new = mount_on_fd(ctx, mnt.source or kind, dst_fd, kind, opts.flags, opts.data_str, rel)
        apply_propagation(new, opts, rel)
        apply_rec_attrs(new, opts.rec_set, opts.rec_clr, rel)
    finally:
        close(new)
        os.close(dst_fd)


def context_option(label: str) -> str:
    """The SELinux mount option for `linux.mountLabel`, quoted: MCS labels hold commas (s0:c1,c2)."""
    return f'context="{label}"'


def mount_filesystem(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    """devpts, mqueue and any other file-system type: mount(2) with the flags and data as given."""
    kind = kind_of(mnt, opts)
    dst_fd, _, rel = open_mountpoint(ctx, mnt.destination)
    new = None
    try:
        check_proc_sys(mnt.destination, rel, kind, None)
        flags = opts.flags & ~lm.MS_RDONLY if delays_readonly(mnt, kind) else opts.flags
        data = opts.data_str
        if ctx.mount_label and kind != "mqueue":
            data = ",".join(filter(None, (data, context_option(ctx.mount_label))))
        new = mount_on_fd(ctx, mnt.source or kind or "none", dst_fd, kind or None, flags, data, rel)
        if ctx.mount_label and kind == "mqueue":
            # mqueue takes no context= option: its root is labelled instead (runc: label.SetFileLabel).
            try:
                os.setxattr(f"/proc/self/fd/{new}", "security.selinux", ctx.mount_label.encode())
            except OSError as e:
                raise SyscallError("setxattr security.selinux", e.errno or errno.EIO, path=rel,
                                   spec_path="/linux/mountLabel") from None
        apply_propagation(new, opts, rel)
        rec_set = opts.rec_set & ~lm.MOUNT_ATTR_RDONLY if delays_readonly(mnt, kind) else opts.rec_set
        apply_rec_attrs(new, rec_set, opts.rec_clr, rel)
    finally:
        close(new)
        os.close(dst_fd)
