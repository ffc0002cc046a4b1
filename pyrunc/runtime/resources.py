"""The resource verbs: `pause`, `resume`, `update`, `events`, `ps` (runc's rules, messages and output).

Each loads the container's state, checks its live status, and works on the cgroup through the manager rebuilt
from the state (`pyrunc.cgroups.manager_from_state`); nothing here knows the cgroup version.
"""

from __future__ import annotations

import copy
import json
import re
import select
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyrunc.errors import ContainerError, NotRunning, PyruncError, UsageError
from pyrunc.runtime import state as statestore
from pyrunc.runtime.state import CREATED, PAUSED, RUNNING, STOPPED, State

if TYPE_CHECKING:
    from pyrunc.cgroups.manager import CgroupManager

Raw = dict[str, Any]


def _manager(st: State) -> CgroupManager:
    if not st.cgroup:
        raise ContainerError(f"container {st.id} has no cgroup")
    from pyrunc.cgroups import manager_from_state

    return manager_from_state(st.cgroup)


# ------------------------------------------------------------------------------------------------ pause/resume


def pause(root: str, cid: str) -> None:
    """Implements `pause`: freeze every process (v1 freezer / v2 cgroup.freeze). Only running or created."""
    with statestore.lock(root, cid):
        st = statestore.load(root, cid)
        if statestore.status(root, st) not in (RUNNING, CREATED):
            raise NotRunning()
        cg = _manager(st)
        cg.freeze()
        st.status_hint = PAUSED
        try:
            statestore.save(root, st)
        except PyruncError:
            # Not remembered as paused, the container would be frozen while `state` says running and `resume`
            # refuses it ("container not paused"): thaw it, so that the error we report is the whole truth.
            cg.thaw()
            raise


def resume(root: str, cid: str) -> None:
    """Implements `resume`: thaw a paused container (runc: "container not paused" otherwise).

    A container paused while still `created` (runc allows it) is paused too: frozen, with the pause recorded.
    """
    import os

    with statestore.lock(root, cid):
        st = statestore.load(root, cid)
        current = statestore.status(root, st)
        cg = _manager(st)
        if current != PAUSED and not (current == CREATED and st.status_hint == PAUSED and cg.is_frozen()):
            raise ContainerError("container not paused")
        cg.thaw()
        st.status_hint = CREATED if os.path.exists(statestore.fifo_path(root, cid)) else RUNNING
        try:
            statestore.save(root, st)
        except PyruncError as e:
            # Thawed: the live status no longer finds it frozen, whatever the saved hint says (see
            # pyrunc.runtime.state.status); the resume has happened.
            from pyrunc.log import warning

            warning(f"container {cid} resumed, but its state could not be saved: {e}")


