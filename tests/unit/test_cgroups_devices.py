"""Device rules: runc's defaults, the allow/deny emulation, and the generated eBPF program (run in a tiny
interpreter here, checked against the emulation for every device/access combination)."""

from __future__ import annotations

import itertools
import struct

import pytest

from pyrunc.cgroups.devices import DEFAULT_ALLOWED, DeviceSet, Rule, rules_for
from pyrunc.cgroups.devices_bpf import DEV_BLOCK, DEV_CHAR, build_program
from pyrunc.errors import CgroupError, SpecError
from pyrunc.spec.model import DeviceRule


def spec_rules(*raw: dict) -> list[DeviceRule]:  # type: ignore[type-arg]
    return [DeviceRule.from_dict(r) for r in raw]


def test_defaults_follow_runc_and_linux_devices_win() -> None:
    rules = rules_for(spec_rules({"allow": False, "access": "rwm"}))
    assert rules[0] == Rule("a", -1, -1, "rwm", False, "/linux/resources/devices/0")
    assert [r.cgroup_string() for r in rules[1:]] == [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
        "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    assert len(rules_for([], ["/dev/null", "/dev/zero"])) == len(DEFAULT_ALLOWED) - 2


def test_no_rules_means_only_the_defaults() -> None:
    s = DeviceSet.from_rules(rules_for([]))
    assert not s.default_allow
    assert s.allows("c", 1, 3, "rw") and s.allows("c", 136, 7, "rwm") and s.allows("b", 8, 0, "m")
    assert not s.allows("b", 8, 0, "r") and not s.allows("c", 4, 1, "w")


def test_allow_all_then_deny_some() -> None:
    s = DeviceSet.from_rules(rules_for(spec_rules({"allow": True, "access": "rwm"},
                                                  {"allow": False, "type": "b", "major": 8, "access": "rw"})))
    # runc's defaults are allow rules: with a default of allow they only remove (absent) deny exceptions
    assert s.default_allow
    assert [r.cgroup_string() for r in s.exception_rules()] == ["b 8:* rw"]
    assert not s.allows("b", 8, 1, "r") and s.allows("b", 8, 1, "m") and s.allows("c", 4, 1, "rw")


def test_later_rules_override_and_merge() -> None:
    s = DeviceSet.from_rules([
        Rule("c", 4, 1, "r", True), Rule("c", 4, 1, "w", True), Rule("c", 4, 1, "r", False),
    ])
    assert s.exceptions == {("c", 4, 1): "w"}
    s.apply(Rule("a", -1, -1, "r", True))  # any "a" rule resets, whatever its access (kernel semantics)
    assert s.default_allow and s.exceptions == {}


def test_punching_a_hole_in_a_wildcard_is_refused() -> None:
    with pytest.raises(CgroupError) as e:
        DeviceSet.from_rules([Rule("c", -1, -1, "rwm", True),
                              Rule("c", 1, 3, "w", False, "/linux/resources/devices/1")])
    assert "cannot punch a hole" in str(e.value) and e.value.spec_path == "/linux/resources/devices/1"


@pytest.mark.parametrize(("raw", "pointer"), [
    ({"allow": True, "type": "x", "access": "r"}, "/linux/resources/devices/0/type"),
    ({"allow": True, "type": "c", "access": ""}, "/linux/resources/devices/0/access"),
])
def test_bad_rules_name_their_field(raw: dict, pointer: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError) as e:
        rules_for(spec_rules(raw))
    assert e.value.problems[0][0] == pointer


def test_unknown_access_letters_are_dropped_never_widen() -> None:
    """Letters other than r, w, m are dropped (runc's permission sets ignore them); no letter left must not mean
    "rwm"."""
    rules = rules_for(spec_rules({"allow": False, "access": "rwm"},
                                 {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "rwxa"},
                                 {"allow": True, "type": "c", "major": 4, "minor": 2, "access": "xa"},
                                 {"allow": False, "type": "c", "major": 4, "minor": 1, "access": "wa"}))
    assert [r.cgroup_string() for r in rules[:3]] == ["a *:* rwm", "c 4:1 rw", "c 4:1 w"]
    s = DeviceSet.from_rules(rules)
    # (mknod of any char device is one of runc's default rules)
    assert s.allows("c", 4, 1, "r") and not s.allows("c", 4, 1, "w") and not s.allows("c", 4, 1, "rm")
    assert not s.allows("c", 4, 2, "r") and not s.allows("c", 4, 2, "w")


def test_unknown_letters_only_wildcard_still_resets() -> None:
    """A type "a" rule resets the list whatever its access: dropping it would leave an earlier allow-all."""
    s = DeviceSet.from_rules(rules_for(spec_rules({"allow": True, "access": "rwm"}, {"allow": False, "access": "x"})))
    assert not s.default_allow and not s.allows("b", 8, 0, "r")


# ------------------------------------------------------------------------------------------------ eBPF


def run_bpf(prog: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """Interpret the instructions devices_bpf emits (a subset of eBPF), as the kernel would run them."""
    ctx = struct.pack("<III", dev_type | (access << 16), major, minor)
    regs = [0] * 11
    regs[1] = -1  # ctx pointer: only ever used as the base of a load
    insns = [struct.unpack("<BBhi", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc, steps = 0, 0
    mask32, mask64 = (1 << 32) - 1, (1 << 64) - 1
    while True:
        steps += 1
        assert steps < 10000, "no loop expected"
        op, regbyte, off, imm = insns[pc]
        dst, src = regbyte & 0xF, regbyte >> 4
        pc += 1
        if op == 0x61:  # ldxw dst, [src+off]
            assert regs[src] == -1
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            regs[dst] = (regs[dst] & imm) & mask32
        elif op == 0x74:
            regs[dst] = (regs[dst] & mask32) >> imm
        elif op == 0xB4:
            regs[dst] = imm & mask32
        elif op == 0xBC:
            regs[dst] = regs[src] & mask32
        elif op == 0x55:
            if regs[dst] != (imm & mask64):
                pc += off
        elif op == 0x5D:
            if regs[dst] != regs[src]:
                pc += off
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


RULE_SETS = [
    [],
    [{"allow": False, "access": "rwm"}],
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"},
     {"allow": True, "type": "b", "major": 8, "access": "r"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"},
     {"allow": False, "type": "b", "access": "m"}],
    [{"allow": True, "access": "rwm"}],
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 4, "access": "rwa"},
     {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "xa"}],
]


@pytest.mark.parametrize("raw", RULE_SETS)
def test_program_matches_the_emulation(raw: list[dict]) -> None:  # type: ignore[type-arg]
    s = DeviceSet.from_rules(rules_for(spec_rules(*raw)))
    prog = build_program(s)
    assert len(prog) % 8 == 0 and prog[-8] == 0x95  # ends in exit
    bits = {"m": 1, "r": 2, "w": 4}
    for t, major, minor, acc in itertools.product("cb", (1, 4, 5, 8, 10, 136), (0, 3, 5, 64, 200), (
            "r", "w", "m", "rw", "rwm", "wm")):
        want = s.allows(t, major, minor, acc)
        got = run_bpf(prog, DEV_CHAR if t == "c" else DEV_BLOCK, sum(bits[c] for c in acc), major, minor)
        assert got == int(want), (t, major, minor, acc)


def test_instruction_encoding() -> None:
    from pyrunc.cgroups.devices_bpf import JNE_K, insn

    # jne r4, 136, +3 : opcode, dst in the low nibble, signed 16-bit offset, signed 32-bit immediate
    assert insn(JNE_K, 4, 0, 3, 136) == bytes([0x55, 0x04, 3, 0, 136, 0, 0, 0])
    assert insn(0xBC, 1, 3) == bytes([0xBC, 0x31, 0, 0, 0, 0, 0, 0])
