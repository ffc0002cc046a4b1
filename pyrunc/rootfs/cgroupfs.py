"""The `cgroup` mount type: what the container sees at /sys/fs/cgroup.

- cgroup v2 (unified mode, /sys/fs/cgroup is cgroup2 on the host): a cgroup2 mount; if the kernel refuses it
  (a user namespace without a cgroup namespace), a bind of the host's /sys/fs/cgroup, or of the container's own
  cgroup when it has a cgroup namespace (runc's mountCgroupV2).
- cgroup v1 and hybrid: a tmpfs (mode=755, nosuid,nodev,noexec), and in it one directory per v1 hierarchy of
  the host. With a cgroup namespace each is a real `cgroup` mount (the kernel shows the namespace's root);
  without one, each is a bind of the container's *own* cgroup directory of that hierarchy, with the mount's
  flags (ro, ...), so the container never sees the rest of the host's tree (CVE-2023-25809 is the rootless
  rw variant of that exposure). Co-mounted controllers ("cpu,cpuacct") get symlinks "cpu", "cpuacct".

Host facts (mountinfo, /proc/self/cgroup, /proc/cgroups) are read before pivot_root, from the host's /proc.
"""

import errno
import os
import posixpath

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.linux import mount as lm
from pyrunc.rootfs import securejoin
from pyrunc.rootfs.context import RootContext
from pyrunc.rootfs.mountinfo import parse_mountinfo
from pyrunc.rootfs.mounts import (
    DEFAULT_FLAGS,
    apply_propagation,
    apply_rec_attrs,
    check_in_root,
    check_proc_sys,
    close,
    context_option,
    mount_bind,
    mount_on_fd,
    open_mountpoint,
    set_bind_flags,
)
from pyrunc.rootfs.options import MountOptions, wants_bind_remount
from pyrunc.spec.model import Mount

UNIFIED_MOUNTPOINT = "/sys/fs/cgroup"


class Hierarchy:
    """A v1 cgroup hierarchy mounted on the host."""

    __slots__ = ("mountpoint", "root", "subsystems")

    def __init__(self, mountpoint: str, root: str, subsystems: tuple[str, ...]) -> None:
        self.mountpoint = mountpoint  # /sys/fs/cgroup/cpu,cpuacct
        self.root = root              # the cgroup shown at the mountpoint ("/" unless the host is itself nested)
        self.subsystems = subsystems  # ("cpu", "cpuacct") or ("name=systemd",)


def v1_hierarchies(mountinfo: str, controllers: set[str]) -> list[Hierarchy]:
    """The host's v1 hierarchies (fstype `cgroup`), each once, in mountinfo order."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for root, mountpoint, fstype, superopts in parse_mountinfo(mountinfo):
        if fstype != "cgroup":
            continue
        subs = tuple(o for o in superopts.split(",") if o in controllers or o.startswith("name="))
        if not subs or subs in seen:
            continue
        seen.add(subs)
        out.append(Hierarchy(mountpoint, root, subs))
    return out


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup -> {"memory": "/x", "name=systemd": "/y", "": "/z" (v2)}."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for ctrl in parts[1].split(",") if parts[1] else [""]:
            paths[ctrl] = parts[2]
    return paths


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def host_controllers() -> set[str]:
    names = set()
    for line in _read("/proc/cgroups").splitlines():
        if line and not line.startswith("#"):
            names.add(line.split()[0])
    return names


def is_unified() -> bool:
    """The host runs cgroup v2 only: /sys/fs/cgroup itself is a cgroup2 file system."""
    try:
        fd = os.open(UNIFIED_MOUNTPOINT, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return linuxfs.fstatfs_type(fd) == linuxfs.CGROUP2_SUPER_MAGIC
    finally:
        os.close(fd)


def own_paths(ctx: RootContext) -> dict[str, str]:
    """The container's cgroup per controller: `cgroup_paths` from the caller, else our own /proc/self/cgroup."""
    paths = parse_proc_cgroup(_read("/proc/self/cgroup"))
    paths.update(ctx.cgroup_paths or {})
    return paths


