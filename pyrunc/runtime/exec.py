"""Implements `exec`: run a new process inside a running container (runc's exec.go and its setns process).

Order, so that bad input leaves nothing behind and the process never runs a single instruction outside the
container: check the status (runc's messages), build the process (the container's `process` overridden by the
flags, or a whole `--process FILE`), validate the flags, get the container's seccomp filter (the program `create`
compiled, when it provably matches: pyrunc.runtime.seccomp_cache; else compiled now), connect the sockets, and
open the init's namespace files (pid + start time checked around it: a recycled pid never hands us another
process's namespaces). Only then fork (`pyrunc.process.execproc`): the first child is put in the
container's cgroup before it may go on, joins the namespaces and forks the process, which sets itself up and execs.

Every error is reported as runc does: `exec failed: <why>` and exit status 255 (`ExecFailed`); a foreground exec
otherwise exits with its process's status (128+signal when killed by one).
"""

import os
import select
from _signal import SIGKILL

from pyrunc.errors import ContainerError, PyruncError, SpecError, UsageError
from pyrunc.runtime import state as statestore
from pyrunc.runtime.state import CREATING, PAUSED, RUNNING, STOPPED, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import socket
    from typing import Any

    from pyrunc.process.terminal import Relay
    from pyrunc.spec.model import Process, Spec


def _log() -> "Any":
    from pyrunc.log import get_logger

    return get_logger(__name__)


class ExecFailed(PyruncError):
    """Any failure of `exec`: runc prints `exec failed: <cause>` and exits 255 (its fatalWithCode)."""

    exit_code = 255

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"exec failed: {cause}")
        self.cause = cause


class ExecOptions:
    """The flags of `exec` (runc's names)."""

    __slots__ = ("additional_gids", "apparmor", "args", "caps", "cgroups", "console_socket", "cwd", "detach", "env",
                 "ignore_paused", "no_new_privs", "pid_file", "pidfd_socket", "preserve_fds", "process_file",
                 "process_label", "tty", "user")

    def __init__(self, args: list[str] | None = None, process_file: str | None = None,
                 console_socket: str | None = None, pidfd_socket: str | None = None, cwd: str | None = None,
                 env: list[str] | None = None, tty: bool = False, user: str | None = None,
                 additional_gids: list[int] | None = None, detach: bool = False, pid_file: str | None = None,
                 process_label: str | None = None, apparmor: str | None = None, no_new_privs: bool = False,
                 caps: list[str] | None = None, preserve_fds: int = 0, cgroups: list[str] | None = None,
                 ignore_paused: bool = False) -> None:
        self.args = list(args or ())
        self.process_file = process_file
        self.console_socket = console_socket
        self.pidfd_socket = pidfd_socket
        self.cwd = cwd
        self.env = list(env or ())
        self.tty = tty
        self.user = user
        self.additional_gids = list(additional_gids or ())
        self.detach = detach
        self.pid_file = pid_file
        self.process_label = process_label
        self.apparmor = apparmor
        self.no_new_privs = no_new_privs
        self.caps = list(caps or ())
        self.preserve_fds = preserve_fds
        self.cgroups = list(cgroups or ())
        self.ignore_paused = ignore_paused


def exec_process(root: str, cid: str, opts: ExecOptions) -> int:
    """Implements `exec`. Detached: 0 once the program runs (pid file written). Else the program's exit status."""
    try:
        return _exec(root, cid, opts)
    except ExecFailed:
        raise
    except PyruncError as e:
        raise ExecFailed(e) from e


# --------------------------------------------------------------------------------------------- the process


def _parse_user(text: str) -> tuple[int, int | None]:
    """`--user uid[:gid]`."""
    uid_s, sep, gid_s = text.partition(":")

    def num(s: str, what: str) -> int:
        if not s.isdigit() or int(s) > 0xFFFFFFFE:
            raise UsageError(f"--user: bad {what}: {s!r} is not a number between 0 and 4294967294")
        return int(s)

    return num(uid_s, "uid"), (num(gid_s, "gid") if sep else None)


