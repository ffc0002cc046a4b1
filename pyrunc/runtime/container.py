"""Lifecycle orchestration on the runtime side: `create` and `run` (ARCHITECTURE section 2; `start` is
pyrunc.runtime.start).

create: validate everything first (config, seccomp profile, console socket, fds) so bad input leaves nothing
behind; then reserve `<root>/<id>` (exclusive mkdir), save a "creating" state that already names the cgroup (so a
`create` killed at any later point is cleaned by `delete --force`), make exec.fifo, create the cgroup, and run the
process model (`pyrunc.process.spawn`). Any failure after the reservation kills the children, destroys the cgroup,
runs poststop hooks (lifecycle step 12 of runtime-spec: the container is destroyed) and removes the state dir.
"""

import os
from _signal import SIGKILL

from pyrunc.errors import ContainerNotExist, PyruncError, UsageError
from pyrunc.runtime import state as statestore
from pyrunc.runtime.handoff import check_extra_fds, collect_again, connect_console, send_pidfd, write_pid_file
from pyrunc.runtime.state import CREATED, CREATING, STOPPED, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import socket
    from typing import Any

# This module imports no logging, socket, dataclasses or process code at the top; `create`/`run` import what they
# need inside, and what only some configs need (a terminal, hooks, seccomp) only for those configs. `_signal` is
# the C module behind `signal` (which builds enums: ~4 ms).


def _log() -> "Any":
    from pyrunc.log import get_logger

    return get_logger(__name__)


class CreateOptions:
    """The flags of `create` and `run` (runc's names)."""

    __slots__ = ("bundle", "console_socket", "detach", "keep", "no_new_keyring", "no_pivot", "no_subreaper",
                 "pid_file", "pidfd_socket", "preserve_fds", "rootless", "systemd_cgroup")

    def __init__(self, bundle: str = ".", console_socket: str | None = None, pid_file: str | None = None,
                 pidfd_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
                 preserve_fds: int = 0, detach: bool = True, keep: bool = False, no_subreaper: bool = False,
                 systemd_cgroup: bool = False, rootless: bool = False) -> None:
        self.bundle = bundle
        self.console_socket = console_socket
        self.pid_file = pid_file
        self.pidfd_socket = pidfd_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        self.detach = detach  # create, run -d
        self.keep = keep  # run --keep
        self.no_subreaper = no_subreaper
        self.systemd_cgroup = systemd_cgroup  # global --systemd-cgroup
        self.rootless = rootless


class Created:
    """A container whose init waits on exec.fifo, as `create` leaves it (plus what `run` needs)."""

    __slots__ = ("cgroup", "pid", "spec", "state", "tty_sock")

    def __init__(self, state: State, spec: "Any", cgroup: "Any", pid: int,
                 tty_sock: "socket.socket | None" = None) -> None:
        self.state = state
        self.spec = spec
        self.cgroup = cgroup
        self.pid = pid
        self.tty_sock = tty_sock  # `run` with a terminal and no --console-socket: receives the master


# --------------------------------------------------------------------------------------------- helpers


def _listen_fds() -> int:
    """Socket activation: `LISTEN_FDS=n` passes fds 3..3+n-1 through, as runc does."""
    raw = os.environ.get("LISTEN_FDS", "")
    if not raw:
        return 0
    try:
        n = int(raw)
    except ValueError:
        raise UsageError(f"invalid LISTEN_FDS value {raw!r}") from None
    return max(n, 0)


def _hook_state(st: State, status: str, pid: int | None) -> "dict[str, Any]":
    from pyrunc.runtime.hookstate import state_for_hooks

    return state_for_hooks(st.id, status, pid, st.bundle, st.annotations)


# --------------------------------------------------------------------------------------------- parent side


