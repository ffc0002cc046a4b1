"""The state store: `<root>/<id>/state.json`, written atomically, one flock per container, status computed live.

This module is on the hot path of `state`, `kill` and `list` (containerd runs them for every container): it
imports only `json`, `os` and `fcntl`, and no dataclasses (`import dataclasses` pulls in `inspect`, ~10 ms).

Status is never trusted from the file alone (ARCHITECTURE rule 10, SECURITY rule 6):
- the init pid must exist with the start time saved at create (field 22 of /proc/<pid>/stat), and not be a
  zombie, or the container is `stopped` (a reused pid never makes a dead container look alive);
- `exec.fifo` present means the init still waits for `start`: `created`;
- a container that `pause` froze is `paused` only while its freezer really says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from pyrunc.errors import ContainerExists, ContainerNotExist, PyruncError

STATE_FILE = "state.json"
FIFO_NAME = "exec.fifo"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"


class State:
    """What pyrunc keeps about one container. `status_hint` is the last status a verb set, not the truth."""

    __slots__ = (
        "annotations",
        "bundle",
        "cgroup",
        "config",
        "created",
        "extra",
        "id",
        "oci_version",
        "owner",
        "pid",
        "pid_start",
        "rootfs",
        "status_hint",
    )

    def __init__(
        self,
        id: str,
        bundle: str,
        rootfs: str = "",
        pid: int = 0,
        pid_start: int = 0,
        created: str = "",
        owner: str = "",
        annotations: dict[str, str] | None = None,
        oci_version: str = "",
        cgroup: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        status_hint: str = CREATING,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.bundle = bundle
        self.rootfs = rootfs
        self.pid = pid
        self.pid_start = pid_start
        self.created = created or rfc3339_now()
        self.owner = owner
        self.annotations = annotations or {}
        self.oci_version = oci_version
        self.cgroup = cgroup or {}
        self.config = config or {}  # the validated raw config.json: delete works even if the bundle is gone
        self.status_hint = status_hint
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> State:
        return cls(**{k: d[k] for k in cls.__slots__ if k in d})

    def oci(self, status: str, *, owner: str | None = None) -> dict[str, Any]:
        """The state JSON runc prints (field order of runc's containerState; annotations only when present)."""
        from pyrunc import SPEC_VERSION

        out: dict[str, Any] = {
            "ociVersion": SPEC_VERSION,
            "id": self.id,
            "pid": self.pid if status != STOPPED else 0,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        out["owner"] = self.owner if owner is None else owner
        return out


def rfc3339_now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def container_dir(root: str, cid: str) -> str:
    return os.path.join(root, cid)


def fifo_path(root: str, cid: str) -> str:
    return os.path.join(root, cid, FIFO_NAME)


def ensure_root(root: str) -> None:
    """Create the state root 0700 (runc's mode): state.json files name host paths and pids."""
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    except OSError as e:
        raise PyruncError(f"cannot create state root {root}: {e.strerror}") from None


def reserve(root: str, cid: str) -> str:
    """Claim `<root>/<id>` with an exclusive mkdir: of N concurrent creates of one id exactly one wins."""
    ensure_root(root)
    path = container_dir(root, cid)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise ContainerExists(cid) from None
    except OSError as e:
        raise PyruncError(f"cannot create container directory {path}: {e.strerror}") from None
    return path


def save(root: str, st: State) -> None:
    """Write state.json atomically: temp file in the same directory, fsync, rename (a reader never sees half)."""
    d = container_dir(root, st.id)
    tmp = os.path.join(d, f".{STATE_FILE}.{os.getpid()}.tmp")
    data = json.dumps(st.to_dict(), separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(d, STATE_FILE))


def load(root: str, cid: str) -> State:
    """Load a container's state; `ContainerNotExist` ("container does not exist") if there is none."""
    try:
        with open(os.path.join(container_dir(root, cid), STATE_FILE), "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError):
        raise ContainerNotExist(cid) from None
    try:
        return State.from_dict(json.loads(raw))
    except (ValueError, TypeError) as e:
        raise PyruncError(f"container {cid}: corrupt state file: {e}") from None


def exists(root: str, cid: str) -> bool:
    return os.path.isdir(container_dir(root, cid))


def list_ids(root: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def lock(root: str, cid: str) -> Iterator[None]:
    """Serialise verbs on one container with flock on its directory. Raises ContainerNotExist if it vanished."""
    try:
        fd = os.open(container_dir(root, cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise ContainerNotExist(cid) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.isdir(container_dir(root, cid)):  # deleted while we waited for the lock
            raise ContainerNotExist(cid)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- liveness


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a pid, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and ')': split after the LAST ')'.
    rest = data[data.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[19])


def pid_start_time(pid: int) -> int:
    st = proc_stat(pid)
    return st[1] if st else 0


def init_alive(st: State) -> bool:
    """The init is the process we started: same pid AND same start time, and not a zombie."""
    if st.pid <= 0:
        return False
    s = proc_stat(st.pid)
    if s is None:
        return False
    letter, start = s
    if st.pid_start and start != st.pid_start:
        return False  # the pid was reused by another process
    return letter not in ("Z", "X")


def status(root: str, st: State) -> str:
    """The live OCI status of a container (see the module docstring)."""
    if not init_alive(st):
        return STOPPED
    if st.status_hint == CREATING:
        return CREATING
    # Paused before created: a created container can be paused too, and runc then reports "paused".
    if st.status_hint == PAUSED and st.cgroup:
        from pyrunc.cgroups import manager_from_state

        try:
            if manager_from_state(st.cgroup).is_frozen():
                return PAUSED
        except Exception:
            return PAUSED
    if os.path.exists(fifo_path(root, st.id)):
        return CREATED
    return RUNNING
