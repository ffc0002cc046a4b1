"""set_mempolicy(2) for `linux.memoryPolicy` (runtime-spec v1.3.0, config-linux.md "Memory policy").

The policy is a property of the calling thread: the container's init (and each `exec`'d process) sets it for
itself just before it tells the parent it is ready, and execve keeps it, as does every fork of the container
process. Numbers are the kernel's (include/uapi/linux/mempolicy.h).
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import raw_syscall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

MODES: dict[str, int] = {
    "MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6,
}
FLAGS: dict[str, int] = {
    "MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15,
}

SPEC_PATH = "/linux/memoryPolicy"
_WORD_BITS = cabi.sizeof(cabi.c_ulong) * 8


def max_node() -> int:
    """The highest node number a nodemask may name: the kernel copies at most one page of mask bits (get_nodes)."""
    return os.sysconf("SC_PAGE_SIZE") * 8 - 1


def parse_nodes(text: str, limit: int) -> list[int]:
    """`nodes` ("0-3,7") as sorted node numbers. Checks the bound before expanding a range, so a huge range in
    the config costs nothing. Raises ValueError with what is wrong."""
    nodes: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo_s, dash, hi_s = part.partition("-")
        if not lo_s.strip().isdigit() or (dash and not hi_s.strip().isdigit()):
            raise ValueError(f'"{part}" is not a node number or range')
        lo = int(lo_s)
        hi = int(hi_s) if dash else lo
        if hi < lo:
            raise ValueError(f'range "{part}" is backwards')
        if hi > limit:
            raise ValueError(f"node {hi} is larger than the largest node number this kernel accepts ({limit})")
        nodes.update(range(lo, hi + 1))
    return sorted(nodes)


def set_mempolicy(mode: str, nodes: str | None = None, flags: "Iterable[str]" = ()) -> None:
    """Implements `linux.memoryPolicy` for the calling process: set_mempolicy(mode | flags, nodemask, maxnode).

    Errors name the member concerned: an unknown mode or flag, a node list that cannot be a nodemask
    (`/linux/memoryPolicy/nodes`), or what the kernel refused (`/linux/memoryPolicy`: EINVAL for a node that is
    not online or not allowed by the cpuset, a mode given nodes it does not take, ...)."""
    flags = tuple(flags)
    number = MODES.get(mode)
    if number is None:
        raise SyscallError("set_mempolicy", errno.EINVAL, detail=f"invalid memory policy mode {mode!r}",
                           spec_path=f"{SPEC_PATH}/mode")
    for i, name in enumerate(flags):
        bit = FLAGS.get(name)
        if bit is None:
            raise SyscallError("set_mempolicy", errno.EINVAL, detail=f"invalid memory policy flag {name!r}",
                               spec_path=f"{SPEC_PATH}/flags/{i}")
        number |= bit
    try:
        node_list = parse_nodes(nodes or "", max_node())
    except ValueError as e:
        raise SyscallError("set_mempolicy", errno.EINVAL, detail=f"invalid memory policy nodes {nodes!r}: {e}",
                           spec_path=f"{SPEC_PATH}/nodes") from None
    if node_list:
        words = node_list[-1] // _WORD_BITS + 1
        mask = (cabi.c_ulong * words)()
        for n in node_list:
            mask[n // _WORD_BITS] |= 1 << (n % _WORD_BITS)
        # The kernel reads maxnode - 1 bits (mm/mempolicy.c get_nodes): one more than the mask holds.
        mask_arg: object = cabi.byref(mask)
        maxnode = words * _WORD_BITS + 1
    else:
        mask_arg, maxnode = None, 0
    detail = f"mode={mode} nodes={nodes or ''!r}" + (f" flags={','.join(flags)}" if flags else "")
    raw_syscall("set_mempolicy", cabi.c_int(number), mask_arg, cabi.c_ulong(maxnode), detail=detail,
                spec_path=SPEC_PATH)
