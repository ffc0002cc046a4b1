"""Typed, immutable view of an OCI runtime-spec v1.3.0 config (Linux).

OCI camelCase becomes snake_case here, exactly once. Absent fields are `None` (or an empty tuple/dict for lists and
maps), so code elsewhere never indexes raw dicts. `from_dict` assumes the document already passed schema validation
(`pyrunc.spec.schema`); it does not re-check types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Raw = Mapping[str, Any]


def _tuple_of(cls: Any, items: Any) -> tuple[Any, ...]:
    return tuple(cls.from_dict(i) for i in (items or ()))


def _opt(cls: Any, raw: Any) -> Any:
    return None if raw is None else cls.from_dict(raw)


# --------------------------------------------------------------------------------------------- process


@dataclass(frozen=True, slots=True)
class ConsoleSize:
    """`process.consoleSize`."""

    height: int
    width: int

    @classmethod
    def from_dict(cls, d: Raw) -> ConsoleSize:
        return cls(height=d["height"], width=d["width"])


@dataclass(frozen=True, slots=True)
class Rlimit:
    """One entry of `process.rlimits`."""

    type: str
    soft: int
    hard: int

    @classmethod
    def from_dict(cls, d: Raw) -> Rlimit:
        return cls(type=d["type"], soft=d["soft"], hard=d["hard"])


@dataclass(frozen=True, slots=True)
class Capabilities:
    """`process.capabilities`: five sets of names like `CAP_KILL`. `None` means the set is absent (empty)."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Raw) -> Capabilities:
        return cls(
            bounding=tuple(d.get("bounding") or ()),
            effective=tuple(d.get("effective") or ()),
            inheritable=tuple(d.get("inheritable") or ()),
            permitted=tuple(d.get("permitted") or ()),
            ambient=tuple(d.get("ambient") or ()),
        )


