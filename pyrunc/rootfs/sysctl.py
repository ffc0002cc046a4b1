"""`linux.sysctl`: written to /proc/sys/<key with dots as slashes> after pivot_root.

CVE-2025-52881 (and CVE-2019-16884 before it): a mount over /proc, or over a file under it, redirected the
runtime's writes (a sysctl value written into /proc/sysrq-trigger or core_pattern, say). So the container's
/proc must be the root of a procfs (inode 1, PROC_SUPER_MAGIC), the key is resolved beneath it with no symlink
and without crossing any mount (RESOLVE_NO_XDEV), and the opened file must still be on procfs.
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.rootfs.failure import step_error
from pyrunc.rootfs.procfs import open_beneath, open_root
from pyrunc.spec.model import Spec


def pointer(key: str) -> str:
    """JSON pointer of a `linux.sysctl` entry (RFC 6901 escaping)."""
    return "/linux/sysctl/" + key.replace("~", "~0").replace("/", "~1")


def key_path(key: str) -> str:
    """"net.ipv4.ip_forward" -> "sys/net/ipv4/ip_forward" (relative to /proc)."""
    parts = key.replace(".", "/").split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise SyscallError("sysctl", errno.EINVAL, path=key, detail="not a sysctl name", spec_path=pointer(key))
    return "sys/" + "/".join(parts)


def apply_sysctl(spec: Spec) -> None:
    """Implements `linux.sysctl`. Call after pivot_root and before `linux.readonlyPaths` makes /proc/sys ro."""
    if not spec.linux.sysctl:
        return
    try:
        proc = open_root("sysctl")
    except SyscallError as e:
        raise step_error("set sysctls", e, "/linux/sysctl") from None
    try:
        for key, value in spec.linux.sysctl.items():
            rel = key_path(key)
            try:
                fd = open_beneath(proc, rel)
                try:
                    st = os.fstat(fd)
                    if not stat.S_ISREG(st.st_mode) or linuxfs.fstatfs_type(fd) != linuxfs.PROC_SUPER_MAGIC:
                        raise SyscallError("open", errno.EPERM, path="/proc/" + rel,
                                           detail="not a procfs file (CVE-2025-52881)")
                    try:
                        os.write(fd, value.encode())
                    except OSError as e:
                        raise SyscallError("write", e.errno or errno.EIO, path="/proc/" + rel,
                                           detail=f"value {value!r}") from None
                finally:
                    os.close(fd)
            except SyscallError as e:
                detail = "no such sysctl in /proc/sys" if e.errno == errno.ENOENT else None
                raise step_error(f"set sysctl {key}={value}", e, pointer(key), detail) from None
    finally:
        os.close(proc)
