"""`linux.sysctl`: written to /proc/sys/<key with dots as slashes> after pivot_root.

Each value goes through pyrunc.rootfs.procfs (CVE-2025-52881: a mount over /proc, or over a file under it, redirected
the runtime's writes, e.g. a sysctl value into /proc/sysrq-trigger): /proc must be a real procfs root, the key is
resolved beneath it without symlinks or mount crossings, and the file opened must be on procfs.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.rootfs.failure import step_error
from pyrunc.rootfs.procfs import open_root, write_file
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
                write_file(proc, rel, value)
            except SyscallError as e:
                detail = "no such sysctl in /proc/sys" if e.errno == errno.ENOENT else None
                raise step_error(f"set sysctl {key}={value}", e, pointer(key), detail) from None
    finally:
        os.close(proc)
