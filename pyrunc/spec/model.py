"""Typed, immutable view of an OCI runtime-spec v1.3.0 config (Linux).

OCI camelCase becomes snake_case here, exactly once. Absent fields are `None` (or an empty tuple/dict for lists and
maps), so code elsewhere never indexes raw dicts. `from_dict` assumes the document already passed schema validation
(`pyrunc.spec.schema`); it does not re-check types.

Plain classes with `__slots__`, not dataclasses: `create` and `run` load this module on every call, and 34 frozen
slotted dataclasses cost ~20 ms to build (plus `import dataclasses`, which imports `inspect`, and `typing`: ~10 ms
more) where these cost well under 1 ms. They keep what the dataclasses gave: keyword and positional construction in
field order, value equality and hashing, a readable repr, and `dataclasses.replace` / `fields` / `asdict` (see
`_Record`). Immutable by convention: nothing assigns to a field after construction (use `replace`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    Raw = Mapping[str, Any]


def _tuple_of(cls: Any, items: Any) -> tuple[Any, ...]:
    return tuple(cls.from_dict(i) for i in (items or ()))


def _opt(cls: Any, raw: Any) -> Any:
    return None if raw is None else cls.from_dict(raw)


class _DataclassFields:
    """`__dataclass_fields__` of a record class, built on first access (the `dataclasses` functions look for it):
    the fields of a dataclass made with the same field names, so `dataclasses.replace(record, ...)`, `fields` and
    `asdict` work on records as they did when these were dataclasses. Only code that calls them imports
    `dataclasses`."""

    def __get__(self, obj: object, owner: type) -> dict[str, Any]:
        import dataclasses

        made = dataclasses.make_dataclass(owner.__name__, owner._fields)  # type: ignore[attr-defined]
        fields: dict[str, Any] = made.__dataclass_fields__
        owner.__dataclass_fields__ = fields  # type: ignore[attr-defined]  # cached on the class itself
        return fields


class _Record:
    """Base of the config classes: a frozen dataclass's value semantics, fields in `_fields` order."""

    __slots__ = ()
    __dataclass_fields__ = _DataclassFields()

    _fields: tuple[str, ...] = ()  # the field names in order (each class: `__slots__ = _fields`)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed, like `dataclasses.replace`."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


# --------------------------------------------------------------------------------------------- process


class ConsoleSize(_Record):
    """`process.consoleSize`."""

    _fields = ("height", "width")
    __slots__ = _fields

    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width

    @classmethod
    def from_dict(cls, d: Raw) -> ConsoleSize:
        return cls(height=d["height"], width=d["width"])


class Rlimit(_Record):
    """One entry of `process.rlimits`."""

    _fields = ("type", "soft", "hard")
    __slots__ = _fields

    def __init__(self, type: str, soft: int, hard: int) -> None:
        self.type = type
        self.soft = soft
        self.hard = hard

    @classmethod
    def from_dict(cls, d: Raw) -> Rlimit:
        return cls(type=d["type"], soft=d["soft"], hard=d["hard"])


class Capabilities(_Record):
    """`process.capabilities`: five sets of names like `CAP_KILL`. `None` means the set is absent (empty)."""

    _fields = ("bounding", "effective", "inheritable", "permitted", "ambient")
    __slots__ = _fields

    def __init__(
        self,
        bounding: tuple[str, ...] = (),
        effective: tuple[str, ...] = (),
        inheritable: tuple[str, ...] = (),
        permitted: tuple[str, ...] = (),
        ambient: tuple[str, ...] = (),
    ) -> None:
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient

    @classmethod
    def from_dict(cls, d: Raw) -> Capabilities:
        return cls(
            bounding=tuple(d.get("bounding") or ()),
            effective=tuple(d.get("effective") or ()),
            inheritable=tuple(d.get("inheritable") or ()),
            permitted=tuple(d.get("permitted") or ()),
            ambient=tuple(d.get("ambient") or ()),
        )


