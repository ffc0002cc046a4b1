"""Implements `linux.uidMappings` / `linux.gidMappings`: written by the parent for the intermediate's new user ns.

The parent writes them (not the child) because writing a map with more than the writer's own id needs
CAP_SETUID/CAP_SETGID in the *parent* user namespace, which the child, inside its new namespace, does not have.
`/proc/<pid>/setgroups` is set to "deny" only when the parent is not root: an unprivileged writer may map its gid
only after denying setgroups(2) (user_namespaces(7)); as root we keep setgroups allowed so the container can use
`process.user.additionalGids`.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.spec.model import IDMapping


def format_map(mappings: tuple[IDMapping, ...]) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


def _write(path: str, data: str, spec_path: str | None) -> None:
    # The kernel takes a map in exactly one write(2).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.EIO, path=path, spec_path=spec_path) from None
    try:
        os.write(fd, data.encode())
    except OSError as e:
        raise SyscallError("write", e.errno or errno.EIO, path=path, detail=data.strip().replace("\n", ", "),
                           spec_path=spec_path) from None
    finally:
        os.close(fd)


def write_mappings(pid: int, uid_maps: tuple[IDMapping, ...], gid_maps: tuple[IDMapping, ...],
                   *, deny_setgroups: bool | None = None) -> None:
    """setgroups (if denying), then uid_map, then gid_map of process `pid`."""
    if deny_setgroups is None:
        deny_setgroups = os.geteuid() != 0
    if deny_setgroups:
        _write(f"/proc/{pid}/setgroups", "deny", None)
    if uid_maps:
        _write(f"/proc/{pid}/uid_map", format_map(uid_maps), "/linux/uidMappings")
    if gid_maps:
        _write(f"/proc/{pid}/gid_map", format_map(gid_maps), "/linux/gidMappings")
