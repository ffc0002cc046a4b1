"""The -ENOSYS stub in front of a `linux.seccomp` filter: syscalls newer than the profile fail with ENOSYS.

A profile is written against the syscalls its author knew. libseccomp gives every syscall the profile does not name
the default action, usually SCMP_ACT_ERRNO (EPERM). For a syscall that did not exist when the profile was written
that is the wrong answer: glibc and other programs try a new syscall (clone3, openat2, faccessat2, close_range,
fchmodat2...) and fall back to an older one only on ENOSYS ("the kernel does not have it"); EPERM is taken as a real
refusal, and the program fails on a newer userland. runc therefore puts a small classic-BPF program in front of
libseccomp's ("patchbpf"); pyrunc does the same, with runc's rules:

- Only a default action that refuses gets the stub: not SCMP_ACT_ALLOW, SCMP_ACT_LOG or SCMP_ACT_TRACE (a tracer is
  expected to handle new syscalls itself). SCMP_ACT_ERRNO, SCMP_ACT_KILL*, SCMP_ACT_TRAP do. A default of
  SCMP_ACT_ERRNO with errno ENOSYS needs none: the filter already answers ENOSYS (runc means to skip it there too).
- "Newer than the profile" is per architecture: above the largest number, on that architecture, of any syscall
  name in `syscalls` (every rule, whatever its action; names unknown on that architecture and libseccomp's negative
  pseudo-numbers are ignored). The architectures are the profile's plus the native one (Docker's profiles omit the
  native arch on some hosts). One with no known syscall gets no check.
- The stub dispatches on seccomp_data.arch, the kernel's AUDIT_ARCH_* value. libseccomp's SCMP_ARCH_* tokens are
  those values, except x32: its processes report AUDIT_ARCH_X86_64 and are told apart by bit 30 of the syscall
  number (__X32_SYSCALL_BIT), which libseccomp's x32 numbers carry. So x86_64 and x32 share one section that
  tests the bit; with only one of the two in the profile, calls of the other ABI go straight to the filter.
- On s390/s390x syscall 0 stands for "a number the kernel does not know" (the multiplexer for large numbers), so
  it gets ENOSYS too.
Anything the stub does not answer goes, unchanged, to libseccomp's program: the stub only ever turns the default
action into ENOSYS for numbers above the profile's range, never allows a call. runc's caveat applies: a syscall
numbered below the profile's newest but added later (close_range, 436 on x86_64, next to openat2) still gets the
default action.

Layout (every conditional jump is short, so no jt/jf comes near its u8 limit; the far jumps into the filter are
`ja`, whose offset is 32 bits):

    ld  [4]                       ; seccomp_data.arch
    jeq ARCH_1, 0, len(section_1) ; not this arch: skip its section
    section_1:  ld [0]            ; seccomp_data.nr
                [s390: jeq 0, 0, 1 ; ret ERRNO(ENOSYS)]
                mode test for x86_64/x32, then jgt LAST, 0, 1
                ret ERRNO(ENOSYS)
                ja  <filter>
    jeq ARCH_2, ...
    <libseccomp's program>        ; no arch matched: fall through (it reloads what it needs)

The sections end in `ret` or `ja`, so none runs into the next arch test. Classic-BPF jumps are relative and only
go forwards, so prepending the stub changes no offset inside libseccomp's program.

Pure Python on bytes: `patch_program` is given libseccomp's exported program and a resolver for syscall names,
which keeps this testable without libseccomp and lets it run wherever `compile_filter` runs (no imports later).
"""

import errno
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from pyrunc.spec.model import Seccomp

# Classic BPF opcodes (linux/bpf_common.h) the stub uses: all the kernel's seccomp verifier accepts.
BPF_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS: A = seccomp_data[k] (32 bits)
BPF_JA = 0x05         # BPF_JMP | BPF_JA: pc += k
BPF_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K: pc += (A == k) ? jt : jf
BPF_JGT_K = 0x25      # BPF_JMP | BPF_JGT | BPF_K: unsigned A > k
BPF_JSET_K = 0x45     # BPF_JMP | BPF_JSET | BPF_K: A & k
BPF_RET_K = 0x06      # BPF_RET | BPF_K
JUMP_MAX = 255        # jt and jf are u8

