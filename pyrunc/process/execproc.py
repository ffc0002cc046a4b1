"""`exec`'s two child stages: join the running container's namespaces, then become its new process.

    pyrunc exec (parent, host)           stage 1 `pyrunc:[1:EXEC]`            stage 2 `pyrunc:[2:EXEC]`
    --------------------------           -------------------------            -------------------------
    open /proc/<init>/ns/*, fork ──────▶ non-dumpable, pdeathsig, close fds
    cgroup apply(stage 1) ── GO ───────▶ setns: others, user (+ root in it),
                                         the rest, mount last; fork ────────▶ setsid, keyring, console,
    reap stage 1 ◀────────── INIT_PID ── _exit(0)                             nnp, scheduler, personality
    rlimits, oom_score_adj, pidfd,   ◀──────────────────────────────────────── READY
    signal relay                     ── RUN ──────────────────────────────▶  seccomp (no nnp), caps, user,
    send fd to listenerPath ◀───────────────────────────────── SECCOMP(+fd) ─ cwd (checked), lookup, seccomp
    `exec` returns (-d) or waits     ◀──────────────────────────────────────── EOF = execve closed the socket
    error, children killed + reaped  ◀────────────────── ERROR(step, message) ─ _exit(255) (execve failed too)

The same protocol as create (`pyrunc.process.sync`), driven by the same loop (`pyrunc.process.spawn`). Stage 2 keeps
the sync socket open until execve (it is close-on-exec), so the parent also learns of an execve failure.

Why two stages: setns(CLONE_NEWPID) (and a time namespace) only applies to the children of the caller, so the process
that joins cannot be the container's process; it forks it and exits. The parent is a child subreaper, so stage 2
is adopted by it (`exec` waits for it) and, when `exec -d` exits, by the caller's subreaper (containerd's shim,
conmon), which reaps it: no pyrunc process outlives `exec -d` (CLIENTS.md 4.3).

One stage (`cfg.one_stage`, the usual case): the parent itself enters the container's pid namespace for its children
just for the fork (pyrunc.process.spawn), so its child is born there, joins the other namespaces and goes on as stage
2 without forking again: a fork of the ~11 MB runtime and a round trip fewer. Not with a time namespace to join.

Everything these stages use is imported before any fork: once in the container's mount namespace the host's
Python library is out of reach (ARCHITECTURE rule 7). What every exec needs is imported at the top of this module;
what only some need (a console, seccomp) is imported by the parent through `preload`, and named here by local
imports that only look it up in sys.modules.
"""

import _signal
import errno
import os
import sys

from pyrunc.errors import SyscallError
from pyrunc.linux import keyring, mempolicy, ns, prctl, proc
from pyrunc.linux import mount as lm
from pyrunc.process import cwd as cwd_step
from pyrunc.process import program, sync
from pyrunc.process.sync import Msg
from pyrunc.security import capabilities, credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import NoReturn

    from pyrunc.process.config import ExecConfig


def preload(cfg: "ExecConfig") -> None:
    """Import, in the parent before the first fork, what only some execs need: a console, seccomp, the v1 cgroup
    joins (in the child an import is a read of the .pyc: the launcher's code cache is closed at fork)."""
    if cfg.cgroup_join or cfg.cgroup_clone_dir:
        __import__("pyrunc.cgroups.files")  # join_tasks, pids_limit_exceeded
    if cfg.console is not None:
        __import__("pyrunc.linux.pty")
    if cfg.seccomp is not None:
        __import__("pyrunc.security.seccomp")
    if cfg.process.apparmor_profile or cfg.process.selinux_label:
        __import__("pyrunc.security.lsm")

# Non-user namespaces in the order they are joined; mount last: after it nothing on the host can be named.
JOIN_ORDER = ("cgroup", "ipc", "uts", "network", "pid", "time", "mount")

_step = "exec"


def _set_step(name: str) -> None:
    global _step
    _step = name
    sync.debug(f"exec: {name}")  # forwarded to the parent's log with --debug


def _report(sock: "_socket.socket", e: BaseException) -> None:
    """ERROR to the parent. No config pointer: an exec'd process comes from flags or a process file, and runc's
    exec errors carry none (`exec: "sh": executable file not found in $PATH`)."""
    fields = sync.error_fields(e, _step)
    fields["spec_path"] = None
    try:
        sync.send(sock, Msg.ERROR, **fields)
    except BaseException:
        pass


# ------------------------------------------------------------------------------------------------ stage 1


def intermediate_main(cfg: "ExecConfig", sock: "_socket.socket") -> "NoReturn":
    """Child entry after the first fork. Never returns: every path ends in os._exit."""
    try:
        _intermediate(cfg, sock)
        os._exit(0)
    except sync.SyncEOF:
        os._exit(1)  # the parent died: nobody to report to
    except BaseException as e:
        _report(sock, e)
    finally:
        os._exit(255)


