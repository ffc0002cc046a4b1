"""cgroup v1 (legacy hierarchies): one `apply_<controller>(dir, resources)` per controller, and the manager.

Each v1 controller is its own hierarchy (or shares one with others, e.g. `cpu,cpuacct`); the container gets the
same cgroup path in every mounted hierarchy, named ones (`name=systemd`) included, as runc's fs driver does and as
containerd's shim expects when it reads metrics from /proc/<pid>/cgroup. The writers follow runc's `fs` package:
which file each spec field goes to, which values mean "not set", and the orderings the kernel's cross-checks need.
"""

import errno
import os
import time
from _signal import SIGKILL

from pyrunc.cgroups import dirs, files, knobs
from pyrunc.cgroups.knobs import BLKIO, CPU, MEMORY, RES, given
from pyrunc.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from pyrunc.cgroups.manager import OomWatcher
    from pyrunc.spec.model import Resources

LIMIT = "memory.limit_in_bytes"
MEMSW = "memory.memsw.limit_in_bytes"


# ------------------------------------------------------------------------------------------------ writers


def apply_cpuset(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.cpu.cpus` / `.mems` (cpuset.cpus, cpuset.mems)."""
    assert r.cpu is not None
    prefix = "cpuset." if files.exists(dir, "cpuset.cpus") or not files.exists(dir, "cpus") else ""  # noprefix mount
    if r.cpu.cpus:
        files.write(dir, prefix + "cpus", r.cpu.cpus, spec_path=f"{CPU}/cpus")
    if r.cpu.mems:
        files.write(dir, prefix + "mems", r.cpu.mems, spec_path=f"{CPU}/mems")


def _write_memory_limit(dir: str, limit: int) -> None:
    try:
        files.write(dir, LIMIT, str(limit), spec_path=f"{MEMORY}/limit")
    except CgroupError as e:
        if e.errno != errno.EBUSY:
            raise
        # EBUSY: the kernel could not reclaim down to the new limit (runc gives the same explanation)
        usage = files.read_uint(dir, "memory.usage_in_bytes", 0)
        peak = files.read_uint(dir, "memory.max_usage_in_bytes", 0)
        raise CgroupError(f"cannot set memory limit {limit}: below the current usage {usage} (peak {peak})",
                          path=e.path, value=str(limit), spec_path=e.spec_path, err=e.errno) from None


def apply_memory(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.memory`: limit, swap (memory+swap, memsw), reservation, swappiness, OOM killer."""
    m = r.memory
    assert m is not None
    limit, swap = m.limit or 0, m.swap or 0
    if limit == -1 and swap == 0 and files.exists(dir, MEMSW):
        swap = -1  # unlimited memory with swap unset means unlimited swap too (runc)

    def set_limit() -> None:
        if limit:
            _write_memory_limit(dir, limit)

    def set_swap() -> None:
        if swap:
            files.write(dir, MEMSW, str(swap), spec_path=f"{MEMORY}/swap")

    # The kernel keeps memsw >= limit at every step: raise memsw first when the new memsw is above the current
    # limit, lower the limit first otherwise.
    if limit and swap and (swap == -1 or files.read_uint(dir, LIMIT) < swap):
        set_swap()
        set_limit()
    else:
        set_limit()
        set_swap()
    if given(m.reservation):
        files.write(dir, "memory.soft_limit_in_bytes", str(m.reservation), spec_path=f"{MEMORY}/reservation")
    if m.disable_oom_killer:
        files.write(dir, "memory.oom_control", "1", spec_path=f"{MEMORY}/disableOOMKiller")
    if m.swappiness is not None and m.swappiness != -1:
        if not 0 <= m.swappiness <= 100:
            raise CgroupError(f"invalid memory swappiness value: {m.swappiness} (valid range is 0-100)",
                              spec_path=f"{MEMORY}/swappiness")
        files.write(dir, "memory.swappiness", str(m.swappiness), spec_path=f"{MEMORY}/swappiness")


def _apply_rt(dir: str, r: "Resources") -> None:
    """cpu.rt_period_us / cpu.rt_runtime_us: inter-dependent, so a rejected period is retried after the runtime."""
    c = r.cpu
    assert c is not None
    pending = None
    if given(c.realtime_period):
        try:
            files.write(dir, "cpu.rt_period_us", str(c.realtime_period), spec_path=f"{CPU}/realtimePeriod")
        except CgroupError as e:
            if e.errno != errno.EINVAL or not given(c.realtime_runtime):
                raise
            pending = str(c.realtime_period)
    if given(c.realtime_runtime):
        files.write(dir, "cpu.rt_runtime_us", str(c.realtime_runtime), spec_path=f"{CPU}/realtimeRuntime")
        if pending:
            files.write(dir, "cpu.rt_period_us", pending, spec_path=f"{CPU}/realtimePeriod")


def apply_cpu(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.cpu`: shares, CFS quota/period/burst, idle, realtime runtime/period."""
    c = r.cpu
    assert c is not None
    if given(c.shares):
        files.write(dir, "cpu.shares", str(c.shares), spec_path=f"{CPU}/shares")
        got = files.read_uint(dir, "cpu.shares")
        if got != c.shares:  # the kernel clamps silently; runc reports it
            bound = "maximum" if c.shares > got else "minimum"
            raise CgroupError(f"the {bound} allowed cpu-shares is {got}", path=os.path.join(dir, "cpu.shares"),
                              value=str(c.shares), spec_path=f"{CPU}/shares")
    # A period or burst the kernel rejects (EINVAL: old quota vs new period/burst exceeds the parent's) is
    # retried after the quota is written, when a quota is being set too (runc).
    pending: list[tuple[str, str, str]] = []
    if given(c.period):
        try:
            files.write(dir, "cpu.cfs_period_us", str(c.period), spec_path=f"{CPU}/period")
        except CgroupError as e:
            if e.errno != errno.EINVAL or not given(c.quota):
                raise
            pending.append(("cpu.cfs_period_us", str(c.period), f"{CPU}/period"))
    if c.burst is not None:
        try:
            files.write(dir, "cpu.cfs_burst_us", str(c.burst), spec_path=f"{CPU}/burst")
        except CgroupError as e:
            if e.errno == errno.ENOENT:
                knobs.warn("cpu.burst ignored: this kernel has no cpu.cfs_burst_us")
            elif e.errno != errno.EINVAL or not given(c.quota):
                raise
            else:
                pending.append(("cpu.cfs_burst_us", str(c.burst), f"{CPU}/burst"))
    if given(c.quota):
        files.write(dir, "cpu.cfs_quota_us", str(c.quota), spec_path=f"{CPU}/quota")
        for name, value, sp in pending:
            files.write(dir, name, value, spec_path=sp)
    if c.idle is not None:
        files.write(dir, "cpu.idle", str(c.idle), spec_path=f"{CPU}/idle")
    _apply_rt(dir, r)


def apply_pids(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.pids.limit` (pids.max): negative is "max"; 0 is a real limit, written as 1
    (knobs.pids_max)."""
    assert r.pids is not None and r.pids.limit is not None
    files.write(dir, "pids.max", knobs.pids_max(r.pids.limit), spec_path=f"{RES}/pids/limit")


def apply_blkio(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.blockIO` (blkio.weight or, with BFQ, blkio.bfq.weight; throttle files)."""
    b = r.block_io
    assert b is not None
    if files.exists(dir, "blkio.weight"):
        weight_file, device_file = "blkio.weight", "blkio.weight_device"
    else:
        weight_file, device_file = "blkio.bfq.weight", "blkio.bfq.weight_device"
    if given(b.weight):
        files.write(dir, weight_file, str(b.weight), spec_path=f"{BLKIO}/weight")
    if given(b.leaf_weight):
        files.write(dir, "blkio.leaf_weight", str(b.leaf_weight), spec_path=f"{BLKIO}/leafWeight")
    for i, wd in enumerate(b.weight_device):
        sp = f"{BLKIO}/weightDevice/{i}"
        if given(wd.weight):
            files.write(dir, device_file, f"{wd.major}:{wd.minor} {wd.weight}", spec_path=f"{sp}/weight")
        if given(wd.leaf_weight):
            files.write(dir, "blkio.leaf_weight_device", f"{wd.major}:{wd.minor} {wd.leaf_weight}",
                        spec_path=f"{sp}/leafWeight")
    for field, name, devs in (
        ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.throttle_read_bps_device),
        ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.throttle_write_bps_device),
        ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.throttle_read_iops_device),
        ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.throttle_write_iops_device),
    ):
        for i, td in enumerate(devs):
            files.write(dir, name, f"{td.major}:{td.minor} {td.rate}", spec_path=f"{BLKIO}/{field}/{i}")


def apply_hugetlb(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.hugepageLimits` (limit and, where the kernel has it, the reservation limit)."""
    rsvd = True
    for i, h in enumerate(r.hugepage_limits):
        sp = f"{RES}/hugepageLimits/{i}"
        files.write(dir, f"hugetlb.{h.page_size}.limit_in_bytes", str(h.limit), spec_path=sp)
        if rsvd:
            try:
                files.write(dir, f"hugetlb.{h.page_size}.rsvd.limit_in_bytes", str(h.limit), spec_path=sp)
            except CgroupError as e:
                if e.errno != errno.ENOENT:
                    raise
                rsvd = False


def apply_net_cls(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.network.classID`."""
    assert r.network is not None
    files.write(dir, "net_cls.classid", str(r.network.class_id), spec_path=f"{knobs.NETWORK}/classID")


def apply_net_prio(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.network.priorities` (net_prio.ifpriomap, one interface per write)."""
    assert r.network is not None
    for i, p in enumerate(r.network.priorities):
        files.write(dir, "net_prio.ifpriomap", f"{p.name} {p.priority}", spec_path=f"{knobs.NETWORK}/priorities/{i}")


def rdma_line(device: str, hca_handles: int | None, hca_objects: int | None) -> str:
    parts = [device]
    if hca_handles is not None:
        parts.append(f"hca_handle={hca_handles}")
    if hca_objects is not None:
        parts.append(f"hca_object={hca_objects}")
    return " ".join(parts)


def apply_rdma(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.rdma` (rdma.max)."""
    for dev, lim in r.rdma.items():
        files.write(dir, "rdma.max", rdma_line(dev, lim.hca_handles, lim.hca_objects), spec_path=f"{RES}/rdma/{dev}")


def apply_devices(dir: str, r: "Resources", device_paths: "Iterable[str]" = ()) -> None:
    """Implements `linux.resources.devices` with the v1 devices controller.

    The cgroup is first reset to deny-all ("a" to devices.deny) or allow-all, then gets its exceptions. This
    happens at create, before the container's process runs anything; `update` never rewrites device rules.
    """
    from pyrunc.cgroups.devices import DeviceSet, rules_for

    target = DeviceSet.from_rules(rules_for(r.devices, device_paths))
    sp = f"{RES}/devices"
    if target.default_allow:
        files.write(dir, "devices.allow", "a", spec_path=sp)
        for rule in target.exception_rules():
            files.write(dir, "devices.deny", rule.cgroup_string(), spec_path=sp)
    else:
        files.write(dir, "devices.deny", "a", spec_path=sp)
        for rule in target.exception_rules():
            files.write(dir, "devices.allow", rule.cgroup_string(), spec_path=sp)


# (controller, is it asked for?, writer) in runc's order. Devices are handled apart: always set.
WRITERS: "tuple[tuple[str, Callable[[Resources], bool], Callable[[str, Resources], None]], ...]" = (
    ("cpuset", knobs.wants_cpuset, apply_cpuset),
    ("memory", knobs.wants_memory, apply_memory),
    ("cpu", knobs.wants_cpu, apply_cpu),
    ("pids", knobs.wants_pids, apply_pids),
    ("blkio", knobs.wants_blkio, apply_blkio),
    ("hugetlb", knobs.wants_hugetlb, apply_hugetlb),
    ("net_cls", knobs.wants_net_cls, apply_net_cls),
    ("net_prio", knobs.wants_net_prio, apply_net_prio),
    ("rdma", knobs.wants_rdma, apply_rdma),
)


def copy_cpuset_from_parent(dir: str, parent: str) -> None:
    """A new v1 cpuset cgroup starts with empty cpus/mems, and no task can join it until they are set: copy the
    parent's (runc cpusetEnsureParent/cpusetCopyIfNeeded)."""
    prefix = "cpuset." if files.exists(parent, "cpuset.cpus") else ""
    for name in ("cpus", "mems"):
        if not files.read(dir, prefix + name).strip():
            files.write(dir, prefix + name, files.read(parent, prefix + name).strip())


def fill_cpuset_chain(dir: str, top: str) -> None:
    """Top-down, give every cpuset cgroup between the hierarchy root and `dir` cpus/mems if it has none.

    Ancestors that already existed matter too: a parent made by someone else (a pod cgroup created with a plain
    mkdir) starts empty, and copying its empty cpus/mems down would leave the container's cgroup unjoinable
    (ENOSPC on cgroup.procs). runc's cpusetEnsureParent walks the same chain.
    """
    cur = top
    for comp in os.path.relpath(dir, top).split(os.sep):
        parent, cur = cur, os.path.join(cur, comp)
        copy_cpuset_from_parent(cur, parent)


# ------------------------------------------------------------------------------------------------ manager


class V1Manager:
    """A container's cgroup in every v1 hierarchy. `dirs` maps each controller (and named hierarchy) to its cgroup
    directory; `mounts` maps it to the hierarchy's mount point."""

    mode = "v1"

    def __init__(self, dirs: dict[str, str], mounts: dict[str, str], *, rootless: bool = False) -> None:
        self._dirs = dict(dirs)
        self._mounts = dict(mounts)
        self.rootless = rootless
        self.made: list[str] = []  # directories create() made, parents included (for a failed create's clean-up)

    # -- placement

    def _unique(self) -> list[tuple[str, str]]:
        """(cgroup dir, mount point) once per hierarchy (co-mounted controllers share a directory)."""
        seen: dict[str, str] = {}
        for key, d in self._dirs.items():
            seen.setdefault(d, self._mounts[key])
        return list(seen.items())

    def paths(self) -> dict[str, str]:
        return dict(self._dirs)

    def exists(self) -> bool:
        d = self._dirs.get("devices") or next(iter(self._dirs.values()), None)
        return d is not None and os.path.isdir(d)

    def create(self) -> None:
        # Checked in every hierarchy, not only where `devices` lives: a cgroup can pre-exist in some hierarchies
        # only (e.g. just the freezer one, frozen by someone else). A frozen one would freeze our init as soon as
        # it joins, and the runtime would then wait for it forever.
        n = len(self.pids())  # a missing directory counts as empty
        if n:
            raise CgroupError(f"container's cgroup is not empty: {n} process(es) found",
                              path=self._dirs.get("devices"), spec_path="/linux/cgroupsPath")
        if self.is_frozen():  # False when the freezer directory does not exist yet
            raise CgroupError("container's cgroup unexpectedly frozen", path=self._dirs.get("freezer"),
                              spec_path="/linux/cgroupsPath")
        created: list[str] = []
        cpuset = self._dirs.get("cpuset")
        try:
            for d, top in self._unique():
                created += dirs.make_dirs(d, top, on_new=copy_cpuset_from_parent if d == cpuset else None)
            if cpuset:
                fill_cpuset_chain(cpuset, self._mounts["cpuset"])
        except BaseException:
            dirs.remove_dirs(created)
            raise
        self.made = created

    def placement(self) -> tuple[list[str], str | None]:
        """How a new process can join by itself: (v1 directories, joined by writing "0" to their `tasks` from the
        process, cgroup v2 directory to fork into with CLONE_INTO_CGROUP or None). See pyrunc.linux.clone."""
        return [d for d, _ in V1Manager._unique(self)], None

    def apply(self, pid: int, already: frozenset[str] = frozenset()) -> None:
        for d, _ in self._unique():
            if d not in already:  # the process joined these itself (placement)
                files.write(d, "cgroup.procs", str(pid))

    # -- limits

    def _fallback(self, controller: str) -> "Callable[[Resources], None] | None":
        """Where to set a controller this host has no v1 hierarchy for (the hybrid manager uses cgroup2)."""
        return None

    def _write_limits(self, r: "Resources") -> None:
        knobs.warn_kernel_memory(r)
        if r.unified:
            raise CgroupError("invalid configuration: cannot use unified on cgroup v1", spec_path=f"{RES}/unified")
        for controller, wanted, writer in WRITERS:
            if not wanted(r):
                continue
            d = self._dirs.get(controller)
            if d is not None:
                writer(d, r)
                continue
            fallback = self._fallback(controller)
            if fallback is None:
                raise CgroupError(f"cannot set {controller} limits: the {controller} cgroup controller is not "
                                  "available on this host", spec_path=knobs.spec_path_of(controller))
            fallback(r)

    def set(self, resources: "Resources", *, device_paths: "Iterable[str]" = ()) -> None:
        d = self._dirs.get("devices")
        if d is None:  # fatal, as in runc: a container without device control could open any host device
            raise CgroupError("the devices cgroup controller is not mounted: refusing to run without device control",
                              spec_path=f"{RES}/devices")
        apply_devices(d, resources, device_paths)
        self._write_limits(resources)

    def update(self, resources: "Resources") -> None:
        self._write_limits(resources)

    # -- processes

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d, _ in self._unique():
            found.update(files.read_pids(d))
        return sorted(found)

    def freeze(self) -> None:
        d = self._dirs.get("freezer")
        if d is None:
            raise CgroupError("cannot freeze: the freezer cgroup controller is not available on this host")
        # A v1 freeze can stay FREEZING while tasks keep forking; retry, thawing now and then (runc's numbers).
        for i in range(1000):
            if i % 50 == 49:
                files.write(d, "freezer.state", "THAWED")
                time.sleep(0.01)
            files.write(d, "freezer.state", "FROZEN")
            if i % 25 == 24:
                time.sleep(0.00001)
            state = files.read(d, "freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise CgroupError(f"unexpected freezer state {state} while freezing", path=d)
        files.write(d, "freezer.state", "THAWED")
        raise CgroupError("unable to freeze: processes kept appearing", path=os.path.join(d, "freezer.state"))

    def thaw(self) -> None:
        d = self._dirs.get("freezer")
        if d is None:
            raise CgroupError("cannot thaw: the freezer cgroup controller is not available on this host")
        files.write(d, "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        """Frozen by itself (not merely through a frozen ancestor)."""
        d = self._dirs.get("freezer")
        if d is None:
            return False
        for _ in range(1000):
            state = (files.read_opt(d, "freezer.state") or "").strip()
            if state != "FREEZING":
                break
            time.sleep(0.001)
        if state != "FROZEN":
            return False
        return (files.read_opt(d, "freezer.self_freezing") or "1").strip() == "1"

    def kill_all(self, sig: int) -> None:
        """Freeze, signal every pid, restore: no task can fork a new one between listing and signalling."""
        can_freeze = "freezer" in self._dirs and self.exists()
        was_frozen = can_freeze and self.is_frozen()
        if can_freeze and not was_frozen:
            try:
                self.freeze()
            except CgroupError:
                can_freeze = False
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        # Frozen tasks do not act on a signal until thawed: thaw unless it was paused and the signal is not a kill.
        if can_freeze and (not was_frozen or sig == SIGKILL):
            self.thaw()

    def destroy(self) -> None:
        if self.pids():
            self.kill_all(SIGKILL)
            if not dirs.wait_until(lambda: not self.pids(), 10.0):
                raise CgroupError(f"cannot remove cgroup: {len(self.pids())} process(es) still in it after SIGKILL",
                                  path=self._dirs.get("devices"))
        for d, _ in self._unique():
            dirs.remove_tree(d)

    # -- reporting

    def stats(self) -> "dict[str, Any]":
        from pyrunc.cgroups import v1_stats

        return v1_stats.collect(self._dirs)

    def oom_watcher(self) -> "OomWatcher":
        from pyrunc.cgroups.oom import EventfdOomWatcher

        d = self._dirs.get("memory")
        if d is None:
            raise CgroupError("cannot watch for OOM events: the memory cgroup controller is not available")
        return EventfdOomWatcher(d)

    def to_state(self) -> "dict[str, Any]":
        return {"mode": self.mode, "dirs": self._dirs, "mounts": self._mounts, "rootless": self.rootless}

    @classmethod
    def from_state(cls, d: "dict[str, Any]") -> "V1Manager":
        return cls(d["dirs"], d["mounts"], rootless=bool(d.get("rootless")))
