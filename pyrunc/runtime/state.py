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

Three files per container, all JSON, each replaced atomically (temp file + rename: a reader never sees half a
file; no fsync, as runc: the state root is normally a tmpfs, and nothing in it outlives a crash of the machine):
- `state.json`: the small fields (FIELDS, ~300 bytes) that `state`, `kill` and `list` read;
- `config.json`: the validated config.json of the bundle (`State.config`), and `cgroup.json`: what the cgroup
  manager needs to find the container's cgroups again (`State.cgroup`). Each is read only when something asks
  for it (delete, start, exec, update, pause, `kill --all`): a real config can be tens of KB (Docker's seccomp
  profile), the v1 cgroup paths near 1 KB, and `list` would parse them for every container. `save` writes them
  only when they changed, and before state.json.
Other files of the directory are written the same way (`write_file`): `seccomp.bpf`, the seccomp filter `create`
compiled, for `exec` (pyrunc.runtime.seccomp_cache).
State files written by older pyrunc versions (config and cgroup inside state.json) still load.

Status is never trusted from the file alone (ARCHITECTURE rule 10, SECURITY rule 6):
- the init pid must exist with the start time saved at create (field 22 of /proc/<pid>/stat), and not be a
  zombie, or the container is `stopped` (a reused pid never makes a dead container look alive);
- `exec.fifo` present means the init still waits for `start`: `created`;
- a container that `pause` froze is `paused` only while its freezer really says so.
"""

import posix
import sys
import time

from pyrunc import SPEC_VERSION, quickjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
CGROUP_FILE = "cgroup.json"
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
    "status_hint",
    "extra",
)
# The fields kept in a file of their own, read on first use: field -> file.
PARTS = {"config": CONFIG_FILE, "cgroup": CGROUP_FILE}


# The JSON type of each field as save() writes it (State.from_dict refuses anything else).
_FIELD_TYPES: "dict[str, type]" = {
    "id": str, "bundle": str, "rootfs": str, "pid": int, "pid_start": int, "created": str, "owner": str,
    "annotations": dict, "oci_version": str, "status_hint": str, "extra": dict, "cgroup": dict, "config": dict,
}
_MAY_BE_NULL = frozenset({"annotations", "extra", "cgroup", "config"})
_STATUSES = frozenset({CREATING, CREATED, RUNNING, PAUSED, STOPPED})


class _Part:
    """A State field kept in its own file of the container's directory and read on first use (module doc)."""

    __slots__ = ("file", "raw_slot", "slot")

    def __init__(self, name: str) -> None:
        self.file = PARTS[name]
        self.slot = f"_{name}"  # the value; None: not read yet
        self.raw_slot = f"_{name}_json"  # the file's bytes as last read or written (save skips an unchanged one)

    def __get__(self, st: "State | None", owner: type) -> "Any":
        if st is None:
            return self
        value = getattr(st, self.slot)
        if value is None:
            raw = getattr(st, self.raw_slot)  # read but not parsed yet (State.config_mentions)
            if raw is None:
                raw = _read_file(f"{st._dir}/{self.file}") if st._dir else None
            value = {} if raw is None else _parse_part(raw, self.file, st.id)
            setattr(st, self.slot, value)
            setattr(st, self.raw_slot, raw)
        return value

    def __set__(self, st: "State", value: "dict[str, Any]") -> None:
        setattr(st, self.slot, value)


