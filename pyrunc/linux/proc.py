"""Process-level calls: /proc/<pid>/stat start time, pidfds, fd hygiene, rlimits, oom_score_adj, host/domain name."""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import call, libc, raw_syscall

CLOSE_RANGE_CLOEXEC = 1 << 2

RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF


def start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid, identifies a process."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2:].split()[19])


def pidfd_open(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except OSError as e:
        raise SyscallError("pidfd_open", e.errno or errno.ESRCH, detail=f"pid {pid}") from None


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    import signal

    signal.pidfd_send_signal(pidfd, sig)


def open_fds() -> list[int]:
    """The fds open in this process (from /proc/self/fd, minus the one used to list it)."""
    fds = []
    dfd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in os.listdir(dfd):
            n = int(name)
            if n != dfd:
                fds.append(n)
    finally:
        os.close(dfd)
    return sorted(fds)


def set_cloexec_from(first: int) -> None:
    """Mark every fd >= `first` close-on-exec: close_range(first, ~0, CLOSE_RANGE_CLOEXEC), or one by one.

    Nothing the runtime holds may reach the container process (CVE-2024-21626: a leaked host directory fd gave
    the container a host cwd).
    """
    try:
        raw_syscall("close_range", cabi.c_uint(first), cabi.c_uint(0xFFFFFFFF), cabi.c_uint(CLOSE_RANGE_CLOEXEC))
        return
    except SyscallError:
        pass
    for fd in open_fds():
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def close_fds_except(keep: set[int], first: int = 3) -> None:
    """Close every fd >= `first` not in `keep` (used right after fork, so a child holds only what it needs):
    close_range(2) over each gap between the kept fds, a few syscalls; one by one from /proc/self/fd where the
    kernel lacks close_range (before 5.9)."""
    lo = first
    try:
        for fd in sorted(f for f in keep if f >= first):
            if fd > lo:
                raw_syscall("close_range", cabi.c_uint(lo), cabi.c_uint(fd - 1), cabi.c_uint(0))
            lo = max(lo, fd + 1)
        raw_syscall("close_range", cabi.c_uint(lo), cabi.c_uint(0xFFFFFFFF), cabi.c_uint(0))
        return
    except SyscallError:
        pass
    for fd in open_fds():
        if fd >= first and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


class _Rlimit(cabi.Structure):
    """struct rlimit: rlim_t is unsigned 64-bit (`resource.prlimit` takes signed C longs: 2**63 and up overflow)."""

    _fields_ = [("cur", cabi.c_uint64), ("max", cabi.c_uint64)]


def prlimit(pid: int, kind: str, soft: int, hard: int, *, spec_path: str | None = None) -> None:
    """Implements one `process.rlimits` entry, from the parent (it may raise hard limits; init in a userns can't).
    The values are the spec's uint64 (RLIM_INFINITY and above: unlimited)."""
    limit = _Rlimit(min(soft, RLIM_INFINITY), min(hard, RLIM_INFINITY))
    shown = f"{kind} soft={soft} hard={hard}"
    call(libc.prlimit, cabi.c_int(pid), cabi.c_int(RLIMITS[kind]), cabi.byref(limit), None, op="prlimit",
         detail=shown, spec_path=spec_path)


def write_oom_score_adj(pid: int, value: int) -> None:
    """Implements `process.oomScoreAdj` (written by the parent: lowering it needs CAP_SYS_RESOURCE)."""
    path = f"/proc/{pid}/oom_score_adj"
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise SyscallError("write", e.errno or errno.EIO, path=path, detail=str(value),
                           spec_path="/process/oomScoreAdj") from None


def sethostname(name: str) -> None:
    """Implements `hostname` (only ever called inside a new UTS namespace)."""
    b = name.encode()
    call(libc.sethostname, b, cabi.c_size_t(len(b)), op="sethostname", detail=name, spec_path="/hostname")


def setdomainname(name: str) -> None:
    """Implements `domainname` (only ever called inside a new UTS namespace)."""
    b = name.encode()
    call(libc.setdomainname, b, cabi.c_size_t(len(b)), op="setdomainname", detail=name, spec_path="/domainname")


def setsid() -> None:
    try:
        os.setsid()
    except OSError as e:
        if e.errno != errno.EPERM:  # already a session leader
            raise SyscallError("setsid", e.errno or errno.EPERM) from None


def set_groups(gids: list[int]) -> None:
    """setgroups(2): implements `process.user.additionalGids` (the empty list drops the caller's groups)."""
    try:
        os.setgroups(gids)
    except OSError as e:
        raise SyscallError("setgroups", e.errno or errno.EPERM, detail=str(gids),
                           spec_path="/process/user/additionalGids") from None


def set_resgid(gid: int) -> None:
    try:
        os.setresgid(gid, gid, gid)
    except OSError as e:
        raise SyscallError("setresgid", e.errno or errno.EPERM, detail=str(gid),
                           spec_path="/process/user/gid") from None


def set_resuid(uid: int) -> None:
    try:
        os.setresuid(uid, uid, uid)
    except OSError as e:
        raise SyscallError("setresuid", e.errno or errno.EPERM, detail=str(uid),
                           spec_path="/process/user/uid") from None


def set_umask(mask: int) -> int:
    return os.umask(mask)


def setgroups_allowed() -> bool:
    """False when /proc/self/setgroups says "deny" (a user namespace created by an unprivileged parent)."""
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


# ------------------------------------------------------------------------------------------- scheduling, personality

SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
                  "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
               "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_WHO_PROCESS = 1
PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}