def _intermediate(cfg: "ExecConfig", sock: "_socket.socket") -> None:
    _set_step("exec")
    # Non-dumpable before we share anything with the container: a container process must not ptrace us or open
    # /proc/<pid>/{fd,exe,mem} of a process holding host fds and running the host's python (CVE-2016-9962,
    # CVE-2019-5736).
    prctl.set_dumpable(False)
    prctl.set_name("pyrunc:[1:EXEC]")
    proc.set_process_title("pyrunc exec [intermediate]")
    prctl.set_pdeathsig(_signal.SIGKILL)
    # One stage with the container's pid namespace: we were born in it, and our parent (outside it) shows as 0.
    if os.getppid() != (0 if cfg.one_stage and any(k == "pid" for k, _ in cfg.join) else cfg.parent_pid):
        os._exit(1)
    # Only what the process may receive (stdio, preserved fds, the console) and our channels survive: no host fd
    # may reach the container (CVE-2024-21626). Done here, while /proc/self is still ours.
    proc.close_fds_except(cfg.keep_fds(sock))
    affinity = cfg.process.exec_cpu_affinity
    if affinity is not None and affinity.initial:
        # The affinity of the runtime's process before it joins the container's cgroup (runtime-spec), so before
        # join_tasks below: the container's cpuset may exclude the CPUs we run on.
        _set_step("execCPUAffinity")
        proc.set_cpu_affinity(affinity.initial, "/process/execCPUAffinity/initial")
        # The mask in effect, in runc's nsexec wording (its bats tests look for "nsexec...: affinity: 0x...").
        mask = sum(1 << cpu for cpu in os.sched_getaffinity(0))
        sync.debug(f"exec intermediate[{os.getpid()}]: nsexec: affinity: {mask:#x}")
    if cfg.cgroup_join:
        # Join the v1 cgroups ourselves, without the ~10 ms the parent's cgroup.procs write costs (see
        # pyrunc.cgroups.files.join_tasks); whatever is refused, the parent writes its usual way.
        _set_step("join cgroups")
        from pyrunc.cgroups import files

        sync.send(sock, Msg.JOINED, dirs=files.join_tasks(cfg.cgroup_join))

    # GO: the parent has moved us into the container's cgroup: our child is born there and never runs a single
    # instruction outside it.
    _set_step("wait for parent")
    sync.expect(sock, Msg.GO)
    if cfg.one_stage and (cfg.cgroup_join or cfg.cgroup_clone_dir):
        # One stage: we joined the container's cgroup instead of being forked in it, which the pids limit does not
        # stop. Fail as that fork would have (runc's exec forks there).
        from pyrunc.cgroups import files

        _set_step("pids limit")
        over = files.pids_limit_exceeded([*cfg.cgroup_join, *([cfg.cgroup_clone_dir] if cfg.cgroup_clone_dir else [])])
        if over is not None:
            raise SyscallError("fork", errno.EAGAIN, path=over,
                               detail="a pids limit of the container's cgroup is reached")
    # runc's debug output names this stage "nsexec container setup"; runc's bats suite looks for the phrase.
    sync.debug(f"exec intermediate[{os.getpid()}]: nsexec container setup: joining "
               f"{','.join(k for k, _ in cfg.join) or 'no'} namespaces")

    _join_namespaces(cfg.join)

    if cfg.one_stage:
        # Born in the container's pid namespace (pyrunc.process.spawn): no second fork, we are the process.
        sync.debug(f"exec[{os.getpid()}]: nsexec container setup done: this process runs the command")
        sync.send(sock, Msg.INIT_PID, pid=os.getpid())
        exec_main(cfg, sock)  # never returns

    _set_step("fork")
    for f in (sys.stdout, sys.stderr):
        f.flush()
    # The child shares our socket: it must not speak before the parent has its pid (INIT_PID), or the parent
    # would handle its first message not knowing whose it is. It waits for EOF on this pipe.
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(hold_w)
        os.read(hold_r, 1)
        os.close(hold_r)
        exec_main(cfg, sock)  # never returns
    os.close(hold_r)
    sync.send(sock, Msg.INIT_PID, pid=pid)
    os.close(hold_w)


