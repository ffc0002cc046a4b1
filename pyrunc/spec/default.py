"""The starter config.json that `pyrunc spec` writes: runc's example spec (libcontainer/specconv/example.go).

Differences from runc, on purpose: `ociVersion` is the spec version we implement (1.3.0) and the hostname is
"pyrunc". Like runc >= 1.2 the example grants no inheritable and no ambient capabilities (CVE-2022-29162: an
inheritable set lets a file with file capabilities gain them on exec). Key order follows runc's output.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from pyrunc import SPEC_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

_EXAMPLE: dict[str, Any] = {
    "ociVersion": SPEC_VERSION,
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {"bounding": list(_CAPS), "effective": list(_CAPS), "permitted": list(_CAPS)},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "pyrunc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def _cgroup2_unified() -> bool:
    """/sys/fs/cgroup is itself a cgroup2 mount (not v1, not hybrid, where v2 sits at /sys/fs/cgroup/unified)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def example_spec(*, cgroup2: bool | None = None) -> dict[str, Any]:
    """runc's example config. On a pure cgroup v2 host it adds a cgroup namespace, as runc does."""
    spec = copy.deepcopy(_EXAMPLE)
    if _cgroup2_unified() if cgroup2 is None else cgroup2:
        spec["linux"]["namespaces"].append({"type": "cgroup"})
    return spec


def to_rootless(spec: dict[str, Any], *, uid: int | None = None, gid: int | None = None) -> dict[str, Any]:
    """runc's `ToRootless`: a user namespace mapping root to the calling user, no network namespace (an
    unprivileged user cannot set one up usefully), /sys bind-mounted read-only (sysfs cannot be mounted without
    owning a network namespace), no uid=/gid= mount options (those ids are unmapped), no cgroup resources."""
    spec = copy.deepcopy(spec)
    linux = spec["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    host_uid = os.geteuid() if uid is None else uid
    host_gid = os.getegid() if gid is None else gid
    # Key order as runc prints it: the mappings come first in `linux`.
    spec["linux"] = {
        "uidMappings": [{"containerID": 0, "hostID": host_uid, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": host_gid, "size": 1}],
        **{k: v for k, v in linux.items() if k != "resources"},
    }
    mounts = []
    for m in spec["mounts"]:
        if os.path.normpath(m["destination"]) == "/sys":
            mounts.append({
                "destination": "/sys",
                "type": "none",
                "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
            })  # fmt: skip
            continue
        if "options" in m:
            m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
        mounts.append(m)
    spec["mounts"] = mounts
    return spec