class _Parent:
    """`ParentSide` for one create: what the runtime does at each step of the sync protocol."""

    def __init__(self, root: str, st: State, spec: "Any", cg: "Any", relay: bool = False) -> None:
        self.root = root
        self.st = st
        self.spec = spec
        self.cg = cg
        self.relay = relay  # foreground `run`: it relays signals (and the terminal) once the container runs

    def on_started(self, pid: int) -> None:
        # While the intermediate starts up (we only wait for it): load what on_intermediate needs (the devices
        # rules, ~0.5 ms of imports) instead of loading it while the intermediate waits for GO.
        import pyrunc.cgroups.devices  # noqa: F401

    def on_intermediate(self, pid: int, placed: frozenset[str]) -> None:
        from pyrunc.spec.model import Resources

        # Before the intermediate may fork: the init and everything it starts are born in the cgroup. It joined
        # the `placed` directories itself (cgroup placement, see pyrunc.process.spawn).
        self.cg.apply(pid, placed)
        resources = self.spec.linux.resources or Resources()
        # Limits only once the intermediate is in the cgroup (not while it starts, which would be ~1 ms sooner): a
        # memory limit below what it already uses is then refused with runc's clear message, where a limit set
        # before it joins would have the kernel kill it as it does.
        # Every limit but pids.max: a small pids limit (0 is written as 1) counts the intermediate and would refuse
        # the init's fork. It is written in on_init_pid, once the init exists (runc sets its cgroup at that point).
        self.cg.set(resources.replace(pids=None) if resources.pids is not None else resources,
                    device_paths=tuple(d.path for d in self.spec.linux.devices))

    def on_map_request(self, pid: int) -> None:
        from pyrunc.process import idmap

        idmap.write_mappings(pid, self.spec.linux.uid_mappings, self.spec.linux.gid_mappings)

    def on_init_pid(self, pid: int) -> None:
        from pyrunc.linux import proc

        self.st.pid = pid
        try:
            self.st.pid_start = proc.start_time(pid)
        except OSError:
            self.st.pid_start = 0
        statestore.save(self.root, self.st)
        resources = self.spec.linux.resources
        if resources is not None and resources.pids is not None and resources.pids.limit is not None:
            from pyrunc.spec.model import Resources

            # The intermediate has exited (reaped before this call), the init is the only task: now pids.max may be
            # as low as 1. Before any hook, which may look at the cgroup (runc sets it there too).
            self.cg.update(Resources(pids=resources.pids))
        if self.spec.linux.net_devices:
            from pyrunc.runtime import netdevices

            # The init is in its network namespace by now (INIT_PID comes after every unshare and setns) and
            # waits for nothing from us until the hooks or READY: the devices are there before any hook and
            # before the container's process (runc moves them at the same point).
            netdevices.move_all(self.spec.linux.net_devices, pid)
        if self.relay:
            # The init prepares the rootfs now, for milliseconds: load `run`'s relay meanwhile, not after create.
            import pyrunc.process.signals
            import pyrunc.process.terminal  # noqa: F401

    def on_hooks(self, pid: int) -> "dict[str, Any]":
        state = _hook_state(self.st, "creating", pid)
        hooks = self.spec.hooks
        if hooks.prestart or hooks.create_runtime:
            from pyrunc.runtime.hooks import run_hooks

            # runc runs hooks from the bundle directory (it chdirs there).
            run_hooks("prestart", hooks.prestart, state, cwd=self.spec.bundle)
            run_hooks("createRuntime", hooks.create_runtime, state, cwd=self.spec.bundle)
        return state

    def on_ready(self, pid: int) -> None:
        from pyrunc.linux import proc

        process = self.spec.process
        for i, rl in enumerate(process.rlimits):
            proc.prlimit(pid, rl.type, rl.soft, rl.hard, spec_path=f"/process/rlimits/{i}")
        if process.oom_score_adj is not None:
            proc.write_oom_score_adj(pid, process.oom_score_adj)

    def on_run(self, pid: int) -> None:
        # Saved once RUN is sent, in parallel with the init's last steps; `create` returns only after this, at
        # EOF. A crash before it leaves "creating" (with the pid): never reported as a healthy container.
        self.st.status_hint = CREATED
        statestore.save(self.root, self.st)

    def on_seccomp(self, pid: int, fd: int) -> None:
        from pyrunc.security.seccomp import send_listener

        sc = self.spec.linux.seccomp
        send_listener(sc.listener_path, fd, _hook_state(self.st, "creating", pid), sc.listener_metadata)

    def on_warn(self, message: str) -> None:
        _log().warning("%s", message)


