"""What kind of namespace a file is: for checking `linux.namespaces[].path` before anything is created.

The spec says the runtime MUST generate an error if `path` is not associated with a namespace of type `type`. We
look before opening: only a regular file on nsfs (the filesystem of /proc/<pid>/ns/* and of their bind mounts, such
as /var/run/netns/NAME) is opened, so a path naming a fifo or a device cannot block us or trigger a driver's open.
The type then comes from ioctl(NS_GET_NSTYPE) (Linux 4.11), which returns the namespace's CLONE_NEW* flag.
"""

import errno
import fcntl
import os
import stat

NS_GET_NSTYPE = 0xB703

# CLONE_NEW* flag -> OCI `linux.namespaces[].type`.
TYPE_OF_FLAG: dict[int, str] = {
    0x00020000: "mount",
    0x02000000: "cgroup",
    0x04000000: "uts",
    0x08000000: "ipc",
    0x10000000: "user",
    0x20000000: "pid",
    0x40000000: "network",
    0x00000080: "time",
}


class NotANamespace(Exception):
    """The path exists but is no namespace file; `str()` says what it is instead."""


def _nsfs_dev() -> int | None:
    try:
        return os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return None


def namespace_type(path: str) -> str | None:
    """The OCI namespace type of the file at `path` ("network", "pid", ...).

    Raises OSError if the path cannot be looked up (ENOENT, EACCES, ...), NotANamespace if it is not a namespace
    file. Returns None when the kernel cannot tell the type (no NS_GET_NSTYPE): the file is on nsfs, but setns(2)
    will have to check the type.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise NotANamespace(kind)
    nsfs = _nsfs_dev()
    if nsfs is not None and st.st_dev != nsfs:
        raise NotANamespace("not a namespace file (not on nsfs)")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EINVAL):
            if nsfs is None:
                raise NotANamespace("not a namespace file") from None
            return None
        raise
    finally:
        os.close(fd)
    kind = TYPE_OF_FLAG.get(flag)
    if kind is None:
        raise NotANamespace(f"a namespace of unknown type {flag:#x}")
    return kind