def _with_caps(process: "Process", names: list[str]) -> "Process":
    """`--cap`: add to the bounding, effective and permitted sets (runc). Never to the inheritable set
    (CVE-2022-29162: inheritable caps let file capabilities raise privileges); to the ambient set only when the
    config already grants the cap as inheritable (the kernel refuses an ambient cap that is not)."""
    from pyrunc.linux.capnames import CAP_NAMES
    from pyrunc.spec.model import Capabilities

    unknown = [n for n in names if n not in CAP_NAMES]
    if unknown:
        _log().warning("ignoring unknown or unavailable capabilities: [%s]", " ".join(unknown))
    c = process.capabilities or Capabilities()

    def add(current: tuple[str, ...], extra: list[str]) -> tuple[str, ...]:
        return current + tuple(n for n in dict.fromkeys(extra) if n not in current)

    known = [n for n in names if n in CAP_NAMES]
    out: Process = process.replace(capabilities=Capabilities(
        bounding=add(c.bounding, known), effective=add(c.effective, known), permitted=add(c.permitted, known),
        inheritable=c.inheritable, ambient=add(c.ambient, [n for n in known if n in c.inheritable])))
    return out


def _from_config(spec: "Spec", opts: ExecOptions) -> "Process":
    """The container's `process`, overridden by the flags (runc's getProcess without -p)."""
    base = spec.process
    if base is None:
        raise ContainerError("the container's config has no process")
    if not opts.args:
        raise UsageError("exec args cannot be empty")
    changes: dict[str, Any] = {"args": tuple(opts.args), "terminal": opts.tty}
    if opts.cwd:
        if not opts.cwd.startswith("/"):
            raise UsageError("--cwd: Cwd must be an absolute path")
        changes["cwd"] = opts.cwd
    for entry in opts.env:
        key, sep, _value = entry.partition("=")
        if not sep or not key:
            raise UsageError(f"--env: invalid environment variable: {entry!r} (want KEY=VALUE)")
    changes["env"] = base.env + tuple(opts.env)
    if opts.no_new_privs:
        changes["no_new_privileges"] = True
    user = base.user
    if opts.user:
        uid, gid = _parse_user(opts.user)
        user = user.replace(uid=uid, gid=user.gid if gid is None else gid)
    for g in opts.additional_gids:
        if not 0 <= g <= 0xFFFFFFFE:
            raise UsageError(f"--additional-gids: must be a number between 0 and 4294967294, got {g}")
    if opts.additional_gids:
        user = user.replace(additional_gids=user.additional_gids + tuple(opts.additional_gids))
    changes["user"] = user
    process: Process = base.replace(**changes)
    if opts.caps:
        process = _with_caps(process, opts.caps)
    return process


def build_process(spec: "Spec", opts: ExecOptions) -> "Process":
    """The process to run: `--process FILE` as it is (the other process flags are then ignored, as by runc), or
    the container's `process` with the flags applied (`--apparmor`, `--process-label` included). An LSM label
    this host cannot apply is refused, as runc refuses it, rather than run unconfined (pyrunc.security.lsm)."""
    if opts.process_file:
        from pyrunc.spec.load import load_process

        process = load_process(opts.process_file)
    else:
        process = _from_config(spec, opts)
        if opts.apparmor:
            process = process.replace(apparmor_profile=opts.apparmor)
        if opts.process_label:
            process = process.replace(selinux_label=opts.process_label)
    if process.apparmor_profile or process.selinux_label:
        from pyrunc.security import lsm

        problems = lsm.host_problems(process.apparmor_profile, process.selinux_label)
        if problems:
            pointer, message = problems[0]
            flag = {lsm.APPARMOR_POINTER: opts.apparmor, lsm.SELINUX_POINTER: opts.process_label}[pointer]
            if flag and not opts.process_file:
                raise UsageError(f"--{'apparmor' if pointer == lsm.APPARMOR_POINTER else 'process-label'} {flag}: "
                                 f"{message}")
            raise SpecError(problems, source=opts.process_file or "config.json")
    return process


def _check_terminal(process: "Process", opts: ExecOptions) -> None:
    """runc's checkTerminal, with its messages."""
    if opts.detach and process.terminal and not opts.console_socket:
        raise UsageError("cannot allocate tty if pyrunc will detach without setting console socket")
    if opts.console_socket and (not opts.detach or not process.terminal):
        raise UsageError("cannot use console socket if pyrunc will not detach or allocate tty")


