"""`pyrunc features`: the runtime-spec "features" document (features.md), honest about what really works.

containerd reads it: CRI advertises recursive read-only mounts only if `mountOptions` has "rro", and refuses
idmapped mounts unless `linux.mountExtensions.idmap.enabled`. So every list here comes from the module that
implements the feature, never from a hand-written wish list.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def features() -> dict[str, Any]:
    from pyrunc import SPEC_VERSION, __version__
    from pyrunc.linux import mempolicy
    from pyrunc.linux.capnames import CAP_NAMES
    from pyrunc.rootfs.options import IDMAP_OPTIONS, known_options
    from pyrunc.security import seccomp

    out: dict[str, Any] = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        # As runc: idmap/ridmap are announced by mountExtensions.idmap below, not in this list.
        "mountOptions": [o for o in known_options() if o not in IDMAP_OPTIONS],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": list(CAP_NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
            "seccomp": {
                "enabled": True,
                "actions": sorted(seccomp.ACTIONS),
                "operators": sorted(seccomp.OPERATORS),
                "archs": sorted(seccomp.ARCHITECTURES),
                "knownFlags": sorted(seccomp.FLAGS),
                "supportedFlags": sorted(seccomp.supported_flags()),
            },
            # process.apparmorProfile / selinuxLabel: pyrunc.security.lsm; linux.mountLabel: rootfs.mounts.
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            "memoryPolicy": {"modes": sorted(mempolicy.MODES), "flags": sorted(mempolicy.FLAGS)},
            # Id-mapped bind mounts (mounts[].uidMappings/gidMappings, idmap/ridmap): pyrunc.rootfs.idmap, made
            # host-side for user-namespaced containers (pyrunc.rootfs.hostmounts).
            "mountExtensions": {"idmap": {"enabled": True}},
            # linux.netDevices: moved by pyrunc.runtime.netdevices.
            "netDevices": {"enabled": True},
        },
        "annotations": {"io.github.pyrunc.version": __version__},
        "potentiallyUnsafeConfigAnnotations": [],
    }
    return out


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pyrunc.quickjson import dumps

    sys.stdout.write(dumps(features(), indent=4) + "\n")
    return 0
