"""`linux.netDevices` (runtime-spec 1.3, "Network Devices"), against the kernel: host veth interfaces moved into
the container's network namespace, renamed, with their permanent global addresses, and up; every refusal before
anything is moved leaves the device on the host and nothing of the container behind.

veth pairs stand in for physical devices: the CI kernel has no `dummy` module."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

_pairs = itertools.count()


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv}: {p.stderr}")
    return p.stdout


@pytest.fixture
def veth() -> Iterator[Callable[[], tuple[str, str]]]:
    """veth() -> (host end, peer end): a new pair, with names unique to this run (IFNAMSIZ: 15 bytes)."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        n = next(_pairs)
        a, b = f"pv{os.getpid() % 100000}x{n}", f"pv{os.getpid() % 100000}y{n}"
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        made.append(a)
        return a, b

    yield make
    for a in made:
        ip("link", "del", a, check=False)  # the pair goes with either end (or already went with the netns)


def links_and_addrs() -> list[str]:
    return ["/bin/busybox", "sh", "-c", "busybox ip -o link; busybox ip -o addr"]


def with_devices(devices: dict[str, Any], netns_path: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["netDevices"] = devices
        if netns_path:
            for n in c["linux"]["namespaces"]:
                if n["type"] == "network":
                    n["path"] = netns_path

    return edit


def host_has(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def test_moved_renamed_up_with_its_permanent_global_addresses(runtime: Any, make_bundle: Any, veth: Any) -> None:
    dev, _peer = veth()
    ip("addr", "add", "10.123.4.5/24", "dev", dev)
    ip("addr", "add", "fd12:3456::5/64", "dev", dev)
    ip("addr", "add", "10.124.4.5/24", "dev", dev, "valid_lft", "300", "preferred_lft", "300")  # not permanent
    ip("addr", "add", "10.125.4.5/24", "dev", dev, "scope", "link")  # not global
    ip("link", "set", dev, "up")  # IPv6 addresses are kept when it goes down on the host: read before that
    bundle = make_bundle(edit=with_devices({dev: {"name": "ctr7"}}), args=links_and_addrs())
    p = runtime("run", "-b", str(bundle), uniq("c-netdev"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    link = [ln for ln in p.stdout.splitlines() if ": ctr7" in ln and "link/" in ln]
    assert link and ",UP" in link[0], p.stdout
    addrs = [ln.split()[3] for ln in p.stdout.splitlines() if " ctr7 " in ln and " inet" in ln]
    assert sorted(addrs) == ["10.123.4.5/24", "fd12:3456::5/64"], p.stdout
    assert "brd 10.123.4.255" in p.stdout  # as `ip addr add` would have set it
    assert not host_has(dev)  # moved, and not moved back (the spec forbids it): gone with the namespace


def test_name_template_and_kept_name(runtime: Any, make_bundle: Any, veth: Any) -> None:
    a, b = veth()
    bundle = make_bundle(edit=with_devices({a: {"name": "net%d"}, b: {}}), args=links_and_addrs())
    p = runtime("run", "-b", str(bundle), uniq("c-netdev"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    names = [ln.split(":")[1].strip().split("@")[0] for ln in p.stdout.splitlines() if "link/" in ln]
    assert sorted(names) == sorted(["lo", "net0", b]), p.stdout


def test_joined_namespace_keeps_the_device(runtime: Any, make_bundle: Any, veth: Any) -> None:
    """A namespace given by path: the device is moved there and stays after the container (no move back)."""
    dev, _peer = veth()
    netns = uniq("pyrunc-nd")
    ip("netns", "add", netns)
    try:
        bundle = make_bundle(edit=with_devices({dev: {"name": "eth0"}}, f"/run/netns/{netns}"), args=["true"])
        p = runtime("run", "-b", str(bundle), uniq("c-netdev"), stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        assert "eth0" in ip("-o", "link", netns=netns)
        assert not host_has(dev)
    finally:
        ip("netns", "del", netns, check=False)


def test_user_namespace(runtime: Any, make_bundle: Any, veth: Any, userns_rootfs: Path) -> None:
    dev, _peer = veth()

    def edit(c: dict[str, Any]) -> None:
        with_devices({dev: {"name": "eth0"}})(c)
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]

    bundle = make_bundle(edit=edit, args=links_and_addrs(), rootfs=userns_rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-netdev"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert any(": eth0" in ln and ",UP" in ln for ln in p.stdout.splitlines()), p.stdout


@pytest.mark.parametrize("case", ["missing", "name taken"])
def test_refused_before_anything_moves(runtime: Any, make_bundle: Any, veth: Any, cid: str, case: str) -> None:
    dev, _peer = veth()
    name = "nope0" if case == "missing" else dev
    devices = {name: {"name": "lo"} if case == "name taken" else {}}
    bundle = make_bundle(edit=with_devices(devices), args=["true"])
    p = runtime.create(bundle, cid, check=False)
    assert p.returncode != 0
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"/linux/netDevices/{name}" in lines[0], p.stderr
    assert ("no such network device" if case == "missing" else "already exists in the container") in lines[0]
    assert host_has(dev)  # still on the host
    assert not (runtime.root / cid).exists()
    assert runtime("list", "-q").stdout.split() == []


def test_features_announce_net_devices(runtime: Any) -> None:
    assert json.loads(runtime("features", check=True).stdout)["linux"]["netDevices"] == {"enabled": True}


def test_the_runtimes_own_namespace_is_refused(runtime: Any, make_bundle: Any, veth: Any, cid: str) -> None:
    """A network namespace given by path that is the host's: a "move" there would only rename a host interface."""
    dev, _peer = veth()
    bundle = make_bundle(edit=with_devices({dev: {"name": "renamed0"}}, f"/proc/{os.getpid()}/ns/net"),
                         args=["true"])
    p = runtime.create(bundle, cid, check=False)
    assert p.returncode != 0 and "/linux/netDevices: the network namespace is the runtime's own" in p.stderr
    assert host_has(dev) and not host_has("renamed0")
    assert not (runtime.root / cid).exists()
