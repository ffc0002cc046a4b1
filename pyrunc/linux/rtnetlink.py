"""rtnetlink (NETLINK_ROUTE) for `linux.netDevices`: move a host interface into a network namespace.

Only what runtime-spec 1.3's "Network Devices" needs, on raw `_socket` netlink sockets (no pyroute2, no `ip`):
look a link up, set it down or up, list its addresses, move (and rename) it, add an address. The messages are
those of rtnetlink(7): nlmsghdr, then ifinfomsg or ifaddrmsg, then rtattrs, each padded to 4 bytes.

A netlink socket talks to the network namespace it was created in, whatever namespace its user is in later:
`socket_in(netns_fd)` creates one in the container's namespace by entering it for the socket(2) call alone and
returning to ours (the parent is single-threaded: spawn checks it).
"""

import _socket
import errno
import os
import struct

from pyrunc.errors import SyscallError

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
IFLA_IFNAME = 3
IFLA_NET_NS_FD = 28
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_BROADCAST = 4
IFA_FLAGS = 8
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0
IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type


class Address:
    """One interface address, as RTM_GETADDR reports it: enough to add it again elsewhere."""

    __slots__ = ("family", "flags", "local", "prefixlen", "scope")

    def __init__(self, family: int, prefixlen: int, scope: int, flags: int, local: bytes) -> None:
        self.family = family
        self.prefixlen = prefixlen
        self.scope = scope
        self.flags = flags
        self.local = local

    def __str__(self) -> str:
        return f"{_socket.inet_ntop(self.family, self.local)}/{self.prefixlen}"


def _attr(kind: int, data: bytes) -> bytes:
    size = _RTATTR.size + len(data)
    return _RTATTR.pack(size, kind) + data + b"\0" * (-size % 4)


def _attrs(buf: bytes, offset: int, end: int) -> dict[int, bytes]:
    """The rtattrs of one message from `offset` to `end` (the last of a kind wins)."""
    out: dict[int, bytes] = {}
    while offset + _RTATTR.size <= end:
        size, kind = _RTATTR.unpack_from(buf, offset)
        if size < _RTATTR.size:
            break
        out[kind & 0x3FFF] = buf[offset + _RTATTR.size:offset + size]  # without NLA_F_NESTED/NET_BYTEORDER
        offset += (size + 3) & ~3
    return out


