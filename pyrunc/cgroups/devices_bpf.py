"""cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from a `DeviceSet`, attached to the cgroup.

cgroup v2 has no devices controller; the kernel runs the eBPF programs attached to the cgroup (type
BPF_CGROUP_DEVICE) on every device open/mknod and denies the access when one returns 0. The program is assembled
here by hand, one 8-byte instruction at a time (struct bpf_insn: opcode, dst/src registers, 16-bit offset,
32-bit immediate), so no compiler or library is needed:

    r2 = ctx->access_type & 0xffff      device type (BPF_DEVCG_DEV_BLOCK=1 / _CHAR=2)
    r3 = ctx->access_type >> 16         requested access (MKNOD=1, READ=2, WRITE=4)
    r4 = ctx->major;  r5 = ctx->minor
    for each exception:  if type, access, major, minor all match: return <exception action>
    return <default action>

Every exception of a `DeviceSet` has the action opposite to the default, so their order does not matter.
"""

import struct

from pyrunc.cgroups.devices import WILDCARD, DeviceSet, Rule

# struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# opcodes (class | op | source)
LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
ALU32_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
ALU32_RSH_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
ALU32_MOV_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
ALU32_MOV_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc+1+off
JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X: if dst != src goto pc+1+off
EXIT = 0x95

LICENSE = "Apache"


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn (little-endian: dst_reg in the low nibble of byte 1, src_reg in the high nibble)."""
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _rule_block(rule: Rule) -> list[tuple[int, int, int, int | None, int]]:
    """Instructions for one exception. Jumps to the next block are left as `None` offsets, fixed up later."""
    if rule.type == "c":
        dev = DEV_CHAR
    elif rule.type == "b":
        dev = DEV_BLOCK
    else:
        raise ValueError(f"device type {rule.type!r} cannot be an exception")
    code: list[tuple[int, int, int, int | None, int]] = [(JNE_K, 2, 0, None, dev)]
    bits = 0
    for c in rule.access:
        bits |= _ACCESS_BITS[c]
    if bits != ACC_MKNOD | ACC_READ | ACC_WRITE:
        # requested access must be a subset of the rule's: (r3 & bits) == r3; r1 (ctx) is free by now
        code += [(ALU32_MOV_X, 1, 3, 0, 0), (ALU32_AND_K, 1, 0, 0, bits), (JNE_X, 1, 3, None, 0)]
    if rule.major != WILDCARD:
        code.append((JNE_K, 4, 0, None, rule.major))
    if rule.minor != WILDCARD:
        code.append((JNE_K, 5, 0, None, rule.minor))
    code += [(ALU32_MOV_K, 0, 0, 0, 1 if rule.allow else 0), (EXIT, 0, 0, 0, 0)]
    return code


def build_program(devices: DeviceSet) -> bytes:
    """The device filter for a DeviceSet, as raw eBPF bytecode."""
    out = [
        insn(LDX_MEM_W, 2, 1, 0),
        insn(ALU32_AND_K, 2, imm=0xFFFF),
        insn(LDX_MEM_W, 3, 1, 0),
        insn(ALU32_RSH_K, 3, imm=16),
        insn(LDX_MEM_W, 4, 1, 4),
        insn(LDX_MEM_W, 5, 1, 8),
    ]
    for rule in devices.exception_rules():
        block = _rule_block(rule)
        for i, (op, dst, src, off, imm) in enumerate(block):
            if off is None:  # jump past the rest of this block, to the first instruction of the next one
                off = len(block) - i - 1
            out.append(insn(op, dst, src, off, imm))
    out += [insn(ALU32_MOV_K, 0, imm=1 if devices.default_allow else 0), insn(EXIT)]
    return b"".join(out)


def attach_program(cgroup_dir: str, program: bytes, *, spec_path: str | None = None) -> None:
    """Load `program` and attach it to `cgroup_dir`, then detach whatever device programs were there before.

    The new program is attached first (BPF_F_ALLOW_MULTI) so the cgroup is never left without a filter; a cgroup
    runs all attached programs and any 0 denies, so for the moment both are attached only the intersection
    is allowed.
    """
    import os

    from pyrunc.errors import CgroupError, SyscallError
    from pyrunc.linux import bpf

    bpf.raise_memlock()
    try:
        dfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError("cannot open cgroup directory", path=cgroup_dir, err=e.errno, spec_path=spec_path) from None
    old_fds: list[int] = []
    prog_fd = -1
    try:
        for pid in bpf.prog_query(dfd, bpf.BPF_CGROUP_DEVICE, path=cgroup_dir):
            try:
                old_fds.append(bpf.prog_fd_by_id(pid))
            except SyscallError:
                continue  # not ours to see (LSM); it stays attached, as in runc
        prog_fd = bpf.prog_load_cgroup_device(program, LICENSE)
        bpf.prog_attach(dfd, prog_fd, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI, path=cgroup_dir)
        for fd in old_fds:
            bpf.prog_detach(dfd, fd, bpf.BPF_CGROUP_DEVICE, path=cgroup_dir)
    except SyscallError as e:
        detail = f" ({e.detail})" if e.detail else ""
        raise CgroupError(f"cannot set the cgroup v2 device filter: {e.op}{detail}", path=cgroup_dir,
                          err=e.errno, spec_path=spec_path) from None
    finally:
        for fd in [*old_fds, prog_fd]:
            if fd >= 0:
                bpf.close(fd)
        os.close(dfd)


def attached_program_count(cgroup_dir: str) -> int:
    """How many device programs are attached to a cgroup (for tests and diagnostics)."""
    import os

    from pyrunc.linux import bpf

    dfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return len(bpf.prog_query(dfd, bpf.BPF_CGROUP_DEVICE, path=cgroup_dir))
    finally:
        os.close(dfd)
