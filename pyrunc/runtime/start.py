"""`start` (and the start half of `run`): release a created container's init through exec.fifo, save "running",
run the poststart hooks (ARCHITECTURE section 2; the handshake is pyrunc.runtime.execfifo's).

`start` is on containerd's hot path, so this module imports at the top only the state store (which imports only
`posix`, `time` and pyrunc.quickjson): no `os` (~1.5 ms), and pyrunc.errors, the hook runner, the config model and
the teardown code only where an error, a poststart hook or a failed start needs them. No
`from __future__ import annotations` (see "Import discipline" in pyrunc.cli.main).
"""

from pyrunc.runtime import state as statestore
from pyrunc.runtime.state import CREATED, PAUSED, RUNNING, STOPPED, State


def _invalid(message: str) -> Exception:
    from pyrunc.errors import InvalidTransition

    return InvalidTransition(message)


def start_created(root: str, st: State) -> None:
    """Release the init through exec.fifo, save "running", run poststart hooks (after the program was exec'd).

    "running" is saved as soon as the fifo is gone (from then on the container is running, or stopped if its init
    fails to exec: the status is always computed live), while the init goes on to execve: the save overlaps with it.

    runtime-spec v1.3.0 lifecycle steps 7 and 9: if a startContainer hook (run by the init, which reports the failure
    back through exec.fifo) or a poststart hook fails, the runtime MUST generate an error and stop the container.
    The container is left `stopped` (runc's behaviour); `delete` then destroys it (step 12) and runs poststop.
    """
    from pyrunc.runtime import execfifo

    def save_running() -> None:
        st.status_hint = RUNNING
        try:
            statestore.save(root, st)
        except Exception as e:  # whatever stops the save (a full disk): the start has happened
            # The fifo is gone: the container runs whatever state.json says, and its status is computed live
            # (no fifo, init alive: running). Failing `start` now would tell the client it did not start.
            from pyrunc.log import warning

            warning(f"container {st.id} started, but its state could not be saved: {e}")

    report = execfifo.release(statestore.fifo_path(root, st.id), lambda: statestore.init_alive(st),
                              released=save_running)
    if report:
        _stop(st)
        raise _init_report(report)
    if st.config_mentions("poststart") and (st.config.get("hooks") or {}).get("poststart"):
        from pyrunc.runtime.hooks import run_hooks
        from pyrunc.runtime.hookstate import state_for_hooks
        from pyrunc.spec.model import Hooks

        try:
            try:
                hooks = Hooks.from_dict(st.config["hooks"])
            except (KeyError, TypeError, AttributeError, ValueError):
                from pyrunc.errors import CorruptState

                # Damaged since create: as with a failing poststart hook, the container is stopped.
                raise CorruptState(f"container {st.id}: corrupt config.json in its state directory") from None
            run_hooks("poststart", hooks.poststart, state_for_hooks(st.id, RUNNING, st.pid, st.bundle, st.annotations),
                      cwd=st.bundle)
        except BaseException:
            _stop(st)
            raise


def _init_report(report: bytes) -> Exception:
    """What the init wrote to exec.fifo after `start` released it (`pyrunc.process.sync.error_fields` as JSON)."""
    from pyrunc import quickjson
    from pyrunc.errors import InitError

    try:
        fields = quickjson.loads(report)
        if not isinstance(fields, dict):
            raise ValueError("not an object")
    except ValueError:
        return InitError("start", report.decode(errors="replace").strip() or "the container process failed")
    return InitError(str(fields.get("step") or "start"), str(fields.get("message") or "error"),
                     int(fields.get("errno") or 0), fields.get("spec_path"))


def _stop(st: State) -> None:
    """Stop the container (SIGKILL to every process of it) and wait until its init is gone."""
    from _signal import SIGKILL

    from pyrunc.errors import PyruncError
    from pyrunc.runtime import teardown

    try:
        teardown.signal_all(st, SIGKILL)
    except PyruncError:
        try:
            teardown.signal_init(st, SIGKILL)
        except PyruncError:
            pass
    if not teardown.wait_gone(st, 10.0):
        from pyrunc.log import get_logger

        get_logger(__name__).warning("container %s: init %d still running after SIGKILL", st.id, st.pid)


def start(root: str, cid: str) -> int:
    """Implements `start`: only a "created" container can start (runc's messages otherwise)."""
    with statestore.lock(root, cid):
        st = statestore.load(root, cid)
        current = statestore.status(root, st)
        if current == STOPPED:
            raise _invalid("cannot start a container that has stopped")
        if current in (RUNNING, PAUSED):
            raise _invalid("cannot start an already running container")
        if current != CREATED:
            raise _invalid(f"cannot start a container in the {current} state")
        start_created(root, st)
    return 0
