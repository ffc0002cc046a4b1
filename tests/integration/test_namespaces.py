"""Namespaces: new ones differ from the host's, paths are joined (and checked for their type), user namespace
mappings, hostname, loopback, time offsets, pid 1."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup",
            "user": "user", "time": "time"}
USERNS_MAPS = {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
}


@pytest.fixture
def netns() -> Iterator[str]:
    """A named network namespace (`ip netns add`), removed afterwards."""
    name = uniq("pyrunc-netns")
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield f"/run/netns/{name}"
    subprocess.run(["ip", "netns", "del", name], check=False)


def host_ns(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{NS_FILES[kind]}").st_ino


def container_ns(runtime: Any, make_bundle: Any, edit: Any = None, rootfs: Path | None = None,
                 name: str = "c-ns") -> dict[str, int]:
    """The namespace inodes the container's process sees, by OCI type."""
    script = "; ".join(f"echo {k} $(stat -L -c %i /proc/self/ns/{v})" for k, v in NS_FILES.items())
    bundle = make_bundle(edit=edit, args=["sh", "-c", script], rootfs=rootfs)
    p = runtime("run", "-b", str(bundle), uniq(name))
    assert p.returncode == 0, p.stderr
    return {line.split()[0]: int(line.split()[1]) for line in p.stdout.splitlines()}


def test_default_namespaces_are_new(runtime: Any, make_bundle: Any) -> None:
    seen = container_ns(runtime, make_bundle)
    for kind in ("pid", "network", "ipc", "uts", "mount"):
        assert seen[kind] != host_ns(kind), kind
    for kind in ("user", "cgroup", "time"):  # not asked for: the host's
        assert seen[kind] == host_ns(kind), kind


def test_cgroup_and_time_namespaces(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] += [{"type": "cgroup"}, {"type": "time"}]

    seen = container_ns(runtime, make_bundle, edit)
    assert seen["cgroup"] != host_ns("cgroup")
    assert seen["time"] != host_ns("time")


def test_time_offsets(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 10 * 365 * 86400}, "monotonic": {"secs": 3600}}

    bundle = make_bundle(edit=edit, args=["cat", "/proc/uptime"])
    p = runtime("run", "-b", str(bundle), uniq("c-timens"))
    assert p.returncode == 0, p.stderr
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert float(p.stdout.split()[0]) - host_uptime > 10 * 365 * 86400 - 60


def test_host_namespace_when_not_listed(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "ipc")]
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys"]

    seen = container_ns(runtime, make_bundle, edit)
    assert seen["network"] == host_ns("network")
    assert seen["ipc"] == host_ns("ipc")
    assert seen["pid"] != host_ns("pid")