# --------------------------------------------------------------------------------------------- create


def create_container(root: str, cid: str, opts: CreateOptions) -> Created:
    """Everything `create` does; returns with the init parked on exec.fifo and the state "created"."""
    from pyrunc.linux import proc
    from pyrunc.process.config import NamespacePlan, ProcessConfig
    from pyrunc.runtime import execfifo
    from pyrunc.spec.load import load_bundle

    listen = _listen_fds()
    check_extra_fds(listen, opts.preserve_fds)
    extra = listen + opts.preserve_fds
    # Inherited fds (containerd passes a stray socket as fd 3) must not reach the container: close-on-exec for
    # all but stdio and the passed ones (SECURITY rule 4).
    proc.set_cloexec_from(3 + extra)

    # ---- validation: nothing exists yet, so a failure here leaves nothing behind
    spec, raw = load_bundle(opts.bundle, console_socket=opts.console_socket, for_create=True, detach=opts.detach)
    process = spec.process
    assert process is not None  # for_create: validation requires it
    seccomp_filter = None
    if spec.linux.seccomp is not None:
        from pyrunc.security.seccomp import compile_filter

        seccomp_filter = compile_filter(spec.linux.seccomp)
    env = list(process.env)
    if listen:
        env += [f"LISTEN_FDS={listen}", "LISTEN_PID=1"]
    console: _socket.socket | None = None
    tty_sock: _socket.socket | None = None
    if process.terminal:
        if opts.console_socket:
            console = connect_console(opts.console_socket)
        else:  # foreground `run`: we are the console socket's other end
            import socket  # imported here: only configs with a terminal need it

            tty_sock, console = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    from pyrunc.cgroups import manager_for

    try:
        cg = manager_for(spec.linux.cgroups_path, cid, systemd=opts.systemd_cgroup, rootless=opts.rootless)
    except BaseException:
        for s in (console, tty_sock):
            if s is not None:
                s.close()
        raise

    # ---- from here on, everything made is ours to remove on failure
    state_dir = statestore.reserve(root, cid)
    st = State(
        id=cid, bundle=spec.bundle, rootfs=spec.root.path, owner="", annotations=dict(spec.annotations),
        oci_version=spec.oci_version, cgroup=cg.to_state(), config=raw, status_hint=CREATING,
        extra={"no_pivot": opts.no_pivot, "no_new_keyring": opts.no_new_keyring},
    )
    if spec.linux.namespace("mount") is None:
        # No mount namespace: the init mounts in the host's, on a clone of the rootfs stacked on the mount the
        # rootfs path is on now; delete (or _abort) detaches everything above that one (pyrunc.rootfs.hostroot).
        from pyrunc.rootfs import hostroot

        st.extra[hostroot.STATE_KEY] = hostroot.mount_id_of(spec.root.path)
    cg_created = False
    fifo_fd = -1
    try:
        statestore.save(root, st)  # names the cgroup before it exists: `delete --force` can always clean up
        if seccomp_filter is not None:
            from pyrunc.runtime import seccomp_cache

            seccomp_cache.save(root, cid, raw["linux"]["seccomp"], seccomp_filter)  # exec loads it, see there
        fifo_fd = execfifo.open_path(execfifo.create(state_dir))
        cg.create()
        cg_created = True
        cfg = ProcessConfig(
            spec=spec, cid=cid, namespaces=NamespacePlan.from_spec(spec), fifo_fd=fifo_fd, env=env,
            extra_fds=extra, console=console, no_pivot=opts.no_pivot, no_new_keyring=opts.no_new_keyring,
            seccomp=seccomp_filter,
        )
        cfg.cgroup_join, cfg.cgroup_clone_dir = cg.placement()
        from pyrunc.process import init
        from pyrunc.process.spawn import spawn

        init.preload(cfg)
        pid = spawn(cfg, _Parent(root, st, spec, cg, relay=not opts.detach))
        console = None  # spawn closed it
        os.close(fifo_fd)
        fifo_fd = -1
        if opts.pid_file:
            write_pid_file(opts.pid_file, pid)
        if opts.pidfd_socket:
            send_pidfd(opts.pidfd_socket, pid)
        return Created(state=st, spec=spec, cgroup=cg, pid=pid, tty_sock=tty_sock)
    except BaseException:
        if fifo_fd >= 0:
            os.close(fifo_fd)
        for s in (console, tty_sock):
            if s is not None:
                s.close()
        _abort(root, st, spec, cg if cg_created else None)
        raise


