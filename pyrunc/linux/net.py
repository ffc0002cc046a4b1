"""Bring the loopback interface up in a new network namespace (runc does this; no `ip` binary needed)."""

import _socket
import errno
import fcntl
import struct

from pyrunc.errors import SyscallError

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq: name[IFNAMSIZ], short ifr_flags, padding to 40 bytes


def set_link_up(name: str = "lo") -> None:
    """ioctl(SIOCSIFFLAGS) with IFF_UP added to the interface's flags, on an AF_INET socket."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        req = struct.pack(_IFREQ, name.encode(), 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, name.encode(), flags | IFF_UP))
    except OSError as e:
        raise SyscallError("ioctl(SIOCSIFFLAGS)", e.errno or errno.EIO, path=name, detail="bring loopback up",
                           spec_path="/linux/namespaces") from None
    finally:
        s.close()
