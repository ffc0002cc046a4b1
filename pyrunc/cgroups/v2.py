"""cgroup v2 (unified hierarchy): one `apply_<controller>(dir, resources)` per controller, and the manager.

The spec's resources were designed for v1; the conversions are runc's (fs2): cpu shares -> cpu.weight, blkio
weight -> io.weight (or io.bfq.weight as is), and memory.swap, which in the spec is memory+swap, becomes
`memory.swap.max = swap - limit`. Knobs v2 does not have (swappiness, OOM-killer switch, realtime, leaf weights,
net_cls/net_prio) are ignored with a warning, as runc ignores them. Devices are an eBPF program (`devices_bpf`).
"""

import errno
import math
import os
from _signal import SIGKILL

from pyrunc.cgroups import dirs, files, knobs
from pyrunc.cgroups.knobs import BLKIO, CPU, MEMORY, RES, given
from pyrunc.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from pyrunc.cgroups.manager import OomWatcher
    from pyrunc.spec.model import Resources


# ------------------------------------------------------------------------------------------------ conversions


def cpu_weight(shares: int) -> int:
    """cpu.shares [2..262144] (default 1024) -> cpu.weight [1..10000] (default 100), runc's quadratic fit in log2."""
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    lg = math.log2(shares)
    return math.ceil(10 ** ((lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0))


def io_weight(blkio_weight: int) -> int:
    """blkio.weight [10..1000] -> io.weight [1..10000], linearly (runc ConvertBlkIOToIOWeightValue)."""
    return 1 + (blkio_weight - 10) * 9999 // 990


def swap_max(swap: int, limit: int) -> int:
    """The spec's memory+swap limit -> memory.swap.max (runc ConvertMemorySwapToCgroupV2Value). 0 = leave, -1 = max."""
    if limit == -1 and swap == 0:
        return -1  # unlimited memory, swap unset: unlimited swap too, as v1 does
    if swap in (-1, 0) or limit == -1:
        return swap
    if limit == 0:
        raise CgroupError("unable to set swap limit without memory limit", spec_path=f"{MEMORY}/swap")
    if limit < 0:
        raise CgroupError(f"invalid memory value: {limit}", spec_path=f"{MEMORY}/limit")
    if swap < limit:
        raise CgroupError("memory+swap limit should be >= memory limit", value=str(swap), spec_path=f"{MEMORY}/swap")
    return swap - limit


def _num(v: int) -> str:
    """v2 limit syntax: -1 is "max"."""
    return "max" if v == -1 else str(v)


# ------------------------------------------------------------------------------------------------ writers


def apply_pids(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.pids.limit` (pids.max): negative is "max"; 0 is a real limit, written as 1
    (knobs.pids_max)."""
    assert r.pids is not None and r.pids.limit is not None
    files.write(dir, "pids.max", knobs.pids_max(r.pids.limit), spec_path=f"{RES}/pids/limit")


def apply_memory(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.memory`: memory.max, memory.swap.max (converted), memory.low, checkBeforeUpdate."""
    m = r.memory
    assert m is not None
    limit, swap, low = m.limit or 0, m.swap or 0, m.reservation or 0
    if m.swappiness is not None and m.swappiness != -1:
        knobs.warn("memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness")
    if m.disable_oom_killer:
        knobs.warn("memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer")
    if not (limit or swap or low):
        return
    if m.check_before_update and (limit > 0 or swap > 0):
        usage = files.read_uint(dir, "memory.current", 0)
        for value, field in ((swap, "swap"), (limit, "limit")):
            if 0 < value <= usage:
                raise CgroupError(f"rejecting memory {'+swap ' if field == 'swap' else ''}limit {value} <= usage "
                                  f"{usage}", path=os.path.join(dir, "memory.current"), spec_path=f"{MEMORY}/{field}")
    converted = swap_max(swap, limit)
    text = _num(converted) if converted else ("0" if swap > 0 else "")  # swap == limit: no swap at all
    if text:
        try:
            files.write(dir, "memory.swap.max", text, spec_path=f"{MEMORY}/swap")
        except CgroupError as e:
            # no swap accounting in this kernel: "max" and "0" are what it does anyway
            if not (e.errno == errno.ENOENT and text in ("max", "0")):
                raise
    if limit:
        files.write(dir, "memory.max", _num(limit), spec_path=f"{MEMORY}/limit")
    if low:
        files.write(dir, "memory.low", _num(low), spec_path=f"{MEMORY}/reservation")


def apply_io(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.blockIO`: weights via io.bfq.weight (or io.weight, converted), io.max throttles."""
    b = r.block_io
    assert b is not None
    if given(b.leaf_weight) or any(given(wd.leaf_weight) for wd in b.weight_device):
        knobs.warn("blockIO leafWeight ignored: cgroup v2 has no leaf weights")
    bfq = files.read_opt(dir, "io.bfq.weight")
    if given(b.weight):
        if bfq is not None:
            files.write(dir, "io.bfq.weight", str(b.weight), spec_path=f"{BLKIO}/weight")
        else:
            files.write(dir, "io.weight", str(io_weight(b.weight)), spec_path=f"{BLKIO}/weight")
    # io.bfq.weight takes "major:minor weight" since 5.4; older kernels show a bare number there
    per_device = bfq is not None and not bfq.strip().isdigit()
    for i, wd in enumerate(b.weight_device):
        if not given(wd.weight):
            continue
        if not per_device:
            knobs.warn("blockIO.weightDevice ignored: needs the BFQ scheduler with per-device weights")
            break
        files.write(dir, "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}",
                    spec_path=f"{BLKIO}/weightDevice/{i}/weight")
    for field, key, devs in (
        ("throttleReadBpsDevice", "rbps", b.throttle_read_bps_device),
        ("throttleWriteBpsDevice", "wbps", b.throttle_write_bps_device),
        ("throttleReadIOPSDevice", "riops", b.throttle_read_iops_device),
        ("throttleWriteIOPSDevice", "wiops", b.throttle_write_iops_device),
    ):
        for i, td in enumerate(devs):
            files.write(dir, "io.max", f"{td.major}:{td.minor} {key}={td.rate}", spec_path=f"{BLKIO}/{field}/{i}")


def _cpu_max(dir: str) -> tuple[str, str]:
    parts = (files.read_opt(dir, "cpu.max") or "max 100000").split()
    return (parts[0], parts[1]) if len(parts) == 2 else ("max", "100000")


def apply_cpu(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.cpu`: cpu.weight (from shares), cpu.max (quota period), cpu.max.burst, cpu.idle."""
    c = r.cpu
    assert c is not None
    if given(c.realtime_runtime) or given(c.realtime_period):
        knobs.warn("cpu.realtimeRuntime/realtimePeriod ignored: cgroup v2 has no realtime bandwidth control")
    if c.idle is not None:
        files.write(dir, "cpu.idle", str(c.idle), spec_path=f"{CPU}/idle")
    if given(c.shares):
        files.write(dir, "cpu.weight", str(cpu_weight(c.shares)), spec_path=f"{CPU}/shares")
    pending_burst = None
    if c.burst is not None:
        try:
            files.write(dir, "cpu.max.burst", str(c.burst), spec_path=f"{CPU}/burst")
        except CgroupError as e:
            if e.errno != errno.EINVAL or not given(c.quota):
                raise
            pending_burst = str(c.burst)  # above the current quota: retry once the new quota is in
    if given(c.quota) or given(c.period):
        # cpu.max holds both; the one not given keeps its current value (runc keeps it from the saved config)
        cur_quota, cur_period = _cpu_max(dir)
        quota = (str(c.quota) if c.quota > 0 else "max") if given(c.quota) else cur_quota
        period = str(c.period) if given(c.period) else cur_period
        sp = f"{CPU}/quota" if given(c.quota) else f"{CPU}/period"
        files.write(dir, "cpu.max", f"{quota} {period}", spec_path=sp)
        if pending_burst is not None:
            files.write(dir, "cpu.max.burst", pending_burst, spec_path=f"{CPU}/burst")


def apply_cpuset(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.cpu.cpus` / `.mems`."""
    assert r.cpu is not None
    if r.cpu.cpus:
        files.write(dir, "cpuset.cpus", r.cpu.cpus, spec_path=f"{CPU}/cpus")
    if r.cpu.mems:
        files.write(dir, "cpuset.mems", r.cpu.mems, spec_path=f"{CPU}/mems")


def apply_hugetlb(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.hugepageLimits` (hugetlb.<size>.max and .rsvd.max)."""
    rsvd = True
    for i, h in enumerate(r.hugepage_limits):
        sp = f"{RES}/hugepageLimits/{i}"
        files.write(dir, f"hugetlb.{h.page_size}.max", str(h.limit), spec_path=sp)
        if rsvd:
            try:
                files.write(dir, f"hugetlb.{h.page_size}.rsvd.max", str(h.limit), spec_path=sp)
            except CgroupError as e:
                if e.errno != errno.ENOENT:
                    raise
                rsvd = False


def apply_rdma(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.rdma` (rdma.max)."""
    from pyrunc.cgroups.v1 import rdma_line

    for dev, lim in r.rdma.items():
        files.write(dir, "rdma.max", rdma_line(dev, lim.hca_handles, lim.hca_objects), spec_path=f"{RES}/rdma/{dev}")


def apply_unified(dir: str, r: "Resources") -> None:
    """Implements `linux.resources.unified`: raw `<file>: <value>` pairs, one write per line of the value."""
    for key, value in r.unified.items():
        sp = f"{RES}/unified/{key}"
        if "/" in key or key in ("", ".", ".."):
            raise CgroupError(f"unified resource {key!r} must be a file name (no slashes)", spec_path=sp)
        controller, dot, _ = key.partition(".")
        if not dot:
            raise CgroupError(f"unified resource {key!r} must be in the form CONTROLLER.PARAMETER", spec_path=sp)
        try:
            for line in value.split("\n"):
                if line:
                    files.write(dir, key, line, spec_path=sp)
        except CgroupError as e:
            if e.errno in (errno.ENOENT, errno.EPERM) and controller != "cgroup" and \
                    controller not in available_controllers(dir):
                raise CgroupError(f"unified resource {key!r} can't be set: controller {controller!r} not available",
                                  path=e.path, value=e.value, spec_path=sp, err=e.errno) from None
            raise


def apply_devices(dir: str, r: "Resources", device_paths: "Iterable[str]" = ()) -> None:
    """Implements `linux.resources.devices` with an eBPF device program attached to the cgroup."""
    from pyrunc.cgroups import devices_bpf
    from pyrunc.cgroups.devices import DeviceSet, rules_for

    target = DeviceSet.from_rules(rules_for(r.devices, device_paths))
    devices_bpf.attach_program(dir, devices_bpf.build_program(target), spec_path=f"{RES}/devices")


def warn_v1_only(r: "Resources") -> None:
    if knobs.wants_net_cls(r) or knobs.wants_net_prio(r):
        knobs.warn("network.classID/priorities ignored: cgroup v2 has no net_cls/net_prio controllers")


# (v2 controller, is it asked for?, writer) in runc fs2's order.
WRITERS = (
    ("pids", knobs.wants_pids, apply_pids),
    ("memory", knobs.wants_memory, apply_memory),
    ("io", knobs.wants_blkio, apply_io),
    ("cpu", knobs.wants_cpu, apply_cpu),
    ("cpuset", knobs.wants_cpuset, apply_cpuset),
    ("hugetlb", knobs.wants_hugetlb, apply_hugetlb),
    ("rdma", knobs.wants_rdma, apply_rdma),
)


def available_controllers(dir: str) -> set[str]:
    return set((files.read_opt(dir, "cgroup.controllers") or "").split())


# ------------------------------------------------------------------------------------------------ manager


class V2Manager:
    """A container's cgroup in the unified hierarchy mounted at `mountpoint`."""

    mode = "v2"

    def __init__(self, dir: str, mountpoint: str, *, rootless: bool = False) -> None:
        self.dir = dir
        self.mountpoint = mountpoint
        self.rootless = rootless
        self.made: list[str] = []  # directories create() made, parents included (see V1Manager)

    def paths(self) -> dict[str, str]:
        return {"": self.dir}

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def _ancestors(self) -> list[str]:
        """The mount point and every cgroup between it and ours (whose subtree_control gates our controllers)."""
        out, d = [], os.path.dirname(self.dir)
        while d.startswith(self.mountpoint) and len(d) >= len(self.mountpoint):
            out.append(d)
            if d == self.mountpoint:
                break
            d = os.path.dirname(d)
        return out[::-1]

    def enable(self, controllers: "Iterable[str]") -> None:
        """Enable controllers for our cgroup: "+c" in the subtree_control of every ancestor, top-down."""
        wanted = sorted(controllers)
        for d in self._ancestors():
            have = set((files.read_opt(d, "cgroup.subtree_control") or "").split())
            for c in wanted:
                if c not in have:
                    files.write(d, "cgroup.subtree_control", f"+{c}", spec_path=knobs.spec_path_of(c))

    def create(self, *, enable_all: bool = True) -> None:
        """mkdir the cgroup; with `enable_all` (pure v2, as runc) enable every controller the root offers on the
        way down. Failing to enable one is not fatal here: `set` reports it if a limit needs that controller."""
        if self.exists():
            n = len(self.pids())
            if n:
                raise CgroupError(f"container's cgroup is not empty: {n} process(es) found", path=self.dir,
                                  spec_path="/linux/cgroupsPath")
            if self.is_frozen():
                raise CgroupError("container's cgroup unexpectedly frozen", path=self.dir,
                                  spec_path="/linux/cgroupsPath")
        created = dirs.make_dirs(self.dir, self.mountpoint)
        self.made = created
        if not enable_all:
            return
        try:
            for c in sorted(available_controllers(self.mountpoint)):
                try:
                    self.enable([c])
                except CgroupError:
                    pass
        except BaseException:
            dirs.remove_dirs(created)
            raise

    def placement(self) -> tuple[list[str], str | None]:
        """See V1Manager.placement: a v2 cgroup is joined by forking into it."""
        return [], self.dir

    def apply(self, pid: int, already: frozenset[str] = frozenset()) -> None:
        if self.dir not in already:  # not already born there (CLONE_INTO_CGROUP)
            files.write(self.dir, "cgroup.procs", str(pid))

    def _write_limits(self, r: "Resources") -> None:
        knobs.warn_kernel_memory(r)
        warn_v1_only(r)
        have = None
        for controller, wanted, writer in WRITERS:
            if not wanted(r):
                continue
            if have is None:
                have = available_controllers(self.dir)
            if controller not in have:
                raise CgroupError(f"cannot set {controller} limits: the cgroup v2 controller {controller!r} is not "
                                  f"enabled for this cgroup (available: {' '.join(sorted(have)) or 'none'})",
                                  path=os.path.join(self.dir, "cgroup.controllers"),
                                  spec_path=knobs.spec_path_of(controller))
            writer(self.dir, r)

    def set(self, resources: "Resources", *, device_paths: "Iterable[str]" = ()) -> None:
        self._write_limits(resources)
        apply_devices(self.dir, resources, device_paths)
        if resources.unified:
            apply_unified(self.dir, resources)

    def update(self, resources: "Resources") -> None:
        self._write_limits(resources)
        if resources.unified:
            apply_unified(self.dir, resources)

    # -- processes

    def pids(self) -> list[int]:
        return sorted(set(files.read_pids(self.dir)))

    def freeze(self) -> None:
        files.write(self.dir, "cgroup.freeze", "1")
        if not dirs.wait_until(lambda: files.read_keyed(self.dir, "cgroup.events").get("frozen") == 1, 10.0):
            files.write(self.dir, "cgroup.freeze", "0")
            raise CgroupError("timed out waiting for the cgroup to freeze",
                              path=os.path.join(self.dir, "cgroup.events"))

    def thaw(self) -> None:
        files.write(self.dir, "cgroup.freeze", "0")

    def is_frozen(self) -> bool:
        return (files.read_opt(self.dir, "cgroup.freeze") or "0").strip() == "1"

    def kill_all(self, sig: int) -> None:
        """SIGKILL: cgroup.kill (atomic, kernel >= 5.14). Other signals: freeze, signal each pid, restore."""
        if sig == SIGKILL and files.exists(self.dir, "cgroup.kill"):
            files.write(self.dir, "cgroup.kill", "1")
            return
        can_freeze = files.exists(self.dir, "cgroup.freeze")
        was_frozen = can_freeze and self.is_frozen()
        if can_freeze and not was_frozen:
            self.freeze()
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        if can_freeze and (not was_frozen or sig == SIGKILL):
            self.thaw()

    def destroy(self) -> None:
        if self.pids():
            self.kill_all(SIGKILL)
            if not dirs.wait_until(lambda: not self.pids(), 10.0):
                raise CgroupError(f"cannot remove cgroup: {len(self.pids())} process(es) still in it after SIGKILL",
                                  path=self.dir)
        dirs.remove_tree(self.dir)

    # -- reporting

    def stats(self) -> "dict[str, Any]":
        from pyrunc.cgroups import v2_stats

        return v2_stats.collect(self.dir)

    def oom_watcher(self) -> "OomWatcher":
        from pyrunc.cgroups.oom import PollOomWatcher

        return PollOomWatcher(self.dir)

    def to_state(self) -> "dict[str, Any]":
        return {"mode": self.mode, "dir": self.dir, "mountpoint": self.mountpoint, "rootless": self.rootless}

    @classmethod
    def from_state(cls, d: "dict[str, Any]") -> "V2Manager":
        return cls(d["dir"], d["mountpoint"], rootless=bool(d.get("rootless")))
