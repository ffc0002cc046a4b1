"""The -ENOSYS stub (pyrunc.security.enosys): its instructions decoded and checked one by one, and programs (the
stub alone, and stub + libseccomp's real program) run by a small classic-BPF interpreter on made-up seccomp_data.
Nothing is loaded into the kernel here (tests/security/test_seccomp_enosys.py does that)."""

from __future__ import annotations

import errno
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from pyrunc.linux import libseccomp as scmp
from pyrunc.security import enosys
from pyrunc.security import seccomp as sc
from pyrunc.spec.model import Seccomp

DATA = Path(__file__).resolve().parent.parent / "data" / "seccomp"

RET_ALLOW = 0x7FFF0000
RET_KILL_THREAD = 0
RET_ENOSYS = 0x00050000 | errno.ENOSYS
RET_EPERM = 0x00050000 | errno.EPERM
FALLTHROUGH = 0xDEADBEEF  # what a stub alone "returns" when it lets the call through to the filter

AUDIT = {"x86": 0x40000003, "x86_64": 0xC000003E, "arm": 0x40000028, "aarch64": 0xC00000B7, "s390x": 0x80000016,
         "ppc64le": 0xC0000015, "mips64": 0x80000008, "riscv64": 0xC00000F3}
X32_BIT = 0x40000000
ALL_ARCHES = [a for a in sc.ARCHITECTURES if scmp.arch_token(a.removeprefix("SCMP_ARCH_").lower())]


# ------------------------------------------------------------------------------------------ a BPF interpreter


