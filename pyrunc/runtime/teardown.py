"""Signalling and tearing down containers: `kill`, `delete` and the clean-up `run` does after its container exits.

Liveness is always checked with the pid AND its start time, and signals go through a pidfd opened after that check,
so a recycled pid never receives a signal meant for a dead container (SECURITY rule 6).

`kill` and `delete` are on containerd's hot path: this module imports at the top only `posix` (the C module behind
`os`, whose import costs ~1.5 ms) and `_signal` (the C module behind `signal`, which builds its enums: ~4 ms), like
pyrunc.runtime.state; pyrunc.errors, `select`, `shutil` and the cgroup code only where they are used (a container
whose cgroup is empty is removed by rmdir alone, without its manager: see `_destroy_cgroup`). No
`from __future__ import annotations` (see "Import discipline" in pyrunc.cli.main).
"""

import posix
import time
from _signal import SIGKILL, pidfd_send_signal

from pyrunc.runtime import state as statestore
from pyrunc.runtime.state import CREATED, CREATING, PAUSED, RUNNING, STOPPED, State


def _not_running() -> Exception:
    from pyrunc.errors import NotRunning

    return NotRunning()


def _open_init_pidfd(st: State) -> int | None:
    """A pidfd for the container's init, or None if it is gone. Checked again after opening (pid reuse)."""
    if st.pid <= 0:
        return None
    try:
        fd = posix.pidfd_open(st.pid)
    except (ProcessLookupError, OSError):
        return None
    if not statestore.init_alive(st):
        posix.close(fd)
        return None
    return fd


