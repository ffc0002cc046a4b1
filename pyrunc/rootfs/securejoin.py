"""Resolve and create paths inside a rootfs through file descriptors, never leaving it.

Every container path is resolved relative to an O_PATH fd of the rootfs, as if that fd were "/": `..` at the
top stays at the top, and an absolute symlink restarts at the rootfs, not at the host's "/". Mountpoints are
created with mkdirat/openat(O_CREAT|O_EXCL|O_NOFOLLOW) relative to directory fds that were themselves resolved
that way, so no path string is ever re-walked after it was checked.

- CVE-2021-30465: a mount target swapped for a symlink between "check" and mount(2) -- we mount on an fd.
- CVE-2024-45310: os.MkdirAll re-walking a path string created directories on the host -- we mkdirat on fds.
- CVE-2025-52881 / CVE-2019-19921: symlinks into /proc or out of the rootfs -- resolution stays in the root and
  the result's real path is checked by the caller.
- CVE-2026-41579: a /dev symlink to a host directory -- /dev is resolved in the root like everything else.

The kernel does the resolution with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). Without openat2 a
per-component walk with O_NOFOLLOW does the same in Python: symlink targets are read and resolved by us, and `..`
pops a stack of fds already opened rather than looking up "..", so a directory moved away cannot take us out.
"""

import errno
import os
import posixpath
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs

MAXSYMLINKS = 40  # the kernel's limit (ELOOP)

# Tests set this to False to exercise the fallback walk on a kernel that has openat2.
use_openat2: bool | None = None


def clean(path: str) -> str:
    """Lexically clean an absolute container path: "/a/../b//c/" -> "/b/c"; `..` never goes above "/"."""
    return "/" + posixpath.normpath("/" + path.lstrip("/")).lstrip("/")


def components(path: str) -> list[str]:
    return [c for c in clean(path).split("/") if c]


def _want_openat2() -> bool:
    if use_openat2 is not None:
        return use_openat2
    return linuxfs.openat2_available()


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, *, nofollow: bool = False) -> int:
    """Open `path` resolved inside the root open at `root_fd`; returns a new close-on-exec fd.

    Symlinks are followed, but only inside the root (an absolute target restarts at the root, `..` cannot climb
    above it), magic links (/proc/self/fd/N, /proc/self/root) are refused. With `nofollow` a final symlink is not
    followed (with O_PATH the fd then refers to the symlink itself). Raises SyscallError (ENOENT, ENOTDIR, ...).
    """
    comps = components(path)
    if nofollow:
        flags |= os.O_NOFOLLOW
    if _want_openat2():
        rel = "/".join(comps) or "."
        return linuxfs.openat2(root_fd, rel, flags | os.O_CLOEXEC, 0,
                               linuxfs.RESOLVE_IN_ROOT | linuxfs.RESOLVE_NO_MAGICLINKS, what="/" + "/".join(comps))
    return _walk(root_fd, comps, flags | os.O_CLOEXEC, nofollow)


def _follow_link(fd: int, links: int, stack: list[int], names: list[str], todo: list[str], shown: str) -> int:
    """One symlink met by a component walk (`fd`: its O_PATH fd, closed here): its target's components go in front
    of what is left to walk (`todo` is a stack), an absolute target first goes back to the root (stack[0]), never
    to the host's "/". Returns the links followed so far; more than MAXSYMLINKS is ELOOP, as for the kernel.
    `stack` holds the directory fds walked (-1: one that does not exist yet), `names` their names."""
    try:
        target = os.readlink("", dir_fd=fd)
    finally:
        os.close(fd)
    links += 1
    if links > MAXSYMLINKS:
        raise SyscallError("openat", errno.ELOOP, path=shown)
    if target.startswith("/"):
        while len(stack) > 1:
            old = stack.pop()
            names.pop()
            if old >= 0:
                os.close(old)
    todo.extend(reversed([c for c in target.split("/") if c]))
    return links