# struct seccomp_data: int nr; __u32 arch; ...
OFFSET_NR = 0
OFFSET_ARCH = 4

SECCOMP_RET_ERRNO = 0x00050000
RET_ENOSYS = SECCOMP_RET_ERRNO | errno.ENOSYS

# linux/audit.h (EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE), and libseccomp's tokens where they differ.
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_S390 = 0x00000016
AUDIT_ARCH_S390X = 0x80000016
SCMP_ARCH_X86_64 = AUDIT_ARCH_X86_64
SCMP_ARCH_X32 = 0x4000003E  # EM_X86_64 | __AUDIT_ARCH_LE: libseccomp's own value, never seen by the kernel
X32_SYSCALL_BIT = 0x40000000
S390_UNKNOWN_SYSCALL = 0    # setup(2)'s number: the s390 multiplexer leaves unknown numbers at 0

# Default actions that let a call through: no stub (runc's list).
PERMISSIVE_DEFAULTS = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"})

INSN = struct.Struct("=HBBI")  # struct sock_filter, in host byte order (as seccomp_export_bpf writes it)

# One instruction: (code, jt, jf, k). JA_FILTER as k of a BPF_JA is resolved to "the first instruction of the
# filter" when the stub is assembled.
Insn = tuple[int, int, int, int]
JA_FILTER = -1


class StubError(Exception):
    """The stub could not be built (an internal inconsistency: the caller then loads the filter unpatched)."""


def wants_stub(default_action: str, default_errno_ret: "int | None") -> bool:
    """Whether a profile with this `defaultAction` / `defaultErrnoRet` gets the stub."""
    if default_action in PERMISSIVE_DEFAULTS:
        return False
    return not (default_action == "SCMP_ACT_ERRNO" and default_errno_ret == errno.ENOSYS)


def audit_arch(token: int) -> int:
    """The seccomp_data.arch value of calls made under libseccomp arch `token`."""
    return AUDIT_ARCH_X86_64 if token == SCMP_ARCH_X32 else token


def last_syscalls(names: "Iterable[str]", arch_tokens: "Iterable[int]",
                  resolve: "Callable[[str, int], int | None]") -> "dict[int, dict[int, int]]":
    """{audit arch: {libseccomp arch token: largest syscall number}} over `names` on each arch.

    `resolve(name, token)` is the syscall's number on that arch (libseccomp's, x32 numbers with bit 30 set), None
    if unknown there. Negative pseudo-numbers and unknown names are ignored; an arch with no known name is left out.
    Insertion order follows `arch_tokens` (duplicates ignored), so the stub is the same for the same profile.
    """
    unique = list(dict.fromkeys(names))
    out: dict[int, dict[int, int]] = {}
    for token in dict.fromkeys(arch_tokens):
        last = 0
        for name in unique:
            nr = resolve(name, token)
            if nr is not None and nr > last:
                last = nr
        if last:
            out.setdefault(audit_arch(token), {})[token] = last
    return out


def _section(arch: int, lasts: "Mapping[int, int]") -> list[Insn]:
    """The checks for one audit arch, entered with nothing loaded; ends in `ja <filter>`."""
    body: list[Insn] = [(BPF_LD_W_ABS, 0, 0, OFFSET_NR)]
    if arch in (AUDIT_ARCH_S390, AUDIT_ARCH_S390X):
        body += [(BPF_JEQ_K, 0, 1, S390_UNKNOWN_SYSCALL), (BPF_RET_K, 0, 0, RET_ENOSYS)]
    # The tail is always "... ; ret ENOSYS ; ja <filter>": the offsets below count to those two.
    if arch == AUDIT_ARCH_X86_64:
        native, x32 = lasts.get(SCMP_ARCH_X86_64), lasts.get(SCMP_ARCH_X32)
        unknown = set(lasts) - {SCMP_ARCH_X86_64, SCMP_ARCH_X32}
        if unknown:
            raise StubError(f"unexpected arch tokens for AUDIT_ARCH_X86_64: {sorted(unknown)}")
        if native is not None and x32 is not None:
            body += [(BPF_JSET_K, 0, 1, X32_SYSCALL_BIT),  # x32 call -> next; x86_64 call -> its jgt
                     (BPF_JGT_K, 1, 2, x32),                # -> ret ENOSYS / ja filter
                     (BPF_JGT_K, 0, 1, native)]
        elif native is not None:
            body += [(BPF_JSET_K, 2, 0, X32_SYSCALL_BIT),  # x32 call: not in the profile's archs -> filter
                     (BPF_JGT_K, 0, 1, native)]
        elif x32 is not None:
            body += [(BPF_JSET_K, 0, 2, X32_SYSCALL_BIT),  # x86_64 call: not in the profile's archs -> filter
                     (BPF_JGT_K, 0, 1, x32)]
        else:
            raise StubError("AUDIT_ARCH_X86_64 without a syscall number")
    else:
        if len(lasts) != 1:
            raise StubError(f"{len(lasts)} libseccomp arches share AUDIT_ARCH {arch:#x}")
        (last,) = lasts.values()
        body.append((BPF_JGT_K, 0, 1, last))
    body += [(BPF_RET_K, 0, 0, RET_ENOSYS), (BPF_JA, 0, 0, JA_FILTER)]
    return body