class State:
    """What pyrunc keeps about one container. `status_hint` is the last status a verb set, not the truth.

    `config` (the raw validated config.json) and `cgroup` (the cgroup manager's to_state()) are read from the
    container's directory on first use.
    """

    __slots__ = (*FIELDS, "_cgroup", "_cgroup_json", "_config", "_config_json", "_dir")
    config = _Part("config")
    cgroup = _Part("cgroup")

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
        self._cgroup = cgroup
        self._cgroup_json: bytes | None = None
        self._config = config
        self._config_json: bytes | None = None
        self._dir: str | None = None  # the directory it was loaded from / saved to
        self.status_hint = status_hint
        self.extra = extra or {}

    def config_mentions(self, name: str) -> bool:
        """False when the saved config.json certainly has no member `name` (e.g. a kind of hook): its text does
        not contain `"name"`. Answered without parsing it (tens of KB with Docker's seccomp profile: `start` and
        `delete` ask for their hooks); `save` writes it with json's escaping, in which a name of ASCII letters
        appears as itself. True when unsure: the caller then looks at `config` (which reuses what was read)."""
        if self._config is None and self._config_json is None and self._dir:
            self._config_json = _read_file(f"{self._dir}/{CONFIG_FILE}")
        raw = self._config_json
        return self._config is not None or raw is None or f'"{name}"'.encode() in raw

    def to_dict(self) -> "dict[str, Any]":
        d = {k: getattr(self, k) for k in FIELDS}
        d["cgroup"] = self.cgroup
        d["config"] = self.config
        return d

    @classmethod
    def from_dict(cls, d: "dict[str, Any]") -> "State":
        """The state save() wrote. Every field must have the type save() gives it, else ValueError (a damaged file:
        `list` skips it, `delete --force` cleans up from what else the directory names): a `"pid": null` or a
        number where a name belongs must not reach the code that signals processes or formats the output."""
        if type(d) is not dict:
            raise ValueError("not an object")
        for key, value in d.items():
            want = _FIELD_TYPES.get(key)
            if want is not None and type(value) is not want and not (value is None and key in _MAY_BE_NULL):
                raise ValueError(f"{key}: expected {want.__name__}, got {type(value).__name__}")
        if d.get("pid", 0) < 0 or d.get("pid_start", 0) < 0:
            raise ValueError("negative pid")
        if d.get("status_hint", CREATING) not in _STATUSES:
            raise ValueError(f"status_hint: unknown status {d['status_hint']!r}")
        annotations = d.get("annotations") or {}
        if not all(type(k) is str and type(v) is str for k, v in annotations.items()):
            raise ValueError("annotations: expected string values")
        try:
            return cls(**d)  # what save() wrote: exactly (a subset of) the keyword arguments
        except TypeError:  # a key this version does not know
            return cls(**{k: d[k] for k in (*FIELDS, *PARTS) if k in d})

    def oci(self, status: str, *, owner: str | None = None) -> "dict[str, Any]":
        """The state JSON runc prints (field order of runc's containerState; annotations only when present)."""
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


def _replace(tmp: str, target: str) -> None:
    """rename(tmp, target), or, where the C-call layer is loaded anyway (create, run, exec; `state`, `kill` and
    `start` never load it), an atomic exchange of the two names and an unlink of the old file. Why: ext4
    (auto_da_alloc) starts writing back a file renamed over an existing one: ~0.2 ms a save, with stalls of several
    milliseconds, on the reference VM (create and run save state.json over itself three times); exchange + unlink
    ~0.04 ms. Either way a reader opens the complete old file or the complete new one."""
    fs = sys.modules.get("pyrunc.linux.fs")
    if fs is not None and fs.exchange(tmp, target):
        posix.unlink(tmp)  # now the old content
        return
    posix.replace(tmp, target)


def _write_atomic(d: str, name: str, data: bytes) -> None:
    """Temp file in the same directory, then rename: a reader never sees half a file (see the module doc). The
    file gets the directory's owner (root working on another user's container keeps it theirs): `scan` reads
    the container's owner from state.json."""
    tmp = f"{d}/.{name}.{posix.getpid()}.tmp"
    try:
        fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC | posix.O_NOFOLLOW,
                        0o600)
        try:
            if posix.geteuid() == 0:
                owner = posix.stat(d)
                if owner.st_uid != 0:
                    posix.fchown(fd, owner.st_uid, owner.st_gid)
            view = memoryview(data)
            while view:
                view = view[posix.write(fd, view) :]
        finally:
            posix.close(fd)
        _replace(tmp, f"{d}/{name}")
    except OSError as e:
        # A full or read-only state root: a clean one-line error, and no half-written temp file left behind.
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        from pyrunc.errors import PyruncError

        raise PyruncError(f"cannot write {name} of container {d.rsplit('/', 1)[-1]}: {e.strerror}") from None


_COMPACT = (",", ":")


def save(root: str, st: State) -> None:
    """Write the state atomically; first the parts (config, cgroup) that were set or read and changed."""
    d = container_dir(root, st.id)
    for name, file in PARTS.items():
        value = getattr(st, f"_{name}")
        if value is not None:
            data = quickjson.dumps(value, separators=_COMPACT).encode()
            if data != getattr(st, f"_{name}_json") or d != st._dir:
                _write_atomic(d, file, data)
                setattr(st, f"_{name}_json", data)
    _write_atomic(d, STATE_FILE, quickjson.dumps({k: getattr(st, k) for k in FIELDS}, separators=_COMPACT).encode())
    st._dir = d


def write_file(root: str, cid: str, name: str, data: bytes) -> None:
    """Another file of the container's directory (exec's compiled seccomp filter), written as state.json is:
    atomically, 0600. Removed with the directory. Raises PyruncError."""
    _write_atomic(container_dir(root, cid), name, data)


def read_file(root: str, cid: str, name: str) -> bytes | None:
    """A file written by `write_file`, or None if there is none."""
    return _read_file(f"{container_dir(root, cid)}/{name}")


