"""bpf(2) for cgroup v2 device programs: load, attach, detach, query. Imported only when a v2 device filter is set.

The attribute structures are the members of `union bpf_attr` (include/uapi/linux/bpf.h) that these commands use,
laid out by ctypes with the kernel's natural alignment (`__aligned_u64` fields fall on 8-byte offsets by
construction). The kernel requires every byte past the fields it knows to be zero, so each call passes a zeroed
buffer of the union's full size (`_ATTR_SIZE`).
"""

import errno
import os
import resource

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import MACHINE, call, libc

_BPF_SYSNO = {"x86_64": 321, "aarch64": 280}

# commands
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6  # attach type
BPF_F_ALLOW_MULTI = 1 << 1

_ATTR_SIZE = 144  # >= sizeof(union bpf_attr) for every command used here; the tail stays zero


class _ProgLoad(cabi.Structure):
    _fields_ = [
        ("prog_type", cabi.c_uint32),
        ("insn_cnt", cabi.c_uint32),
        ("insns", cabi.c_uint64),
        ("license", cabi.c_uint64),
        ("log_level", cabi.c_uint32),
        ("log_size", cabi.c_uint32),
        ("log_buf", cabi.c_uint64),
        ("kern_version", cabi.c_uint32),
        ("prog_flags", cabi.c_uint32),
        ("prog_name", cabi.c_char * 16),
        ("prog_ifindex", cabi.c_uint32),
        ("expected_attach_type", cabi.c_uint32),
    ]


class _ProgAttach(cabi.Structure):
    _fields_ = [
        ("target_fd", cabi.c_uint32),
        ("attach_bpf_fd", cabi.c_uint32),
        ("attach_type", cabi.c_uint32),
        ("attach_flags", cabi.c_uint32),
        ("replace_bpf_fd", cabi.c_uint32),
    ]


class _ProgQuery(cabi.Structure):
    _fields_ = [
        ("target_fd", cabi.c_uint32),
        ("attach_type", cabi.c_uint32),
        ("query_flags", cabi.c_uint32),
        ("attach_flags", cabi.c_uint32),
        ("prog_ids", cabi.c_uint64),
        ("prog_cnt", cabi.c_uint32),
    ]


class _GetFdById(cabi.Structure):
    _fields_ = [
        ("prog_id", cabi.c_uint32),
        ("next_id", cabi.c_uint32),
        ("open_flags", cabi.c_uint32),
    ]


def _bpf(cmd: int, attr: cabi.Structure, *, op: str, path: str | None = None, detail: str | None = None) -> int:
    try:
        nr = _BPF_SYSNO[MACHINE]
    except KeyError:
        raise SyscallError("bpf", errno.ENOSYS, detail=f"unsupported architecture {MACHINE}") from None
    buf = cabi.create_string_buffer(_ATTR_SIZE)
    cabi.memmove(buf, cabi.addressof(attr), cabi.sizeof(attr))
    ret = call(libc.syscall, cabi.c_long(nr), cabi.c_int(cmd), buf, cabi.c_uint(_ATTR_SIZE),
               op=op, path=path, detail=detail)
    cabi.memmove(cabi.addressof(attr), buf, cabi.sizeof(attr))  # QUERY writes prog_cnt back
    return ret


def raise_memlock() -> None:
    """Kernels before 5.11 charge BPF programs to RLIMIT_MEMLOCK; lift it (best effort, as runc does)."""
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError):
        pass


def prog_load_cgroup_device(insns: bytes, license: str = "Apache") -> int:
    """BPF_PROG_LOAD a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd (close-on-exec). The verifier log
    is returned in the error detail when the kernel rejects the program."""
    if len(insns) % 8:
        raise ValueError("eBPF instructions are 8 bytes each")
    code = cabi.create_string_buffer(insns, len(insns))
    lic = cabi.create_string_buffer(license.encode())
    log = cabi.create_string_buffer(65536)
    attr = _ProgLoad(
        prog_type=BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt=len(insns) // 8,
        insns=cabi.addressof(code),
        license=cabi.addressof(lic),
        log_level=1,
        log_size=len(log),
        log_buf=cabi.addressof(log),
        prog_name=b"pyrunc_devices",
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr, op="bpf(BPF_PROG_LOAD)")
    except SyscallError as e:
        text = log.value.decode(errors="replace").strip().splitlines()
        if text:
            e.detail = "verifier: " + " | ".join(text[-3:])
        raise


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int, *, path: str | None = None) -> None:
    attr = _ProgAttach(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type, attach_flags=flags)
    _bpf(BPF_PROG_ATTACH, attr, op="bpf(BPF_PROG_ATTACH)", path=path)


def prog_detach(target_fd: int, prog_fd: int, attach_type: int, *, path: str | None = None) -> None:
    attr = _ProgAttach(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type)
    _bpf(BPF_PROG_DETACH, attr, op="bpf(BPF_PROG_DETACH)", path=path)


def prog_query(target_fd: int, attach_type: int, *, path: str | None = None) -> list[int]:
    """Ids of the programs attached to a cgroup for one attach type."""
    size = 64
    for _ in range(10):
        ids = (cabi.c_uint32 * size)()
        attr = _ProgQuery(target_fd=target_fd, attach_type=attach_type, prog_ids=cabi.addressof(ids),
                          prog_cnt=size)
        try:
            _bpf(BPF_PROG_QUERY, attr, op="bpf(BPF_PROG_QUERY)", path=path)
        except SyscallError as e:
            if e.errno == errno.ENOSPC:
                size = max(attr.prog_cnt, size * 2)
                continue
            raise
        return list(ids[: attr.prog_cnt])
    raise SyscallError("bpf(BPF_PROG_QUERY)", errno.ENOSPC, path=path, detail="program list kept growing")


def prog_fd_by_id(prog_id: int) -> int:
    return _bpf(BPF_PROG_GET_FD_BY_ID, _GetFdById(prog_id=prog_id), op="bpf(BPF_PROG_GET_FD_BY_ID)",
                detail=f"id {prog_id}")


def close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
