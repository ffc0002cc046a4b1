"""Id-mapped bind mounts: `idmap`/`ridmap` options and `mounts[].uidMappings`/`gidMappings`.

An id-mapped mount is a detached clone of the source (open_tree OPEN_TREE_CLONE) given MOUNT_ATTR_IDMAP with a
user namespace fd that carries the mappings, then attached like any bind mount. The user namespace is made by
a short-lived child (unshare(CLONE_NEWUSER)) whose uid_map/gid_map we write, and whose /proc/<pid>/ns/user we
keep open.

The kernel allows MOUNT_ATTR_IDMAP only to a caller privileged over the source file system's user namespace
(the host's, for host file systems): so this works in the init only when the container has no user namespace
of its own. For user-namespaced containers the runtime makes the tree on the host side (`hostmounts`) and hands
the fd to the init, as runc does with its mount-fd requests.
"""

import errno
import os
import sys

from pyrunc.errors import SyscallError
from pyrunc.linux import mount as lm
from pyrunc.linux.ns import CLONE_NEWUSER, unshare
from pyrunc.spec.model import IDMapping


def _map_text(maps: tuple[IDMapping, ...]) -> bytes:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps).encode()


def userns_fd(uid_maps: tuple[IDMapping, ...], gid_maps: tuple[IDMapping, ...]) -> int:
    """An fd of a new user namespace with these mappings (a child holds it while the maps are written)."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: never returns
        code = 1
        try:
            os.close(ready_r)
            os.close(hold_w)
            unshare(CLONE_NEWUSER)
            # Our pid as the mounted /proc numbers it: the init runs in its own pid namespace, the host's /proc
            # does not (os.fork()'s return value would name another process there).
            os.write(ready_w, os.readlink("/proc/self").encode())
            os.read(hold_r, 1)  # parent closes hold_w once it has the namespace fd
            code = 0
        except BaseException:  # the parent reads no pid and reports the failure
            code = 1
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(hold_r)
    try:
        proc_pid = os.read(ready_r, 32).decode()
        if not proc_pid.isdigit():
            raise SyscallError("unshare", errno.EPERM, detail="could not create a user namespace for an idmap")
        for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
            path = f"/proc/{proc_pid}/{name}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, _map_text(maps))
                finally:
                    os.close(fd)
            except OSError as e:
                raise SyscallError("write", e.errno or errno.EIO, path=path,
                                   detail=_map_text(maps).decode().strip().replace("\n", ", ")) from None
        try:
            return os.open(f"/proc/{proc_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise SyscallError("open", e.errno or errno.EIO, path=f"/proc/{proc_pid}/ns/user") from None
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)


def apply(tree: int, uid_maps: tuple[IDMapping, ...], gid_maps: tuple[IDMapping, ...], *, recursive: bool,
          what: str) -> None:
    """Give the detached mount `tree` (and its submounts if `recursive`) an id mapping."""
    if not uid_maps or not gid_maps:
        raise SyscallError("idmap", errno.EINVAL, path=what,
                           detail="an id-mapped mount needs both uidMappings and gidMappings")
    ns = userns_fd(uid_maps, gid_maps)
    try:
        set_idmap(tree, ns, recursive=recursive, what=what)
    finally:
        os.close(ns)


def set_idmap(tree: int, ns_fd: int, *, recursive: bool, what: str) -> None:
    """MOUNT_ATTR_IDMAP with the user namespace open at `ns_fd` on the detached mount `tree` (`ridmap`: and on
    every mount under it)."""
    flags = lm.AT_EMPTY_PATH | (lm.AT_RECURSIVE if recursive else 0)
    try:
        lm.mount_setattr(tree, "", flags, attr_set=lm.MOUNT_ATTR_IDMAP, userns_fd=ns_fd, what=what)
    except SyscallError as e:
        if e.errno == errno.EINVAL:
            # The usual cause: a file system (or, with ridmap, a submount) this kernel cannot id-map.
            hint = "does the file system support id-mapped mounts?"
            e.detail = f"{e.detail}; {hint}" if e.detail else hint
        raise


def idmapped_tree(source: str, uid_maps: tuple[IDMapping, ...], gid_maps: tuple[IDMapping, ...], *,
                  recursive: bool) -> int:
    """A detached, id-mapped clone of `source` (for the host side of a user-namespaced container)."""
    src = os.open(source, os.O_PATH | os.O_CLOEXEC)
    try:
        flags = lm.OPEN_TREE_CLONE | lm.OPEN_TREE_CLOEXEC | lm.AT_EMPTY_PATH | (lm.AT_RECURSIVE if recursive else 0)
        tree = lm.open_tree(src, "", flags, what=source)
    finally:
        os.close(src)
    try:
        apply(tree, uid_maps, gid_maps, recursive=recursive, what=source)
    except BaseException:
        os.close(tree)
        raise
    return tree
