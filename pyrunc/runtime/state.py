"""The state store: `<root>/<id>/state.json` (+ `config.json`), written atomically, one flock per container, status
computed live.

This module is on the hot path of `state`, `kill` and `list` (containerd runs them for every container, and their
target is 1.3x a bare interpreter start: bench/). It imports only `posix`, `time` and pyrunc.quickjson at the top:
- `posix`, the C module `os` re-exports, because `import os` costs ~1.5 ms (its `_collections_abc` ABCs): paths
  are joined by hand (`_join`), the functions used are the same as os's;
- no `json` (which imports `re`), `typing`, `contextlib`, `fcntl` (only when locking), dataclasses (`import
  dataclasses` pulls in `inspect`, ~10 ms), nor pyrunc.errors (imported where an error is raised);
- no `from __future__ import annotations` (see "Import discipline" in pyrunc.cli.main): annotations naming `Any`
  are quoted.

Two files per container, both JSON and both replaced atomically:
- `state.json`: everything but the config, a few hundred bytes that `state`, `kill` and `list` read;
- `config.json`: the validated config.json of the bundle (`State.config`), read only when something asks for it
  (delete, start, exec, update), because a real config can be tens of KB (Docker's seccomp profile) and `list`
  would parse it for every container. `save` writes config.json first, so a state.json always has its config.
State files written by older pyrunc versions (config inside state.json) still load.

Status is never trusted from the file alone (ARCHITECTURE rule 10, SECURITY rule 6):
- the init pid must exist with the start time saved at create (field 22 of /proc/<pid>/stat), and not be a
  zombie, or the container is `stopped` (a reused pid never makes a dead container look alive);
- `exec.fifo` present means the init still waits for `start`: `created`;
- a container that `pause` froze is `paused` only while its freezer really says so.
"""

import posix
import time

from pyrunc import quickjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO_NAME = "exec.fifo"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

# The fields of state.json, in the order they are written.
FIELDS = (
    "id",
    "bundle",
    "rootfs",
    "pid",
    "pid_start",
    "created",
    "owner",
    "annotations",
    "oci_version",
    "cgroup",
    "status_hint",
    "extra",
)


