"""The parent's side of the process model: fork the intermediate, answer its and the init's requests.

The protocol (and its diagram) is in `pyrunc.process.sync`. What the parent does at each message is supplied by
the caller as a `ParentSide` (`pyrunc.runtime.container` for create/run, `pyrunc.runtime.exec` for exec); this
module owns only the fork, the message loop and killing/reaping the children when anything fails. The child's
entry point is the container's intermediate (`pyrunc.process.intermediate.main`) or exec's
(`pyrunc.process.execproc.intermediate_main`): both speak the same protocol.
"""

import errno
import os
import sys
from _signal import SIGKILL

from pyrunc.errors import InitError, SyscallError
from pyrunc.linux import prctl
from pyrunc.log import LEVELS, LOG
from pyrunc.process import sync
from pyrunc.process.sync import Msg

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable
    from typing import Any, NoReturn, Protocol

    from pyrunc.process.config import ExecConfig, ProcessConfig

    class ParentSide(Protocol):
        """What the runtime does at each point of the handshake. Any exception aborts the container."""

        def on_started(self, pid: int) -> None: ...          # the child starts up: idle-time work (imports)
        def on_intermediate(self, pid: int, placed: frozenset[str]) -> None: ...  # cgroup apply + set, before GO
        def on_map_request(self, pid: int) -> None: ...      # write uid_map/gid_map of a new user namespace
        def on_init_pid(self, pid: int) -> None: ...         # save the pid (so `delete --force` finds it)
        def on_hooks(self, pid: int) -> dict[str, Any]: ...  # prestart + createRuntime; returns the hook state
        def on_ready(self, pid: int) -> None: ...            # rlimits, oom_score_adj: before RUN
        def on_run(self, pid: int) -> None: ...              # state "created": after RUN, while the init finishes
        def on_seccomp(self, pid: int, fd: int) -> None: ...  # send the notify fd to listenerPath
        def on_warn(self, message: str) -> None: ...


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        import signal  # imported here: only a child killed by a signal needs its name

        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _reap(pid: int, block: bool) -> int | None:
    """waitpid one child; its status, or None if it is still running (non-blocking) or not our child."""
    try:
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    return status if got == pid else None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass


def reap_orphans() -> None:
    """Collect zombies of adopted descendants (we are a child subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def spawn(cfg: "ProcessConfig | ExecConfig", parent: "ParentSide",
          child: "Callable[[Any, _socket.socket], NoReturn] | None" = None) -> int:
    """Start the container's init (or exec's process); return its host pid once set-up succeeded (EOF after RUN).

    On failure the intermediate and the init are SIGKILLed and reaped before the exception propagates;
    everything else (cgroup, state dir) is the caller's to clean. `child` defaults to the container's
    intermediate (create/run), imported here: `exec` passes its own and never loads the container set-up code
    (pyrunc.process.init, rootfs.*: ~8 ms of imports). Either is imported before the fork (ARCHITECTURE rule 7).
    """
    container = child is None  # create/run (a ProcessConfig), not exec
    if child is None:
        from pyrunc.process import intermediate

        child = intermediate.main
    # unshare(CLONE_NEWUSER) and setns into a mount namespace fail in a multi-threaded process. (Threads are
    # started through `threading`: if nothing imported it, there are none.)
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() != 1:
        raise InitError("spawn", "pyrunc must be single-threaded before fork", errno.EINVAL)
    psock, csock = sync.socketpair()
    # As a child subreaper we adopt the init when the intermediate exits: `run` can wait for it, and `create`
    # hands it to its own caller's subreaper (containerd's shim, conmon) by exiting.
    prctl.set_child_subreaper(True)
    cfg.parent_pid = os.getpid()
    for f in (sys.stdout, sys.stderr):
        f.flush()
    join_dirs: list[str] = getattr(cfg, "cgroup_join", [])
    clone_dir: str | None = getattr(cfg, "cgroup_clone_dir", None)
    placed: set[str] = set()
    inter = -1
    # One stage when the namespaces allow it (NamespacePlan.one_stage): the child clone3 makes is the init itself,
    # born in the cgroup and, for a new pid namespace, as its pid 1. That spares a fork of this ~11 MB process
    # (page tables and copy-on-write faults) and the round trip that reports the init's pid. Otherwise the
    # intermediate enters the namespaces and forks the init (pyrunc.process.intermediate).
    one_stage = container and cfg.namespaces.one_stage()  # type: ignore[union-attr]
    own_pid_ns = -1
    if not container:
        # exec, one stage: the first child is the process itself, no intermediate forking it. A pid namespace
        # (and a time namespace) cannot be entered by the process itself, only by its future children: so we
        # enter the container's for our children just for this fork, and return to ours right after. Not with a
        # time namespace to join (rare): that is left to the intermediate.
        joined = dict(cfg.join)  # type: ignore[union-attr]
        one_stage = "time" not in joined
        if one_stage and "pid" in joined:
            own_pid_ns = _enter_pid_ns_for_children(joined["pid"])
            one_stage = own_pid_ns >= 0
        cfg.one_stage = one_stage
    dumpable = True
    if own_pid_ns >= 0:
        # The child is born in the container's pid namespace, where the container's processes can see it at once,
        # still holding our fds: it must be non-dumpable from its first instruction, not from its first line of
        # Python (CVE-2016-9962). The flag is copied at fork; ours is put back right after.
        dumpable = prctl.get_dumpable()
        prctl.set_dumpable(False)
    try:
        if clone_dir is not None or (one_stage and container):
            from pyrunc.linux import clone

            if container:
                cfg.one_stage = one_stage  # type: ignore[union-attr]  # before the fork: the child reads its copy
            try:  # born in the cgroup v2 directory: no cgroup.procs write (see pyrunc.linux.clone)
                inter = clone.fork_into_cgroup(clone_dir, new_pid_ns=container and one_stage
                                               and "pid" in cfg.namespaces.new)  # type: ignore[union-attr]
                if clone_dir is not None:
                    placed.add(clone_dir)
            except OSError:
                inter = -1  # ENOSYS, EPERM, ...: fork, and on_intermediate writes cgroup.procs
        if inter < 0:
            if container:
                one_stage = False
                cfg.one_stage = False  # type: ignore[union-attr]  # two stages after all: the intermediate forks
            try:
                inter = os.fork()
            except OSError as e:  # EAGAIN: a pids limit (ours or the caller's), the host's pid_max
                psock.close()
                csock.close()
                raise SyscallError("fork", e.errno or errno.EAGAIN, detail="no process could be started") from None
    finally:
        if inter != 0 and own_pid_ns >= 0:
            if dumpable:
                prctl.set_dumpable(True)
            _return_to_pid_ns(own_pid_ns, inter)
    if inter == 0:  # pragma: no cover - child
        try:
            psock.close()
            sync.forward_log(csock)
        finally:
            child(cfg, csock)  # never returns
    csock.close()
    LOG.write("debug", f"spawn: forked the {'init' if container else 'process'}, pid {inter} (one stage: no "
              "intermediate)" if one_stage else f"spawn: forked the intermediate stage, pid {inter}")
    if cfg.console is not None:
        cfg.console.close()  # the init holds it now
        cfg.console = None
    init_pid = 0
    inter_alive = True
    got_run = False
    try:
        parent.on_started(inter)
        if join_dirs:
            # The intermediate joins the v1 hierarchies itself; it reports which (a failure is not fatal there:
            # on_intermediate then writes our pid for it to cgroup.procs, with that write's error handling).
            try:
                kind, fields, _fd = sync.recv(psock)
                while kind in (Msg.LOG, Msg.WARN):  # --debug lines (or a warning) may come first
                    if kind == Msg.LOG:
                        _log_line(fields)
                    else:
                        parent.on_warn(str(fields.get("message", "")))
                    kind, fields, _fd = sync.recv(psock)
            except sync.SyncEOF:
                # Died before it reported (killed, or by a limit of a cgroup it joined): one clear error.
                raise _vanished(inter, "init" if one_stage else "intermediate", True) from None
            if kind == Msg.ERROR:
                raise sync.init_error(fields)
            if kind != Msg.JOINED:
                raise InitError("sync", f"unexpected message {kind}, expected JOINED")
            placed.update(d for d in fields.get("dirs", ()) if d in join_dirs)
        parent.on_intermediate(inter, frozenset(placed))
        sync.send(psock, Msg.GO)
        while True:
            try:
                kind, fields, fd = sync.recv(psock)
            except sync.SyncEOF:
                if got_run:
                    LOG.write("debug", "spawn: EOF on the sync socket, set-up finished")
                    return init_pid
                raise _vanished(inter if inter_alive else init_pid, "intermediate" if inter_alive else "init",
                                inter_alive) from None
            if kind == Msg.ERROR:
                raise sync.init_error(fields)
            if kind in (Msg.MOUNT_REQUEST, Msg.HOOKS, Msg.READY, Msg.SECCOMP) and not init_pid:
                raise InitError("sync", f"{kind} arrived before the process's pid")
            if kind == Msg.LOG:
                _log_line(fields)
            elif kind == Msg.WARN:
                parent.on_warn(str(fields.get("message", "")))
            elif kind == Msg.MAP_REQUEST:
                parent.on_map_request(int(fields["pid"]))
                sync.send(psock, Msg.MAP_DONE)
            elif kind == Msg.INIT_PID:
                if one_stage:
                    init_pid = inter  # our child is the init (its own pid may be 1 in its namespace)
                    inter_alive = False
                else:
                    init_pid = int(fields["pid"])
                    status = _reap(inter, block=True)
                    inter_alive = False
                    if status is not None and status != 0:
                        raise InitError("intermediate", f"exited with {_describe_exit(status)}")
                LOG.write("debug", f"spawn: the container process has pid {init_pid}")
                parent.on_init_pid(init_pid)
            elif kind == Msg.MOUNT_REQUEST:
                _send_mount_trees(psock, cfg, init_pid, fields.get("mounts"))
            elif kind == Msg.HOOKS:
                LOG.write("debug", "spawn: the init asks for the prestart and createRuntime hooks")
                state = parent.on_hooks(init_pid)
                sync.send(psock, Msg.HOOKS_DONE, state=state)
            elif kind == Msg.READY:
                LOG.write("debug", "spawn: the process is ready to exec; setting rlimits and saving the state")
                parent.on_ready(init_pid)
                sync.send(psock, Msg.RUN)
                got_run = True
                # While the init does its last steps (seccomp, credentials, capabilities): create returns only
                # at EOF, which we read after this, and an ERROR still aborts everything.
                parent.on_run(init_pid)
            elif kind == Msg.SECCOMP:
                if fd is None:
                    raise InitError("seccomp", "no notify fd received from the init")
                try:
                    parent.on_seccomp(init_pid, fd)
                finally:
                    os.close(fd)
                sync.send(psock, Msg.SECCOMP_DONE)
            else:
                raise InitError("sync", f"unexpected message {kind}")
    except BaseException:
        if init_pid:
            _kill(init_pid)
        if inter_alive:
            _kill(inter)
            _reap(inter, block=True)
        if init_pid:
            _reap(init_pid, block=True)
        reap_orphans()
        raise
    finally:
        psock.close()


def _send_mount_trees(sock: "_socket.socket", cfg: "ProcessConfig | ExecConfig", init_pid: int,
                      indices: "Any") -> None:
    """MOUNT_REQUEST: the init of a user-namespaced container needs detached trees for these `mounts[]` (binds it
    cannot reach, id-mapped binds), made host-side; each goes back as MOUNT_FD, then our copy is closed."""
    from pyrunc.process.config import ProcessConfig

    if not isinstance(cfg, ProcessConfig) or not isinstance(indices, list) \
            or not all(type(i) is int for i in indices):
        raise InitError("sync", "malformed MOUNT_REQUEST")
    from pyrunc.rootfs import hostmounts  # only user-namespaced containers with such mounts get here

    trees = hostmounts.make_trees(cfg.spec, init_pid, indices)
    try:
        for index, fd in trees.items():
            sync.send(sock, Msg.MOUNT_FD, fd=fd, index=index)
    finally:
        for fd in trees.values():
            os.close(fd)


def _enter_pid_ns_for_children(fd: int) -> int:
    """setns(CLONE_NEWPID) into the container's pid namespace: our next child is born in it (we are not). Returns
    an fd of our own pid namespace to come back with, or -1 if the kernel refused (then two stages, as before)."""
    from pyrunc.linux import ns

    try:
        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1
    try:
        ns.setns(fd, ns.CLONE_NEWPID)
    except SyscallError:
        os.close(own)
        return -1
    return own


def _return_to_pid_ns(own: int, child: int) -> None:
    """Our own pid namespace for our children again: anything we fork later (hooks, helpers) must not be born in
    the container's. If the kernel refuses, the child is killed and exec fails: better than that risk."""
    from pyrunc.linux import ns

    try:
        ns.setns(own, ns.CLONE_NEWPID, path="/proc/self/ns/pid")
    except SyscallError:
        if child > 0:
            _kill(child)
            _reap(child, block=True)
        raise
    finally:
        os.close(own)


def _log_line(fields: "dict[str, Any]") -> None:
    """A LOG message of a child stage (pyrunc.process.sync.forward_log): written to --log or our stderr."""
    level = str(fields.get("level", "debug"))
    LOG.write(level if level in LEVELS else "debug", str(fields.get("msg", "")))


def _vanished(pid: int, what: str, inter_alive: bool) -> InitError:
    status = _reap(pid, block=True) if pid else None
    how = _describe_exit(status) if status is not None else "exited"
    return InitError(what, f"container {what} process {how} before set-up finished")