def _is_pidns_init(st: State) -> bool:
    """Is the container's init pid 1 of its own pid namespace (a private pid namespace: runtime-spec linux.namespaces
    entry "pid" without a path)? Then SIGKILL to it ends every process of the container.

    Read live from the last NSpid entry of /proc/<pid>/status instead of from the config: `kill` must not parse
    the config (tens of KB) on the hot path. A joined pid namespace (with a path) already has its own pid 1.
    """
    try:
        with open(f"/proc/{st.pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return line.split()[-1] == b"1"
    except OSError:
        return False
    # No NSpid line (kernels before 4.1): ask the config.
    for ns in (st.config.get("linux") or {}).get("namespaces") or ():
        if ns.get("type") == "pid":
            return not ns.get("path")
    return False


def _cgroup(st: State):  # type: ignore[no-untyped-def]
    if not st.cgroup:
        return None
    from pyrunc.cgroups import manager_from_state

    return manager_from_state(st.cgroup)


def _has_leftovers(st: State) -> bool:
    """A stopped container that shared a pid namespace (none of its own, per the config) with processes still in
    its cgroup. Only asked for SIGKILL of a stopped container, so reading the config costs nothing on the hot path."""
    for ns in (st.config.get("linux") or {}).get("namespaces") or ():
        if ns.get("type") == "pid" and not ns.get("path"):
            return False
    cg = _cgroup(st)
    if cg is None:
        return False
    try:
        return cg.exists() and bool(cg.pids())
    except OSError:
        return False


def signal_all(st: State, sig: int) -> None:
    """Send `sig` to every process of the container's cgroup (`kill --all`)."""
    cg = _cgroup(st)
    if cg is None:
        signal_init(st, sig)
        return
    cg.kill_all(sig)
    if sig == SIGKILL and st.status_hint == PAUSED:
        from pyrunc.errors import PyruncError

        # A frozen v1 task does not die until thawed.
        try:
            cg.thaw()
        except PyruncError:
            pass


def send_to_init(st: State, sig: int) -> bool:
    """Send `sig` to the container's init; False if it is gone (no pyrunc.errors import for that answer)."""
    fd = _open_init_pidfd(st)
    if fd is None:
        return False
    try:
        pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        return False
    finally:
        posix.close(fd)
    return True


def signal_init(st: State, sig: int) -> None:
    if not send_to_init(st, sig):
        raise _not_running()


def kill(root: str, cid: str, sig: int, all_processes: bool = False) -> None:
    """Implements `kill`: runc's rules ("container not running" when stopped; `--all` makes that a success)."""
    st = statestore.load(root, cid)
    current = statestore.status(root, st)
    if current == STOPPED:
        if sig == SIGKILL and _has_leftovers(st):
            # runc >= 1.2 (its issue 4047): with no private pid namespace the init may be gone while processes
            # it started (or `exec`s) still run in the container's cgroup; SIGKILL reaches them all.
            signal_all(st, sig)
            return
        if all_processes:
            return
        raise _not_running()
    # runc >= 1.2: with no private pid namespace, SIGKILL of the init would leave the other processes running.
    if all_processes or (sig == SIGKILL and not _is_pidns_init(st)):
        signal_all(st, sig)
    else:
        signal_init(st, sig)


def wait_gone(st: State, timeout: float = 10.0) -> bool:
    """Wait until the init has exited (a pidfd polls readable on exit, even for a process that is not our child)."""
    import select

    fd = _open_init_pidfd(st)
    if fd is None:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        posix.close(fd)


def destroy(root: str, st: State) -> None:
    """Release everything a stopped container holds: cgroup (killing leftovers), poststop hooks, state dir.

    Poststop hooks run after the container's resources are gone, and their failures are only warnings
    (runtime-spec: "the poststop hooks MUST be called... failures MUST log a warning").
    """
    if st.cgroup:
        _destroy_cgroup(st)
    if "host_rootfs_mount" in st.extra:
        # No mount namespace: the container's mounts live in ours, on a clone of the rootfs; they go with it.
        from pyrunc.rootfs import hostroot

        hostroot.release(st.rootfs, st.extra[hostroot.STATE_KEY])
    hooks = (st.config.get("hooks") or {}).get("poststop") if st.config_mentions("poststop") else None
    if hooks:
        from pyrunc.runtime.hooks import run_hooks
        from pyrunc.spec.model import Hook

        try:
            parsed = tuple(Hook.from_dict(h) for h in hooks)
        except (KeyError, TypeError, AttributeError, ValueError):
            # A config.json damaged since create: its hooks cannot run, and the container must still go away.
            parsed = ()
            from pyrunc.log import warning

            warning(f"container {st.id}: corrupt config.json in its state directory: poststop hooks not run")
        oci = st.oci(STOPPED)
        hook_state = {k: oci[k] for k in ("ociVersion", "id", "status", "pid", "bundle") if k in oci}
        hook_state["annotations"] = st.annotations
        if parsed:
            run_hooks("poststop", parsed, hook_state, warn_only=True)
    remove_state_dir(root, st.id)


def _destroy_cgroup(st: State) -> None:
    """Remove the container's cgroup: by rmdir alone when nothing is left in it (the usual case: the init is gone,
    and with it every process of a private pid namespace), else through the manager, which kills what is left."""
    from pyrunc.cgroups import remove_if_empty

    if not remove_if_empty(st.cgroup):
        _cgroup(st).destroy()


def remove_state_dir(root: str, cid: str) -> None:
    """Remove `<root>/<id>` (files only, normally: state.json, config.json, exec.fifo) without importing shutil."""
    d = statestore.container_dir(root, cid)
    try:
        with posix.scandir(d) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    import shutil

                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        posix.unlink(entry.path)
                    except FileNotFoundError:
                        pass
        posix.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(d, ignore_errors=True)


def _kill_and_wait(st: State, current: str) -> None:
    """SIGKILL the container and wait for its init to exit.

    A created or running container whose init is pid 1 of its own pid namespace is stopped by SIGKILL to the init
    alone, as `kill KILL` stops it: the kernel then kills every process of the namespace, and the init exits only
    once they are all gone. Anything else in the cgroup (a process that joined it from outside the namespace) is
    killed by `destroy`, whose rmdir finds it. Otherwise (no private pid namespace, a paused container, whose
    frozen processes act on the signal only once thawed, one still being created): SIGKILL to every process of
    the cgroup.
    """
    if current in (CREATED, RUNNING) and _is_pidns_init(st):
        if not send_to_init(st, SIGKILL):
            return
    else:
        try:
            signal_all(st, SIGKILL)
        except Exception as e:
            from pyrunc.errors import NotRunning, PyruncError

            if isinstance(e, NotRunning):
                return
            if not isinstance(e, PyruncError):
                raise
            if not send_to_init(st, SIGKILL):
                return
    if not wait_gone(st, 10.0):
        from pyrunc.errors import ContainerError

        raise ContainerError(f"container {st.id}: init process {st.pid} did not exit after SIGKILL")


def delete(root: str, cid: str, force: bool = False) -> None:
    """Implements `delete [--force]` with runc's rules and messages.

    stopped: destroyed. Anything else needs --force (SIGKILL, wait, destroy). Unlike runc, a `created` container
    is refused too: runtime-spec "Attempting to delete a container that is not stopped MUST have no effect on the
    container and MUST generate an error" (runtime-tools checks it). A container still `creating` (its create was
    killed half-way) is never healthy, so it is cleaned up like a stopped one.
    An unknown id is "container does not exist"; with --force that is a success (containerd and podman call
    `delete --force` after every failed create).
    """
    # pyrunc.errors is imported only where an error is raised or caught (`delete` is on containerd's hot path).
    if not statestore.exists(root, cid):
        if force:
            return
        from pyrunc.errors import ContainerNotExist

        raise ContainerNotExist(cid)
    try:
        with statestore.lock(root, cid):
            try:
                st = statestore.load(root, cid)
            except Exception as e:
                from pyrunc.errors import ContainerNotExist, CorruptState

                if force and isinstance(e, ContainerNotExist):
                    # A directory without state.json: a create killed before it saved anything (nothing else
                    # exists yet).
                    remove_state_dir(root, cid)
                    return
                if force and isinstance(e, CorruptState):
                    _force_delete_damaged(root, cid)
                    return
                raise
            try:
                current = statestore.status(root, st)
                if current == STOPPED:
                    pass
                elif current == CREATING or force:
                    _kill_and_wait(st, current)
                else:
                    from pyrunc.errors import ContainerError

                    raise ContainerError(f"cannot delete container {cid} that is not stopped: {current}")
                destroy(root, st)
            except Exception as e:
                from pyrunc.errors import CorruptState

                # state.json was fine, but cgroup.json or config.json is not: with --force, the same recovery
                # from the id alone as for a damaged state.json.
                if force and isinstance(e, CorruptState):
                    _force_delete_damaged(root, cid)
                    return
                raise
    except Exception as e:
        from pyrunc.errors import ContainerNotExist

        if force and isinstance(e, ContainerNotExist):
            return
        raise


def _force_delete_damaged(root: str, cid: str) -> None:
    """`delete --force` of a container whose state.json is unreadable (SECURITY rule 6: it must still work from the
    id alone). The cgroup comes from cgroup.json, else from the cgroupsPath of the saved config.json, else from
    the default path derived from the id; destroying it kills every process left in it, the init included."""
    import json
    import os

    from pyrunc.cgroups import manager_for, manager_from_state
    from pyrunc.errors import PyruncError

    d = statestore.container_dir(root, cid)

    def read(name: str) -> dict | None:
        try:
            with open(os.path.join(d, name), "rb") as f:
                value = json.loads(f.read())
            return value if isinstance(value, dict) else None
        except (OSError, ValueError):
            return None

    cg = None
    saved = read(statestore.CGROUP_FILE)
    if saved:
        try:
            cg = manager_from_state(saved)
        except (PyruncError, KeyError, TypeError, ValueError):
            cg = None
    if cg is None:
        config = read(statestore.CONFIG_FILE) or {}
        linux = config.get("linux") if isinstance(config.get("linux"), dict) else {}
        path = linux.get("cgroupsPath") if isinstance(linux.get("cgroupsPath"), str) else None
        try:
            cg = manager_for(path or None, cid)
        except PyruncError:
            cg = None
    if cg is not None:
        try:
            cg.thaw()
        except PyruncError:
            pass
        try:
            cg.destroy()
        except PyruncError:
            pass
    remove_state_dir(root, cid)


def wait_for_stop(root: str, st: State, deadline: float) -> str:
    """Poll the status until it is stopped or the deadline passes (used by tests and `run`)."""
    while True:
        s = statestore.status(root, st)
        if s == STOPPED or time.monotonic() > deadline:
            return s
        time.sleep(0.01)