def _walk(root_fd: int, comps: list[str], flags: int, nofollow: bool) -> int:
    """The fallback resolver: RESOLVE_IN_ROOT semantics with openat(O_PATH|O_NOFOLLOW) per component."""
    shown = "/" + "/".join(comps)
    stack = [os.open(".", linuxfs.O_PATH_DIR, dir_fd=root_fd)]
    names = [""]
    todo = comps[::-1]  # a stack: the next component is last
    links = 0
    try:
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                # Pop what we opened: the walk never asks the file system for "..", so a directory renamed
                # out of the root meanwhile cannot take the walk with it.
                if len(stack) > 1:
                    os.close(stack.pop())
                    names.pop()
                continue
            last = not todo
            try:
                fd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except OSError as e:
                raise SyscallError("openat", e.errno or errno.EIO, path=shown) from None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and not (last and nofollow):
                links = _follow_link(fd, links, stack, names, todo, shown)
                continue
            if not last and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise SyscallError("openat", errno.ENOTDIR, path=shown)
            stack.append(fd)
            names.append(comp)
        return _reopen(stack, names, flags, shown)
    finally:
        for fd in stack:
            if fd >= 0:
                os.close(fd)


def _reopen(stack: list[int], names: list[str], flags: int, shown: str) -> int:
    """Turn the O_PATH fd at the top of the walk into an fd opened with `flags` (taking it off the stack)."""
    access = flags & ~(os.O_CLOEXEC | os.O_NOFOLLOW | os.O_DIRECTORY)
    if access == os.O_PATH:
        fd = stack.pop()
        if flags & os.O_DIRECTORY and not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise SyscallError("openat", errno.ENOTDIR, path=shown)
        stack.append(-1)
        return fd
    try:
        if len(stack) == 1 or stat.S_ISDIR(os.fstat(stack[-1]).st_mode):
            return os.open(".", flags, dir_fd=stack[-1])
        # A non-directory: open its name in the parent we hold, still refusing a symlink swapped in.
        return os.open(names[-1], flags | os.O_NOFOLLOW, dir_fd=stack[-2])
    except OSError as e:
        raise SyscallError("openat", e.errno or errno.EIO, path=shown) from None


def resolve_missing(root_fd: int, path: str) -> str:
    """The clean container path that `path` names once every symlink in it is followed inside the root, dangling
    ones included, with each missing component taken to be a directory still to be made.

    `/etc/hosts -> /run/hosts` (or `-> ../run/hosts`) with no /run/hosts yet gives "/run/hosts": the mountpoint is
    then created there, inside the root, as runc does for the /etc/hosts, /etc/resolv.conf and /etc/hostname
    symlinks of images that Docker binds files onto. An absolute target restarts at the root and `..` never climbs
    above it, so a link to the host's /etc or to ../../../etc stays in the rootfs.

    The answer is a *name*: the caller creates it with mkdir_all/create_file, which resolve it again in the root
    and make missing components with mkdirat/O_NOFOLLOW on directory fds, and then checks the real path of the fd
    it got (CVE-2021-30465, CVE-2024-45310). A link swapped in meanwhile can only move the mountpoint inside the
    root, where that check sees it.
    """
    comps = components(path)
    shown = "/" + "/".join(comps)
    stack = [os.open(".", linuxfs.O_PATH_DIR, dir_fd=root_fd)]  # -1: a directory that does not exist yet
    names = [""]
    todo = comps[::-1]  # a stack: the next component is last (a symlink's are pushed in front of the rest)
    links = 0
    try:
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if len(stack) > 1:
                    fd = stack.pop()
                    names.pop()
                    if fd >= 0:
                        os.close(fd)
                continue
            if stack[-1] < 0:
                stack.append(-1)  # nothing exists below a missing directory
                names.append(comp)
                continue
            try:
                fd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                stack.append(-1)
                names.append(comp)
                continue
            except OSError as e:
                raise SyscallError("openat", e.errno or errno.EIO, path=shown) from None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                links = _follow_link(fd, links, stack, names, todo, shown)
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise SyscallError("openat", errno.ENOTDIR, path=shown)
            stack.append(fd)
            names.append(comp)
        return "/" + "/".join(names[1:])
    finally:
        for fd in stack:
            if fd >= 0:
                os.close(fd)


