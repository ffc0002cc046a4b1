"""A table of invalid configs, each with the JSON pointer `load_spec` must name (schema, semantic and host checks).

Every case edits runc's example config (from `pyrunc spec`) in a fresh bundle with a real rootfs directory.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from pyrunc.errors import SpecError
from pyrunc.spec.default import example_spec
from pyrunc.spec.load import load_spec

Raw = dict[str, Any]


def base_config() -> Raw:
    cfg = example_spec(cgroup2=False)
    cfg["process"]["terminal"] = False
    return cfg


def write_bundle(path: str, cfg: Any) -> str:
    os.makedirs(os.path.join(path, "rootfs"), exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return path


def ns(cfg: Raw, kind: str) -> Raw:
    return next(n for n in cfg["linux"]["namespaces"] if n["type"] == kind)


def drop_ns(cfg: Raw, kind: str) -> None:
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != kind]


def set_(path: str, value: Any) -> Callable[[Raw], None]:
    """An edit that sets the member at a slash path ("process/user/uid") to `value`."""

    def edit(cfg: Raw) -> None:
        *parents, last = path.split("/")
        node: Any = cfg
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def delete(path: str) -> Callable[[Raw], None]:
    def edit(cfg: Raw) -> None:
        *parents, last = path.split("/")
        node: Any = cfg
        for p in parents:
            node = node[p]
        del node[last]

    return edit


def seq(*edits: Callable[[Raw], None]) -> Callable[[Raw], None]:
    def edit(cfg: Raw) -> None:
        for e in edits:
            e(cfg)

    return edit


def rootfs_is_file(cfg: Raw, bundle: str) -> None:
    os.rmdir(os.path.join(bundle, "rootfs"))
    with open(os.path.join(bundle, "rootfs"), "w"):
        pass


def rootfs_is_symlink(cfg: Raw, bundle: str) -> None:
    os.rename(os.path.join(bundle, "rootfs"), os.path.join(bundle, "real-rootfs"))
    os.symlink("real-rootfs", os.path.join(bundle, "rootfs"))


def plain_file_as_netns(cfg: Raw, bundle: str) -> None:
    with open(os.path.join(bundle, "netns"), "w"):
        pass
    ns(cfg, "network")["path"] = os.path.join(bundle, "netns")


# (id, edit of the config, expected pointer, load_spec keyword arguments)
# fmt: off
CASES: list[tuple[str, Callable[[Raw], None], str, dict[str, Any]]] = [
    ("args-empty", set_("process/args", []), "/process/args", {}),
    ("args-missing", delete("process/args"), "/process/args", {}),
    ("args-not-strings", set_("process/args", ["sh", 1]), "/process/args/1", {}),
    ("cwd-relative", set_("process/cwd", "tmp"), "/process/cwd", {}),
    ("cwd-missing", delete("process/cwd"), "/process/cwd", {}),
    ("process-missing", delete("process"), "/process", {}),
    ("terminal-without-console-socket", set_("process/terminal", True), "/process/terminal", {}),
    ("console-socket-without-terminal", set_("process/terminal", False), "/process/terminal",
     {"console_socket": "/run/console.sock"}),
    ("terminal-string", set_("process/terminal", "yes"), "/process/terminal", {}),
    ("uid-minus-one", set_("process/user/uid", 2**32 - 1), "/process/user/uid", {}),
    ("uid-negative", set_("process/user/uid", -5), "/process/user/uid", {}),
    ("gid-too-big", set_("process/user/gid", 2**32), "/process/user/gid", {}),
    ("additional-gid-minus-one", set_("process/user/additionalGids", [1, 2**32 - 1]),
     "/process/user/additionalGids/1", {}),
    ("unknown-rlimit", set_("process/rlimits", [{"type": "RLIMIT_FILES", "soft": 1, "hard": 1}]),
     "/process/rlimits/0/type", {}),
    ("duplicate-rlimit", set_("process/rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}] * 2),
     "/process/rlimits/1/type", {}),
    ("env-without-equals", set_("process/env", ["PATH=/bin", "oops"]), "/process/env/1", {}),
    ("oom-score-adj", set_("process/oomScoreAdj", -1001), "/process/oomScoreAdj", {}),
    ("hook-path-relative", set_("hooks", {"createRuntime": [{"path": "bin/hook"}]}),
     "/hooks/createRuntime/0/path", {}),
    ("hook-timeout-zero", set_("hooks", {"poststart": [{"path": "/bin/true", "timeout": 0}]}),
     "/hooks/poststart/0/timeout", {}),
    ("hook-timeout-negative", set_("hooks", {"poststop": [{"path": "/bin/true", "timeout": -5}]}),
     "/hooks/poststop/0/timeout", {}),
    ("namespace-duplicate", lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
     "/linux/namespaces/5/type", {}),
    ("namespace-unknown", lambda c: c["linux"]["namespaces"].append({"type": "net"}),
     "/linux/namespaces/5/type", {}),
    ("namespace-path-missing", lambda c: ns(c, "network").update(path="/nonexistent/netns"),
     "/linux/namespaces/1/path", {}),
    ("namespace-path-wrong-type", lambda c: ns(c, "pid").update(path="/proc/self/ns/net"),
     "/linux/namespaces/0/path", {}),
    ("namespace-path-relative", lambda c: ns(c, "ipc").update(path="proc/self/ns/ipc"),
     "/linux/namespaces/2/path", {}),
    ("mappings-without-userns", set_("linux/uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
     "/linux/uidMappings", {}),
    ("userns-without-mappings", lambda c: c["linux"]["namespaces"].append({"type": "user"}),
     "/linux/gidMappings", {}),
    ("hostname-without-uts", lambda c: drop_ns(c, "uts"), "/hostname", {}),
    ("domainname-without-uts", seq(lambda c: drop_ns(c, "uts"), delete("hostname"), set_("domainname", "x")),
     "/domainname", {}),
    ("sysctl-ipc-without-ipcns", seq(lambda c: drop_ns(c, "ipc"), set_("linux/sysctl", {"kernel.msgmax": "1"})),
     "/linux/sysctl/kernel.msgmax", {}),
    ("sysctl-net-without-netns", seq(lambda c: drop_ns(c, "network"),
                                     set_("linux/sysctl", {"net.ipv4.ip_forward": "1"})),
     "/linux/sysctl/net.ipv4.ip_forward", {}),
    ("sysctl-net-in-host-netns", seq(lambda c: ns(c, "network").update(path="/proc/self/ns/net"),
                                     set_("linux/sysctl", {"net.ipv4.ip_forward": "1"})),
     "/linux/sysctl/net.ipv4.ip_forward", {}),
    ("sysctl-global", set_("linux/sysctl", {"kernel.core_pattern": "|/tmp/x"}),
     "/linux/sysctl/kernel.core_pattern", {}),
    ("sysctl-traversal", set_("linux/sysctl", {"net/ipv4/../../kernel/core_pattern": "x"}),
     "/linux/sysctl/net~1ipv4~1..~1..~1kernel~1core_pattern", {}),
    ("cgroups-path-dotdot", set_("linux/cgroupsPath", "system.slice/../../etc"), "/linux/cgroupsPath", {}),
    ("seccomp-unknown-action", set_("linux/seccomp", {"defaultAction": "SCMP_ACT_DENY"}),
     "/linux/seccomp/defaultAction", {}),
    ("seccomp-unknown-arch", set_("linux/seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}),
     "/linux/seccomp/architectures/0", {}),
    ("seccomp-unknown-operator", set_("linux/seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 9, "op": "EQ"}]}]}),
     "/linux/seccomp/syscalls/0/args/0/op", {}),
    ("seccomp-unknown-flag", set_("linux/seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["TSYNC"]}),
     "/linux/seccomp/flags/0", {}),
    ("device-bad-type", set_("linux/devices", [{"path": "/dev/x", "type": "d", "major": 1, "minor": 3}]),
     "/linux/devices/0/type", {}),
    ("device-rule-bad-type", set_("linux/resources/devices", [{"allow": True, "type": "p"}]),
     "/linux/resources/devices/0/type", {}),
    ("masked-path-relative", set_("linux/maskedPaths", ["proc/kcore"]), "/linux/maskedPaths/0", {}),
    ("readonly-path-relative", set_("linux/readonlyPaths", ["/proc/sys", "sys"]), "/linux/readonlyPaths/1", {}),
    ("rootfs-propagation", set_("linux/rootfsPropagation", "rprivatee"), "/linux/rootfsPropagation", {}),
    ("time-offsets-without-timens", set_("linux/timeOffsets", {"boottime": {"secs": 5}}), "/linux/timeOffsets", {}),
    ("oci-version", set_("ociVersion", "v1"), "/ociVersion", {}),
    ("mount-destination-missing", lambda c: c["mounts"].append({"type": "tmpfs", "source": "tmpfs"}),
     "/mounts/7/destination", {}),
    ("mount-bind-without-source", lambda c: c["mounts"].append({"destination": "/x", "options": ["rbind"]}),
     "/mounts/7/source", {}),
    ("annotation-not-string", set_("annotations", {"com.example/count": 3}), "/annotations/com.example~1count", {}),
    ("unified-traversal", set_("linux/resources/unified", {"../../cgroup.procs": "1"}),
     "/linux/resources/unified/..~1..~1cgroup.procs", {}),
]

# (id, edit of the config and the bundle on disk, expected pointer)
HOST_CASES: list[tuple[str, Callable[[Raw, str], None], str]] = [
    ("rootfs-missing", lambda c, b: os.rmdir(os.path.join(b, "rootfs")), "/root/path"),
    ("rootfs-is-a-file", rootfs_is_file, "/root/path"),
    ("rootfs-is-a-symlink", rootfs_is_symlink, "/root/path"),
    ("namespace-path-plain-file", plain_file_as_netns, "/linux/namespaces/1/path"),
]
# fmt: on


def problems_of(bundle: str, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(bundle, **kwargs)
    err = info.value
    text = str(err)
    assert "\n" not in text and text.startswith("config.json: /")
    return err.problems


def test_table_is_big_enough() -> None:
    assert len(CASES) + len(HOST_CASES) >= 30
    assert len({c[0] for c in CASES} | {c[0] for c in HOST_CASES}) == len(CASES) + len(HOST_CASES)


def test_base_config_is_valid(tmp_path: Any) -> None:
    load_spec(write_bundle(str(tmp_path), base_config()))


@pytest.mark.parametrize(("edit", "pointer", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_config(tmp_path: Any, edit: Callable[[Raw], None], pointer: str, kwargs: dict[str, Any]) -> None:
    cfg = copy.deepcopy(base_config())
    edit(cfg)
    problems = problems_of(write_bundle(str(tmp_path), cfg), **kwargs)
    assert pointer in [p for p, _ in problems], problems


@pytest.mark.parametrize(("edit", "pointer"), [c[1:] for c in HOST_CASES], ids=[c[0] for c in HOST_CASES])
def test_invalid_on_this_host(tmp_path: Any, edit: Callable[[Raw, str], None], pointer: str) -> None:
    cfg = base_config()
    bundle = write_bundle(str(tmp_path), cfg)
    edit(cfg, bundle)
    _rewrite(bundle, cfg)
    assert pointer in [p for p, _ in problems_of(bundle)]


def _rewrite(bundle: str, cfg: Raw) -> None:
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)


def test_all_problems_are_reported_at_once(tmp_path: Any) -> None:
    together = [
        "args-not-strings", "cwd-relative", "uid-minus-one", "duplicate-rlimit",
        "env-without-equals", "hook-path-relative", "namespace-path-wrong-type", "mappings-without-userns",
        "sysctl-global", "cgroups-path-dotdot", "seccomp-unknown-arch", "device-bad-type", "masked-path-relative",
        "time-offsets-without-timens", "oci-version", "mount-destination-missing", "unified-traversal",
    ]  # fmt: skip
    cases = {c[0]: c for c in CASES}
    cfg = base_config()
    for name in together:
        cases[name][1](cfg)
    os.rmdir(os.path.join(write_bundle(str(tmp_path), cfg), "rootfs"))
    pointers = [p for p, _ in problems_of(str(tmp_path))]
    assert sorted(pointers) == sorted([cases[n][2] for n in together] + ["/root/path"])
