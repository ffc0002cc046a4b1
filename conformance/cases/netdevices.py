"""config-linux.md#network-devices (1.3): host interfaces moved into the container's network namespace.

A veth pair stands in for a physical device (kernels built without the `dummy` module have veth). Each case
removes its pair itself: a device that was moved goes with the container's namespace, one that was not stays on
the host until then."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from conformance.harness import MUST, Bundle, Ctx, case


@contextmanager
def veth_pair(t: Ctx) -> Iterator[str]:
    """The name of one end of a new veth pair, which has a permanent global IPv4 address."""
    name = f"cf{secrets.token_hex(3)}a"
    p = subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name[:-1] + "b"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        t.skip(f"cannot create a veth pair: {p.stderr.strip()}")
    try:
        subprocess.run(["ip", "addr", "add", "10.201.7.9/24", "dev", name], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name[:-1] + "b"], capture_output=True)


def host_has(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


@case("netdev.moved", MUST, "config-linux.md#network-devices")
def moved(t: Ctx) -> None:
    """The device is in the container under its new name, up, with its permanent global address; not on the host."""
    with veth_pair(t) as dev:

        def edit(b: Bundle) -> None:
            b.config["linux"]["netDevices"] = {dev: {"name": "cfnet0"}}

        out = t.sh("cat /sys/class/net/cfnet0/flags; ip -o -4 addr show cfnet0", edit)
        lines = out.splitlines()
        flags = lines[0].strip() if lines else ""
        t.expect(flags.startswith("0x") and int(flags, 16) & 1, f"cfnet0 flags {flags!r} lack IFF_UP", out)
        t.expect_in("10.201.7.9/24", out, "addresses of cfnet0 in the container")
        t.expect(not host_has(dev), f"{dev} is still on the host")


@case("netdev.missing", MUST, "config-linux.md#network-devices")
def missing(t: Ctx) -> None:
    """A device the host does not have is an error (the runtime MUST check the move is possible); nothing left."""
    b = t.bundle()
    b.config["linux"]["netDevices"] = {f"cfno{secrets.token_hex(3)}": {}}
    t.create(b, ok=False)
    t.expect_gone(b.cid, b.cgroups_path)


@case("netdev.name_exists", MUST, "config-linux.md#network-devices")
def name_exists(t: Ctx) -> None:
    """A new name that already exists in the container's namespace (without %d) is an error."""
    with veth_pair(t) as dev:
        b = t.bundle()
        b.config["linux"]["netDevices"] = {dev: {"name": "lo"}}
        t.create(b, ok=False)
        t.expect_gone(b.cid, b.cgroups_path)