# --------------------------------------------------------------------------------------------- cgroups


def parse_sub_cgroups(args: list[str]) -> dict[str, str]:
    """`--cgroup [<controller>[,<controller>...]:]<path>` (repeatable) -> controller -> sub-path ("" = all)."""
    paths: dict[str, str] = {}
    for arg in args:
        ctrls, sep, path = arg.partition(":")
        if not sep:
            if len(args) != 1:
                raise UsageError(f"invalid --cgroup argument: {arg} (missing <controller>: prefix)")
            paths[""] = arg
            continue
        for ctrl in ctrls.split(","):
            if not ctrl:
                raise UsageError(f"invalid --cgroup argument: {arg} (empty <controller> prefix)")
            if ctrl in paths:
                raise UsageError(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            paths[ctrl] = path
    return paths


def cgroup_targets(cg_paths: dict[str, str], sub: dict[str, str]) -> list[str]:
    """The directories the exec'd process joins: the container's cgroup in every hierarchy, or the requested
    existing sub-cgroup of it. A sub-path may not leave the container's cgroup (`..`: GHSA-5g49-rx9x-qfc6)."""
    unknown = sorted(c for c in sub if c and c not in cg_paths)
    if unknown:
        raise UsageError(f"invalid --cgroup argument: unknown controller {unknown[0]}")
    by_dir: dict[str, list[str]] = {}
    for ctrl, d in cg_paths.items():
        by_dir.setdefault(d, []).append(ctrl)
    targets = []
    for d, ctrls in by_dir.items():
        wanted = {sub[c] for c in ctrls if c in sub}
        if "" in sub:
            wanted.add(sub[""])
        if len(wanted) > 1:
            raise UsageError(f"invalid --cgroup arguments: controllers {','.join(sorted(ctrls))} share one "
                             f"hierarchy but got different paths")
        if not wanted:
            targets.append(d)
            continue
        rel = wanted.pop()
        target = os.path.normpath(os.path.join(d, rel.lstrip("/")))
        if target != d and not target.startswith(d + "/"):
            # Wording carries both runc generations' phrases ("bad sub cgroup path", "X is not a sub cgroup path").
            raise UsageError(f"invalid --cgroup argument: bad sub cgroup path: {rel} is not a sub cgroup path")
        if not os.path.isdir(target):
            # Checked before the fork; worded as the failed cgroup.procs write runc reports.
            raise UsageError(f"invalid --cgroup argument: adding pid to {target}/cgroup.procs: "
                             "no such file or directory")
        targets.append(target)
    return targets


def _v2_target(cg_paths: dict[str, str], targets: list[str]) -> str | None:
    """The target in the cgroup2 hierarchy (controller key "" in `paths()`), forked into with CLONE_INTO_CGROUP;
    the others are v1 directories the intermediate joins through `tasks`."""
    unified = cg_paths.get("")
    if unified is None:
        return None
    for t in targets:
        if t == unified or t.startswith(unified + "/"):
            return t
    return None


# --------------------------------------------------------------------------------------------- namespaces


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def open_namespaces(st: State, spec: "Spec") -> list[tuple[str, int]]:
    """fds of /proc/<init>/ns/<x> for every namespace type the container's config has, except those we are
    already in (setns into one's own user namespace fails; for pid and time our *_for_children is what a setns
    would change). The init is identified by a pidfd plus its start time, checked before and after opening."""
    from pyrunc.linux import ns, proc

    stopped = ContainerError("cannot exec in a stopped container")
    try:
        pidfd = proc.pidfd_open(st.pid)
    except OSError:
        raise stopped from None
    fds: list[tuple[str, int]] = []
    try:
        if not statestore.init_alive(st):
            raise stopped
        for n in spec.linux.namespaces:
            name = ns.NAMESPACES[n.type][1]
            fd = ns.open_ns(f"/proc/{st.pid}/ns/{name}", n.type)
            mine = f"/proc/self/ns/{name}_for_children" if n.type in ("pid", "time") else f"/proc/self/ns/{name}"
            if _same_file(fd, mine):
                os.close(fd)
                continue
            fds.append((n.type, fd))
        if spec.linux.namespace("mount") is None:
            # No mount namespace of its own: the container is chrooted in ours, and the exec'd process must be
            # too, or it would run in the host's "/". ("root", fd of /proc/<init>/root): execproc chroots there.
            try:
                fds.append(("root", os.open(f"/proc/{st.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
            except OSError:
                raise stopped from None
        if select.select([pidfd], [], [], 0)[0]:  # the init exited meanwhile: the files may be someone else's
            raise stopped
    except BaseException:
        for _, fd in fds:
            os.close(fd)
        raise
    finally:
        os.close(pidfd)
    return fds


# --------------------------------------------------------------------------------------------- parent side


class _ExecParent:
    """`ParentSide` for one exec (see `pyrunc.process.spawn`)."""

    def __init__(self, st: State, spec: "Spec", process: "Process", opts: ExecOptions, targets: list[str] | None,
                 tty_sock: "socket.socket | None") -> None:
        self.st = st
        self.spec = spec
        self.process = process
        self.opts = opts
        self.targets = targets
        self.tty_sock = tty_sock
        self.master = -1
        self.relay: Relay | None = None

    def on_intermediate(self, pid: int, placed: frozenset[str]) -> None:
        # Before the intermediate may fork: the process is born in the container's cgroup.
        if self.targets is None:
            return
        from pyrunc.cgroups import files

        for d in self.targets:
            if d not in placed:  # the intermediate joined these itself (see pyrunc.process.spawn)
                files.write(d, "cgroup.procs", str(pid))

    def on_map_request(self, pid: int) -> None:
        raise ContainerError("exec: unexpected user namespace mapping request")

    def on_init_pid(self, pid: int) -> None:
        pass

    def on_hooks(self, pid: int) -> "dict[str, Any]":
        raise ContainerError("exec: unexpected hooks request")

    def on_ready(self, pid: int) -> None:
        from pyrunc.linux import proc

        for i, rl in enumerate(self.process.rlimits):
            proc.prlimit(pid, rl.type, rl.soft, rl.hard, spec_path=f"/process/rlimits/{i}")
        # runc gives exec'd processes the container's oomScoreAdj too (its bootstrap data for setns).
        if self.spec.process is not None and self.spec.process.oom_score_adj is not None:
            proc.write_oom_score_adj(pid, self.spec.process.oom_score_adj)
        if self.opts.pidfd_socket:
            from pyrunc.runtime.handoff import send_pidfd

            send_pidfd(self.opts.pidfd_socket, pid)
        if self.tty_sock is not None:
            from pyrunc.linux import pty

            self.master, _name = pty.recv_fd(self.tty_sock)
            self.tty_sock.close()
            self.tty_sock = None
        if not self.opts.detach:
            # Before the program runs: no signal meant for it may kill us instead.
            from pyrunc.process import terminal
            from pyrunc.process.signals import forwardable

            self.relay = terminal.Relay(pid, self.master, forwardable())

    def on_started(self, pid: int) -> None:
        if not self.opts.detach:
            # While the child starts up: load the relay on_ready installs (it is on the path to RUN there).
            import pyrunc.process.signals
            import pyrunc.process.terminal  # noqa: F401

    def on_run(self, pid: int) -> None:
        pass

    def on_seccomp(self, pid: int, fd: int) -> None:
        from pyrunc.runtime.hookstate import state_for_hooks
        from pyrunc.security.seccomp import send_listener

        sc = self.spec.linux.seccomp
        assert sc is not None
        if not sc.listener_path:
            raise ContainerError("seccomp listenerPath is not set")
        # runc: the state names the container's init; the process the fd belongs to is the exec'd one.
        state = state_for_hooks(self.st.id, RUNNING, self.st.pid, self.st.bundle, self.st.annotations)
        send_listener(sc.listener_path, fd, state, sc.listener_metadata, notify_pid=pid)

    def on_warn(self, message: str) -> None:
        _log().warning("%s", message)

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        if self.tty_sock is not None:
            self.tty_sock.close()
            self.tty_sock = None


def _kill_child(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)  # our child (adopted): the pid cannot have been reused before we reap it
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# --------------------------------------------------------------------------------------------- exec


def _exec(root: str, cid: str, opts: ExecOptions) -> int:
    from pyrunc.linux import proc
    from pyrunc.process.config import ExecConfig
    from pyrunc.runtime.handoff import check_extra_fds, connect_console, write_pid_file
    from pyrunc.spec.model import Spec

    check_extra_fds(0, opts.preserve_fds)
    # Inherited fds (a shim's stray socket) must not reach the container: close-on-exec for all but stdio and the
    # preserved ones (CVE-2024-21626).
    proc.set_cloexec_from(3 + opts.preserve_fds)

    st = statestore.load(root, cid)
    current = statestore.status(root, st)
    if current == STOPPED:
        raise ContainerError("cannot exec in a stopped container")
    if current == PAUSED and not opts.ignore_paused:
        raise ContainerError("cannot exec in a paused container (use --ignore-paused to override)")
    if current == CREATING:
        raise ContainerError("cannot exec in a container that is still being created")

    try:
        spec = Spec.from_dict(st.config, bundle=st.bundle)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        # The config saved at create was validated then: this one was damaged since (a crash, a hand edit).
        from pyrunc.errors import CorruptState

        raise CorruptState(f"container {cid}: corrupt config.json in its state directory") from None
    process = build_process(spec, opts)
    _check_terminal(process, opts)
    targets = None
    v2_target = None
    if st.cgroup:
        from pyrunc.cgroups import saved_paths

        cg_paths = saved_paths(st.cgroup)
        targets = cgroup_targets(cg_paths, parse_sub_cgroups(opts.cgroups))
        v2_target = _v2_target(cg_paths, targets)
    elif opts.cgroups:
        raise UsageError("invalid --cgroup argument: the container has no cgroup")
    seccomp_filter = None
    if spec.linux.seccomp is not None:
        from pyrunc.runtime import seccomp_cache

        # What create compiled from this very profile, if it provably is (see seccomp_cache); else compile it.
        seccomp_filter = seccomp_cache.load(root, cid, st.config["linux"]["seccomp"], spec.linux.seccomp)
        if seccomp_filter is None:
            from pyrunc.security.seccomp import compile_filter

            seccomp_filter = compile_filter(spec.linux.seccomp)

    console: _socket.socket | None = None
    tty_sock: _socket.socket | None = None
    join: list[tuple[str, int]] = []
    parent: _ExecParent | None = None
    pid = 0
    try:
        if process.terminal:
            if opts.console_socket:
                console = connect_console(opts.console_socket)
            else:  # foreground: we relay the pty ourselves
                import socket  # imported here: only a process with a terminal needs it

                tty_sock, console = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        join = open_namespaces(st, spec)
        cfg = ExecConfig(cid=cid, process=process, env=list(process.env), join=join, extra_fds=opts.preserve_fds,
                         console=console, no_new_keyring=bool(st.extra.get("no_new_keyring")),
                         seccomp=seccomp_filter, personality=spec.linux.personality,
                         memory_policy=spec.linux.memory_policy)
        if targets:
            cfg.cgroup_join = [d for d in targets if d != v2_target]
            cfg.cgroup_clone_dir = v2_target
        parent = _ExecParent(st, spec, process, opts, targets, tty_sock)
        tty_sock = None  # the parent side owns it now
        from pyrunc.process import execproc
        from pyrunc.process.spawn import spawn

        execproc.preload(cfg)
        pid = spawn(cfg, parent, execproc.intermediate_main)
        console = None  # spawn closed it
        if opts.pid_file:
            write_pid_file(opts.pid_file, pid)  # before we return: the shim reads it right after (CLIENTS 4.3)
        if opts.detach:
            return 0
        assert parent.relay is not None
        from pyrunc.runtime.handoff import collect_again

        collect_again()
        return parent.relay.wait()
    except BaseException:
        if pid and (parent is None or parent.relay is None or parent.relay.status is None):
            _kill_child(pid)
        raise
    finally:
        for _, fd in join:
            try:
                os.close(fd)
            except OSError:
                pass
        for s in (console, tty_sock):
            if s is not None:
                s.close()
        if parent is not None:
            parent.close()
