"""Capabilities: the name table, capget(2)/capset(2) (version 3, 64-bit sets) and the last supported cap.

The bounding and ambient sets are changed with prctl (see `pyrunc.linux.prctl`); this module owns the rest.
"""

from pyrunc.linux import cabi
from pyrunc.linux.libc import raw_syscall

# Index = capability number (linux/capability.h).
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS: dict[str, int] = {name: i for i, name in enumerate(CAP_NAMES)}

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(cabi.Structure):
    _fields_ = [("version", cabi.c_uint32), ("pid", cabi.c_int)]


class _Data(cabi.Structure):
    _fields_ = [("effective", cabi.c_uint32), ("permitted", cabi.c_uint32), ("inheritable", cabi.c_uint32)]


_last_cap: list[int] = []  # the kernel's constant, read once per process (the init and exec's process ask ~5 times)


def last_cap() -> int:
    """The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap)."""
    if _last_cap:
        return _last_cap[0]
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            n = int(f.read().strip())
    except (OSError, ValueError):
        return len(CAP_NAMES) - 1  # not cached: a later read (once /proc is there) may succeed
    _last_cap.append(n)
    return n


def supported() -> list[str]:
    """Capability names this kernel supports (for `features`)."""
    n = last_cap()
    return [name for i, name in enumerate(CAP_NAMES) if i <= n]


def to_mask(names: tuple[str, ...] | list[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAP_NUMBERS[name]
    return mask


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) masks of `pid` (0 = this thread)."""
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_Data * 2)()
    raw_syscall("capget", cabi.byref(hdr), data)
    return tuple(data[0].__getattribute__(f) | (data[1].__getattribute__(f) << 32)  # type: ignore[return-value]
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int, *, detail: str | None = None) -> None:
    """Set this thread's effective, permitted and inheritable sets (permitted may only shrink)."""
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i, shift in ((0, 0), (1, 32)):
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    raw_syscall("capset", cabi.byref(hdr), data, detail=detail, spec_path="/process/capabilities")