class State:
    """What pyrunc keeps about one container. `status_hint` is the last status a verb set, not the truth.

    `config` (the raw validated config.json) is loaded from the container's directory on first use.
    """

    __slots__ = (*FIELDS, "_config", "_dir")

    def __init__(
        self,
        id: str,
        bundle: str,
        rootfs: str = "",
        pid: int = 0,
        pid_start: int = 0,
        created: str = "",
        owner: str = "",
        annotations: "dict[str, str] | None" = None,
        oci_version: str = "",
        cgroup: "dict[str, Any] | None" = None,
        config: "dict[str, Any] | None" = None,
        status_hint: str = CREATING,
        extra: "dict[str, Any] | None" = None,
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
        self._config = config  # None: not loaded (yet); see `config`
        self._dir: str | None = None  # the directory it was loaded from / saved to
        self.status_hint = status_hint
        self.extra = extra or {}

    @property
    def config(self) -> "dict[str, Any]":
        """The validated raw config.json: `delete` works even if the bundle is gone."""
        if self._config is None:
            self._config = _read_config(self._dir, self.id) if self._dir else {}
        return self._config

    @config.setter
    def config(self, value: "dict[str, Any]") -> None:
        self._config = value

    def to_dict(self) -> "dict[str, Any]":
        d = {k: getattr(self, k) for k in FIELDS}
        d["config"] = self.config
        return d

    @classmethod
    def from_dict(cls, d: "dict[str, Any]") -> "State":
        return cls(**{k: d[k] for k in (*FIELDS, "config") if k in d})

    def oci(self, status: str, *, owner: str | None = None) -> "dict[str, Any]":
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


def _join(a: str, b: str) -> str:
    """os.path.join(a, b) for a relative `b` (a validated id or a file name)."""
    return a + b if a.endswith("/") else f"{a}/{b}"


def container_dir(root: str, cid: str) -> str:
    return _join(root, cid)


def fifo_path(root: str, cid: str) -> str:
    return f"{_join(root, cid)}/{FIFO_NAME}"


def ensure_root(root: str) -> None:
    """Create the state root 0700 (runc's mode): state.json files name host paths and pids."""
    import os

    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    except OSError as e:
        from pyrunc.errors import PyruncError

        raise PyruncError(f"cannot create state root {root}: {e.strerror}") from None


def reserve(root: str, cid: str) -> str:
    """Claim `<root>/<id>` with an exclusive mkdir: of N concurrent creates of one id exactly one wins."""
    from pyrunc.errors import ContainerExists, PyruncError

    ensure_root(root)
    path = container_dir(root, cid)
    try:
        posix.mkdir(path, 0o711)
    except FileExistsError:
        raise ContainerExists(cid) from None
    except OSError as e:
        raise PyruncError(f"cannot create container directory {path}: {e.strerror}") from None
    return path


def _write_atomic(d: str, name: str, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename: a reader never sees half a file."""
    tmp = f"{d}/.{name}.{posix.getpid()}.tmp"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC | posix.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[posix.write(fd, view) :]
        posix.fsync(fd)
    finally:
        posix.close(fd)
    posix.replace(tmp, f"{d}/{name}")


def save(root: str, st: State) -> None:
    """Write the state atomically; the config first (when loaded or set), so state.json never lacks it."""
    d = container_dir(root, st.id)
    compact = (",", ":")
    if st._config is not None:
        _write_atomic(d, CONFIG_FILE, quickjson.dumps(st._config, separators=compact).encode())
    _write_atomic(d, STATE_FILE, quickjson.dumps({k: getattr(st, k) for k in FIELDS}, separators=compact).encode())
    st._dir = d


def load(root: str, cid: str) -> State:
    """Load a container's state; `ContainerNotExist` ("container does not exist") if there is none."""
    d = container_dir(root, cid)
    try:
        with open(f"{d}/{STATE_FILE}", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError):
        from pyrunc.errors import ContainerNotExist

        raise ContainerNotExist(cid) from None
    try:
        st = State.from_dict(quickjson.loads(raw))
    except (ValueError, TypeError) as e:
        from pyrunc.errors import PyruncError

        raise PyruncError(f"container {cid}: corrupt state file: {e}") from None
    st._dir = d
    return st


def _read_config(d: str, cid: str) -> "dict[str, Any]":
    try:
        with open(f"{d}/{CONFIG_FILE}", "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    try:
        config = quickjson.loads(raw)
        if not isinstance(config, dict):
            raise ValueError("not an object")
    except ValueError as e:
        from pyrunc.errors import PyruncError

        raise PyruncError(f"container {cid}: corrupt {CONFIG_FILE} in its state directory: {e}") from None
    return config


def _is_dir(path: str) -> bool:
    """os.path.isdir"""
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000
    except (OSError, ValueError):
        return False


def _exists(path: str) -> bool:
    """os.path.exists"""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def exists(root: str, cid: str) -> bool:
    return _is_dir(container_dir(root, cid))


def list_ids(root: str) -> list[str]:
    try:
        with posix.scandir(root) as it:
            return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


class lock:
    """Serialise verbs on one container with flock on its directory. Raises ContainerNotExist if it vanished.

    A class named like the function it replaced, not a @contextmanager: `contextlib` is a 4 ms import.
    """

    __slots__ = ("_fd", "cid", "root")

    def __init__(self, root: str, cid: str) -> None:
        self.root = root
        self.cid = cid
        self._fd = -1

    def __enter__(self) -> None:
        import fcntl

        from pyrunc.errors import ContainerNotExist

        try:
            self._fd = posix.open(container_dir(self.root, self.cid),
                                  posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise ContainerNotExist(self.cid) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if not _is_dir(container_dir(self.root, self.cid)):  # deleted while we waited for the lock
                raise ContainerNotExist(self.cid)
        except BaseException:
            posix.close(self._fd)
            self._fd = -1
            raise

    def __exit__(self, *exc: object) -> None:
        if self._fd >= 0:
            posix.close(self._fd)
            self._fd = -1


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
    if _exists(fifo_path(root, st.id)):
        return CREATED
    if st.status_hint == PAUSED and st.cgroup:
        from pyrunc.cgroups import manager_from_state

        try:
            if manager_from_state(st.cgroup).is_frozen():
                return PAUSED
        except Exception:
            return PAUSED
    return RUNNING
