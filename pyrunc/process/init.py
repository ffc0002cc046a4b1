"""Stage 2, `pyrunc:[2:INIT]`: the container's init (pid 1 of a new pid namespace). One flat, ordered sequence.

The order is the point of this module; each step says why it is where it is. Until the sync socket is closed, a
failure goes to the parent as ERROR(step, errno, message, config pointer) and the parent cleans everything up.
After that the parent is gone: a failure while parked on exec.fifo goes to the container's stderr, a failing
startContainer hook to exec.fifo (`start` reports it and fails, runtime-spec lifecycle step 7), and a failing execve
to the container's stderr again, as runc's (`start` has succeeded); the init then exits 255.

Everything the sequence uses is imported before any fork: after pivot_root the host's Python library is out of
reach, so nothing may be imported here that is not already loaded (ARCHITECTURE rule 7). What every container
needs is imported at the top of this module; what only some configs need (a console, hooks, seccomp; see
`modules_needed`) is imported by the parent through `preload`, before the first fork, and named here by local
imports that only look it up in sys.modules.
"""

import _signal
import os

from pyrunc import quickjson
from pyrunc.linux import keyring, mempolicy, net, prctl, proc
from pyrunc.process import cwd as cwd_step
from pyrunc.process import program, sync
from pyrunc.process.sync import Msg, StepError
from pyrunc.runtime import execfifo
from pyrunc.security import capabilities, credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import Any, NoReturn

    from pyrunc.process.config import ProcessConfig
    from pyrunc.spec.model import Hook

try:  # written in parallel by the rootfs helper; guarded so the rest of pyrunc imports without it
    from pyrunc.rootfs import prepare as _rootfs
except ImportError as _e:  # pragma: no cover - until pyrunc/rootfs/prepare.py lands
    _rootfs = None  # type: ignore[assignment]
    _ROOTFS_IMPORT_ERROR = str(_e)


def modules_needed(cfg: "ProcessConfig") -> list[str]:
    """The modules the init of this config uses that are not imported at the top of this module."""
    spec = cfg.spec
    names = []
    if cfg.console is not None:
        names.append("pyrunc.linux.pty")
    if spec.hooks.create_container or spec.hooks.start_container:
        names.append("pyrunc.runtime.hooks")
    if cfg.seccomp is not None:
        names.append("pyrunc.security.seccomp")
    if spec.process is not None and (spec.process.apparmor_profile or spec.process.selinux_label):
        names.append("pyrunc.security.lsm")
    if _rootfs is not None:
        names += _rootfs.modules_needed(spec)
    return names


def preload(cfg: "ProcessConfig") -> None:
    """Import `modules_needed(cfg)`: in the parent, before the first fork (the init cannot import after
    pivot_root, and the host's Python library may not even be readable from a new user namespace)."""
    for name in modules_needed(cfg):
        __import__(name)


_step = "init"
_sock: "_socket.socket | None" = None
# After `start` released us: the write end of exec.fifo, which `start` reads until EOF (execve closes it). A failing
# startContainer hook is written there, so `start` reports it and fails.
_start_fd: int | None = None


def _set_step(name: str) -> None:
    global _step
    _step = name
    sync.debug(f"init: {name}")  # forwarded to the parent's log with --debug, until the socket is closed


def main(cfg: "ProcessConfig", sock: "_socket.socket") -> "NoReturn":
    """Child entry after the second fork. Never returns: execve, or os._exit."""
    global _sock
    _sock = sock
    try:
        _init(cfg)
    except sync.SyncEOF:
        pass  # the parent died before we were ready: it cannot clean up, so just vanish
    except BaseException as e:
        if _sock is not None:
            sync.send_error(_sock, e, _step)
        else:
            _report_late(e)
    finally:
        os._exit(255)


# One atomic pipe write (PIPE_BUF): `start` must never see half a message.
_LATE_MAX = 4000


