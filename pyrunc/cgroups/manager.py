"""The one interface every cgroup manager implements (cgroupfs v1, v2, hybrid; a systemd driver would too).

The lifecycle uses it as:  `create()` -> `apply(init_pid)` -> `set(resources)` (any failure: `destroy()`), and
later `update`, `freeze`/`thaw`, `pids`, `kill_all`, `stats`, `oom_watcher`, `destroy`. A manager is rebuilt in
another pyrunc process from `to_state()` with `pyrunc.cgroups.manager_from_state`.

A systemd driver fits the same shape: `create`+`apply` become StartTransientUnit with the pid, `set` becomes unit
properties plus the same file writes, `destroy` stops the unit; the rest reads the unit's cgroup directories.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyrunc.spec.model import Resources


class OomWatcher(Protocol):
    """OOM notifications of a cgroup, for `events`. Poll `fileno()` for readability (POLLIN|POLLPRI)."""

    def fileno(self) -> int: ...

    def read(self) -> tuple[int, bool]:
        """Consume what woke the poller: (number of new OOM events, whether the cgroup is gone or empty)."""
        ...

    def close(self) -> None: ...


class CgroupManager(Protocol):
    mode: str  # "v1" | "v2" | "hybrid"

    def create(self) -> None:
        """Make the cgroup directories (every v1 hierarchy / the unified one). Refuses a non-empty or frozen cgroup
        (runc). On failure removes what it made."""
        ...

    def placement(self) -> tuple[list[str], str | None]:
        """How a new process joins by itself, without the ~10 ms RCU grace period a write of its pid to
        cgroup.procs costs: (v1 directories it writes "0" to `tasks` of, v2 directory it is forked into)."""
        ...

    def apply(self, pid: int, already: frozenset[str] = frozenset()) -> None:
        """Move `pid` into the cgroup (in every hierarchy but the directories in `already`, which it joined by
        itself). Must happen before the container runs any code."""
        ...

    def set(self, resources: Resources, *, device_paths: Iterable[str] = ()) -> None:
        """Write every limit of `linux.resources`, device rules included (plus runc's default allowed devices,
        minus those whose path is in `device_paths`, the paths of `linux.devices`). CgroupError names the
        file, the value and the config pointer."""
        ...

    def update(self, resources: Resources) -> None:
        """`pyrunc update`: write the limits given (0/absent = unchanged, as in runc); device rules are not touched."""
        ...

    def pids(self) -> list[int]:
        """Every process in the cgroup, sub-cgroups included, sorted."""
        ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def is_frozen(self) -> bool: ...

    def kill_all(self, sig: int) -> None:
        """Send `sig` to every process of the cgroup (v2 SIGKILL: cgroup.kill; otherwise freeze, signal, thaw)."""
        ...

    def destroy(self) -> None:
        """SIGKILL whatever is left, wait for it to go, remove the directories. Idempotent."""
        ...

    def exists(self) -> bool: ...

    def paths(self) -> dict[str, str]:
        """Controller -> cgroup directory ("" is the unified hierarchy). For the `cgroup` mount and diagnostics."""
        ...

    def stats(self) -> dict[str, Any]:
        """runc's `events --stats` data object."""
        ...

    def oom_watcher(self) -> OomWatcher: ...

    def to_state(self) -> dict[str, Any]: ...