# ------------------------------------------------------------------------------------------------ update

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_RAM = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def parse_ram(value: str) -> int:
    """docker's units.RAMInBytes: "128m", "1.5GiB", "1024" (binary multiples)."""
    m = _RAM.match(value)
    if not m:
        raise ValueError(f"invalid size: '{value}'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


# (flag, where in LinuxResources, parser)
_FLAGS: tuple[tuple[str, tuple[str, str], Callable[[str], Any]], ...] = (
    ("cpu-period", ("cpu", "period"), int),
    ("cpu-quota", ("cpu", "quota"), int),
    ("cpu-burst", ("cpu", "burst"), int),
    ("cpu-share", ("cpu", "shares"), int),
    ("cpu-rt-period", ("cpu", "realtimePeriod"), int),
    ("cpu-rt-runtime", ("cpu", "realtimeRuntime"), int),
    ("cpuset-cpus", ("cpu", "cpus"), str),
    ("cpuset-mems", ("cpu", "mems"), str),
    ("cpu-idle", ("cpu", "idle"), int),
    ("memory", ("memory", "limit"), parse_ram),
    ("memory-reservation", ("memory", "reservation"), parse_ram),
    ("memory-swap", ("memory", "swap"), parse_ram),
    ("kernel-memory", ("memory", "kernel"), parse_ram),
    ("kernel-memory-tcp", ("memory", "kernelTCP"), parse_ram),
)


def resources_from_flags(values: dict[str, str | int | None]) -> Raw:
    """runc update's individual flags -> a LinuxResources document (flags not given are absent)."""
    out: Raw = {}
    for flag, (section, key), parse in _FLAGS:
        v = values.get(flag)
        if v is None or v == "":
            continue
        try:
            parsed = -1 if parse is parse_ram and v == "-1" else parse(str(v))
        except ValueError as e:
            raise UsageError(f"invalid value for {flag}: {e}") from None
        out.setdefault(section, {})[key] = parsed
    weight, pids = values.get("blkio-weight"), values.get("pids-limit")
    if weight:
        out.setdefault("blockIO", {})["weight"] = int(weight)
    if pids is not None:
        out.setdefault("pids", {})["limit"] = int(pids)
    return out


_INT, _STR, _BOOL = "integer", "string", "boolean"
_DEVICE_LIST = {"major": _INT, "minor": _INT, "weight": _INT, "leafWeight": _INT, "rate": _INT}
# The fields `update` applies (runc update.go copies exactly these); anything else in the document is ignored.
_UPDATABLE: dict[str, dict[str, Any]] = {
    "memory": {"limit": _INT, "reservation": _INT, "swap": _INT, "kernel": _INT, "kernelTCP": _INT,
               "checkBeforeUpdate": _BOOL},
    "cpu": {"shares": _INT, "quota": _INT, "burst": _INT, "period": _INT, "realtimeRuntime": _INT,
            "realtimePeriod": _INT, "cpus": _STR, "mems": _STR, "idle": _INT},
    "blockIO": {"weight": _INT, "leafWeight": _INT, "weightDevice": [_DEVICE_LIST],
                "throttleReadBpsDevice": [_DEVICE_LIST], "throttleWriteBpsDevice": [_DEVICE_LIST],
                "throttleReadIOPSDevice": [_DEVICE_LIST], "throttleWriteIOPSDevice": [_DEVICE_LIST]},
    "pids": {"limit": _INT},
}


def _check(value: Any, kind: Any, pointer: str) -> None:
    ok = {
        _INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        _STR: lambda v: isinstance(v, str),
        _BOOL: lambda v: isinstance(v, bool),
    }
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise UsageError(f"update --resources: {pointer}: must be an array")
        for i, item in enumerate(value):
            _check(item, kind[0], f"{pointer}/{i}")
    elif isinstance(kind, dict):
        if not isinstance(value, dict):
            raise UsageError(f"update --resources: {pointer}: must be an object")
        for k, v in value.items():
            if k in kind and v is not None:
                _check(v, kind[k], f"{pointer}/{k}")
    elif not ok[kind](value):
        raise UsageError(f"update --resources: {pointer}: must be a{'n' if kind == _INT else ''} {kind}")


def updatable(doc: Raw) -> Raw:
    """The part of a LinuxResources document `update` applies, type-checked, with runc's fix-ups."""
    if not isinstance(doc, dict):
        raise UsageError("update --resources: the document must be a JSON object (LinuxResources)")
    out: Raw = {}
    for section, fields in _UPDATABLE.items():
        sub = doc.get(section)
        if sub is None:
            continue
        _check(sub, fields, f"/{section}")
        picked = {k: v for k, v in sub.items() if k in fields and v is not None}
        if picked:
            out[section] = picked
    unified = doc.get("unified")
    if unified:
        if not isinstance(unified, dict) or not all(isinstance(v, str) for v in unified.values()):
            raise UsageError("update --resources: /unified: must be an object of strings")
        out["unified"] = dict(unified)
    mem = out.get("memory", {})
    if mem.get("limit") == -1 and "swap" not in mem:
        mem["swap"] = 0  # with unlimited memory, unset swap follows it (runc: avoids "swap limit without memory")
    if "kernel" in mem or "kernelTCP" in mem:
        from pyrunc.cgroups.knobs import warn

        warn("Kernel memory settings are ignored and will be removed")
    return out


def merge_resources(old: Raw, delta: Raw) -> Raw:
    """The saved `linux.resources` with an update applied: fields replaced, per-device lists upserted by
    major:minor (runc upsertWeightDevice/upsertThrottleDevice)."""
    out = copy.deepcopy(old)
    for section, sub in delta.items():
        if not isinstance(sub, dict):
            out[section] = copy.deepcopy(sub)
            continue
        target = out.setdefault(section, {})
        for k, v in sub.items():
            if isinstance(v, list) and section == "blockIO":
                lst = target.setdefault(k, [])
                for dev in v:
                    same = [d for d in lst if d.get("major") == dev.get("major") and d.get("minor") == dev.get("minor")]
                    if same:
                        same[-1].update(dev)
                    else:
                        lst.append(dict(dev))
            else:
                target[k] = v
    return out


def update(root: str, cid: str, doc: Raw) -> None:
    """Implements `update`: write the new limits to the running container's cgroup and remember them.

    Device rules are never rewritten here (runc). If the kernel rejects a value, the previous limits are put back
    (best effort) and the error names the file, the value and the field.
    """
    from pyrunc.spec.model import Resources

    delta = updatable(doc)
    with statestore.lock(root, cid):
        st = statestore.load(root, cid)
        if statestore.status(root, st) == STOPPED:
            raise NotRunning()
        cg = _manager(st)
        linux = st.config.setdefault("linux", {})
        old = linux.get("resources") or {}
        wanted = Resources.from_dict(delta)  # before anything is saved
        # Remembered first: limits that cannot be saved (a full disk) are not applied either.
        linux["resources"] = merge_resources(old, delta)
        statestore.save(root, st)
        try:
            cg.update(wanted)
        except Exception:  # whatever stopped it (the kernel's refusal, no fd left): back to what was there
            from pyrunc.cgroups.knobs import warn

            try:
                cg.update(Resources.from_dict(updatable({k: old[k] for k in delta if k in old})))
            except Exception as e:
                warn(f"setting back the previous cgroup limits failed: {e}")
            linux["resources"] = old
            try:
                statestore.save(root, st)
            except Exception as e:
                warn(f"remembering the previous cgroup limits failed: {e}")
            raise


def read_resources_doc(source: str) -> Raw:
    """`--resources FILE` or `--resources -` (stdin)."""
    import sys

    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise PyruncError(f"open {source}: {e.strerror}") from None
    try:
        doc: Raw = json.loads(text)
        return doc
    except ValueError as e:
        raise UsageError(f"update --resources: invalid JSON: {e}") from None


# ------------------------------------------------------------------------------------------------ events

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration (runc's --interval): "5s", "100ms", "1m30s". Seconds."""
    s, sign = text, 1.0
    if s and s[0] in "+-":
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            raise UsageError(f'invalid value "{text}" for flag -interval: time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise UsageError(f'invalid value "{text}" for flag -interval: time: invalid duration "{text}"')
    return sign * total


def _running_state(root: str, cid: str) -> State:
    st = statestore.load(root, cid)
    if statestore.status(root, st) == STOPPED:
        raise ContainerError(f"container with id {cid} is not running")
    return st


def stats_event(root: str, cid: str) -> Raw:
    """`events --stats`: one {"type":"stats","id":...,"data":{...}} object."""
    st = _running_state(root, cid)
    return {"type": "stats", "id": cid, "data": _manager(st).stats()}


def stream_events(root: str, cid: str, interval: float, emit: Callable[[Raw], None]) -> None:
    """`events`: stats every `interval` seconds and an {"type":"oom"} event for each OOM, until the container stops
    or its cgroup goes away."""
    if interval <= 0:
        raise UsageError("duration interval must be greater than 0")
    st = _running_state(root, cid)
    cg = _manager(st)
    try:
        watcher = cg.oom_watcher()
    except PyruncError:
        watcher = None  # no memory controller: stats only
    try:
        next_tick = time.monotonic() + interval
        while True:
            timeout = max(0.0, next_tick - time.monotonic())
            if watcher is None:
                time.sleep(timeout)
            elif select.select([watcher], [], [], timeout)[0]:
                ooms, gone = watcher.read()
                if ooms:
                    emit({"type": "oom", "id": cid})
                if gone:
                    return
            if time.monotonic() >= next_tick:
                next_tick += interval
                if statestore.status(root, st) == STOPPED:
                    return
                try:
                    emit({"type": "stats", "id": cid, "data": cg.stats()})
                except PyruncError as e:
                    from pyrunc.cgroups.knobs import warn

                    warn(f"events: {e}")
    finally:
        if watcher is not None:
            watcher.close()


# ------------------------------------------------------------------------------------------------ ps


def processes(root: str, cid: str) -> list[int]:
    """Host pids of every process in the container's cgroup (`ps --format json`)."""
    st = statestore.load(root, cid)
    if not st.cgroup:
        return []
    return list(_manager(st).pids())


def ps_table(pids: list[int], ps_args: list[str]) -> str:
    """`ps` table format: run ps(1) with the given args (default -ef) and keep the header and the container's rows."""
    import subprocess

    try:
        out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True)
    except OSError as e:
        raise PyruncError(f"exec: \"ps\": {e.strerror}") from None
    if out.returncode != 0:
        raise PyruncError(f"exit status {out.returncode}: {(out.stdout + out.stderr).strip()}")
    return filter_ps_output(out.stdout, pids)


def filter_ps_output(output: str, pids: list[int]) -> str:
    lines = output.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise PyruncError("couldn't find PID field in ps output")
    index = titles.index("PID")
    keep = set(pids)
    rows = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        try:
            pid = int(fields[index])
        except (IndexError, ValueError):
            raise PyruncError(f"unable to parse pid: {line!r}") from None
        if pid in keep:
            rows.append(line)
    return "\n".join(rows) + "\n"