def mount_cgroup(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    """Implements a `mounts[]` entry of type `cgroup`."""
    if is_unified():
        mount_cgroup_v2(ctx, mnt, opts)
    else:
        mount_cgroup_v1(ctx, mnt, opts)


def mount_cgroup_v2(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    dst_fd, _, rel = open_mountpoint(ctx, mnt.destination)
    new = None
    try:
        check_proc_sys(mnt.destination, rel, "cgroup2", None)
        try:
            new = mount_on_fd(ctx, mnt.source or "cgroup", dst_fd, "cgroup2", opts.flags, opts.data_str, rel)
        except SyscallError as e:
            if e.errno not in (errno.EPERM, errno.EBUSY):
                raise
        if new is not None:
            apply_propagation(new, opts, rel)
            apply_rec_attrs(new, opts.rec_set, opts.rec_clr, rel)
            return
    finally:
        close(new)
        os.close(dst_fd)
    # In a user namespace without a cgroup namespace cgroup2 cannot be mounted (runc #2158): bind instead.
    source = UNIFIED_MOUNTPOINT
    own = own_paths(ctx).get("")
    if ctx.cgroupns and own:
        source = posixpath.normpath(UNIFIED_MOUNTPOINT + "/" + own)
    bind = MountOptions(flags=opts.flags | lm.MS_BIND | lm.MS_REC, cleared=opts.cleared, propagation=opts.propagation,
                        rec_set=opts.rec_set, rec_clr=opts.rec_clr)
    mount_bind(ctx, Mount(destination=rel, type="bind", source=source, index=mnt.index), bind)


def mount_cgroup_v1(ctx: RootContext, mnt: Mount, opts: MountOptions) -> None:
    hierarchies = v1_hierarchies(_read("/proc/self/mountinfo"), host_controllers())
    own = own_paths(ctx) if not ctx.cgroupns else {}
    dst_fd, _, rel = open_mountpoint(ctx, mnt.destination)
    new = None
    try:
        check_proc_sys(mnt.destination, rel, "tmpfs", None)
        data = f"mode=755,{context_option(ctx.mount_label)}" if ctx.mount_label else "mode=755"  # as runc's tmpfs
        new = mount_on_fd(ctx, "tmpfs", dst_fd, "tmpfs", DEFAULT_FLAGS, data, rel)
        apply_propagation(new, opts, rel)
    except BaseException:
        close(new)
        raise
    finally:
        os.close(dst_fd)

    bind = MountOptions(flags=opts.flags | lm.MS_BIND | lm.MS_REC, cleared=opts.cleared,
                        propagation=opts.propagation, rec_set=opts.rec_set, rec_clr=opts.rec_clr)
    # The tmpfs was mounted just now, in our mount namespace, and nothing has run in the container: its
    # directories are made and opened from the tmpfs root's fd (O_NOFOLLOW), without the rootfs walk a
    # destination anywhere else needs. Not in a user namespace, where a source may be one of the trees the
    # runtime made host-side (pyrunc.rootfs.hostmounts), which the generic bind knows about.
    lean = not ctx.userns and mnt.index not in ctx.mount_fds
    merged = []
    try:
        for h in hierarchies:
            name = posixpath.basename(h.mountpoint)
            sub = f"{rel}/{name}"
            if "," in name:
                merged.append(name)
            if ctx.cgroupns:
                mount_v1_hierarchy(ctx, sub, h, opts)
                continue
            cg = next((own[s] for s in h.subsystems if s in own), None)
            if cg is None:
                continue  # not a member of that hierarchy (cannot happen for a process, but be lenient)
            rel_cg = posixpath.relpath(cg, h.root)
            if rel_cg.startswith(".."):
                rel_cg = "."  # our cgroup is outside what the host's mount shows: show the mount's root only
            source = posixpath.normpath(posixpath.join(h.mountpoint, rel_cg))
            if lean:
                bind_v1_hierarchy(new, name, source, bind, sub)
            else:
                mount_bind(ctx, Mount(destination=sub, type="bind", source=source, index=mnt.index), bind)

        for name in merged:
            for ctrl in name.split(","):
                try:
                    os.symlink(name, ctrl, dir_fd=new)  # symlinkat: never follows what is at `ctrl`
                except FileExistsError:
                    pass
                except OSError as e:
                    raise SyscallError("symlinkat", e.errno or errno.EIO, path=f"{rel}/{ctrl}") from None
    finally:
        close(new)


def bind_v1_hierarchy(tmpfs_fd: int, name: str, source: str, opts: MountOptions, rel: str) -> None:
    """Bind the host's cgroup directory `source` on a new directory `name` of the fresh tmpfs open at `tmpfs_fd`:
    mkdirat + openat(O_NOFOLLOW) there, open_tree of the source, its flags, move_mount onto the directory fd."""
    try:
        os.mkdir(name, 0o755, dir_fd=tmpfs_fd)
    except OSError as e:
        raise SyscallError("mkdirat", e.errno or errno.EIO, path=rel) from None
    try:
        dst = os.open(name, linuxfs.O_PATH_DIR | os.O_NOFOLLOW, dir_fd=tmpfs_fd)
    except OSError as e:
        raise SyscallError("openat", e.errno or errno.EIO, path=rel) from None
    tree = None
    try:
        tree = lm.open_tree(linuxfs.AT_FDCWD, source, lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_RECURSIVE,
                            what=source)
        if wants_bind_remount(opts):
            set_bind_flags(tree, tree, opts, rel)  # the clone has the source's flags (the locked ones included)
        lm.attach_tree(tree, dst, what=rel)
        apply_propagation(tree, opts, rel)
        apply_rec_attrs(tree, opts.rec_set, opts.rec_clr, rel)
    finally:
        close(tree)
        os.close(dst)


def mount_v1_hierarchy(ctx: RootContext, sub: str, h: Hierarchy, opts: MountOptions) -> None:
    """A real v1 mount of one hierarchy (inside a cgroup namespace it shows the namespace root)."""
    fd = securejoin.mkdir_all(ctx.fd, sub)
    new = None
    try:
        rel = check_in_root(ctx, fd, sub)
        flags = DEFAULT_FLAGS | (opts.flags & lm.MS_RDONLY)
        data = ",".join(h.subsystems)
        source = h.subsystems[0].removeprefix("name=") if h.subsystems[0].startswith("name=") else "cgroup"
        new = mount_on_fd(ctx, source, fd, "cgroup", flags, data, rel)
        apply_propagation(new, opts, rel)
    finally:
        close(new)
        os.close(fd)
