"""What every rootfs step needs to know: the rootfs fd and real path, and a few facts about the namespaces."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyrunc.spec.model import IDMapping


@dataclass
class RootContext:
    """The rootfs being prepared (before pivot_root), held by an O_PATH fd everything is resolved against."""

    fd: int                              # O_PATH fd of the rootfs, opened after it was bind-mounted onto itself
    path: str                            # its real path in our mount namespace (from /proc/self/fd)
    bundle: str = ""                     # relative bind-mount sources are relative to the bundle (runc)
    userns: bool = False                 # in a user namespace: no mknod, devices are bind-mounted
    cgroupns: bool = False               # the container has its own cgroup namespace
    cgroup_paths: dict[str, str] | None = None  # controller -> own cgroup path (None: from /proc/self/cgroup)
    uid_mappings: tuple[IDMapping, ...] = ()     # the container's (`linux.uidMappings`): default for idmap mounts
    gid_mappings: tuple[IDMapping, ...] = ()
    mount_fds: dict[int, int] = field(default_factory=dict)  # mount index -> detached tree made host-side