@dataclass(frozen=True, slots=True)
class User:
    """`process.user`."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> User:
        return cls(
            uid=d.get("uid", 0),
            gid=d.get("gid", 0),
            umask=d.get("umask"),
            additional_gids=tuple(d.get("additionalGids") or ()),
            username=d.get("username"),
        )


@dataclass(frozen=True, slots=True)
class Scheduler:
    """`process.scheduler` (sched_setattr)."""

    policy: str
    nice: int = 0
    priority: int = 0
    flags: tuple[str, ...] = ()
    runtime: int = 0
    deadline: int = 0
    period: int = 0

    @classmethod
    def from_dict(cls, d: Raw) -> Scheduler:
        return cls(
            policy=d["policy"],
            nice=d.get("nice", 0),
            priority=d.get("priority", 0),
            flags=tuple(d.get("flags") or ()),
            runtime=d.get("runtime", 0),
            deadline=d.get("deadline", 0),
            period=d.get("period", 0),
        )


@dataclass(frozen=True, slots=True)
class IOPriority:
    """`process.ioPriority`."""

    klass: str
    priority: int = 0

    @classmethod
    def from_dict(cls, d: Raw) -> IOPriority:
        return cls(klass=d["class"], priority=d.get("priority", 0))


@dataclass(frozen=True, slots=True)
class ExecCPUAffinity:
    """`process.execCPUAffinity` (cpu lists like "0-3,7")."""

    initial: str | None = None
    final: str | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> ExecCPUAffinity:
        return cls(initial=d.get("initial"), final=d.get("final"))


@dataclass(frozen=True, slots=True)
class Process:
    """`process`: also the shape of `exec --process FILE`."""

    args: tuple[str, ...]
    cwd: str = "/"
    env: tuple[str, ...] = ()
    terminal: bool = False
    console_size: ConsoleSize | None = None
    command_line: str | None = None
    user: User = field(default_factory=User)
    rlimits: tuple[Rlimit, ...] = ()
    capabilities: Capabilities | None = None
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    apparmor_profile: str | None = None
    selinux_label: str | None = None
    scheduler: Scheduler | None = None
    io_priority: IOPriority | None = None
    exec_cpu_affinity: ExecCPUAffinity | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Process:
        return cls(
            args=tuple(d.get("args") or ()),
            cwd=d.get("cwd", "/"),
            env=tuple(d.get("env") or ()),
            terminal=bool(d.get("terminal", False)),
            console_size=_opt(ConsoleSize, d.get("consoleSize")),
            command_line=d.get("commandLine"),
            user=User.from_dict(d.get("user") or {}),
            rlimits=_tuple_of(Rlimit, d.get("rlimits")),
            capabilities=_opt(Capabilities, d.get("capabilities")),
            no_new_privileges=bool(d.get("noNewPrivileges", False)),
            oom_score_adj=d.get("oomScoreAdj"),
            apparmor_profile=d.get("apparmorProfile"),
            selinux_label=d.get("selinuxLabel"),
            scheduler=_opt(Scheduler, d.get("scheduler")),
            io_priority=_opt(IOPriority, d.get("ioPriority")),
            exec_cpu_affinity=_opt(ExecCPUAffinity, d.get("execCPUAffinity")),
        )


# --------------------------------------------------------------------------------------------- root, mounts, hooks


@dataclass(frozen=True, slots=True)
class Root:
    """`root`. `path` is already resolved against the bundle by `pyrunc.spec.load`."""

    path: str
    readonly: bool = False

    @classmethod
    def from_dict(cls, d: Raw) -> Root:
        return cls(path=d["path"], readonly=bool(d.get("readonly", False)))


@dataclass(frozen=True, slots=True)
class IDMapping:
    """One entry of `linux.uidMappings` / `linux.gidMappings` / `mounts[].uidMappings`."""

    container_id: int
    host_id: int
    size: int

    @classmethod
    def from_dict(cls, d: Raw) -> IDMapping:
        return cls(container_id=d["containerID"], host_id=d["hostID"], size=d["size"])


@dataclass(frozen=True, slots=True)
class Mount:
    """One entry of `mounts`. `index` is its position, for error messages (`/mounts/<index>`)."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    index: int = 0

    @property
    def spec_path(self) -> str:
        return f"/mounts/{self.index}"

    @classmethod
    def from_dict(cls, d: Raw, index: int = 0) -> Mount:
        return cls(
            destination=d["destination"],
            type=d.get("type"),
            source=d.get("source"),
            options=tuple(d.get("options") or ()),
            uid_mappings=_tuple_of(IDMapping, d.get("uidMappings")),
            gid_mappings=_tuple_of(IDMapping, d.get("gidMappings")),
            index=index,
        )


@dataclass(frozen=True, slots=True)
class Hook:
    """One entry of a `hooks.<kind>` list."""

    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Hook:
        return cls(
            path=d["path"],
            args=tuple(d.get("args") or ()),
            env=tuple(d.get("env") or ()),
            timeout=d.get("timeout"),
        )


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@dataclass(frozen=True, slots=True)
class Hooks:
    """`hooks`: the six kinds, each a tuple in config order."""

    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()

    def of(self, kind: str) -> tuple[Hook, ...]:
        """Hooks of an OCI kind name (`createRuntime`, ...)."""
        return {
            "prestart": self.prestart,
            "createRuntime": self.create_runtime,
            "createContainer": self.create_container,
            "startContainer": self.start_container,
            "poststart": self.poststart,
            "poststop": self.poststop,
        }[kind]

    @classmethod
    def from_dict(cls, d: Raw) -> Hooks:
        return cls(
            prestart=_tuple_of(Hook, d.get("prestart")),
            create_runtime=_tuple_of(Hook, d.get("createRuntime")),
            create_container=_tuple_of(Hook, d.get("createContainer")),
            start_container=_tuple_of(Hook, d.get("startContainer")),
            poststart=_tuple_of(Hook, d.get("poststart")),
            poststop=_tuple_of(Hook, d.get("poststop")),
        )


