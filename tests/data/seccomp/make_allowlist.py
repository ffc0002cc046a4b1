"""Generates allowlist.json: a container profile in the size and shape of the usual default profiles.

Our own list (not copied from any project): defaultAction SCMP_ACT_ERRNO (EPERM), an allowlist of ~300 syscall
names grouped by purpose, `clone` allowed only without namespace flags, `clone3` answered with ENOSYS (so libc falls
back to `clone`, whose flags the filter can see), and `personality` limited to a few harmless values (one entry
with several comparisons of argument 0: ORed, runc's rule). Anything not listed (mount, unshare, setns, keyctl,
bpf, ptrace, reboot, module loading, ...) gets EPERM. Names this libseccomp does not know are skipped at load.

Run `python3 tests/data/seccomp/make_allowlist.py` to rewrite allowlist.json (a unit test checks it is current).
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

GROUPS: dict[str, list[str]] = {
    "file io": [
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "_llseek", "dup", "dup2", "dup3",
        "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "truncate",
        "ftruncate", "truncate64", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "sendfile",
        "sendfile64", "splice", "tee", "vmsplice", "copy_file_range", "readahead",
    ],
    "file metadata": [
        "stat", "lstat", "fstat", "newfstatat", "fstatat64", "stat64", "lstat64", "fstat64", "statx", "statfs",
        "fstatfs", "statfs64", "fstatfs64", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "chown32",
        "fchown32", "lchown32", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "getxattr",
        "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr",
        "removexattr", "lremovexattr", "fremovexattr",
    ],
    "directories": [
        "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link",
        "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "getdents", "getdents64", "mknod", "mknodat",
        "umask",
    ],
    "memory": [
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc", "pkey_free",
        "madvise", "mlock", "mlock2", "munlock", "mlockall", "munlockall", "mincore", "msync", "membarrier",
        "memfd_create", "get_mempolicy",
    ],
    "processes": [
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid", "kill",
        "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
        "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "set_thread_area",
        "get_thread_area", "prctl", "capget", "capset", "pidfd_open", "pidfd_send_signal", "uname", "sysinfo",
        "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "times", "getpriority", "setpriority",
        "ioprio_get", "ioprio_set", "seccomp",
    ],
    "credentials": [
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
        "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "getuid32",
        "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32", "setuid32", "setgid32",
        "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32", "setfsuid32", "setfsgid32",
    ],
    "scheduling and futexes": [
        "futex", "futex_time64", "futex_waitv", "sched_yield", "sched_getaffinity", "sched_setaffinity",
        "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
        "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_getattr",
        "sched_setattr", "getcpu",
    ],
    "signals": [
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4",
        "sigreturn", "sigaction", "sigprocmask", "sigpending", "sigsuspend", "pause", "alarm", "restart_syscall",
    ],
    "time": [
        "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "clock_nanosleep",
        "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time", "timer_create", "timer_delete",
        "timer_settime", "timer_gettime", "timer_getoverrun", "timer_settime64", "timer_gettime64",
        "timerfd_create", "timerfd_settime", "timerfd_gettime", "timerfd_settime64", "timerfd_gettime64",
        "getitimer", "setitimer",
    ],
    "polling and events": [
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait",
        "epoll_pwait2", "eventfd", "eventfd2", "inotify_init", "inotify_init1", "inotify_add_watch",
        "inotify_rm_watch", "io_setup", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
        "io_submit", "io_cancel",
    ],
    "ipc": [
        "pipe", "pipe2", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_notify", "mq_getsetattr", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
        "semop", "semtimedop", "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "ipc",
    ],
    "sockets": [
        "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
        "sendto", "recvfrom", "send", "recv", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64",
        "shutdown", "setsockopt", "getsockopt", "socketcall",
    ],
    "misc": ["ioctl", "getrandom", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"],
}

# clone(2) flags that create namespaces: a container process may clone threads and processes, not namespaces.
CLONE_NEW_FLAGS = {
    "CLONE_NEWTIME": 0x00000080, "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000, "CLONE_NEWNET": 0x40000000,
}
PER_LINUX, PER_LINUX32, UNAME26, QUERY = 0x0, 0x8, 0x20000, 0xFFFFFFFF


def build_profile() -> dict[str, Any]:
    names = [n for group in GROUPS.values() for n in group]
    assert len(names) == len(set(names)), "a syscall is listed twice"
    ns_mask = 0
    for bit in CLONE_NEW_FLAGS.values():
        ns_mask |= bit
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": names, "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": ns_mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}
                      for v in (PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, QUERY)]},
        ],
    }


def render() -> str:
    return json.dumps(build_profile(), indent=1) + "\n"


if __name__ == "__main__":
    out = HERE / "allowlist.json"
    out.write_text(render())
    print(f"wrote {out} ({sum(len(s['names']) for s in build_profile()['syscalls'])} names)", file=sys.stderr)