def generate_stub(lasts: "Mapping[int, Mapping[int, int]]") -> list[Insn]:
    """The stub for `last_syscalls`'s result, as instructions; [] when there is nothing to check.
    Falling off its end (or its `ja`s) reaches the instruction after it: the filter's first."""
    if not lasts:
        return []
    stub: list[Insn] = [(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH)]
    for arch, per_token in lasts.items():
        section = _section(arch, per_token)
        # not this arch: jump over the section, to the next arch test (A still holds the arch)
        stub.append((BPF_JEQ_K, 0, len(section), arch))
        stub += section
    resolved: list[Insn] = []
    for pc, (code, jt, jf, k) in enumerate(stub):
        if code == BPF_JA and k == JA_FILTER:
            k = len(stub) - (pc + 1)
        resolved.append((code, jt, jf, k))
    check_jumps(resolved, len(resolved) + 1)
    return resolved


def check_jumps(program: "list[Insn]", length: int) -> None:
    """Every jump of `program` (its first instructions, of a program `length` long) lands inside it, with jt/jf
    within their u8. Raises StubError."""
    for pc, (code, jt, jf, k) in enumerate(program):
        if code & 0x07 != 0x05:  # BPF_CLASS != BPF_JMP
            continue
        targets = (k,) if code == BPF_JA else (jt, jf)
        for off in targets:
            if (code != BPF_JA and off > JUMP_MAX) or not 0 <= pc + 1 + off < length:
                raise StubError(f"instruction {pc}: jump by {off} leaves the program ({length} instructions)")


def encode(program: "Iterable[Insn]") -> bytes:
    return b"".join(INSN.pack(*insn) for insn in program)


def decode(bpf: bytes) -> list[Insn]:
    if len(bpf) % INSN.size:
        raise StubError(f"a BPF program of {len(bpf)} bytes is not whole instructions")
    return [INSN.unpack_from(bpf, off) for off in range(0, len(bpf), INSN.size)]


def stub_for(seccomp: "Seccomp", native_token: int, arch_token: "Callable[[str], int]",
             resolve: "Callable[[str, int], int | None]") -> list[Insn]:
    """The stub `seccomp` gets ([] for none). `arch_token("SCMP_ARCH_X86_64")` is libseccomp's token (0 if
    unknown); `resolve(name, token)` a syscall's number there."""
    if not wants_stub(seccomp.default_action, seccomp.default_errno_ret):
        return []
    tokens = [native_token]  # native first: most calls are native, and its test comes first
    for name in seccomp.architectures:
        token = arch_token(name)
        if token:
            tokens.append(token)
    names = [name for call in seccomp.syscalls for name in call.names]
    return generate_stub(last_syscalls(names, tokens, resolve))


def patch_program(bpf: bytes, stub: "list[Insn]") -> bytes:
    """libseccomp's program `bpf` with `stub` in front. Nothing inside `bpf` needs re-pointing: its jumps are
    relative and forwards, and the stub's end (and every `ja` of it) lands on its first instruction."""
    return encode(stub) + bpf if stub else bpf