def run_bpf(bpf: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Run a seccomp classic-BPF program on seccomp_data {nr, arch, ip=0, args}; return its verdict. Checks, as the
    kernel's verifier would, that every jump lands inside the program."""
    data = struct.pack("=iIQ6Q", nr if nr < 2**31 else nr - 2**32, arch, 0, *(list(args) + [0] * (6 - len(args))))
    prog = [struct.unpack_from("=HBBI", bpf, off) for off in range(0, len(bpf), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    for _ in range(len(prog) + 1):  # no backward jumps: at most one pass
        code, jt, jf, k = prog[pc]
        cls = code & 0x07
        if cls == 0x00:  # LD
            a = load(code & 0xE0, k, data, mem)
        elif cls == 0x01:  # LDX
            x = load(code & 0xE0, k, data, mem)
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:  # ALU
            src = x if code & 0x08 else k
            op = code & 0xF0
            a = {0x00: a + src, 0x10: a - src, 0x20: a * src, 0x30: a // src if src else 0, 0x40: a | src,
                 0x50: a & src, 0x60: a << src, 0x70: a >> src, 0x80: -a, 0x90: a % src if src else 0,
                 0xA0: a ^ src}[op] & 0xFFFFFFFF
        elif cls == 0x05:  # JMP
            op = code & 0xF0
            if op == 0x00:
                pc += 1 + k
            else:
                src = x if code & 0x08 else k
                cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
                pc += 1 + (jt if cond else jf)
            assert pc < len(prog), f"jump out of the program at {pc}"
            continue
        elif cls == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        pc += 1
        assert pc < len(prog), "fell off the end of the program"
    raise AssertionError("the program did not return")


def load(mode: int, k: int, data: bytes, mem: list[int]) -> int:
    if mode == 0x20:  # BPF_ABS, 32 bits in host order (the kernel refuses other sizes for seccomp)
        return int(struct.unpack_from("=I", data, k)[0])
    if mode == 0x00:  # BPF_IMM
        return k
    if mode == 0x60:  # BPF_MEM
        return mem[k]
    assert mode == 0x80, hex(mode)  # BPF_LEN
    return len(data)


def decoded_jumps(bpf: bytes) -> list[tuple[int, int]]:
    """(pc, target) of every jump, decoded independently of enosys.check_jumps; asserts jt/jf are u8 (they are by
    construction of the struct) and targets lie inside."""
    out = []
    n = len(bpf) // 8
    for pc in range(n):
        code, jt, jf, k = struct.unpack_from("=HBBI", bpf, pc * 8)
        if code & 0x07 != 0x05:
            continue
        targets = [k] if code & 0xF0 == 0 else [jt, jf]
        for off in targets:
            assert 0 <= pc + 1 + off < n, f"{pc}: jump by {off} out of {n} instructions"
            out.append((pc, pc + 1 + off))
    return out


def stub_program(raw: dict[str, Any]) -> bytes:
    """The stub for profile `raw`, followed by RET FALLTHROUGH (standing for the filter)."""
    prof = Seccomp.from_dict(raw)
    stub = enosys.stub_for(prof, scmp.native_arch(), sc._scmp_arch_token, scmp.resolve_syscall_arch)
    return enosys.encode(stub) + struct.pack("=HBBI", 0x06, 0, 0, FALLTHROUGH)


def nr(name: str, arch: str) -> int:
    got = scmp.resolve_syscall_arch(name, scmp.arch_token(arch))
    assert got is not None and got >= 0, (name, arch)
    return got


# ------------------------------------------------------------------------------------------ which profiles


@pytest.mark.parametrize(("action", "errno_ret", "wanted"), [
    ("SCMP_ACT_ERRNO", None, True), ("SCMP_ACT_ERRNO", errno.EPERM, True), ("SCMP_ACT_ERRNO", errno.ENXIO, True),
    ("SCMP_ACT_ERRNO", errno.ENOSYS, False),  # already answers ENOSYS
    ("SCMP_ACT_KILL", None, True), ("SCMP_ACT_KILL_PROCESS", None, True), ("SCMP_ACT_KILL_THREAD", None, True),
    ("SCMP_ACT_TRAP", None, True),
    ("SCMP_ACT_ALLOW", None, False), ("SCMP_ACT_LOG", None, False), ("SCMP_ACT_TRACE", None, False),
])
def test_which_default_actions_get_the_stub(action: str, errno_ret: int | None, wanted: bool) -> None:
    assert enosys.wants_stub(action, errno_ret) is wanted
    raw: dict[str, Any] = {"defaultAction": action, "syscalls": [{"names": ["read", "write"],
                                                                  "action": "SCMP_ACT_NOTIFY"}],
                           "listenerPath": "/x"}
    if errno_ret is not None:
        raw["defaultErrnoRet"] = errno_ret
    prof = Seccomp.from_dict(raw)
    stub = enosys.stub_for(prof, scmp.native_arch(), sc._scmp_arch_token, scmp.resolve_syscall_arch)
    assert bool(stub) is wanted


def test_last_syscall_counts_every_rule_and_ignores_unknown_and_pseudo_numbers() -> None:
    x86_64, x86 = scmp.arch_token("x86_64"), scmp.arch_token("x86")
    names = ["read", "openat", "no_such_syscall", "socket", "openat"]  # socket: a pseudo-number (< 0) on x86
    lasts = enosys.last_syscalls(names, [x86_64, x86, x86_64], scmp.resolve_syscall_arch)
    assert lasts == {AUDIT["x86_64"]: {x86_64: nr("openat", "x86_64")},
                     AUDIT["x86"]: {x86: max(nr("openat", "x86"), nr("read", "x86"))}}
    assert list(lasts) == [AUDIT["x86_64"], AUDIT["x86"]]  # the given order
    # a rule whose action equals the default still counts (runc reads the names, not libseccomp's rules)
    raw = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}]}
    prog = stub_program(raw)
    assert run_bpf(prog, nr("openat2", "x86_64"), AUDIT["x86_64"]) == FALLTHROUGH
    assert run_bpf(prog, nr("openat2", "x86_64") + 1, AUDIT["x86_64"]) == RET_ENOSYS


def test_no_known_syscall_no_stub() -> None:
    assert enosys.last_syscalls(["no_such_syscall"], [scmp.native_arch()], scmp.resolve_syscall_arch) == {}
    assert enosys.generate_stub({}) == []
    assert stub_program({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}) == struct.pack(
        "=HBBI", 0x06, 0, 0, FALLTHROUGH)


# ------------------------------------------------------------------------------------------ the stub's code


def test_single_arch_stub_instructions() -> None:
    """x86_64 only: every instruction and jump target, decoded."""
    raw = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["read", "write", "pidfd_open"], "action": "SCMP_ACT_ALLOW"}]}
    prog = stub_program(raw)
    insns = [struct.unpack_from("=HBBI", prog, off) for off in range(0, len(prog), 8)]
    last = nr("pidfd_open", "x86_64")
    assert insns == [
        (0x20, 0, 0, 4),                # 0: ld seccomp_data.arch
        (0x15, 0, 5, AUDIT["x86_64"]),  # 1: jeq x86_64 -> 2, else -> 7 (the filter)
        (0x20, 0, 0, 0),                # 2: ld seccomp_data.nr
        (0x45, 2, 0, X32_BIT),          # 3: jset x32 bit -> 6 (not this profile's ABI), else -> 4
        (0x25, 0, 1, last),             # 4: jgt last -> 5, else -> 6
        (0x06, 0, 0, RET_ENOSYS),       # 5: ret ERRNO(ENOSYS)
        (0x05, 0, 0, 0),                # 6: ja -> 7
        (0x06, 0, 0, FALLTHROUGH),      # 7: the filter
    ]
    assert sorted(decoded_jumps(prog)) == [(1, 2), (1, 7), (3, 4), (3, 6), (4, 5), (4, 6), (6, 7)]