class _SchedAttr(cabi.Structure):
    _fields_ = [("size", cabi.c_uint32), ("sched_policy", cabi.c_uint32), ("sched_flags", cabi.c_uint64),
                ("sched_nice", cabi.c_int32), ("sched_priority", cabi.c_uint32),
                ("sched_runtime", cabi.c_uint64), ("sched_deadline", cabi.c_uint64),
                ("sched_period", cabi.c_uint64), ("sched_util_min", cabi.c_uint32),
                ("sched_util_max", cabi.c_uint32)]


def sched_setattr(policy: str, *, nice: int = 0, priority: int = 0, flags: tuple[str, ...] = (),
                  runtime: int = 0, deadline: int = 0, period: int = 0) -> None:
    """Implements `process.scheduler` for the calling thread (sched_setattr(2))."""
    attr = _SchedAttr()
    attr.size = 48  # SCHED_ATTR_SIZE_VER0: without the util-clamp fields
    attr.sched_policy = SCHED_POLICIES[policy]
    mask = 0
    for f in flags:
        mask |= SCHED_FLAGS[f]
    attr.sched_flags = mask
    attr.sched_nice = nice
    attr.sched_priority = priority
    attr.sched_runtime, attr.sched_deadline, attr.sched_period = runtime, deadline, period
    try:
        raw_syscall("sched_setattr", cabi.c_int(0), cabi.byref(attr), cabi.c_uint(0),
                    detail=f"policy={policy}", spec_path="/process/scheduler")
    except SyscallError as e:
        # sched_setattr(2): EPERM when the affinity mask does not include every CPU (SCHED_DEADLINE). Say so in
        # runc's words: the usual cause is the container's cpuset (linux.resources.cpu.cpus).
        if e.errno == errno.EPERM and len(os.sched_getaffinity(0)) < (os.cpu_count() or 1):
            e.detail = f"policy={policy}: process scheduler can't be used together with AllowedCPUs " \
                       "(the CPU affinity or linux.resources.cpu.cpus excludes some CPUs)"
        raise


def ioprio_set(klass: str, priority: int) -> None:
    """Implements `process.ioPriority` for the calling process (ioprio_set(2))."""
    value = (IOPRIO_CLASSES[klass] << 13) | priority
    raw_syscall("ioprio_set", cabi.c_int(IOPRIO_WHO_PROCESS), cabi.c_int(0), cabi.c_int(value),
                detail=f"{klass} {priority}", spec_path="/process/ioPriority")


def set_personality(domain: str) -> None:
    """Implements `linux.personality` (execution domain of the container process)."""
    raw_syscall("personality", cabi.c_ulong(PERSONALITIES[domain]), detail=domain,
                spec_path="/linux/personality")


def parse_cpu_list(text: str) -> set[int]:
    """"0-3,7" -> {0, 1, 2, 3, 7}."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi) + 1) if sep else (int(lo),))
    return cpus


def set_cpu_affinity(cpus: str, spec_path: str) -> None:
    """Implements `process.execCPUAffinity.initial`/`.final` for the calling process."""
    try:
        os.sched_setaffinity(0, parse_cpu_list(cpus))
    except (OSError, ValueError) as e:
        err = getattr(e, "errno", None) or errno.EINVAL
        raise SyscallError("sched_setaffinity", err, detail=cpus, spec_path=spec_path) from None


def reset_cpu_affinity() -> str | None:
    """Allow every possible CPU (runc does the same for the init and for an exec without execCPUAffinity).

    The runtime may run pinned (`taskset`, a systemd CPUAffinity=); since Linux 6.2 a move into a cpuset cgroup
    keeps such a user-requested mask, so without this the container would inherit it. The kernel clamps the
    mask to the CPUs it supports and to the task's cpuset. Returns the error text on failure (best effort).
    """
    # One ready-made mask: os.sched_setaffinity(0, range(8192)) builds the same one bit by bit (~0.2 ms).
    cabi.set_errno(0)
    if libc.sched_setaffinity(0, len(_ALL_CPUS), _ALL_CPUS) != 0:
        return os.strerror(cabi.get_errno())
    return None


_ALL_CPUS = b"\xff" * (8192 // 8)  # a cpu_set_t of 8192 CPUs, all set


# [arg_start, arg_end) of this process, read once: a forked child has the same area at the same addresses, so each
# later stage of a fork chain skips the /proc read (and the copy-on-write faults of doing it).
_arg_area: tuple[int, int] | None = None


def set_process_title(title: str) -> bool:
    """Best effort: what `ps` shows as our command line (`pyrunc init`, as runc shows `runc init`).

    Overwrites the kernel's argument area of this process in place ([arg_start, arg_end) from /proc/self/stat,
    fields 48-49; the strings the kernel copied at execve, which CPython no longer reads). The title is cut to
    the area's size; the rest is zeroed so nothing of the old command line shows.
    """
    global _arg_area
    if _arg_area is None:
        try:
            with open("/proc/self/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            _arg_area = int(fields[45]), int(fields[46])  # fields 48, 49 counted from 1 with pid and comm
        except (OSError, ValueError, IndexError):
            return False
    start, end = _arg_area
    size = end - start
    if size <= 1:
        return False
    data = title.encode()[: size - 1]
    cabi.memset(start, 0, size)
    cabi.memmove(start, data, len(data))
    return True
