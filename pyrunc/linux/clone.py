"""fork(2) straight into a cgroup v2 directory: clone3(CLONE_INTO_CGROUP), with Python's own fork bookkeeping.

Why: moving a process into a cgroup by writing its pid to `cgroup.procs` takes the kernel's global
cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period: ~10 ms on the reference VM, a third of
what `runc run` takes in all (runc pays it too). A child born in the cgroup with CLONE_INTO_CGROUP only takes that
lock for reading. crun does the same. (For cgroup v1 hierarchies the intermediate joins by writing "0" to `tasks`
itself, which skips the lock too: see pyrunc.process.intermediate.)

What `os.fork()` does around fork(2) is done here around the raw syscall, in the same order: PyOS_BeforeFork
(takes the import lock and the interpreter's locks so no other state is mid-change), then PyOS_AfterFork_Child
(re-initialises the GIL, threading and the `os.register_at_fork` child hooks) or PyOS_AfterFork_Parent. The
syscall goes through a PyDLL handle so the GIL stays held across it, as it is across fork(2) in `os.fork`. What
glibc's fork() adds (atfork handlers, resetting its own locks, caching the child's tid) does not matter for a
single-threaded process holding no lock: spawn refuses to fork with more than one thread. Any failure
(ENOSYS on kernels before 5.7 or under a seccomp profile that refuses clone3, EBUSY, ...) raises OSError before
anything was created, and the caller falls back to os.fork() + writing cgroup.procs.
"""

import os

from pyrunc.linux import cabi
from pyrunc.linux.libc import sysno

CLONE_INTO_CGROUP = 0x200000000
CLONE_NEWPID = 0x20000000
_SIGCHLD = 17


class _CloneArgs(cabi.Structure):
    """struct clone_args (linux/sched.h, version 2: up to `cgroup`)."""

    _fields_ = [(name, cabi.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls", "set_tid",
        "set_tid_size", "cgroup")]


_held = cabi.PyDLL("libc.so.6", use_errno=True)  # PyDLL: the GIL is not released during the call
_held.syscall.restype = cabi.c_long
_api = cabi.pythonapi


def fork_into_cgroup(cgroup_dir: str | None, *, new_pid_ns: bool = False) -> int:
    """Fork a child that starts as a member of the cgroup v2 directory `cgroup_dir` (None: ours) and, with
    `new_pid_ns`, as pid 1 of a new pid namespace. Returns 0 in the child and the child's pid in the parent, as
    os.fork(). Raises OSError if the kernel refuses (nothing was forked)."""
    flags = CLONE_NEWPID if new_pid_ns else 0
    fd = -1
    if cgroup_dir is not None:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        flags |= CLONE_INTO_CGROUP
    args = _CloneArgs(exit_signal=_SIGCHLD, cgroup=max(fd, 0), flags=flags)
    number = cabi.c_long(sysno("clone3"))
    _api.PyOS_BeforeFork()
    cabi.set_errno(0)
    pid = _held.syscall(number, cabi.byref(args), cabi.c_size_t(cabi.sizeof(args)))
    err = cabi.get_errno()
    if pid == 0:
        _api.PyOS_AfterFork_Child()
    else:
        _api.PyOS_AfterFork_Parent()
    if fd >= 0:
        os.close(fd)  # in both: the child needs only the membership, not the fd
    if pid < 0:
        raise OSError(err, os.strerror(err), cgroup_dir)
    return int(pid)