@pytest.mark.parametrize("arches", [
    ["SCMP_ARCH_X86_64"], ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], ["SCMP_ARCH_X32"], [],
    ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], ["SCMP_ARCH_S390X"], ALL_ARCHES,
], ids=["x86_64", "docker-amd64", "x32", "none", "arm", "s390x", "all"])
@pytest.mark.parametrize("newest", ["setns", "renameat2", "pidfd_open", "faccessat2"])
def test_stub_semantics_per_arch(arches: list[str], newest: str) -> None:
    """For every arch of the profile (and the native one): numbers up to the profile's newest go to the filter,
    above it get ENOSYS; arches the profile does not name go to the filter; jumps all land inside, short."""
    names = ["read", "write", "openat", "setns", newest]
    raw = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": arches,
           "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    prog = stub_program(raw)
    decoded_jumps(prog)  # every target inside
    assert len(prog) // 8 <= 1 + 9 * len(sc.ARCHITECTURES) + 1
    in_profile = {a.removeprefix("SCMP_ARCH_").lower() for a in arches} | {"x86_64"}  # + native
    for arch in ("x86_64", "x86", "x32", "arm", "aarch64", "s390x", "ppc64le", "mips64", "riscv64"):
        token = scmp.arch_token(arch)
        audit = enosys.audit_arch(token)
        last = max(nr(n, arch) for n in names)
        base = X32_BIT if arch == "x32" else 0
        probes = [nr("read", arch), last, last + 1, base + 1000, base + 0x3FFF_0000]
        for p in probes:
            want = RET_ENOSYS if arch in in_profile and p > last else FALLTHROUGH
            assert run_bpf(prog, p, audit) == want, (arch, p, last)
        if arch == "s390x" and arch in in_profile:
            assert run_bpf(prog, 0, audit) == RET_ENOSYS  # the multiplexer's "unknown syscall"
    # x86_64-only profile: x32 calls (bit 30) are not judged by the stub
    if arches == ["SCMP_ARCH_X86_64"]:
        assert run_bpf(prog, X32_BIT + 5000, AUDIT["x86_64"]) == FALLTHROUGH
    if arches == ["SCMP_ARCH_X32"]:  # native x86_64 is implied, so both ABIs are checked, each with its own last
        assert run_bpf(prog, X32_BIT + 5000, AUDIT["x86_64"]) == RET_ENOSYS
        assert run_bpf(prog, 5000, AUDIT["x86_64"]) == RET_ENOSYS


def test_x86_64_and_x32_each_have_their_own_last_syscall() -> None:
    x86_64, x32 = scmp.arch_token("x86_64"), scmp.arch_token("x32")
    stub = enosys.generate_stub({AUDIT["x86_64"]: {x86_64: 300, x32: X32_BIT + 100}})
    prog = enosys.encode(stub) + struct.pack("=HBBI", 0x06, 0, 0, FALLTHROUGH)
    a = AUDIT["x86_64"]
    assert [run_bpf(prog, n, a) for n in (300, 301, X32_BIT + 100, X32_BIT + 101)] == \
        [FALLTHROUGH, RET_ENOSYS, FALLTHROUGH, RET_ENOSYS]
    only_x32 = enosys.generate_stub({a: {x32: X32_BIT + 100}})
    prog = enosys.encode(only_x32) + struct.pack("=HBBI", 0x06, 0, 0, FALLTHROUGH)
    assert [run_bpf(prog, n, a) for n in (5000, X32_BIT + 101)] == [FALLTHROUGH, RET_ENOSYS]


def test_bad_arch_maps_are_refused() -> None:
    with pytest.raises(enosys.StubError):
        enosys.generate_stub({AUDIT["x86_64"]: {AUDIT["x86"]: 3}})
    with pytest.raises(enosys.StubError):
        enosys.generate_stub({AUDIT["arm"]: {1: 3, 2: 4}})
    with pytest.raises(enosys.StubError):
        enosys.check_jumps([(0x15, 0, 5, 1)], 3)  # lands past the end
    with pytest.raises(enosys.StubError):
        enosys.decode(b"\0" * 9)