class User(_Record):
    """`process.user`."""

    _fields = ("uid", "gid", "umask", "additional_gids", "username")
    __slots__ = _fields

    def __init__(
        self,
        uid: int = 0,
        gid: int = 0,
        umask: int | None = None,
        additional_gids: tuple[int, ...] = (),
        username: str | None = None,
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additional_gids = additional_gids
        self.username = username

    @classmethod
    def from_dict(cls, d: Raw) -> User:
        return cls(
            uid=d.get("uid", 0),
            gid=d.get("gid", 0),
            umask=d.get("umask"),
            additional_gids=tuple(d.get("additionalGids") or ()),
            username=d.get("username"),
        )


class Scheduler(_Record):
    """`process.scheduler` (sched_setattr)."""

    _fields = ("policy", "nice", "priority", "flags", "runtime", "deadline", "period")
    __slots__ = _fields

    def __init__(
        self,
        policy: str,
        nice: int = 0,
        priority: int = 0,
        flags: tuple[str, ...] = (),
        runtime: int = 0,
        deadline: int = 0,
        period: int = 0,
    ) -> None:
        self.policy = policy
        self.nice = nice
        self.priority = priority
        self.flags = flags
        self.runtime = runtime
        self.deadline = deadline
        self.period = period

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


class IOPriority(_Record):
    """`process.ioPriority`."""

    _fields = ("klass", "priority")
    __slots__ = _fields

    def __init__(self, klass: str, priority: int = 0) -> None:
        self.klass = klass
        self.priority = priority

    @classmethod
    def from_dict(cls, d: Raw) -> IOPriority:
        return cls(klass=d["class"], priority=d.get("priority", 0))


class ExecCPUAffinity(_Record):
    """`process.execCPUAffinity` (cpu lists like "0-3,7")."""

    _fields = ("initial", "final")
    __slots__ = _fields

    def __init__(self, initial: str | None = None, final: str | None = None) -> None:
        self.initial = initial
        self.final = final

    @classmethod
    def from_dict(cls, d: Raw) -> ExecCPUAffinity:
        return cls(initial=d.get("initial"), final=d.get("final"))


class Process(_Record):
    """`process`: also the shape of `exec --process FILE`."""

    _fields = (
        "args", "cwd", "env", "terminal", "console_size", "command_line", "user", "rlimits", "capabilities",
        "no_new_privileges", "oom_score_adj", "apparmor_profile", "selinux_label", "scheduler", "io_priority",
        "exec_cpu_affinity",
    )
    __slots__ = _fields

    def __init__(
        self,
        args: tuple[str, ...],
        cwd: str = "/",
        env: tuple[str, ...] = (),
        terminal: bool = False,
        console_size: ConsoleSize | None = None,
        command_line: str | None = None,
        user: User | None = None,
        rlimits: tuple[Rlimit, ...] = (),
        capabilities: Capabilities | None = None,
        no_new_privileges: bool = False,
        oom_score_adj: int | None = None,
        apparmor_profile: str | None = None,
        selinux_label: str | None = None,
        scheduler: Scheduler | None = None,
        io_priority: IOPriority | None = None,
        exec_cpu_affinity: ExecCPUAffinity | None = None,
    ) -> None:
        self.args = args
        self.cwd = cwd
        self.env = env
        self.terminal = terminal
        self.console_size = console_size
        self.command_line = command_line
        self.user = User() if user is None else user
        self.rlimits = rlimits
        self.capabilities = capabilities
        self.no_new_privileges = no_new_privileges
        self.oom_score_adj = oom_score_adj
        self.apparmor_profile = apparmor_profile
        self.selinux_label = selinux_label
        self.scheduler = scheduler
        self.io_priority = io_priority
        self.exec_cpu_affinity = exec_cpu_affinity

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


class Root(_Record):
    """`root`. `path` is already resolved against the bundle by `pyrunc.spec.load`."""

    _fields = ("path", "readonly")
    __slots__ = _fields

    def __init__(self, path: str, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly

    @classmethod
    def from_dict(cls, d: Raw) -> Root:
        return cls(path=d["path"], readonly=bool(d.get("readonly", False)))


class IDMapping(_Record):
    """One entry of `linux.uidMappings` / `linux.gidMappings` / `mounts[].uidMappings`."""

    _fields = ("container_id", "host_id", "size")
    __slots__ = _fields

    def __init__(self, container_id: int, host_id: int, size: int) -> None:
        self.container_id = container_id
        self.host_id = host_id
        self.size = size

    @classmethod
    def from_dict(cls, d: Raw) -> IDMapping:
        return cls(container_id=d["containerID"], host_id=d["hostID"], size=d["size"])


class Mount(_Record):
    """One entry of `mounts`. `index` is its position, for error messages (`/mounts/<index>`)."""

    _fields = ("destination", "type", "source", "options", "uid_mappings", "gid_mappings", "index")
    __slots__ = _fields

    def __init__(
        self,
        destination: str,
        type: str | None = None,
        source: str | None = None,
        options: tuple[str, ...] = (),
        uid_mappings: tuple[IDMapping, ...] = (),
        gid_mappings: tuple[IDMapping, ...] = (),
        index: int = 0,
    ) -> None:
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uid_mappings = uid_mappings
        self.gid_mappings = gid_mappings
        self.index = index

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


class Hook(_Record):
    """One entry of a `hooks.<kind>` list."""

    _fields = ("path", "args", "env", "timeout")
    __slots__ = _fields

    def __init__(
        self,
        path: str,
        args: tuple[str, ...] = (),
        env: tuple[str, ...] = (),
        timeout: int | None = None,
    ) -> None:
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout

    @classmethod
    def from_dict(cls, d: Raw) -> Hook:
        # Checked here although the schema checked it at create: `start` and `delete` read the poststart and
        # poststop hooks back from the state directory's copy of config.json, which may be damaged since.
        hook = cls(
            path=d["path"],
            args=tuple(d.get("args") or ()),
            env=tuple(d.get("env") or ()),
            timeout=d.get("timeout"),
        )
        if type(hook.path) is not str or not all(type(a) is str for a in (*hook.args, *hook.env)) or (
                hook.timeout is not None and type(hook.timeout) is not int):
            raise ValueError("malformed hook")
        return hook


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class Hooks(_Record):
    """`hooks`: the six kinds, each a tuple in config order."""

    _fields = ("prestart", "create_runtime", "create_container", "start_container", "poststart", "poststop")
    __slots__ = _fields

    def __init__(
        self,
        prestart: tuple[Hook, ...] = (),
        create_runtime: tuple[Hook, ...] = (),
        create_container: tuple[Hook, ...] = (),
        start_container: tuple[Hook, ...] = (),
        poststart: tuple[Hook, ...] = (),
        poststop: tuple[Hook, ...] = (),
    ) -> None:
        self.prestart = prestart
        self.create_runtime = create_runtime
        self.create_container = create_container
        self.start_container = start_container
        self.poststart = poststart
        self.poststop = poststop

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


class Namespace(_Record):
    """One entry of `linux.namespaces`."""

    _fields = ("type", "path")
    __slots__ = _fields

    def __init__(self, type: str, path: str | None = None) -> None:
        self.type = type
        self.path = path

    @classmethod
    def from_dict(cls, d: Raw) -> Namespace:
        return cls(type=d["type"], path=d.get("path") or None)


class Device(_Record):
    """One entry of `linux.devices`."""

    _fields = ("type", "path", "major", "minor", "file_mode", "uid", "gid")
    __slots__ = _fields

    def __init__(
        self,
        type: str,
        path: str,
        major: int | None = None,
        minor: int | None = None,
        file_mode: int | None = None,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        self.type = type
        self.path = path
        self.major = major
        self.minor = minor
        self.file_mode = file_mode
        self.uid = uid
        self.gid = gid

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


class DeviceRule(_Record):
    """One entry of `linux.resources.devices` (cgroup device allow/deny rule)."""

    _fields = ("allow", "type", "major", "minor", "access")
    __slots__ = _fields

    def __init__(
        self,
        allow: bool,
        type: str | None = None,
        major: int | None = None,
        minor: int | None = None,
        access: str | None = None,
    ) -> None:
        self.allow = allow
        self.type = type  # a, b, c; None means all
        self.major = major  # None means all (*)
        self.minor = minor
        self.access = access  # subset of "rwm"; None means rwm

    @classmethod
    def from_dict(cls, d: Raw) -> DeviceRule:
        return cls(allow=d["allow"], type=d.get("type"), major=d.get("major"), minor=d.get("minor"),
                   access=d.get("access"))


class Memory(_Record):
    """`linux.resources.memory`."""

    _fields = (
        "limit", "reservation", "swap", "kernel", "kernel_tcp", "swappiness", "disable_oom_killer", "use_hierarchy",
        "check_before_update",
    )
    __slots__ = _fields

    def __init__(
        self,
        limit: int | None = None,
        reservation: int | None = None,
        swap: int | None = None,
        kernel: int | None = None,
        kernel_tcp: int | None = None,
        swappiness: int | None = None,
        disable_oom_killer: bool | None = None,
        use_hierarchy: bool | None = None,
        check_before_update: bool | None = None,
    ) -> None:
        self.limit = limit
        self.reservation = reservation
        self.swap = swap
        self.kernel = kernel
        self.kernel_tcp = kernel_tcp
        self.swappiness = swappiness
        self.disable_oom_killer = disable_oom_killer
        self.use_hierarchy = use_hierarchy
        self.check_before_update = check_before_update

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


class CPU(_Record):
    """`linux.resources.cpu`."""

    _fields = ("shares", "quota", "burst", "period", "realtime_runtime", "realtime_period", "cpus", "mems", "idle")
    __slots__ = _fields

    def __init__(
        self,
        shares: int | None = None,
        quota: int | None = None,
        burst: int | None = None,
        period: int | None = None,
        realtime_runtime: int | None = None,
        realtime_period: int | None = None,
        cpus: str | None = None,
        mems: str | None = None,
        idle: int | None = None,
    ) -> None:
        self.shares = shares
        self.quota = quota
        self.burst = burst
        self.period = period
        self.realtime_runtime = realtime_runtime
        self.realtime_period = realtime_period
        self.cpus = cpus
        self.mems = mems
        self.idle = idle

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


class Pids(_Record):
    """`linux.resources.pids`. A limit of 0 is a real limit (no new processes); -1 is unlimited."""

    _fields = ("limit",)
    __slots__ = _fields

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit

    @classmethod
    def from_dict(cls, d: Raw) -> Pids:
        return cls(limit=d.get("limit"))


class WeightDevice(_Record):
    """`linux.resources.blockIO.weightDevice[]`."""

    _fields = ("major", "minor", "weight", "leaf_weight")
    __slots__ = _fields

    def __init__(self, major: int, minor: int, weight: int | None = None, leaf_weight: int | None = None) -> None:
        self.major = major
        self.minor = minor
        self.weight = weight
        self.leaf_weight = leaf_weight

    @classmethod
    def from_dict(cls, d: Raw) -> WeightDevice:
        return cls(major=d["major"], minor=d["minor"], weight=d.get("weight"), leaf_weight=d.get("leafWeight"))


class ThrottleDevice(_Record):
    """`linux.resources.blockIO.throttle*Device[]`."""

    _fields = ("major", "minor", "rate")
    __slots__ = _fields

    def __init__(self, major: int, minor: int, rate: int) -> None:
        self.major = major
        self.minor = minor
        self.rate = rate

    @classmethod
    def from_dict(cls, d: Raw) -> ThrottleDevice:
        return cls(major=d["major"], minor=d["minor"], rate=d["rate"])


class BlockIO(_Record):
    """`linux.resources.blockIO`."""

    _fields = (
        "weight", "leaf_weight", "weight_device", "throttle_read_bps_device", "throttle_write_bps_device",
        "throttle_read_iops_device", "throttle_write_iops_device",
    )
    __slots__ = _fields

    def __init__(
        self,
        weight: int | None = None,
        leaf_weight: int | None = None,
        weight_device: tuple[WeightDevice, ...] = (),
        throttle_read_bps_device: tuple[ThrottleDevice, ...] = (),
        throttle_write_bps_device: tuple[ThrottleDevice, ...] = (),
        throttle_read_iops_device: tuple[ThrottleDevice, ...] = (),
        throttle_write_iops_device: tuple[ThrottleDevice, ...] = (),
    ) -> None:
        self.weight = weight
        self.leaf_weight = leaf_weight
        self.weight_device = weight_device
        self.throttle_read_bps_device = throttle_read_bps_device
        self.throttle_write_bps_device = throttle_write_bps_device
        self.throttle_read_iops_device = throttle_read_iops_device
        self.throttle_write_iops_device = throttle_write_iops_device

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


class HugepageLimit(_Record):
    """`linux.resources.hugepageLimits[]`."""

    _fields = ("page_size", "limit")
    __slots__ = _fields

    def __init__(self, page_size: str, limit: int) -> None:
        self.page_size = page_size
        self.limit = limit

    @classmethod
    def from_dict(cls, d: Raw) -> HugepageLimit:
        return cls(page_size=d["pageSize"], limit=d["limit"])


class NetPriority(_Record):
    _fields = ("name", "priority")
    __slots__ = _fields

    def __init__(self, name: str, priority: int) -> None:
        self.name = name
        self.priority = priority

    @classmethod
    def from_dict(cls, d: Raw) -> NetPriority:
        return cls(name=d["name"], priority=d["priority"])


class Network(_Record):
    """`linux.resources.network`."""

    _fields = ("class_id", "priorities")
    __slots__ = _fields

    def __init__(self, class_id: int | None = None, priorities: tuple[NetPriority, ...] = ()) -> None:
        self.class_id = class_id
        self.priorities = priorities

    @classmethod
    def from_dict(cls, d: Raw) -> Network:
        return cls(class_id=d.get("classID"), priorities=_tuple_of(NetPriority, d.get("priorities")))


class Rdma(_Record):
    """`linux.resources.rdma.<device>`."""

    _fields = ("hca_handles", "hca_objects")
    __slots__ = _fields

    def __init__(self, hca_handles: int | None = None, hca_objects: int | None = None) -> None:
        self.hca_handles = hca_handles
        self.hca_objects = hca_objects

    @classmethod
    def from_dict(cls, d: Raw) -> Rdma:
        return cls(hca_handles=d.get("hcaHandles"), hca_objects=d.get("hcaObjects"))


class Resources(_Record):
    """`linux.resources` (also the document `update --resources` reads)."""

    _fields = ("devices", "memory", "cpu", "pids", "block_io", "hugepage_limits", "network", "rdma", "unified")
    __slots__ = _fields

    def __init__(
        self,
        devices: tuple[DeviceRule, ...] = (),
        memory: Memory | None = None,
        cpu: CPU | None = None,
        pids: Pids | None = None,
        block_io: BlockIO | None = None,
        hugepage_limits: tuple[HugepageLimit, ...] = (),
        network: Network | None = None,
        rdma: Mapping[str, Rdma] | None = None,
        unified: Mapping[str, str] | None = None,
    ) -> None:
        self.devices = devices
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
        self.block_io = block_io
        self.hugepage_limits = hugepage_limits
        self.network = network
        self.rdma = {} if rdma is None else rdma
        self.unified = {} if unified is None else unified

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


class SeccompArg(_Record):
    """`linux.seccomp.syscalls[].args[]`."""

    _fields = ("index", "value", "op", "value_two")
    __slots__ = _fields

    def __init__(self, index: int, value: int, op: str, value_two: int = 0) -> None:
        self.index = index
        self.value = value
        self.op = op
        self.value_two = value_two

    @classmethod
    def from_dict(cls, d: Raw) -> SeccompArg:
        return cls(index=d["index"], value=d["value"], op=d["op"], value_two=d.get("valueTwo", 0))


class SeccompSyscall(_Record):
    """`linux.seccomp.syscalls[]`. `index` is its position, for error messages."""

    _fields = ("names", "action", "errno_ret", "args", "index")
    __slots__ = _fields

    def __init__(
        self,
        names: tuple[str, ...],
        action: str,
        errno_ret: int | None = None,
        args: tuple[SeccompArg, ...] = (),
        index: int = 0,
    ) -> None:
        self.names = names
        self.action = action
        self.errno_ret = errno_ret
        self.args = args
        self.index = index

    @classmethod
    def from_dict(cls, d: Raw, index: int = 0) -> SeccompSyscall:
        return cls(
            names=tuple(d.get("names") or ()),
            action=d["action"],
            errno_ret=d.get("errnoRet"),
            args=_tuple_of(SeccompArg, d.get("args")),
            index=index,
        )


class Seccomp(_Record):
    """`linux.seccomp`."""

    _fields = (
        "default_action", "default_errno_ret", "architectures", "flags", "listener_path", "listener_metadata",
        "syscalls",
    )
    __slots__ = _fields

    def __init__(
        self,
        default_action: str,
        default_errno_ret: int | None = None,
        architectures: tuple[str, ...] = (),
        flags: tuple[str, ...] | None = None,
        listener_path: str | None = None,
        listener_metadata: str | None = None,
        syscalls: tuple[SeccompSyscall, ...] = (),
    ) -> None:
        self.default_action = default_action
        self.default_errno_ret = default_errno_ret
        self.architectures = architectures
        self.flags = flags  # None (absent) differs from []: runc then sets SPEC_ALLOW if supported
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.syscalls = syscalls

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


class TimeOffset(_Record):
    """`linux.timeOffsets.<clock>`."""

    _fields = ("secs", "nanosecs")
    __slots__ = _fields

    def __init__(self, secs: int = 0, nanosecs: int = 0) -> None:
        self.secs = secs
        self.nanosecs = nanosecs

    @classmethod
    def from_dict(cls, d: Raw) -> TimeOffset:
        return cls(secs=d.get("secs", 0), nanosecs=d.get("nanosecs", 0))


class Personality(_Record):
    """`linux.personality`."""

    _fields = ("domain", "flags")
    __slots__ = _fields

    def __init__(self, domain: str, flags: tuple[str, ...] = ()) -> None:
        self.domain = domain
        self.flags = flags

    @classmethod
    def from_dict(cls, d: Raw) -> Personality:
        return cls(domain=d["domain"], flags=tuple(d.get("flags") or ()))


class Linux(_Record):
    """`linux`."""

    _fields = (
        "namespaces", "uid_mappings", "gid_mappings", "time_offsets", "devices", "cgroups_path", "resources",
        "rootfs_propagation", "masked_paths", "readonly_paths", "mount_label", "sysctl", "seccomp", "personality",
        "net_devices", "intel_rdt", "memory_policy",
    )
    __slots__ = _fields

    def __init__(
        self,
        namespaces: tuple[Namespace, ...] = (),
        uid_mappings: tuple[IDMapping, ...] = (),
        gid_mappings: tuple[IDMapping, ...] = (),
        time_offsets: Mapping[str, TimeOffset] | None = None,
        devices: tuple[Device, ...] = (),
        cgroups_path: str | None = None,
        resources: Resources | None = None,
        rootfs_propagation: str | None = None,
        masked_paths: tuple[str, ...] = (),
        readonly_paths: tuple[str, ...] = (),
        mount_label: str | None = None,
        sysctl: Mapping[str, str] | None = None,
        seccomp: Seccomp | None = None,
        personality: Personality | None = None,
        net_devices: Mapping[str, str] | None = None,
        intel_rdt: Mapping[str, Any] | None = None,
        memory_policy: Mapping[str, Any] | None = None,
    ) -> None:
        self.namespaces = namespaces
        self.uid_mappings = uid_mappings
        self.gid_mappings = gid_mappings
        self.time_offsets = {} if time_offsets is None else time_offsets
        self.devices = devices
        self.cgroups_path = cgroups_path
        self.resources = resources
        self.rootfs_propagation = rootfs_propagation
        self.masked_paths = masked_paths
        self.readonly_paths = readonly_paths
        self.mount_label = mount_label
        self.sysctl = {} if sysctl is None else sysctl
        self.seccomp = seccomp
        self.personality = personality
        self.net_devices = {} if net_devices is None else net_devices  # host name -> name in the container
        self.intel_rdt = intel_rdt
        self.memory_policy = memory_policy

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


class Spec(_Record):
    """A whole config.json. `bundle` is the absolute bundle directory; `root.path` is absolute."""

    _fields = (
        "oci_version", "root", "process", "hostname", "domainname", "mounts", "hooks", "annotations", "linux", "bundle",
    )
    __slots__ = _fields

    def __init__(
        self,
        oci_version: str,
        root: Root,
        process: Process | None = None,
        hostname: str | None = None,
        domainname: str | None = None,
        mounts: tuple[Mount, ...] = (),
        hooks: Hooks | None = None,
        annotations: Mapping[str, str] | None = None,
        linux: Linux | None = None,
        bundle: str = "",
    ) -> None:
        self.oci_version = oci_version
        self.root = root
        self.process = process
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = Hooks() if hooks is None else hooks
        self.annotations = {} if annotations is None else annotations
        self.linux = Linux() if linux is None else linux
        self.bundle = bundle

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
