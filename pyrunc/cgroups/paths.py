"""`linux.cgroupsPath` as runc's cgroupfs driver reads it, made safe.

- absent: the container id, as a *relative* path (runc sets the cgroup name to the id);
- absolute (`/a/b`): relative to the root of each hierarchy (`<mountpoint>/a/b`);
- relative (`a/b`): relative to the runtime's own cgroup in each hierarchy (on pure v2, relative to the parent of
  the runtime's own cgroup, which is a leaf there: runc fs2 `defaultDirPath`).

Unlike runc, which silently clamps `..` at the root, a `..` that would leave the hierarchy (or, for a relative path,
the runtime's cgroup) is refused: cgroupsPath is a path the runtime creates, writes and removes as root, so an
escape must never be "fixed up" into some other cgroup (GHSA-5g49-rx9x-qfc6 was such an escape). `a/../b` inside
the base is normalised to `b`. A path naming the base itself (`/`, `.`) is refused too: the container would share,
and `delete` would remove and kill, a cgroup that is not its own.
"""

import os

from pyrunc.cgroups.mounts import CgroupMount
from pyrunc.errors import SpecError

SPEC_PATH = "/linux/cgroupsPath"


def inner_path(cgroups_path: str | None, container_id: str) -> str:
    """The normalised cgroup path: "/a/b" (absolute) or "a/b" (relative). SpecError on an escape or an empty path."""
    raw = cgroups_path or container_id
    absolute = raw.startswith("/")
    parts: list[str] = []
    for comp in raw.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                where = "the cgroup hierarchy" if absolute else "the runtime's own cgroup"
                raise SpecError([(SPEC_PATH, f"{raw!r} escapes {where} with '..'")])
            parts.pop()
            continue
        parts.append(comp)
    if not parts:
        what = "the root of the cgroup hierarchy" if absolute else "the runtime's own cgroup"
        raise SpecError([(SPEC_PATH, f"{raw!r} names {what}, not a cgroup of the container's own")])
    return ("/" if absolute else "") + "/".join(parts)


def _under(mountpoint: str, rel: str) -> str:
    path = os.path.normpath(os.path.join(mountpoint, rel.lstrip("/")))
    if path != mountpoint and not path.startswith(mountpoint.rstrip("/") + "/"):
        raise SpecError([(SPEC_PATH, f"resolves to {path}, outside the cgroup mount {mountpoint}")])
    return path


def own_dir(mount: CgroupMount, own_path: str) -> str:
    """The runtime's own cgroup directory in a hierarchy, from its /proc/self/cgroup path and the mount's root."""
    rel = own_path
    root = mount.root.rstrip("/")
    if root and (own_path == root or own_path.startswith(root + "/")):
        rel = own_path[len(root):]
    return _under(mount.mountpoint, rel)


def resolve(inner: str, mount: CgroupMount, own_path: str | None, *, parent_of_own: bool = False) -> str:
    """The directory of cgroup `inner` in one hierarchy. `parent_of_own`: relative paths start from the parent of
    the runtime's own cgroup (pure v2). The result is always below the mount point and never the base itself."""
    if inner.startswith("/"):
        return _under(mount.mountpoint, inner)
    base = own_dir(mount, own_path or "/")
    if parent_of_own and base != mount.mountpoint:
        base = os.path.dirname(base)
    return _under(base, inner)