def mkdir_all(root_fd: int, path: str, mode: int = 0o755) -> int:
    """Create `path` and missing parents inside the root; returns an O_PATH fd of the directory.

    The longest existing prefix is resolved in the root; each missing component is then made with mkdirat on
    the fd of its parent and opened with O_NOFOLLOW (a symlink appearing there meanwhile fails with ENOTDIR,
    nothing is created through it: CVE-2024-45310).
    """
    comps = components(path)
    shown = "/" + "/".join(comps)
    fd, i = _longest_prefix(root_fd, comps)
    try:
        for comp in comps[i:]:
            try:
                os.mkdir(comp, mode, dir_fd=fd)
            except FileExistsError:
                pass  # made by someone else meanwhile: opened below with O_NOFOLLOW, so a symlink is refused
            except OSError as e:
                raise SyscallError("mkdirat", e.errno or errno.EIO, path=shown) from None
            try:
                nfd = os.open(comp, linuxfs.O_PATH_DIR | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                raise SyscallError("openat", e.errno or errno.EIO, path=shown,
                                   detail="not a directory or a symlink") from None
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _longest_prefix(root_fd: int, comps: list[str]) -> tuple[int, int]:
    """(O_PATH dir fd, n) for the longest prefix comps[:n] that exists."""
    for n in range(len(comps), -1, -1):
        try:
            return open_in_root(root_fd, "/".join(comps[:n]), os.O_PATH | os.O_DIRECTORY), n
        except SyscallError as e:
            if e.errno != errno.ENOENT:
                raise
    raise SyscallError("openat", errno.ENOENT, path="/", detail="rootfs vanished")


def open_parent(root_fd: int, path: str, *, mode: int = 0o755) -> tuple[int, str]:
    """(O_PATH fd of the parent directory, created if missing; final component name) of `path` in the root."""
    comps = components(path)
    if not comps:
        raise SyscallError("openat", errno.EINVAL, path="/", detail="path is the root itself")
    return mkdir_all(root_fd, "/".join(comps[:-1]), mode), comps[-1]


def create_file(root_fd: int, path: str, mode: int = 0o644) -> int:
    """Create an empty regular file at `path` (parents too); returns its O_PATH fd.

    O_CREAT|O_EXCL|O_NOFOLLOW relative to the parent fd: an existing symlink there is never followed
    (CVE-2024-45310; and the /dev/console variant of CVE-2025-52565). An existing non-symlink is reused.
    """
    dfd, name = open_parent(root_fd, path)
    try:
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC, mode,
                         dir_fd=dfd)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as e:
            raise SyscallError("openat", e.errno or errno.EIO, path=clean(path), detail="O_CREAT|O_EXCL") from None
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        except OSError as e:
            raise SyscallError("openat", e.errno or errno.EIO, path=clean(path)) from None
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            os.close(fd)
            raise SyscallError("openat", errno.ELOOP, path=clean(path), detail="is a symlink")
        return fd
    finally:
        os.close(dfd)


def symlink(target: str, root_fd: int, path: str) -> None:
    """symlinkat(target, parent fd, name) for a link at `path` in the root. EEXIST is the caller's to handle."""
    dfd, name = open_parent(root_fd, path)
    try:
        os.symlink(target, name, dir_fd=dfd)
    except FileExistsError:
        raise
    except OSError as e:
        raise SyscallError("symlinkat", e.errno or errno.EIO, path=clean(path), detail=f"-> {target}") from None
    finally:
        os.close(dfd)


def unlink(root_fd: int, path: str) -> None:
    """unlinkat(parent fd, name): removes the entry itself (a symlink, not its target). ENOENT is ignored."""
    dfd, name = open_parent(root_fd, path)
    try:
        os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise SyscallError("unlinkat", e.errno or errno.EIO, path=clean(path)) from None
    finally:
        os.close(dfd)


def real_path_in_root(fd: int, rootfs: str) -> str | None:
    """The container path ("/x/y") of an fd under `rootfs` (a real host path), or None if it is not under it.

    Reads /proc/self/fd/N, so only call it while /proc is the host's procfs (before pivot_root).
    """
    real = linuxfs.fd_path(fd)
    if real == rootfs:
        return "/"
    if real.startswith(rootfs.rstrip("/") + "/"):
        return real[len(rootfs.rstrip("/")):]
    return None
