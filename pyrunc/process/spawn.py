"""The parent's side of the process model: fork the intermediate, answer its and the init's requests.

The protocol (and its diagram) is in `pyrunc.process.sync`. What the parent does at each message is supplied by
the caller as a `ParentSide` (`pyrunc.runtime.container` for create/run, `pyrunc.runtime.exec` for exec); this
module owns only the fork, the message loop and killing/reaping the children when anything fails. The child's
entry point is the container's intermediate (`pyrunc.process.intermediate.main`) or exec's
(`pyrunc.process.execproc.intermediate_main`): both speak the same protocol.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from pyrunc.errors import InitError
from pyrunc.linux import prctl
from pyrunc.log import LEVELS, LOG
from pyrunc.process import intermediate, sync
from pyrunc.process.config import ExecConfig, ProcessConfig
from pyrunc.process.sync import Msg


class ParentSide(Protocol):
    """What the runtime does at each point of the handshake. Any exception aborts the container."""

    def on_intermediate(self, pid: int) -> None: ...     # cgroup apply + set, before the child may go on
    def on_map_request(self, pid: int) -> None: ...      # write uid_map/gid_map of a new user namespace
    def on_init_pid(self, pid: int) -> None: ...         # save the pid (so `delete --force` finds it)
    def on_hooks(self, pid: int) -> dict[str, Any]: ...  # prestart + createRuntime; returns the hook state
    def on_ready(self, pid: int) -> None: ...            # rlimits, oom_score_adj, state "created"
    def on_seccomp(self, pid: int, fd: int) -> None: ...  # send the notify fd to listenerPath
    def on_warn(self, message: str) -> None: ...


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
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
        os.kill(pid, signal.SIGKILL)
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


def spawn(cfg: ProcessConfig | ExecConfig, parent: ParentSide,
          child: Callable[[Any, socket.socket], NoReturn] = intermediate.main) -> int:
    """Start the container's init (or exec's process); return its host pid once set-up succeeded (EOF after RUN).

    On failure the intermediate and the init are SIGKILLed and reaped before the exception propagates;
    everything else (cgroup, state dir) is the caller's to clean.
    """
    # unshare(CLONE_NEWUSER) and setns into a mount namespace fail in a multi-threaded process.
    if threading.active_count() != 1:
        raise InitError("spawn", "pyrunc must be single-threaded before fork", errno.EINVAL)
    psock, csock = sync.socketpair()
    # As a child subreaper we adopt the init when the intermediate exits: `run` can wait for it, and `create`
    # hands it to its own caller's subreaper (containerd's shim, conmon) by exiting.
    prctl.set_child_subreaper(True)
    cfg.parent_pid = os.getpid()
    for f in (sys.stdout, sys.stderr):
        f.flush()
    inter = os.fork()
    if inter == 0:  # pragma: no cover - child
        try:
            psock.close()
            sync.forward_log(csock)
        finally:
            child(cfg, csock)  # never returns
    csock.close()
    LOG.write("debug", f"spawn: forked the intermediate stage, pid {inter}")
    if cfg.console is not None:
        cfg.console.close()  # the init holds it now
        cfg.console = None
    init_pid = 0
    inter_alive = True
    got_run = False
    try:
        parent.on_intermediate(inter)
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
            if kind is Msg.ERROR:
                raise sync.init_error(fields)
            if kind in (Msg.HOOKS, Msg.READY, Msg.SECCOMP) and not init_pid:
                raise InitError("sync", f"{kind.value} arrived before the process's pid")
            if kind is Msg.LOG:
                level = str(fields.get("level", "debug"))
                LOG.write(level if level in LEVELS else "debug", str(fields.get("msg", "")))
            elif kind is Msg.WARN:
                parent.on_warn(str(fields.get("message", "")))
            elif kind is Msg.MAP_REQUEST:
                parent.on_map_request(int(fields["pid"]))
                sync.send(psock, Msg.MAP_DONE)
            elif kind is Msg.INIT_PID:
                init_pid = int(fields["pid"])
                LOG.write("debug", f"spawn: the container process has pid {init_pid}")
                status = _reap(inter, block=True)
                inter_alive = False
                if status is not None and status != 0:
                    raise InitError("intermediate", f"exited with {_describe_exit(status)}")
                parent.on_init_pid(init_pid)
            elif kind is Msg.HOOKS:
                LOG.write("debug", "spawn: the init asks for the prestart and createRuntime hooks")
                state = parent.on_hooks(init_pid)
                sync.send(psock, Msg.HOOKS_DONE, state=state)
            elif kind is Msg.READY:
                LOG.write("debug", "spawn: the process is ready to exec; setting rlimits and saving the state")
                parent.on_ready(init_pid)
                sync.send(psock, Msg.RUN)
                got_run = True
            elif kind is Msg.SECCOMP:
                if fd is None:
                    raise InitError("seccomp", "no notify fd received from the init")
                try:
                    parent.on_seccomp(init_pid, fd)
                finally:
                    os.close(fd)
                sync.send(psock, Msg.SECCOMP_DONE)
            else:
                raise InitError("sync", f"unexpected message {kind.value}")
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


def _vanished(pid: int, what: str, inter_alive: bool) -> InitError:
    status = _reap(pid, block=True) if pid else None
    how = _describe_exit(status) if status is not None else "exited"
    return InitError(what, f"container {what} process {how} before set-up finished")