def _abort(root: str, st: State, spec: "Any", cg: "Any") -> None:
    """Undo a failed create or run: the init (if any), the cgroup, poststop hooks, the state dir."""
    if st.pid > 0 and statestore.init_alive(st):
        try:
            os.kill(st.pid, SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(st.pid, 0)
        except ChildProcessError:
            pass
    if cg is not None:
        try:
            cg.destroy()
            # Parents of the cgroup this create made (cgroupsPath a/b/leaf with no a/ before): gone too, unless
            # another container's cgroup is in one by now (rmdir refuses a non-empty cgroup).
            from pyrunc.cgroups import dirs

            dirs.remove_dirs(getattr(cg, "made", ()))
        except Exception as e:  # report the original error, not the clean-up's
            _log().warning("cleanup: cgroup: %s", e)
    if "host_rootfs_mount" in st.extra:
        from pyrunc.rootfs import hostroot

        try:
            hostroot.release(st.rootfs, st.extra[hostroot.STATE_KEY])
        except Exception as e:
            _log().warning("cleanup: rootfs mounts: %s", e)
    if spec is not None and spec.hooks.poststop:
        from pyrunc.runtime.hooks import run_hooks

        try:
            run_hooks("poststop", spec.hooks.poststop, _hook_state(st, STOPPED, None), warn_only=True,
                      cwd=spec.bundle)
        except Exception as e:
            _log().warning("cleanup: poststop hooks: %s", e)
    from pyrunc.runtime import teardown

    teardown.remove_state_dir(root, st.id)


def create(root: str, cid: str, opts: CreateOptions) -> int:
    """Implements `create`: returns once the init is parked on exec.fifo and the pid file is written.

    No pyrunc process is left: the intermediate has exited, and the init is reparented to our caller's
    subreaper (containerd's shim, conmon) or to pid 1 when we exit.
    """
    create_container(root, cid, opts)
    return 0


# --------------------------------------------------------------------------------------------- run


def run(root: str, cid: str, opts: CreateOptions) -> int:
    """Implements `run`: create + start; in the foreground, relay signals (and the terminal), reap as a child
    subreaper, delete the container when it exits (unless --keep) and return its exit status (128+signal)."""
    from pyrunc.linux import prctl
    from pyrunc.runtime import teardown
    from pyrunc.runtime.start import start_created

    c = create_container(root, cid, opts)
    st = c.state
    master = -1
    relay = None
    try:
        if c.tty_sock is not None:
            from pyrunc.linux import pty

            master, _name = pty.recv_fd(c.tty_sock)
            c.tty_sock.close()
            c.tty_sock = None
        if opts.no_subreaper:
            # The init is already our child (adopted when the intermediate exited); just stop adopting more.
            prctl.set_child_subreaper(False)
        if not opts.detach:
            from pyrunc.process import terminal
            from pyrunc.process.signals import forwardable

            relay = terminal.Relay(st.pid, master, forwardable())  # handlers before the program runs
        start_created(root, st)
    except BaseException:
        if relay is not None:
            relay.close()
        if master >= 0:
            os.close(master)
        _abort(root, st, c.spec, c.cgroup)
        raise
    if opts.detach:
        if master >= 0:
            os.close(master)
        return 0
    assert relay is not None
    try:
        collect_again()
        status = relay.wait()
    finally:
        relay.close()
        if master >= 0:
            os.close(master)
    if not opts.keep:
        try:
            with statestore.lock(root, cid):
                teardown.destroy(root, statestore.load(root, cid))
        except ContainerNotExist:
            pass  # someone ran `delete --force` meanwhile: nothing left to do
        except PyruncError as e:
            _log().warning("deleting container %s: %s", cid, e)
    return status