def _read_file(path: str) -> bytes | None:
    """The whole file, or None if it does not exist. posix calls, not open(): no buffered file object to build
    (`list` reads two files per container)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = posix.read(fd, 65536)
        if len(data) == 65536:  # a big one (a config): read the rest
            chunks = [data]
            while chunk := posix.read(fd, 65536):
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        posix.close(fd)
    return data


def load(root: str, cid: str) -> State:
    """Load a container's state; `ContainerNotExist` ("container does not exist") if there is none."""
    d = container_dir(root, cid)
    raw = _read_file(f"{d}/{STATE_FILE}")
    if raw is None:
        from pyrunc.errors import ContainerNotExist

        raise ContainerNotExist(cid)
    try:
        st = State.from_dict(quickjson.loads(raw))
        if st.id != cid:
            # Every path of a container is built from its id: one naming another directory must not be used.
            raise ValueError(f"it names container {st.id!r}")
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        from pyrunc.errors import CorruptState

        raise CorruptState(f"container {cid}: corrupt state file: {e}") from None
    st._dir = d
    return st


def _parse_part(raw: bytes, file: str, cid: str) -> "dict[str, Any]":
    try:
        value = quickjson.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("not an object")
    except ValueError as e:
        from pyrunc.errors import CorruptState

        raise CorruptState(f"container {cid}: corrupt {file} in its state directory: {e}") from None
    return value


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

        try:
            self._fd = posix.open(container_dir(self.root, self.cid),
                                  posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            from pyrunc.errors import ContainerNotExist

            raise ContainerNotExist(self.cid) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if not _is_dir(container_dir(self.root, self.cid)):  # deleted while we waited for the lock
                from pyrunc.errors import ContainerNotExist

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
        fd = posix.open(f"/proc/{pid}/stat", posix.O_RDONLY | posix.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    try:
        data = posix.read(fd, 4096)  # one read: the kernel fills it at once (~300 bytes)
    except ProcessLookupError:  # exited between open and read
        return None
    finally:
        posix.close(fd)
    # The command name may contain spaces and ')': split after the LAST ')'.
    rest = data[data.rindex(b")") + 2 :].split(None, 20)
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
    return _status(st, f"{_join(root, st.id)}/{FIFO_NAME}", None)


def _status(st: State, fifo: str, dir_fd: int | None) -> str:
    if not init_alive(st):
        return STOPPED
    hint = st.status_hint
    if hint == CREATING:
        return CREATING
    if hint == RUNNING:
        # Saved by `start` once it removed exec.fifo, and by `resume` only when there is none; nothing makes the
        # fifo again: no need to look for it (a syscall per container for `list`).
        return RUNNING
    try:
        posix.stat(fifo, dir_fd=dir_fd)
        return CREATED
    except (OSError, ValueError):
        pass
    if hint == PAUSED and st.cgroup:
        from pyrunc.cgroups import manager_from_state

        try:
            if manager_from_state(st.cgroup).is_frozen():
                return PAUSED
        except Exception:
            return PAUSED
    return RUNNING


def scan(root: str, *, live: bool = True) -> "Iterator[tuple[State, str, int]]":
    """Every container under `root`, sorted by id, as (state, live status, uid owning its directory); directories
    without a readable state (a create killed early, a corrupt file) are skipped. With `live=False` (`list -q`,
    which prints the ids only) neither the status nor the owner is looked up: they are "" and -1.

    What `list` does per container is what `list` of 1000 containers costs, so it is done here with few calls
    and syscalls relative to the root's fd (openat/fstatat): read and fstat state.json, read /proc/<pid>/stat,
    stat exec.fifo unless the container was started.
    """
    try:
        root_fd = posix.open(root, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        with posix.scandir(root_fd) as it:
            ids = sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        from_dict, loads = State.from_dict, quickjson.loads
        open_, read, fstat, close = posix.open, posix.read, posix.fstat, posix.close
        flags = posix.O_RDONLY | posix.O_CLOEXEC
        for cid in ids:
            try:
                fd = open_(f"{cid}/{STATE_FILE}", flags, dir_fd=root_fd)
            except OSError:
                continue
            try:
                raw = read(fd, 65536)
                if len(raw) == 65536:  # a state.json of an older version, with the config in it
                    raw = _read_file(f"{_join(root, cid)}/{STATE_FILE}") or b""
                # The owner of state.json is the owner of the directory (_write_atomic keeps it so): an fstat
                # saves a path walk per container.
                uid = fstat(fd).st_uid if live else -1
            except OSError:
                continue
            finally:
                close(fd)
            try:
                st = from_dict(loads(raw))
            except (ValueError, TypeError):
                continue
            if st.id != cid:
                continue  # damaged: it names another container (load() refuses it too)
            st._dir = _join(root, cid)
            yield st, _status(st, f"{cid}/{FIFO_NAME}", root_fd) if live else "", uid
    finally:
        posix.close(root_fd)