def test_pid_1_hostname_and_loopback(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["hostname"] = "pyrunc-box"
        c["domainname"] = "example.test"

    bundle = make_bundle(edit=edit, args=["sh", "-c", "echo $$; hostname; cat /proc/sys/kernel/domainname; "
                                                      "cat /sys/class/net/lo/flags; ls /sys/class/net"])
    p = runtime("run", "-b", str(bundle), uniq("c-uts"))
    assert p.returncode == 0, p.stderr
    pid, hostname, domain, flags, *ifaces = p.stdout.split()
    assert pid == "1"
    assert hostname == "pyrunc-box" and domain == "example.test"
    assert int(flags, 16) & 0x1, "lo is not up"
    assert ifaces == ["lo"]
    assert os.uname().nodename != "pyrunc-box"


def test_join_network_namespace_by_path(runtime: Any, make_bundle: Any, netns: str) -> None:
    def edit(c: dict[str, Any]) -> None:
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = netns

    seen = container_ns(runtime, make_bundle, edit)
    assert seen["network"] == os.stat(netns).st_ino
    assert seen["uts"] != host_ns("uts")


def test_join_namespace_of_another_container(runtime: Any, make_bundle: Any) -> None:
    first = make_bundle(args=["sleep", "30"])
    cid = uniq("c-ns-first")
    p = runtime("run", "-d", "-b", str(first), cid, capture_output=False, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
    assert p.returncode == 0
    pid = runtime.state(cid)["pid"]

    def edit(c: dict[str, Any]) -> None:
        for n in c["linux"]["namespaces"]:
            if n["type"] in ("ipc", "uts", "network"):
                n["path"] = f"/proc/{pid}/ns/{NS_FILES[n['type']]}"
        del c["hostname"]

    seen = container_ns(runtime, make_bundle, edit, name="c-ns-second")
    for kind in ("ipc", "uts", "network"):
        assert seen[kind] == os.stat(f"/proc/{pid}/ns/{NS_FILES[kind]}").st_ino, kind
    assert seen["pid"] != os.stat(f"/proc/{pid}/ns/pid").st_ino
    runtime("delete", "--force", cid, check=True)


@pytest.mark.parametrize("bad", ["wrong-type", "not-a-namespace", "missing"])
def test_bad_namespace_path_fails_and_leaves_nothing(runtime: Any, make_bundle: Any, tmp_path: Path,
                                                     bad: str) -> None:
    path = {"wrong-type": "/proc/self/ns/uts", "not-a-namespace": "/etc/hostname",
            "missing": str(tmp_path / "nonexistent")}[bad]

    def edit(c: dict[str, Any]) -> None:
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = path

    bundle = make_bundle(edit=edit)
    cid = uniq(f"c-badns-{bad}")
    p = runtime("run", "-b", str(bundle), cid)
    assert p.returncode == 1
    assert "/linux/namespaces/1" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (runtime.root / cid).exists()
    assert not os.path.exists(f"/sys/fs/cgroup/pids/{cid}")


def test_user_namespace_with_mappings(runtime: Any, make_bundle: Any, userns_rootfs: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"].update(USERNS_MAPS)

    bundle = make_bundle(edit=edit, rootfs=userns_rootfs,
                         args=["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
                                           "stat -c %u /bin/busybox; sleep 5"])
    cid = uniq("c-userns")
    argv = [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle), cid]
    proc = subprocess.Popen(argv, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(5)]
        assert lines[0] == ["0", "100000", "65536"]
        assert lines[1] == ["0", "100000", "65536"]
        assert lines[2:5] == [["0"], ["0"], ["65534"]]  # host root's files are unmapped: nobody
        pid = runtime.state(cid)["pid"]
        with open(f"/proc/{pid}/status") as f:
            uid_line = next(line for line in f if line.startswith("Uid:"))
        assert uid_line.split()[1] == "100000"
        assert os.stat(f"/proc/{pid}/ns/user").st_ino != host_ns("user")
    finally:
        proc.kill()
        proc.communicate()


def test_new_user_namespace_joins_a_host_owned_netns(runtime: Any, make_bundle: Any, userns_rootfs: Path,
                                                      netns: str) -> None:
    """runc's userns.bats "wrong userns owner": a netns owned by the host's user namespace is joined before the
    container's user namespace exists (its root has no CAP_SYS_ADMIN over the host's namespaces)."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
        c["linux"]["namespaces"] += [{"type": "network", "path": netns}, {"type": "user"}]
        c["linux"].update(USERNS_MAPS)
        # sysfs belongs to the netns: its owner, the host, would have to mount it; bind the host's instead.
        c["mounts"] = [dict(m, type="bind", source="/sys", options=["rbind", "ro"]) if m["type"] == "sysfs" else m
                       for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]

    bundle = make_bundle(edit=edit, rootfs=userns_rootfs,
                         args=["sh", "-c", "stat -L -c %i /proc/self/ns/net /proc/self/ns/user"])
    p = runtime("run", "-b", str(bundle), uniq("c-userns-netns"))
    assert p.returncode == 0, p.stderr
    net, user = (int(x) for x in p.stdout.split())
    assert net == os.stat(netns).st_ino
    assert user != host_ns("user")
