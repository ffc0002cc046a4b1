"""Stage 1, `pyrunc:[1:INTER]`: enter the container's namespaces, fork the init, report its pid, exit.

Why a separate stage: CLONE_NEWPID (and CLONE_NEWTIME) only apply to the *children* of the process that unshares
them, and the init must be pid 1 of the new pid namespace. This process exists only for that fork; it exits as
soon as the parent knows the init's pid, so no pyrunc process outlives `create` (the init is reparented to the
parent, a child subreaper, and then to the caller when `create` exits).

One stage (`cfg.one_stage`, see NamespacePlan.one_stage and pyrunc.process.spawn): when no user namespace, new
time namespace or joined pid namespace is involved, the parent's clone3 already made this process pid 1 of the new
pid namespace. The same steps run, without the fork: this process reports itself and goes on as the init.
"""

import errno
import os
import sys
from _signal import SIGKILL

from pyrunc.errors import SyscallError
from pyrunc.linux import ns, prctl, proc
from pyrunc.process import init as init_stage
from pyrunc.process import sync
from pyrunc.process.sync import Msg

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import NoReturn

    from pyrunc.process.config import ProcessConfig

_step = "intermediate"


def _set_step(name: str) -> None:
    global _step
    _step = name


def main(cfg: "ProcessConfig", sock: "_socket.socket") -> "NoReturn":
    """Child entry after the first fork. Never returns: every path ends in os._exit."""
    try:
        _stage(cfg, sock)
        os._exit(0)
    except sync.SyncEOF:
        os._exit(1)  # the parent died: nothing to report to, nobody to wait for us
    except BaseException as e:  # everything crosses to the parent as ERROR
        sync.send_error(sock, e, _step)
    finally:
        os._exit(255)