def _report_late(e: BaseException) -> None:
    """After `create` returned nobody listens on the socket. Once `start` released us it reads exec.fifo until
    EOF: the error goes there (runtime-spec lifecycle step 7: a failing startContainer hook makes `start` fail).
    Before that (a signal while parked), only the container's stderr can be told, as runc does."""
    f = sync.error_fields(e, _step)
    if _start_fd is not None:
        data = quickjson.dumps(f, separators=(",", ":")).encode()
        if len(data) > _LATE_MAX:
            f["message"] = str(f["message"])[: _LATE_MAX // 2] + "..."
            data = quickjson.dumps(f, separators=(",", ":")).encode()[:_LATE_MAX]
        try:
            os.write(_start_fd, data)
            return
        except OSError:
            pass
    try:
        os.write(2, f"pyrunc init: {f['step']}: {f['message']}\n".encode())
    except OSError:
        pass


def _warn(message: str) -> None:
    if _sock is not None:
        try:
            sync.send(_sock, Msg.WARN, message=message)
        except OSError:
            pass


def _init(cfg: "ProcessConfig") -> None:
    global _sock, _start_fd
    assert _sock is not None and cfg.spec.process is not None
    sock = _sock
    spec = cfg.spec
    process = cfg.spec.process
    plan = cfg.namespaces

    _set_step("init")
    # Non-dumpable until execve (which resets it for the container's own program): while we run inside the
    # container, /proc/1/exe is the host's python; a container process must not open it, ptrace us or read our
    # fds (CVE-2019-5736, CVE-2016-9962). Inherited from the intermediate; set again so the rule is visible here.
    prctl.set_dumpable(False)
    prctl.set_name("pyrunc:[2:INIT]")
    proc.set_process_title("pyrunc init")  # what `ps` shows for a created container (runc shows `runc init`)
    sync.debug(f"init[{os.getpid()}]: child process in init(): setting up the container")
    # A session of our own: the container must not share the caller's session or controlling terminal, and a
    # console pty can only become the controlling terminal of a session leader.
    proc.setsid()

    # Every CPU the container's cpuset allows, not the runtime's own (maybe pinned) affinity; we are in the
    # container's cgroup by now, and SCHED_DEADLINE (process.scheduler) needs the full mask. runtime-spec:
    # execCPUAffinity "is not applicable to the container's init process".
    _set_step("cpu affinity")
    err = proc.reset_cpu_affinity()
    if err:
        _warn(f"resetting the CPU affinity failed ({err}): the container may inherit the runtime's CPU affinity")

    if "network" in plan.new:
        # A new network namespace has only `lo`, down. runc brings it up; so do we (no `ip` in the image needed).
        _set_step("bring up loopback")
        net.set_link_up("lo")

    if not cfg.no_new_keyring:
        # A session keyring of our own, so containers do not share the host's (kernel keys, kerberos tickets).
        _set_step("join session keyring")
        keyring.join_session_keyring(f"_ses.{cfg.cid}")

    # Mounts, devices, /dev symlinks: everything that needs the host's view of the filesystem (bind sources).
    _set_step("prepare rootfs")
    if _rootfs is None:
        raise StepError("prepare rootfs", f"rootfs support is not installed: {_ROOTFS_IMPORT_ERROR}")
    trees = _HostTrees(sock, _rootfs.host_side_mounts(spec))
    try:
        _rootfs.prepare_rootfs(spec, cgroup_paths=cfg.cgroup_paths, mount_fds=trees)
    finally:
        trees.close()

    # prestart/createRuntime hooks run in the parent, in the runtime's namespaces, once the container's
    # namespaces and mounts exist (runtime-spec lifecycle steps 3-4). The parent answers with the hook state.
    # Without any hook that needs it (the parent's, or ours: createContainer, startContainer) the round trip is
    # skipped: HOOKS_DONE carries nothing but that state (the cgroup limits were set before GO).
    hooks = spec.hooks
    hook_state: dict[str, Any] = {}
    if hooks.prestart or hooks.create_runtime or hooks.create_container or hooks.start_container:
        _set_step("createRuntime hooks")
        sync.send(sock, Msg.HOOKS)
        hook_state = sync.expect(sock, Msg.HOOKS_DONE)["state"]

        # createContainer hooks: in the container's namespaces, before pivot_root (lifecycle step 5).
        # runtime-spec "State": for hooks executed in the container namespace, `pid` is the pid as seen by the
        # container (1 in a new pid namespace), not the host pid the runtime-namespace hooks get.
        _set_step("createContainer hooks")
        hook_state = dict(hook_state, pid=os.getpid())
        _run_hooks("createContainer", hooks.create_container, dict(hook_state, status="creating"),
                   cwd=spec.root.path)  # runc runs them from the rootfs (before pivot_root)

    _set_step("pivot_root")
    _rootfs.pivot_rootfs(spec.root.path, no_pivot=cfg.no_pivot)

    # runc creates a missing cwd (inside the jail, before the root may become read-only).
    _set_step("create cwd")
    cwd_step.make_cwd(process.cwd)

    own_console = cfg.console is not None
    if cfg.console is not None:
        # The pty is opened from the container's own /dev/ptmx (its devpts instance), after pivot_root; the
        # master goes to the console socket (runc's protocol: one fd, the name as payload), the slave becomes
        # our stdio and controlling terminal.
        _set_step("console")
        from pyrunc.linux import pty  # preloaded: only configs with a terminal need it

        master, slave, _name = pty.open_pty("/dev/ptmx")
        if process.console_size is not None:
            pty.set_winsize(master, process.console_size.height, process.console_size.width)
        _rootfs.mount_console(slave)
        pty.hand_over(cfg.console, master, slave, spec_path="/process/terminal")
        cfg.console = None

    if plan.has("uts"):
        _set_step("hostname")
        if spec.hostname is not None:
            proc.sethostname(spec.hostname)
        if spec.domainname is not None:
            proc.setdomainname(spec.domainname)

    # sysctls before finalize_rootfs: /proc/sys is usually one of the readonlyPaths.
    _set_step("sysctl")
    _rootfs.apply_sysctl(spec)

    _set_step("finalize rootfs")
    _rootfs.finalize_rootfs(spec)

    if process.apparmor_profile or process.selinux_label:
        # Once /proc is final (a verified procfs write: CVE-2019-16884), before the capabilities and seccomp may
        # deny it; the kernel applies the label at our execve (runc applies it at the same point). Hooks the init
        # starts from here (startContainer) are labelled too, as with runc.
        _set_step("apply LSM labels")
        from pyrunc.security import lsm  # preloaded: only configs with a label need it

        lsm.apply(process.apparmor_profile, process.selinux_label)

    if spec.linux.personality is not None:
        _set_step("personality")
        proc.set_personality(spec.linux.personality.domain)

    if process.no_new_privileges:
        _set_step("no_new_privs")
        prctl.set_no_new_privs()

    if spec.linux.memory_policy is not None:
        # NUMA policy of this process, kept by execve and inherited by every process of the container.
        _set_step("memory policy")
        _set_memory_policy(spec.linux.memory_policy)

    # READY: the parent sets rlimits (it may raise hard limits, we may not in a user namespace) and
    # oom_score_adj. RUN: go on (the parent saves the state as "created" meanwhile, before it reads our EOF).
    _set_step("ready")
    sync.send(sock, Msg.READY)
    sync.expect(sock, Msg.RUN)

    # Scheduling and I/O priority while we still have CAP_SYS_NICE (real-time policies, raising priority);
    # both are inherited across execve.
    if process.scheduler is not None:
        _set_step("scheduler")
        s = process.scheduler
        proc.sched_setattr(s.policy, nice=s.nice, priority=s.priority, flags=s.flags, runtime=s.runtime,
                           deadline=s.deadline, period=s.period)
    if process.io_priority is not None:
        _set_step("ioPriority")
        proc.ioprio_set(process.io_priority.klass, process.io_priority.priority)

    if cfg.seccomp is not None and not process.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capabilities are dropped.
        _set_step("seccomp")
        _load_seccomp(cfg, sock)

    # Bounding set before the uid changes (PR_CAPBSET_DROP needs CAP_SETPCAP, which the uid change removes).
    _set_step("capabilities (bounding)")
    capabilities.drop_bounding(process.capabilities, _warn)

    # cwd as root first (root may enter directories the user cannot), again after the uid change if denied.
    _set_step("cwd")
    chdir_done = cwd_step.change_dir(process.cwd, allow_eacces=True)

    # The environment (HOME from the container's /etc/passwd) while we are still root: the user may not be able
    # to read it (runc prepares it at the same point).
    _set_step("environment")
    env = credentials.with_home(list(cfg.env), process.user.uid)

    _set_step("user")
    # stdio (the console pty, the caller's pipes) to the process's uid while we may still chown.
    credentials.fix_stdio_ownership(process.user.uid, own_console=own_console)
    prctl.set_keepcaps(True)  # keep the permitted set across setresuid to a non-zero uid
    credentials.apply_user(process.user)
    prctl.set_keepcaps(False)
    # A uid/gid change resets the dumpable flag to fs.suid_dumpable, which an admin may have set to 1: stay
    # non-dumpable until execve (CVE-2016-9962).
    prctl.set_dumpable(False)

    _set_step("cwd")
    if not chdir_done:
        cwd_step.change_dir(process.cwd, allow_eacces=False)
    cwd_step.verify_cwd()  # CVE-2024-21626

    _set_step("capabilities")
    capabilities.apply_sets(process.capabilities, _warn)

    _set_step("umask")
    credentials.apply_umask(process.user)

    # Resolve the program through the container's PATH now, as the container's user, so "not found" is a
    # create-time error (runc's wording), not a silent exit after start.
    _set_step("exec")
    path = program.lookup(process.args[0], env)

    # The exec.fifo is reopened through /proc/self/fd after the socket is closed: check now that it can be,
    # so a container without /proc fails `create` instead of hanging `start`.
    _set_step("exec fifo")
    execfifo.check_reopenable(cfg.fifo_fd)


    if cfg.seccomp is not None and process.no_new_privileges:
        # As late as possible: the filter may deny syscalls CPython needs for the remaining steps.
        _set_step("seccomp")
        _load_seccomp(cfg, sock)

    # Parked on exec.fifo we are pid 1 of the container's pid namespace, and the kernel drops signals sent to such
    # a process from outside unless it handles them: `kill <created-id> TERM` must stop a created container, as
    # it stops runc's (whose Go init handles every signal). The handlers exit at once; execve resets them.
    for sig in _PARKED_EXIT_SIGNALS:
        _signal.signal(sig, _exit_on_signal)

    # EOF on the sync socket tells the parent set-up succeeded; `create` returns now. Our log lines went over it:
    # from here on they are dropped.
    sync.debug("init: closing the pipe to signal completion")
    # One stage (pyrunc.process.intermediate): our parent is the runtime itself, and the death signal the set-up
    # had must not outlive it: `create` exits right after this EOF, and the container keeps running.
    prctl.set_pdeathsig(0)
    sock.close()
    _sock = None

    _set_step("exec fifo")
    _start_fd = execfifo.wait_for_start(cfg.fifo_fd)  # blocks until `start`; the write end closes at execve
    os.close(cfg.fifo_fd)

    _set_step("startContainer hooks")
    # Hooks without an `env` of their own get the process's environment, as runc gives them.
    _run_hooks("startContainer", spec.hooks.start_container, dict(hook_state, status="created"), default_env=env)

    _set_step("exec")
    # Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive execve, handled ones do not.
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    # Nothing of ours may reach the container process: every fd but stdio and the preserved ones is marked
    # close-on-exec (CVE-2024-21626: a leaked host fd became the container's cwd).
    proc.set_cloexec_from(3 + cfg.extra_fds)
    # An execve failure is not `start`'s (runc): the line goes to the container's stderr and we exit 255.
    program.execve_or_exit(path, list(process.args), env)


# ------------------------------------------------------------------------------------------------ steps

_PARKED_EXIT_SIGNALS = (_signal.SIGHUP, _signal.SIGINT, _signal.SIGQUIT, _signal.SIGTERM, _signal.SIGUSR1,
                        _signal.SIGUSR2, _signal.SIGALRM)


def _exit_on_signal(signum: int, frame: "Any") -> None:
    os._exit(128 + signum)



def _run_hooks(kind: str, hooks: "tuple[Hook, ...]", state: "dict[str, Any]", cwd: str | None = None,
               default_env: "list[str] | None" = None) -> None:
    if hooks:
        from pyrunc.runtime.hooks import run_hooks  # preloaded: only configs with hooks need it

        run_hooks(kind, hooks, state, cwd=cwd, default_env=default_env)


class _HostTrees:
    """Mount index -> detached tree made by the parent, for the mounts we cannot make as root of a user namespace
    (`prepare.host_side_mounts`). Each is asked for when its mount's turn comes (MOUNT_REQUEST for that index, one
    MOUNT_FD back), not all before the first mount: a source may lie under an earlier mount of the container (runc's
    "mount order" tests bind `<rootfs>/mnt/x` after mounting over /mnt/x), which the parent's helper, working in
    our mount namespace, sees only once that mount exists. The trees stay ours until `close`."""

    def __init__(self, sock: "_socket.socket", wanted: list[int]) -> None:
        self._sock = sock
        self._wanted = frozenset(wanted)
        self._fds: dict[int, int] = {}

    def __contains__(self, index: object) -> bool:
        return index in self._wanted

    def get(self, index: int) -> int | None:
        if index not in self._wanted:
            return None
        fd = self._fds.get(index)
        if fd is None:
            sync.send(self._sock, Msg.MOUNT_REQUEST, mounts=[index])
            kind, fields, fd = sync.recv(self._sock)
            if kind != Msg.MOUNT_FD or fd is None or fields.get("index") != index:
                if fd is not None:
                    os.close(fd)
                raise sync.ProtocolError(f"sync: expected MOUNT_FD for mount {index}, got {kind}")
            self._fds[index] = fd
        return fd

    def close(self) -> None:
        """Attached (or not, on error) by now: none of these host-made trees may stay open, let alone reach the
        container (CVE-2024-21626: a runtime fd in the container); they are CLOEXEC as well."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _set_memory_policy(policy: "Any") -> None:
    """Implements `linux.memoryPolicy` (set_mempolicy(2)); errors carry /linux/memoryPolicy/... pointers."""
    mempolicy.set_mempolicy(str(policy.get("mode")), policy.get("nodes"), tuple(policy.get("flags") or ()))


def _load_seccomp(cfg: "ProcessConfig", sock: "_socket.socket") -> None:
    """Implements `linux.seccomp`. A notify fd goes to the parent, which sends it to `listenerPath` (host side)."""
    from pyrunc.security import seccomp  # preloaded: only configs with linux.seccomp need it

    fd = seccomp.load_filter(cfg.seccomp)
    if fd is not None:
        sync.send(sock, Msg.SECCOMP, fd=fd)
        sync.expect(sock, Msg.SECCOMP_DONE)
        os.close(fd)