class Socket:
    """A NETLINK_ROUTE socket of one network namespace, with request/acknowledge and dump helpers."""

    def __init__(self, sock: "_socket.socket") -> None:
        self.sock = sock
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags, self.seq, 0) + body)
        return self.seq

    def _replies(self, seq: int) -> "list[tuple[int, bytes, int, int]]":
        """Messages answering `seq` as (type, buffer, start of payload, end), up to the ACK, error or DONE.
        A negative error code is raised as OSError."""
        out: list[tuple[int, bytes, int, int]] = []
        while True:
            buf = self.sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(buf):
                size, kind, _flags, mseq, _pid = _NLMSGHDR.unpack_from(buf, offset)
                if size < _NLMSGHDR.size:
                    raise OSError(errno.EBADMSG, "truncated netlink message")
                start, end = offset + _NLMSGHDR.size, offset + size
                offset += (size + 3) & ~3
                if mseq != seq:
                    continue
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from("=i", buf, start)[0]
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return out  # the ACK
                if kind == NLMSG_DONE:
                    return out
                out.append((kind, buf, start, end))

    def request(self, kind: int, body: bytes, flags: int = 0) -> None:
        """Send a request and wait for its acknowledgement."""
        self._replies(self._send(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body))

    def link_index(self, name: str) -> int:
        """RTM_GETLINK by IFLA_IFNAME: the interface index of `name` (OSError ENODEV if there is none)."""
        body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, name.encode() + b"\0")
        for kind, buf, start, _end in self._replies(self._send(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, body)):
            if kind == RTM_NEWLINK:
                return int(_IFINFOMSG.unpack_from(buf, start)[2])
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    def links(self) -> dict[int, str]:
        """Every interface of the namespace: index -> name."""
        out: dict[int, str] = {}
        for kind, buf, start, end in self._replies(self._send(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP,
                                                              _IFINFOMSG.pack(0, 0, 0, 0, 0))):
            if kind == RTM_NEWLINK:
                index = _IFINFOMSG.unpack_from(buf, start)[2]
                name = _attrs(buf, start + _IFINFOMSG.size, end).get(IFLA_IFNAME, b"").split(b"\0")[0]
                out[index] = name.decode(errors="surrogateescape")
        return out

    def set_up(self, index: int, up: bool) -> None:
        """RTM_NEWLINK changing IFF_UP alone."""
        self.request(RTM_NEWLINK, _IFINFOMSG.pack(0, 0, index, IFF_UP if up else 0, IFF_UP))

    def addresses(self, index: int) -> list[Address]:
        """RTM_GETADDR dump, the addresses of interface `index` (every family)."""
        out: list[Address] = []
        for kind, buf, start, end in self._replies(self._send(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP,
                                                              _IFADDRMSG.pack(0, 0, 0, 0, 0))):
            if kind != RTM_NEWADDR:
                continue
            family, prefixlen, flags, scope, ifindex = _IFADDRMSG.unpack_from(buf, start)
            if ifindex != index:
                continue
            attrs = _attrs(buf, start + _IFADDRMSG.size, end)
            if IFA_FLAGS in attrs:  # the 32-bit flags (ifa_flags holds only the low 8)
                flags = struct.unpack("=I", attrs[IFA_FLAGS][:4])[0]
            local = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if local:
                out.append(Address(family, prefixlen, scope, flags, local))
        return out

    def move(self, index: int, netns_fd: int, new_name: str) -> None:
        """RTM_NEWLINK with IFLA_NET_NS_FD and IFLA_IFNAME: one request moves the device (under its own name, or
        under the new one if its own is taken there) and renames it in the target namespace. A name with `%d` is
        a template the kernel completes (dev_get_valid_name); a new name taken there is EEXIST, after the move."""
        self.request(RTM_NEWLINK, _IFINFOMSG.pack(0, 0, index, 0, 0)
                     + _attr(IFLA_IFNAME, new_name.encode() + b"\0")
                     + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)))

    def add_address(self, index: int, addr: Address) -> None:
        """RTM_NEWADDR: the address and its prefix length (and, for IPv4, the broadcast address `ip` derives)."""
        body = _IFADDRMSG.pack(addr.family, addr.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += _attr(IFA_LOCAL, addr.local) + _attr(IFA_ADDRESS, addr.local)
        if addr.family == _socket.AF_INET and addr.prefixlen < 31:
            host_bits = (1 << (32 - addr.prefixlen)) - 1
            body += _attr(IFA_BROADCAST, struct.pack("!I", struct.unpack("!I", addr.local)[0] | host_bits))
        self.request(RTM_NEWADDR, body, NLM_F_CREATE | NLM_F_EXCL)


def _socket_here() -> "_socket.socket":
    s = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    s.bind((0, 0))
    return s


def socket_host() -> Socket:
    """A socket of the runtime's own network namespace."""
    try:
        return Socket(_socket_here())
    except OSError as e:
        raise SyscallError("socket(AF_NETLINK)", e.errno or errno.EIO, detail="route netlink") from None


def socket_in(netns_fd: int, path: str) -> Socket:
    """A socket of the network namespace open at `netns_fd`: enter it for socket(2) alone, then come back.

    Coming back must not fail silently: everything the runtime does afterwards (hooks, the next devices) assumes
    it is in its own namespace, so a failed return is an error of its own."""
    from pyrunc.linux import ns

    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        ns.setns(netns_fd, ns.CLONE_NEWNET, path=path)
        failed: OSError | None = None
        try:
            s = _socket_here()
        except OSError as e:
            failed = e
        try:
            ns.setns(own, ns.CLONE_NEWNET, path="/proc/thread-self/ns/net")
        except BaseException:
            if failed is None:
                s.close()
            raise
    finally:
        os.close(own)
    if failed is not None:
        raise SyscallError("socket(AF_NETLINK)", failed.errno or errno.EIO, path=path) from None
    return Socket(s)