# --------------------------------------------------------------------------------------------- linux


@dataclass(frozen=True, slots=True)
class Namespace:
    """One entry of `linux.namespaces`."""

    type: str
    path: str | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Namespace:
        return cls(type=d["type"], path=d.get("path") or None)


@dataclass(frozen=True, slots=True)
class Device:
    """One entry of `linux.devices`."""

    type: str
    path: str
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Device:
        return cls(
            type=d["type"],
            path=d["path"],
            major=d.get("major"),
            minor=d.get("minor"),
            file_mode=d.get("fileMode"),
            uid=d.get("uid"),
            gid=d.get("gid"),
        )


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """One entry of `linux.resources.devices` (cgroup device allow/deny rule)."""

    allow: bool
    type: str | None = None  # a, b, c; None means all
    major: int | None = None  # None means all (*)
    minor: int | None = None
    access: str | None = None  # subset of "rwm"; None means rwm

    @classmethod
    def from_dict(cls, d: Raw) -> DeviceRule:
        return cls(allow=d["allow"], type=d.get("type"), major=d.get("major"), minor=d.get("minor"),
                   access=d.get("access"))


@dataclass(frozen=True, slots=True)
class Memory:
    """`linux.resources.memory`."""

    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Memory:
        return cls(
            limit=d.get("limit"),
            reservation=d.get("reservation"),
            swap=d.get("swap"),
            kernel=d.get("kernel"),
            kernel_tcp=d.get("kernelTCP"),
            swappiness=d.get("swappiness"),
            disable_oom_killer=d.get("disableOOMKiller"),
            use_hierarchy=d.get("useHierarchy"),
            check_before_update=d.get("checkBeforeUpdate"),
        )


@dataclass(frozen=True, slots=True)
class CPU:
    """`linux.resources.cpu`."""

    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> CPU:
        return cls(
            shares=d.get("shares"),
            quota=d.get("quota"),
            burst=d.get("burst"),
            period=d.get("period"),
            realtime_runtime=d.get("realtimeRuntime"),
            realtime_period=d.get("realtimePeriod"),
            cpus=d.get("cpus"),
            mems=d.get("mems"),
            idle=d.get("idle"),
        )


@dataclass(frozen=True, slots=True)
class Pids:
    """`linux.resources.pids`. A limit of 0 is a real limit (no new processes); -1 is unlimited."""

    limit: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Pids:
        return cls(limit=d.get("limit"))


@dataclass(frozen=True, slots=True)
class WeightDevice:
    """`linux.resources.blockIO.weightDevice[]`."""

    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> WeightDevice:
        return cls(major=d["major"], minor=d["minor"], weight=d.get("weight"), leaf_weight=d.get("leafWeight"))


@dataclass(frozen=True, slots=True)
class ThrottleDevice:
    """`linux.resources.blockIO.throttle*Device[]`."""

    major: int
    minor: int
    rate: int

    @classmethod
    def from_dict(cls, d: Raw) -> ThrottleDevice:
        return cls(major=d["major"], minor=d["minor"], rate=d["rate"])


@dataclass(frozen=True, slots=True)
class BlockIO:
    """`linux.resources.blockIO`."""

    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    throttle_read_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_read_iops_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_iops_device: tuple[ThrottleDevice, ...] = ()

    @classmethod
    def from_dict(cls, d: Raw) -> BlockIO:
        return cls(
            weight=d.get("weight"),
            leaf_weight=d.get("leafWeight"),
            weight_device=_tuple_of(WeightDevice, d.get("weightDevice")),
            throttle_read_bps_device=_tuple_of(ThrottleDevice, d.get("throttleReadBpsDevice")),
            throttle_write_bps_device=_tuple_of(ThrottleDevice, d.get("throttleWriteBpsDevice")),
            throttle_read_iops_device=_tuple_of(ThrottleDevice, d.get("throttleReadIOPSDevice")),
            throttle_write_iops_device=_tuple_of(ThrottleDevice, d.get("throttleWriteIOPSDevice")),
        )


