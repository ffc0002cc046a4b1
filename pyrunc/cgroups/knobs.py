"""Which controllers a `linux.resources` asks for, with runc's "0 means not set" rule, and the config pointers.

runc converts the spec's pointers into plain numbers, so for most knobs a 0 means "leave it alone" (docker sends
`"shares": 0, "quota": 0` in every `update`). The exceptions, where 0 is a real value, follow runc too:
`pids.limit` (0 is a limit), `cpu.burst` and `cpu.idle` (kept as pointers), hugepage, throttle and rdma limits.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

    from pyrunc.spec.model import Resources

RES = "/linux/resources"
MEMORY = f"{RES}/memory"
CPU = f"{RES}/cpu"
BLKIO = f"{RES}/blockIO"
NETWORK = f"{RES}/network"


def given(v: int | None) -> "TypeGuard[int]":
    """A knob runc treats as set: present and non-zero."""
    return v is not None and v != 0


def wants_memory(r: "Resources") -> bool:
    m = r.memory
    return m is not None and (
        given(m.limit) or given(m.reservation) or given(m.swap) or bool(m.disable_oom_killer)
        or (m.swappiness is not None and m.swappiness != -1)
    )


def wants_cpu(r: "Resources") -> bool:
    c = r.cpu
    return c is not None and (
        given(c.shares) or given(c.quota) or given(c.period) or c.burst is not None or c.idle is not None
        or given(c.realtime_runtime) or given(c.realtime_period)
    )


def wants_cpuset(r: "Resources") -> bool:
    return r.cpu is not None and bool(r.cpu.cpus or r.cpu.mems)


def wants_pids(r: "Resources") -> bool:
    return r.pids is not None and r.pids.limit is not None


def pids_max(limit: int) -> str:
    """The pids.max value for `pids.limit`: "max" for a negative limit (runtime-spec: -1 is no limit), the number
    otherwise, except 0, written as 1, as runc does (systemd refuses TasksMax=0, and runc keeps its cgroupfs and
    systemd drivers alike). With the container's init as the only task, both refuse every new process; the limit
    is written once the init exists (`pyrunc.runtime.container`), or no init could be forked."""
    if limit < 0:
        return "max"
    return str(limit) if limit > 0 else "1"


def wants_blkio(r: "Resources") -> bool:
    b = r.block_io
    return b is not None and (
        given(b.weight) or given(b.leaf_weight) or bool(b.weight_device) or bool(b.throttle_read_bps_device)
        or bool(b.throttle_write_bps_device) or bool(b.throttle_read_iops_device) or bool(b.throttle_write_iops_device)
    )


def wants_hugetlb(r: "Resources") -> bool:
    return bool(r.hugepage_limits)


def wants_net_cls(r: "Resources") -> bool:
    return r.network is not None and given(r.network.class_id)


def wants_net_prio(r: "Resources") -> bool:
    return r.network is not None and bool(r.network.priorities)


def wants_rdma(r: "Resources") -> bool:
    return bool(r.rdma)


def warn_kernel_memory(r: "Resources") -> None:
    """`memory.kernel`/`kernelTCP` are deprecated in the spec and gone from the kernel: ignored with runc's warning."""
    if r.memory is not None and (r.memory.kernel is not None or r.memory.kernel_tcp is not None):
        warn("Kernel memory settings are ignored and will be removed")


def spec_path_of(controller: str) -> str:
    """The config pointer behind a controller, for "controller not available" errors."""
    return {
        "memory": MEMORY, "cpu": CPU, "cpuset": CPU, "pids": f"{RES}/pids", "blkio": BLKIO, "io": BLKIO,
        "hugetlb": f"{RES}/hugepageLimits", "net_cls": f"{NETWORK}/classID", "net_prio": f"{NETWORK}/priorities",
        "rdma": f"{RES}/rdma", "devices": f"{RES}/devices", "unified": f"{RES}/unified",
    }.get(controller, RES)


def warn(message: str) -> None:
    """A warning on the runtime's log."""
    from pyrunc.log import get_logger

    get_logger("pyrunc.cgroups").warning(message)