def _join_namespaces(join: list[tuple[str, int]]) -> None:
    """setns into each namespace of the container's init that differs from ours (the parent left out the rest).

    Order (as runc's nsexec): first every namespace but user and mount, as the host's root, tolerating EPERM: a
    namespace the container joined by path may belong to a user namespace other than the container's, and only the
    host's root can enter it. Then the user namespace (and become its root, as the container's init did). Then
    whatever failed before and the mount namespace, last: after it, no host path resolves any more (every fd was
    opened by the parent beforehand).
    """
    fds = dict(join)
    retry: list[str] = []
    for kind in JOIN_ORDER:
        if kind == "mount" or kind not in fds:
            continue
        _set_step(f"join {kind} namespace")
        try:
            ns.setns(fds[kind], ns.NAMESPACES[kind][0])
        except SyscallError as e:
            if e.errno != errno.EPERM or "user" not in fds:
                raise
            retry.append(kind)
    if "user" in fds:
        _set_step("join user namespace")
        ns.setns(fds["user"], ns.CLONE_NEWUSER)
        _set_step("become root in user namespace")
        if proc.setgroups_allowed():
            proc.set_groups([])
        proc.set_resgid(0)
        proc.set_resuid(0)
        prctl.set_dumpable(False)  # a uid change resets it to fs.suid_dumpable (CVE-2016-9962)
    for kind in (*retry, "mount"):
        if kind not in fds:
            continue
        _set_step(f"join {kind} namespace")
        ns.setns(fds[kind], ns.NAMESPACES[kind][0])
    if "root" in fds:
        # A container without a mount namespace of its own is a chroot in ours: enter the init's root (opened by
        # the parent as /proc/<init>/root), else the process would see the host's "/". cwd is set later, checked.
        _set_step("chroot into the container's root")
        os.fchdir(fds["root"])
        lm.chroot(".")
        os.chdir("/")
    for _kind, fd in join:
        os.close(fd)


# ------------------------------------------------------------------------------------------------ stage 2


def exec_main(cfg: "ExecConfig", sock: "_socket.socket") -> "NoReturn":
    """Child entry after the second fork, inside the container. Never returns: execve, or os._exit."""
    try:
        _exec(cfg, sock)
    except sync.SyncEOF:
        pass  # the parent died before we were ready: vanish
    except BaseException as e:
        _report(sock, e)
    finally:
        os._exit(255)


def _warn(sock: "_socket.socket", message: str) -> None:
    try:
        sync.send(sock, Msg.WARN, message=message)
    except OSError:
        pass


