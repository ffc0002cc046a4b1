"""The runtime's (host) side of bind mounts in a user-namespaced container: detached mount trees for the init.

Two kinds of `mounts[]` entries cannot be made by the init once it is root of its own user namespace:
- bind sources that the container's root cannot reach (a 0700 directory of the host's root on the way): it is
  an unprivileged user on the host's file systems;
- id-mapped binds (`uidMappings`/`gidMappings`, options `idmap`/`ridmap`): MOUNT_ATTR_IDMAP needs privilege
  over the source file system's user namespace, the host's.

For those the init sends MOUNT_REQUEST (see `pyrunc.process.sync`) when the mount's turn comes, and the parent calls
`make_trees`: a short-lived helper process, still the host's root, joins the init's mount namespace and makes each
tree there with open_tree(OPEN_TREE_CLONE [|AT_RECURSIVE]), id-mapped with mount_setattr(MOUNT_ATTR_IDMAP) where
asked; the init attaches them with move_mount. Cloning inside the container's mount namespace (as runc does) keeps
the locks the kernel put on the flags of the mounts that namespace copied from the host (MNT_LOCK_*): the container
cannot clear a nosuid/nodev/ro it inherited, exactly as for a bind made by the init itself. A helper rather than
the parent itself, so the parent never leaves its own mount namespace.

The user namespace an id-mapped tree gets: the mount's own mappings (a new user namespace made for them), or
without them the container's user namespace (that of the init: created or joined), as runtime-spec allows.
"""

import errno
import os
import signal
import sys

from pyrunc.errors import InitError, SyscallError
from pyrunc.linux import mount as lm
from pyrunc.linux import ns, prctl, proc
from pyrunc.process import sync
from pyrunc.process.sync import Msg
from pyrunc.rootfs import idmap
from pyrunc.rootfs.failure import step_error
from pyrunc.rootfs.mounts import describe, kind_of
from pyrunc.rootfs.options import parse
from pyrunc.spec.model import IDMapping, Mount, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

STEP = "prepare rootfs"  # the init's step these trees belong to, for errors


class _Plan:
    """What to make for one mount: the source path, open_tree flags, and the id mapping (if any)."""

    __slots__ = ("idmapped", "mnt", "recursive", "ridmap", "source", "userns")

    def __init__(self, mnt: Mount, bundle: str) -> None:
        opts = parse(mnt.options)
        if kind_of(mnt, opts) != "bind":
            raise InitError(STEP, f"mount {describe(mnt, opts)}: only bind mounts are made host-side",
                            errno.EINVAL, mnt.spec_path)
        self.mnt = mnt
        source = mnt.source or ""
        self.source = source if os.path.isabs(source) else os.path.join(bundle, source)  # runc: bundle-relative
        self.recursive = opts.recursive
        self.idmapped = bool(opts.idmap or mnt.uid_mappings or mnt.gid_mappings)
        self.ridmap = opts.idmap == "ridmap"
        # None: the container's user namespace; else the mount's own (uid, gid) mappings.
        self.userns: tuple[tuple[IDMapping, ...], tuple[IDMapping, ...]] | None = None
        if mnt.uid_mappings or mnt.gid_mappings:
            self.userns = (mnt.uid_mappings, mnt.gid_mappings)

    @property
    def what(self) -> str:
        return f"mount {describe(self.mnt, parse(self.mnt.options))}"


