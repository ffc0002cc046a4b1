"""What every rootfs step needs to know: the rootfs fd and real path, and a few facts about the namespaces."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from pyrunc.spec.model import IDMapping

    class MountTrees(Protocol):
        """Mount index -> detached tree made host-side (a dict, or the init's trees fetched on first use)."""

        def get(self, index: int) -> int | None: ...
        def __contains__(self, index: object) -> bool: ...


class RootContext:
    """The rootfs being prepared (before pivot_root), held by an O_PATH fd everything is resolved against."""

    __slots__ = ("bundle", "cgroup_paths", "cgroupns", "fd", "gid_mappings", "mount_fds", "mount_label", "path",
                 "uid_mappings", "userns")

    def __init__(self, fd: int, path: str, bundle: str = "", userns: bool = False, cgroupns: bool = False,
                 cgroup_paths: dict[str, str] | None = None, uid_mappings: "tuple[IDMapping, ...]" = (),
                 gid_mappings: "tuple[IDMapping, ...]" = (), mount_fds: "MountTrees | None" = None,
                 mount_label: str | None = None) -> None:
        self.fd = fd                      # O_PATH fd of the rootfs, opened after it was bind-mounted onto itself
        self.path = path                  # its real path in our mount namespace (from /proc/self/fd)
        self.bundle = bundle              # relative bind-mount sources are relative to the bundle (runc)
        self.userns = userns              # in a user namespace: no mknod, devices are bind-mounted
        self.cgroupns = cgroupns          # the container has its own cgroup namespace
        self.cgroup_paths = cgroup_paths  # controller -> own cgroup path (None: from /proc/self/cgroup)
        self.uid_mappings = uid_mappings  # the container's (`linux.uidMappings`): default for idmap mounts
        self.gid_mappings = gid_mappings
        self.mount_fds = {} if mount_fds is None else mount_fds  # mount index -> detached tree made host-side
        self.mount_label = mount_label    # `linux.mountLabel` where SELinux is enabled, else None