@dataclass(frozen=True, slots=True)
class HugepageLimit:
    """`linux.resources.hugepageLimits[]`."""

    page_size: str
    limit: int

    @classmethod
    def from_dict(cls, d: Raw) -> HugepageLimit:
        return cls(page_size=d["pageSize"], limit=d["limit"])


@dataclass(frozen=True, slots=True)
class NetPriority:
    name: str
    priority: int

    @classmethod
    def from_dict(cls, d: Raw) -> NetPriority:
        return cls(name=d["name"], priority=d["priority"])


@dataclass(frozen=True, slots=True)
class Network:
    """`linux.resources.network`."""

    class_id: int | None = None
    priorities: tuple[NetPriority, ...] = ()

    @classmethod
    def from_dict(cls, d: Raw) -> Network:
        return cls(class_id=d.get("classID"), priorities=_tuple_of(NetPriority, d.get("priorities")))


@dataclass(frozen=True, slots=True)
class Rdma:
    """`linux.resources.rdma.<device>`."""

    hca_handles: int | None = None
    hca_objects: int | None = None

    @classmethod
    def from_dict(cls, d: Raw) -> Rdma:
        return cls(hca_handles=d.get("hcaHandles"), hca_objects=d.get("hcaObjects"))


@dataclass(frozen=True, slots=True)
class Resources:
    """`linux.resources` (also the document `update --resources` reads)."""

    devices: tuple[DeviceRule, ...] = ()
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: Mapping[str, Rdma] = field(default_factory=dict)
    unified: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Raw) -> Resources:
        return cls(
            devices=_tuple_of(DeviceRule, d.get("devices")),
            memory=_opt(Memory, d.get("memory")),
            cpu=_opt(CPU, d.get("cpu")),
            pids=_opt(Pids, d.get("pids")),
            block_io=_opt(BlockIO, d.get("blockIO")),
            hugepage_limits=_tuple_of(HugepageLimit, d.get("hugepageLimits")),
            network=_opt(Network, d.get("network")),
            rdma={k: Rdma.from_dict(v) for k, v in (d.get("rdma") or {}).items()},
            unified=dict(d.get("unified") or {}),
        )


@dataclass(frozen=True, slots=True)
class SeccompArg:
    """`linux.seccomp.syscalls[].args[]`."""

    index: int
    value: int
    op: str
    value_two: int = 0

    @classmethod
    def from_dict(cls, d: Raw) -> SeccompArg:
        return cls(index=d["index"], value=d["value"], op=d["op"], value_two=d.get("valueTwo", 0))


@dataclass(frozen=True, slots=True)
class SeccompSyscall:
    """`linux.seccomp.syscalls[]`. `index` is its position, for error messages."""

    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()
    index: int = 0

    @classmethod
    def from_dict(cls, d: Raw, index: int = 0) -> SeccompSyscall:
        return cls(
            names=tuple(d.get("names") or ()),
            action=d["action"],
            errno_ret=d.get("errnoRet"),
            args=_tuple_of(SeccompArg, d.get("args")),
            index=index,
        )


