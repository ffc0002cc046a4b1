"""Hybrid hosts: v1 hierarchies for the controllers plus a cgroup2 mount (systemd's hybrid layout).

The container is placed in every v1 hierarchy and in the cgroup2 one too (runc's fs driver joins it as the ""
subsystem), so the cgroup2 directory sees exactly the container's processes. Limits go to the v1 controllers;
a controller this host has no v1 hierarchy for but offers on cgroup2 (here: hugetlb) is set through the v2
writer on the cgroup2 directory, after enabling it in the ancestors' subtree_control. Everything else (freezer,
device rules, OOM events, stats) is v1's.
"""

from pyrunc.cgroups import v2
from pyrunc.cgroups.v1 import V1Manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyrunc.spec.model import Resources

V1_TO_V2 = {"cpuset": "cpuset", "memory": "memory", "cpu": "cpu", "pids": "pids", "blkio": "io",
            "hugetlb": "hugetlb", "rdma": "rdma"}


class HybridManager(V1Manager):
    mode = "hybrid"

    def __init__(self, dirs: dict[str, str], mounts: dict[str, str], unified_dir: str, unified_mount: str, *,
                 rootless: bool = False) -> None:
        super().__init__(dirs, mounts, rootless=rootless)
        self.unified = v2.V2Manager(unified_dir, unified_mount, rootless=rootless)

    def _unique(self) -> list[tuple[str, str]]:
        return [*super()._unique(), (self.unified.dir, self.unified.mountpoint)]

    def placement(self) -> tuple[list[str], str | None]:
        return super().placement()[0], self.unified.dir

    def paths(self) -> dict[str, str]:
        return {**super().paths(), "": self.unified.dir}

    def _fallback(self, controller: str) -> "Callable[[Resources], None] | None":
        name = V1_TO_V2.get(controller)
        if name is None or name not in v2.available_controllers(self.unified.mountpoint):
            return None
        writer = dict((c, w) for c, _, w in v2.WRITERS)[name]

        def apply(r: "Resources") -> None:
            self.unified.enable([name])
            writer(self.unified.dir, r)

        return apply

    def stats(self) -> "dict[str, Any]":
        s = super().stats()
        if "hugetlb" not in self._dirs:
            from pyrunc.cgroups import v2_stats

            s["hugetlb"] = v2_stats.hugetlb_stats(self.unified.dir)
        return s

    def to_state(self) -> "dict[str, Any]":
        return {**super().to_state(), "unified": self.unified.dir, "unified_mount": self.unified.mountpoint}

    @classmethod
    def from_state(cls, d: "dict[str, Any]") -> "HybridManager":
        return cls(d["dirs"], d["mounts"], d["unified"], d["unified_mount"], rootless=bool(d.get("rootless")))