def test_every_arch_at_once_keeps_jumps_short() -> None:
    tokens = {scmp.arch_token(a.removeprefix("SCMP_ARCH_").lower()) for a in ALL_ARCHES}
    lasts = enosys.last_syscalls(["read", "clone3"], sorted(tokens), scmp.resolve_syscall_arch)
    stub = enosys.generate_stub(lasts)
    assert all(jt <= 255 and jf <= 255 for _, jt, jf, _ in stub)
    assert max(max(jt, jf) for code, jt, jf, _ in stub if code != enosys.BPF_JA) <= 9
    enosys.check_jumps(stub, len(stub) + 1)
    assert len(stub) < 256


# ------------------------------------------------------------------------------------------ with libseccomp


def unpatched(prof: Seccomp) -> bytes:
    with scmp.FilterContext(sc.action_value(prof.default_action, prof.default_errno_ret)) as ctx:
        sc._build(prof, ctx, sc.plan_rules(prof))
        return ctx.export_bpf()


ALLOWED = ["read", "write", "close", "exit_group", "getpid", "pidfd_open"]  # pidfd_open: 434, below clone3


@pytest.mark.parametrize("default", ["SCMP_ACT_ERRNO", "SCMP_ACT_KILL"])
def test_compiled_filter_has_the_stub_in_front(default: str) -> None:
    prof = Seccomp.from_dict({"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                              "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]})
    bpf = sc.compile_filter(prof).program.to_bytes()
    plain = unpatched(prof)
    assert bpf.endswith(plain) and len(bpf) > len(plain)  # libseccomp's program, untouched, after the stub
    decoded_jumps(bpf)
    denied = RET_EPERM if default == "SCMP_ACT_ERRNO" else RET_KILL_THREAD
    a = AUDIT["x86_64"]
    assert run_bpf(bpf, nr("getpid", "x86_64"), a) == RET_ALLOW
    assert run_bpf(bpf, nr("pidfd_open", "x86_64"), a) == RET_ALLOW
    assert run_bpf(bpf, nr("unshare", "x86_64"), a) == denied  # inside the profile's range, not allowed
    for newer in ("clone3", "close_range", "openat2", "faccessat2", "fchmodat2"):
        assert run_bpf(bpf, nr(newer, "x86_64"), a) == RET_ENOSYS, newer
    assert run_bpf(bpf, nr("clone3", "x86"), AUDIT["x86"]) == RET_ENOSYS
    assert run_bpf(bpf, nr("unshare", "x86"), AUDIT["x86"]) == denied
    # an arch the profile does not name: libseccomp's bad-arch verdict, as without the stub
    assert run_bpf(bpf, 1000, AUDIT["aarch64"]) == run_bpf(plain, 1000, AUDIT["aarch64"]) == RET_KILL_THREAD


@pytest.mark.parametrize("raw", [
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
     "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
    {"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]},
], ids=["allow", "errno-enosys", "log"])
def test_permissive_defaults_are_exported_unchanged(raw: dict[str, Any]) -> None:
    prof = Seccomp.from_dict(raw)
    assert sc.compile_filter(prof).program.to_bytes() == unpatched(prof)


def test_docker_like_allowlist() -> None:
    """The repository's Docker-style allowlist: what it allows still is, clone3 keeps its explicit ENOSYS rule,
    and syscalls past its newest get ENOSYS instead of EPERM."""
    raw = json.loads((DATA / "allowlist.json").read_text())
    prof = Seccomp.from_dict(raw)
    bpf = sc.compile_filter(prof).program.to_bytes()
    plain = unpatched(prof)
    assert bpf.endswith(plain)
    decoded_jumps(bpf)
    names = [n for c in prof.syscalls for n in c.names]
    last = max(n for n in (scmp.resolve_syscall_arch(x, scmp.arch_token("x86_64")) for x in names)
               if n is not None)
    a = AUDIT["x86_64"]
    for n in list(range(0, last + 1)):
        assert run_bpf(bpf, n, a) == run_bpf(plain, n, a), n  # the profile's range: as libseccomp decided
    assert run_bpf(bpf, last + 1, a) == RET_ENOSYS
    assert run_bpf(bpf, 1000, a) == RET_ENOSYS


def test_stub_that_does_not_fit_is_left_out() -> None:
    prof = Seccomp.from_dict({"defaultAction": "SCMP_ACT_ERRNO",
                              "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]})
    near_limit = struct.pack("=HBBI", 0x06, 0, 0, RET_ALLOW) * (scmp.BPF_MAXINSNS - 2)
    assert sc._add_enosys_stub(prof, near_limit) == near_limit
    small = struct.pack("=HBBI", 0x06, 0, 0, RET_ALLOW)
    assert sc._add_enosys_stub(prof, small) != small