@dataclass(frozen=True, slots=True)
class Seccomp:
    """`linux.seccomp`."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] | None = None  # None (absent) differs from []: runc then sets SPEC_ALLOW if supported
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: tuple[SeccompSyscall, ...] = ()

    @classmethod
    def from_dict(cls, d: Raw) -> Seccomp:
        return cls(
            default_action=d["defaultAction"],
            default_errno_ret=d.get("defaultErrnoRet"),
            architectures=tuple(d.get("architectures") or ()),
            flags=tuple(d["flags"]) if d.get("flags") is not None else None,
            listener_path=d.get("listenerPath"),
            listener_metadata=d.get("listenerMetadata"),
            syscalls=tuple(SeccompSyscall.from_dict(s, i) for i, s in enumerate(d.get("syscalls") or ())),
        )


@dataclass(frozen=True, slots=True)
class TimeOffset:
    """`linux.timeOffsets.<clock>`."""

    secs: int = 0
    nanosecs: int = 0

    @classmethod
    def from_dict(cls, d: Raw) -> TimeOffset:
        return cls(secs=d.get("secs", 0), nanosecs=d.get("nanosecs", 0))


@dataclass(frozen=True, slots=True)
class Personality:
    """`linux.personality`."""

    domain: str
    flags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Raw) -> Personality:
        return cls(domain=d["domain"], flags=tuple(d.get("flags") or ()))


@dataclass(frozen=True, slots=True)
class Linux:
    """`linux`."""

    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    time_offsets: Mapping[str, TimeOffset] = field(default_factory=dict)
    devices: tuple[Device, ...] = ()
    cgroups_path: str | None = None
    resources: Resources | None = None
    rootfs_propagation: str | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str | None = None
    sysctl: Mapping[str, str] = field(default_factory=dict)
    seccomp: Seccomp | None = None
    personality: Personality | None = None
    net_devices: Mapping[str, str] = field(default_factory=dict)  # host name -> name in the container
    intel_rdt: Mapping[str, Any] | None = None
    memory_policy: Mapping[str, Any] | None = None

    def namespace(self, kind: str) -> Namespace | None:
        """The entry of `linux.namespaces` of this type, or None (then the host's namespace is kept)."""
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None

    @classmethod
    def from_dict(cls, d: Raw) -> Linux:
        return cls(
            namespaces=_tuple_of(Namespace, d.get("namespaces")),
            uid_mappings=_tuple_of(IDMapping, d.get("uidMappings")),
            gid_mappings=_tuple_of(IDMapping, d.get("gidMappings")),
            time_offsets={k: TimeOffset.from_dict(v) for k, v in (d.get("timeOffsets") or {}).items()},
            devices=_tuple_of(Device, d.get("devices")),
            cgroups_path=d.get("cgroupsPath") or None,
            resources=_opt(Resources, d.get("resources")),
            rootfs_propagation=d.get("rootfsPropagation") or None,
            masked_paths=tuple(d.get("maskedPaths") or ()),
            readonly_paths=tuple(d.get("readonlyPaths") or ()),
            mount_label=d.get("mountLabel"),
            sysctl=dict(d.get("sysctl") or {}),
            seccomp=_opt(Seccomp, d.get("seccomp")),
            personality=_opt(Personality, d.get("personality")),
            net_devices={k: (v or {}).get("name") or k for k, v in (d.get("netDevices") or {}).items()},
            intel_rdt=d.get("intelRdt"),
            memory_policy=d.get("memoryPolicy"),
        )


# --------------------------------------------------------------------------------------------- the whole config


@dataclass(frozen=True, slots=True)
class Spec:
    """A whole config.json. `bundle` is the absolute bundle directory; `root.path` is absolute."""

    oci_version: str
    root: Root
    process: Process | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks = field(default_factory=Hooks)
    annotations: Mapping[str, str] = field(default_factory=dict)
    linux: Linux = field(default_factory=Linux)
    bundle: str = ""

    @classmethod
    def from_dict(cls, d: Raw, bundle: str = "") -> Spec:
        return cls(
            oci_version=d["ociVersion"],
            root=Root.from_dict(d["root"]),
            process=_opt(Process, d.get("process")),
            hostname=d.get("hostname"),
            domainname=d.get("domainname"),
            mounts=tuple(Mount.from_dict(m, i) for i, m in enumerate(d.get("mounts") or ())),
            hooks=Hooks.from_dict(d.get("hooks") or {}),
            annotations=dict(d.get("annotations") or {}),
            linux=Linux.from_dict(d.get("linux") or {}),
            bundle=bundle,
        )