def _exec(cfg: "ExecConfig", sock: "_socket.socket") -> None:
    process = cfg.process

    _set_step("exec")
    # Inherited from stage 1; set again so the rule is visible here: non-dumpable until execve, which resets it
    # for the program (CVE-2016-9962, CVE-2019-5736).
    prctl.set_dumpable(False)
    prctl.set_name("pyrunc:[2:EXEC]")
    proc.set_process_title("pyrunc exec")
    sync.debug(f"exec[{os.getpid()}]: child process in init(): setting up the process in the container")
    # A session of our own (runc's stage 2 does the same): no controlling terminal of the caller's, and a console
    # pty can only become the controlling terminal of a session leader.
    proc.setsid()

    if not cfg.no_new_keyring:
        # The container's session keyring, not the caller's (runc joins "_ses.<id>" for exec too).
        _set_step("join session keyring")
        keyring.join_session_keyring(f"_ses.{cfg.cid}")

    own_console = cfg.console is not None
    if cfg.console is not None:
        # From the container's /dev/ptmx (its devpts instance: we are in its mount namespace); the master goes to
        # the console socket with runc's framing, the slave becomes stdio and controlling terminal.
        _set_step("console")
        from pyrunc.linux import pty  # preloaded: only a process with a terminal needs it

        master, slave, _name = pty.open_pty("/dev/ptmx")
        if process.console_size is not None:
            pty.set_winsize(master, process.console_size.height, process.console_size.width)
        pty.hand_over(cfg.console, master, slave)
        cfg.console = None

    # The final affinity (or the reset) right after the cgroup move, as runc does, and before the scheduler:
    # SCHED_DEADLINE needs a mask with every CPU.
    affinity = process.exec_cpu_affinity
    if affinity is not None and affinity.final:
        _set_step("execCPUAffinity")
        proc.set_cpu_affinity(affinity.final, "/process/execCPUAffinity/final")
    elif affinity is None or not affinity.initial:
        # No execCPUAffinity: every CPU the container's cpuset allows, not `pyrunc exec`'s own (maybe pinned)
        # affinity (runc). With only "initial", the kernel decides (runtime-spec: "SHOULD NOT change").
        _set_step("cpu affinity")
        err = proc.reset_cpu_affinity()
        if err:
            _warn(sock, f"resetting the CPU affinity failed ({err}): the process may inherit the runtime's CPU "
                        "affinity")

    if process.no_new_privileges:
        _set_step("no_new_privs")
        prctl.set_no_new_privs()
    if process.scheduler is not None:
        _set_step("scheduler")
        s = process.scheduler
        proc.sched_setattr(s.policy, nice=s.nice, priority=s.priority, flags=s.flags, runtime=s.runtime,
                           deadline=s.deadline, period=s.period)
    if process.io_priority is not None:
        _set_step("ioPriority")
        proc.ioprio_set(process.io_priority.klass, process.io_priority.priority)
    if cfg.personality is not None:
        _set_step("personality")
        proc.set_personality(cfg.personality.domain)
    if cfg.memory_policy is not None:
        # The container's `linux.memoryPolicy` applies to exec'd processes too (runc's setns init sets it).
        _set_step("memory policy")
        mp = cfg.memory_policy
        mempolicy.set_mempolicy(str(mp.get("mode")), mp.get("nodes"), tuple(mp.get("flags") or ()))

    if process.apparmor_profile or process.selinux_label:
        # Through the container's /proc, verified (CVE-2019-16884), before capabilities and seccomp may deny the
        # write; the kernel applies the label at our execve (runc's setns init does the same).
        _set_step("apply LSM labels")
        from pyrunc.security import lsm  # preloaded: only a process with a label needs it

        lsm.apply(process.apparmor_profile, process.selinux_label)

    # READY: the parent sets rlimits (it may raise hard limits; in a user namespace we could not) and
    # oom_score_adj, hands out the pidfd, installs its signal relay. RUN: go on.
    _set_step("ready")
    sync.send(sock, Msg.READY)
    sync.expect(sock, Msg.RUN)
    if cfg.one_stage:
        # The death signal stage 1 set for the set-up survives execve: `exec -d` exits right after this process
        # starts, and the command must not die with it. Cleared now, before seccomp may deny prctl.
        prctl.set_pdeathsig(0)

    if cfg.seccomp is not None and not process.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capabilities are dropped.
        _set_step("seccomp")
        _load_seccomp(cfg, sock)

    # Bounding set before the uid changes (PR_CAPBSET_DROP needs CAP_SETPCAP, which the uid change removes).
    _set_step("capabilities (bounding)")
    capabilities.drop_bounding(process.capabilities, lambda m: _warn(sock, m))

    # cwd as root first (root may enter directories the user cannot), again as the user if that was denied.
    _set_step("cwd")
    chdir_done = cwd_step.change_dir(process.cwd, allow_eacces=True, spec_path=None)

    # The environment (HOME from the container's /etc/passwd) while we are still root.
    _set_step("environment")
    env = credentials.with_home(list(cfg.env), process.user.uid)

    _set_step("user")
    # stdio (our console pty, the caller's pipes) to the process's uid while we may still chown.
    credentials.fix_stdio_ownership(process.user.uid, own_console=own_console)
    prctl.set_keepcaps(True)  # keep the permitted set across setresuid to a non-zero uid
    credentials.apply_user(process.user)
    prctl.set_keepcaps(False)
    prctl.set_dumpable(False)  # a uid change resets it to fs.suid_dumpable (CVE-2016-9962)

    _set_step("cwd")
    if not chdir_done:
        cwd_step.change_dir(process.cwd, allow_eacces=False, spec_path=None)
    # `exec --cwd` is a second way in for CVE-2024-21626 (a cwd through a leaked fd): it must be inside the root.
    cwd_step.verify_cwd(spec_path=None)

    _set_step("capabilities")
    capabilities.apply_sets(process.capabilities, lambda m: _warn(sock, m))

    _set_step("umask")
    credentials.apply_umask(process.user)

    _set_step("exec")
    path = program.lookup(process.args[0], env)

    if cfg.seccomp is not None and process.no_new_privileges:
        # As late as possible: the filter may deny syscalls CPython needs for the remaining steps.
        _set_step("seccomp")
        _load_seccomp(cfg, sock)

    _set_step("exec")
    # Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive execve, handled ones do not.
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    # Every fd but stdio and the preserved ones is close-on-exec (CVE-2024-21626), the sync socket included: its
    # EOF tells the parent the program runs. If execve fails, the socket is still open for the ERROR.
    proc.set_cloexec_from(3 + cfg.extra_fds)
    # runc's debug output says "setns_init: about to exec" here; runc's bats suite looks for the phrase.
    sync.debug(f"exec[{os.getpid()}]: setns_init: about to exec {path}")
    program.execve(path, list(process.args), env)


def _load_seccomp(cfg: "ExecConfig", sock: "_socket.socket") -> None:
    """Implements the container's `linux.seccomp` for the exec'd process (runc applies it to exec too)."""
    from pyrunc.security import seccomp  # preloaded: only containers with linux.seccomp need it

    fd = seccomp.load_filter(cfg.seccomp)
    if fd is not None:
        sync.send(sock, Msg.SECCOMP, fd=fd)
        sync.expect(sock, Msg.SECCOMP_DONE)
        os.close(fd)