def _stage(cfg: "ProcessConfig", sock: "_socket.socket") -> None:
    _set_step("intermediate")
    # Non-dumpable from the first instruction: nothing may ptrace us or open our /proc files once we share a
    # namespace with container processes (CVE-2016-9962, CVE-2019-5736).
    prctl.set_dumpable(False)
    prctl.set_name("pyrunc:[1:INTER]")
    proc.set_process_title("pyrunc init [intermediate]")
    # Die with the parent (a killed `pyrunc create` must not leave us behind); re-check for the race where it
    # died before the prctl.
    prctl.set_pdeathsig(SIGKILL)
    # (As pid 1 of a new pid namespace, one stage, our parent is outside it and getppid() is 0: a parent that died
    # before the prctl shows as EOF on the sync socket at our first message instead.)
    if os.getppid() != (0 if cfg.one_stage and "pid" in cfg.namespaces.new else cfg.parent_pid):
        os._exit(1)
    # Hold only what the container may receive (stdio, preserved fds) and our own channels.
    proc.close_fds_except(cfg.keep_fds(sock))
    if cfg.cgroup_join:
        # Join the v1 cgroups ourselves, without the ~10 ms the parent's cgroup.procs write costs (see
        # pyrunc.cgroups.files.join_tasks); whatever is refused, the parent writes its usual way.
        _set_step("join cgroups")
        from pyrunc.cgroups import files

        sync.send(sock, Msg.JOINED, dirs=files.join_tasks(cfg.cgroup_join))
    # (process.execCPUAffinity is not for the init, runtime-spec: see the reset in pyrunc.process.init.)

    # GO: the parent has put us in the container's cgroup, so every later child (the init, and all container
    # processes) starts there, and a new cgroup namespace is rooted at that cgroup.
    _set_step("wait for parent")
    sync.expect(sock, Msg.GO)
    # runc's debug output names this stage "nsexec container setup"; runc's bats suite looks for the phrase.
    sync.debug(f"intermediate[{os.getpid()}]: nsexec container setup: namespaces new={','.join(cfg.namespaces.new)}"
               f" joined={','.join(k for k, _, _ in cfg.namespaces.join)}")

    plan = cfg.namespaces
    # Open every namespace path first: after joining a mount namespace the other paths may not resolve.
    _set_step("open namespace paths")
    joined: list[tuple[str, int, str, str]] = []
    for kind, path, ptr in plan.join:
        joined.append((kind, ns.open_ns(path, kind, ptr), path, ptr))

    # Namespaces given by path are joined first, while we are still the host's root (runc's order): one owned by
    # another user namespace than the container's (a netns made by the host) cannot be joined from inside the
    # container's. The mount namespace last (its paths were opened already, but a later step could still look at
    # the host's filesystem through it). EPERM is retried once we are in the user namespace (rootless: only
    # there do we get CAP_SYS_ADMIN over namespaces it owns).
    pending: list[tuple[str, int, str, str]] = []
    for kind, fd, path, ptr in sorted(joined, key=lambda j: j[0] == "mount"):
        if kind == "user":
            continue
        _set_step(f"join {kind} namespace")
        try:
            ns.setns(fd, ns.NAMESPACES[kind][0], path=path, spec_path=ptr)
        except SyscallError as e:
            if e.errno != errno.EPERM:
                raise
            pending.append((kind, fd, path, ptr))

    # Then the user namespace: every namespace created after it is owned by it.
    in_userns = False
    for kind, fd, path, ptr in joined:
        if kind == "user":
            _set_step("join user namespace")
            ns.setns(fd, ns.CLONE_NEWUSER, path=path, spec_path=ptr)
            in_userns = True
    if "user" in plan.new:
        _set_step("create user namespace")
        ns.unshare(ns.CLONE_NEWUSER)
        # Only the parent (in the parent user namespace) may write maps with ids other than its own.
        sync.send(sock, Msg.MAP_REQUEST, pid=os.getpid())
        sync.expect(sock, Msg.MAP_DONE)
        in_userns = True
    if in_userns:
        _set_step("become root in user namespace")
        if proc.setgroups_allowed():
            proc.set_groups([])
        proc.set_resgid(0)
        proc.set_resuid(0)

    for kind, fd, path, ptr in pending:
        _set_step(f"join {kind} namespace")
        ns.setns(fd, ns.NAMESPACES[kind][0], path=path, spec_path=ptr)
    for _kind, fd, _path, _ptr in joined:
        os.close(fd)

    flags = 0
    for kind in plan.new:
        if kind != "user" and not (kind == "pid" and cfg.one_stage):  # one stage: clone3 made it
            flags |= ns.NAMESPACES[kind][0]
    if flags:
        _set_step("create namespaces")
        ns.unshare(flags)

    if "time" in plan.new and cfg.spec.linux.time_offsets:
        # Offsets must be written after unshare(CLONE_NEWTIME) and before the first process enters the
        # namespace (our next fork). /proc/self files of a non-dumpable process belong to the host's root,
        # which a new user namespace's root cannot write: dumpable just for this write (no container process
        # exists yet to take advantage of it).
        _set_step("time namespace offsets")
        offsets = {k: (v.secs, v.nanosecs) for k, v in cfg.spec.linux.time_offsets.items()}
        if in_userns:
            prctl.set_dumpable(True)
        try:
            ns.write_time_offsets(offsets)
        finally:
            if in_userns:
                prctl.set_dumpable(False)

    if cfg.one_stage:
        sync.debug(f"intermediate[{os.getpid()}]: nsexec container setup done: this process is the init")
        sync.send(sock, Msg.INIT_PID, pid=os.getpid())
        init_stage.main(cfg, sock)  # never returns

    _set_step("fork init")
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
        init_stage.main(cfg, sock)  # never returns
    os.close(hold_r)
    sync.debug(f"intermediate[{os.getpid()}]: nsexec container setup done: forked the init, pid {pid}")
    sync.send(sock, Msg.INIT_PID, pid=pid)
    os.close(hold_w)
