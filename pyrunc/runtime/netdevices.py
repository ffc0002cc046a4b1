"""`linux.netDevices` (runtime-spec 1.3, "Network Devices"): move host interfaces into the container's network
namespace, in the parent, once the init is in its namespaces and before any hook or the container's process.

Per device, as the spec asks:
1. before any device moves, check each move is possible ("MUST check"): the device is in the runtime's
   namespace, its new name free in the container's (`check`);
2. remember its permanent, global-scope addresses (the kernel drops every address of a device that changes
   namespace; the spec asks for those to be kept), then set it down;
3. move and rename it with one RTM_NEWLINK (IFLA_NET_NS_FD + IFLA_IFNAME); a new name already used in the
   container would fail only after the move (EEXIST), hence step 1; a `%d` template is completed by the kernel;
4. in the container's namespace, add the addresses again and set the device up.
Nothing is moved back on failure or on delete: the spec forbids it; the kernel returns physical devices to the
initial namespace (and destroys virtual ones) when the container's namespace goes away.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import rtnetlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _ptr(name: str) -> str:
    return "/linux/netDevices/" + name.replace("~", "~0").replace("/", "~1")


def move_all(devices: "Mapping[str, str]", init_pid: int) -> None:
    """Move every device (host name -> name in the container) into the network namespace of `init_pid`."""
    if not devices:
        return
    path = f"/proc/{init_pid}/ns/net"
    try:
        netns = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", e.errno or errno.ESRCH, path=path, spec_path="/linux/netDevices") from None
    host = rtnetlink.socket_host()
    try:
        inside = rtnetlink.socket_in(netns, path)
        try:
            check(host, inside, devices)
            for name, new_name in devices.items():
                move(host, inside, netns, name, new_name)
        finally:
            inside.close()
    finally:
        host.close()
        os.close(netns)


def check(host: "rtnetlink.Socket", inside: "rtnetlink.Socket", devices: "Mapping[str, str]") -> None:
    """Every move possible before any is made: each device exists on the host, and each new name without a `%d`
    is free in the container's namespace (and not given twice). The kernel's own check comes too late to help:
    it moves the device under its old name first and fails only to rename it, leaving the device in a namespace
    that dies with the failed container (a virtual device is then destroyed)."""
    taken = set(inside.links().values())
    for name, new_name in devices.items():
        try:
            host.link_index(name)
        except OSError as e:
            raise SyscallError("netlink RTM_GETLINK", e.errno or errno.EIO, path=name, spec_path=_ptr(name),
                               detail="no such network device in the runtime's network namespace") from None
        if "%d" not in new_name:
            if new_name in taken:
                raise SyscallError("netlink RTM_NEWLINK", errno.EEXIST, path=name, spec_path=_ptr(name),
                                   detail=f'"{new_name}" already exists in the container\'s network namespace')
            taken.add(new_name)


def move(host: "rtnetlink.Socket", inside: "rtnetlink.Socket", netns: int, name: str, new_name: str) -> None:
    """Move the host's `name` into the namespace open at `netns` (whose socket is `inside`) as `new_name`."""
    ptr = _ptr(name)

    def fail(op: str, e: OSError, detail: str) -> SyscallError:
        return SyscallError(op, e.errno or errno.EIO, path=name, detail=detail, spec_path=ptr)

    try:
        index = host.link_index(name)
    except OSError as e:
        raise fail("netlink RTM_GETLINK", e, "no such network device in the runtime's network namespace") from None
    try:
        # The addresses before setting it down: a device going down loses its IPv6 addresses (unless the
        # host set net.ipv6.conf.*.keep_addr_on_down), and the spec asks to keep those of every family.
        kept = [a for a in host.addresses(index)
                if a.flags & rtnetlink.IFA_F_PERMANENT and a.scope == rtnetlink.RT_SCOPE_UNIVERSE]
        # Down (as runc) so that nothing on the host keeps using it while it changes namespace and name.
        host.set_up(index, False)
    except OSError as e:
        raise fail("netlink", e, "read its addresses and set it down") from None
    try:
        before = inside.links()
        host.move(index, netns, new_name)
    except OSError as e:
        detail = (f'"{new_name}" already exists in the container\'s network namespace'
                  if e.errno == errno.EEXIST else f"move to the container's network namespace as {new_name}")
        raise fail("netlink RTM_NEWLINK", e, detail) from None
    try:
        # The device's index in the container: the one that was not there before the move (the name is not
        # known in advance when it is a %d template).
        added = [i for i in inside.links() if i not in before]
        moved = added[0] if len(added) == 1 else inside.link_index(new_name)
        for addr in kept:
            inside.add_address(moved, addr)
        inside.set_up(moved, True)
    except OSError as e:
        raise fail("netlink", e, f"restore the addresses ({', '.join(map(str, kept)) or 'none'}) and set "
                   f"{new_name} up in the container's network namespace") from None