def make_trees(spec: Spec, init_pid: int, indices: list[int]) -> dict[int, int]:
    """Detached trees (mount index -> fd, close-on-exec) for `mounts[i]`, i in `indices`, made in the mount
    namespace of `init_pid` by a helper that is the host's root. The caller closes the fds."""
    plans = []
    for i in indices:
        if not 0 <= i < len(spec.mounts):
            raise InitError("sync", f"MOUNT_REQUEST for mount {i}, the config has {len(spec.mounts)}")
        plans.append(_Plan(spec.mounts[i], spec.bundle))
    if plans and os.geteuid() != 0:
        # Rootless: the helper could neither join the container's mount namespace nor id-map a host file system
        # (runc refuses these requests too).
        p = plans[0]
        raise InitError(STEP, f"{p.what}: the runtime must run as root to make this mount for a user namespace "
                        "(id-mapped, or a source the container's root cannot reach)", errno.EPERM, p.mnt.spec_path)
    # Namespace files are opened here, in the host's /proc, before the helper leaves the host's mount namespace.
    owned: list[int] = []
    userns_fds: dict[object, int] = {}
    try:
        for p in plans:
            if not p.idmapped:
                continue
            key: object = p.userns
            if key in userns_fds:
                continue
            if p.userns is None:
                fd = ns.open_ns(f"/proc/{init_pid}/ns/user", "user")
            else:
                uid_maps, gid_maps = p.userns
                if not uid_maps or not gid_maps:  # validation refuses this; never idmap with half a mapping
                    raise step_error(p.what, SyscallError("idmap", errno.EINVAL, path=p.mnt.destination,
                                     detail="an id-mapped mount needs both uidMappings and gidMappings"),
                                     p.mnt.spec_path)
                try:
                    fd = idmap.userns_fd(uid_maps, gid_maps)
                except SyscallError as e:
                    raise step_error(p.what, e, p.mnt.spec_path) from None
            owned.append(fd)
            userns_fds[key] = fd
        mntns = ns.open_ns(f"/proc/{init_pid}/ns/mnt", "mount")
        owned.append(mntns)
        return _run_helper(plans, mntns, userns_fds)
    except SyscallError as e:
        raise InitError(STEP, _message(e), e.errno or errno.EIO, e.spec_path) from None
    finally:
        for fd in owned:
            os.close(fd)


def _message(e: SyscallError) -> str:
    """The message of `e` as `sync.error_fields` words it (the init's own errors look the same)."""
    return str(sync.error_fields(e, STEP)["message"])


def _run_helper(plans: list[_Plan], mntns: int, userns_fds: dict[object, int]) -> dict[int, int]:
    psock, csock = sync.socketpair()
    parent_pid = os.getpid()
    for f in (sys.stdout, sys.stderr):
        f.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child: always ends in os._exit
        try:
            psock.close()
            _helper(plans, mntns, userns_fds, csock, parent_pid)
            os._exit(0)
        except BaseException as e:
            sync.send_error(csock, e, STEP)
        finally:
            os._exit(255)
    csock.close()
    trees: dict[int, int] = {}
    try:
        while len(trees) < len(plans):
            try:
                kind, fields, fd = sync.recv(psock)
            except sync.SyncEOF:
                raise InitError(STEP, "the mount source helper exited before it sent every mount") from None
            if kind is Msg.ERROR:
                if fd is not None:
                    os.close(fd)
                raise sync.init_error(fields)
            if kind is not Msg.MOUNT_FD or fd is None:
                if fd is not None:
                    os.close(fd)
                raise InitError("sync", f"mount source helper sent {kind.value}")
            trees[int(fields["index"])] = fd
        return trees
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise
    finally:
        psock.close()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _helper(plans: list[_Plan], mntns: int, userns_fds: dict[object, int], sock: "socket.socket",
            parent_pid: int) -> None:  # pragma: no cover - runs in the helper process
    """In the helper: join the init's mount namespace, make and send each tree."""
    # Nothing may ptrace a process of the host's root that sits in the container's mount namespace, and it must
    # not outlive the parent (CVE-2016-9962).
    prctl.set_dumpable(False)
    prctl.set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)
    # Only what it needs into the container's mount namespace (not the parent's state, cgroup or sync fds).
    proc.close_fds_except({sock.fileno(), mntns, *userns_fds.values()})
    ns.setns(mntns, ns.CLONE_NEWNS, path="the container's mount namespace")
    for p in plans:
        tree = -1
        try:
            src = os.open(p.source, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            raise step_error(p.what, SyscallError("open mount source", e.errno or errno.EIO, path=p.source),
                             p.mnt.spec_path) from None
        try:
            flags = lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH
            if p.recursive:
                flags |= lm.AT_RECURSIVE
            tree = lm.open_tree(src, "", flags, what=p.source)
            if p.idmapped:
                idmap.set_idmap(tree, userns_fds[p.userns], recursive=p.ridmap, what=p.source)
            sync.send(sock, Msg.MOUNT_FD, fd=tree, index=p.mnt.index)
        except SyscallError as e:
            raise step_error(p.what, e, p.mnt.spec_path) from None
        finally:
            if tree >= 0:
                os.close(tree)
            os.close(src)
