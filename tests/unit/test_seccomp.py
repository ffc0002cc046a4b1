"""Seccomp profile checking, rule planning and compilation (libseccomp in user space; nothing is loaded here)."""

from __future__ import annotations

import errno
import json
import logging
import runpy
from pathlib import Path
from typing import Any

import pytest

from pyrunc.errors import SeccompError, SpecError
from pyrunc.linux import libseccomp as scmp
from pyrunc.security import seccomp as sc
from pyrunc.spec.model import Seccomp

DATA = Path(__file__).resolve().parent.parent / "data" / "seccomp"


def profile(**kw: Any) -> Seccomp:
    raw: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    raw.update(kw)
    return Seccomp.from_dict(raw)


def rule(names: list[str], action: str = "SCMP_ACT_ERRNO", **kw: Any) -> dict[str, Any]:
    return {"names": names, "action": action, **kw}


def arg(index: int, value: int, op: str = "SCMP_CMP_EQ", value_two: int = 0) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


# ------------------------------------------------------------------------------------------ library


def test_library_loaded_at_import_by_soname() -> None:
    assert scmp.available(), scmp.LOAD_ERROR
    assert scmp.version() >= (2, 5, 0)
    assert scmp.api_level() >= 3


def test_resolve_syscall() -> None:
    assert scmp.resolve_syscall("read") is not None
    assert scmp.resolve_syscall("no_such_syscall_pyrunc") is None


# ------------------------------------------------------------------------------------------ check_profile


@pytest.mark.parametrize(
    ("raw", "pointer", "words"),
    [
        ({"defaultAction": "SCMP_ACT_BOGUS"}, "/linux/seccomp/defaultAction", "unknown seccomp action"),
        ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}, "/linux/seccomp/defaultAction",
         "cannot be used as the default action"),
        ({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}, "/linux/seccomp/defaultErrnoRet",
         "does not take an errno"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}, "/linux/seccomp/defaultErrnoRet",
         "0..65535"),
        ({"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]}, "/linux/seccomp/architectures/1",
         "unknown seccomp architecture"),
        ({"flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, "/linux/seccomp/flags/0", "unknown seccomp flag"),
        ({"syscalls": [rule(["getpid"]), rule(["mkdir"], "SCMP_ACT_ALLOW", errnoRet=1)]},
         "/linux/seccomp/syscalls/1/errnoRet", "does not take an errno"),
        ({"syscalls": [rule(["mkdir"], "SCMP_ACT_JUMP")]}, "/linux/seccomp/syscalls/0/action",
         "unknown seccomp action"),
        ({"syscalls": [rule([])]}, "/linux/seccomp/syscalls/0/names", "at least one"),
        ({"syscalls": [rule(["getpid", ""])]}, "/linux/seccomp/syscalls/0/names/1", "non-empty"),
        ({"syscalls": [rule(["read", "write"], "SCMP_ACT_NOTIFY")], "listenerPath": "/x"},
         "/linux/seccomp/syscalls/0/names/1", "cannot be used for the write syscall"),
        ({"syscalls": [rule(["sendmsg"], "SCMP_ACT_NOTIFY")], "listenerPath": "/x"},
         "/linux/seccomp/syscalls/0/names/0", "cannot be used for the sendmsg syscall"),
        ({"syscalls": [rule(["mkdir"], "SCMP_ACT_NOTIFY")]}, "/linux/seccomp/listenerPath", "must be set"),
        ({"listenerMetadata": "m"}, "/linux/seccomp/listenerMetadata", "without listenerPath"),
        ({"syscalls": [rule(["mkdir"], args=[arg(6, 1)])]}, "/linux/seccomp/syscalls/0/args/0/index", "0..5"),
        ({"syscalls": [rule(["mkdir"], args=[arg(0, 1), arg(1, 1, "SCMP_CMP_APPROX")])]},
         "/linux/seccomp/syscalls/0/args/1/op", "unknown seccomp operator"),
        ({"syscalls": [rule(["mkdir"], args=[arg(0, 2**64)])]}, "/linux/seccomp/syscalls/0/args/0/value",
         "uint64"),
    ],
)
def test_invalid_profiles_name_the_pointer(raw: dict[str, Any], pointer: str, words: str) -> None:
    p = profile(**raw)
    problems = sc.check_profile(p)
    assert any(ptr == pointer and words in msg for ptr, msg in problems), problems
    with pytest.raises(sc.SeccompConfigError) as ei:
        sc.compile_filter(p)
    # Both a SpecError (one "config.json: <pointer>: <message>" line) and a SeccompError.
    assert isinstance(ei.value, SpecError) and isinstance(ei.value, SeccompError)
    assert any(line.startswith(f"config.json: {pointer}: ") for line in ei.value.lines())


def test_valid_profile_has_no_problems() -> None:
    raw = json.loads((DATA / "allowlist.json").read_text())
    assert sc.check_profile(Seccomp.from_dict(raw)) == []


# ------------------------------------------------------------------------------------------ planning


def test_errno_defaults_to_eperm_like_runc() -> None:
    assert sc.action_value("SCMP_ACT_ERRNO", None) == scmp.act_errno(errno.EPERM)
    assert sc.action_value("SCMP_ACT_TRACE", None) == scmp.act_trace(errno.EPERM)
    assert sc.action_value("SCMP_ACT_ERRNO", errno.ENOSYS) == scmp.act_errno(errno.ENOSYS)
    assert sc.action_value("SCMP_ACT_KILL", None) == sc.action_value("SCMP_ACT_KILL_THREAD", None)
    assert sc.action_value("SCMP_ACT_KILL_PROCESS", None) == scmp.ACT_KILL_PROCESS


def test_names_expand_and_default_action_rules_are_skipped() -> None:
    p = profile(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=errno.EPERM, syscalls=[
        rule(["read", "write"], "SCMP_ACT_ALLOW"),
        rule(["mount"], "SCMP_ACT_ERRNO"),  # == default (EPERM): skipped
        rule(["clone3"], "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS),  # different errno: kept
    ])
    got = [(r.syscall, r.action, r.spec_path) for r in sc.plan_rules(p)]
    assert got == [
        ("read", scmp.ACT_ALLOW, "/linux/seccomp/syscalls/0"),
        ("write", scmp.ACT_ALLOW, "/linux/seccomp/syscalls/0"),
        ("clone3", scmp.act_errno(errno.ENOSYS), "/linux/seccomp/syscalls/2"),
    ]


def test_args_on_distinct_indexes_are_one_rule_anded() -> None:
    p = profile(syscalls=[rule(["socket"], args=[arg(0, 2), arg(1, 0xFF, "SCMP_CMP_MASKED_EQ", 1)])])
    (r,) = sc.plan_rules(p)
    assert r.conditions == ((0, scmp.CMP_EQ, 2, 0), (1, scmp.CMP_MASKED_EQ, 0xFF, 1))


def test_args_sharing_an_index_become_one_rule_each_ored() -> None:
    p = profile(syscalls=[rule(["personality", "umask"], args=[arg(0, 1), arg(0, 2), arg(1, 3)])])
    rules = sc.plan_rules(p)
    assert [(r.syscall, r.conditions) for r in rules] == [
        ("personality", ((0, scmp.CMP_EQ, 1, 0),)),
        ("personality", ((0, scmp.CMP_EQ, 2, 0),)),
        ("personality", ((1, scmp.CMP_EQ, 3, 0),)),
        ("umask", ((0, scmp.CMP_EQ, 1, 0),)),
        ("umask", ((0, scmp.CMP_EQ, 2, 0),)),
        ("umask", ((1, scmp.CMP_EQ, 3, 0),)),
    ]


def test_every_operator_maps_to_libseccomp() -> None:
    assert sc.OPERATORS == {
        "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
    }


# ------------------------------------------------------------------------------------------ compile


def test_compile_produces_a_program_and_releases_nothing_to_load_later() -> None:
    f = sc.compile_filter(profile(syscalls=[rule(["mkdir"])]))
    assert f.program.instructions > 0
    assert f.flags == scmp.FILTER_FLAG_SPEC_ALLOW and not f.notify and f.skipped == ()


def test_filter_text_shows_rules_for_every_architecture() -> None:
    p = profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
                syscalls=[rule(["umask"], args=[arg(0, 0o700, "SCMP_CMP_MASKED_EQ", 0o500)])])
    text = sc.describe_filter(p)
    for arch in ("x86_64", "x86", "x32", "aarch64"):
        assert f"filter for arch {arch} " in text
    assert "& 0x000001c0 == 320" in text  # mask 0o700, value 0o500: value->datum_a, valueTwo->datum_b


def test_unknown_syscall_names_are_skipped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pyrunc.security.seccomp")
    f = sc.compile_filter(profile(syscalls=[rule(["mkdir", "pyrunc_future_syscall"])]))
    assert f.skipped == ("pyrunc_future_syscall",)
    assert "unknown seccomp syscall 'pyrunc_future_syscall' ignored" in caplog.text


def test_architecture_unknown_to_libseccomp_is_an_error() -> None:
    # The spec lists it but libseccomp 2.5.x has no LoongArch: an error naming the entry.
    if scmp.arch_token("loongarch64"):
        pytest.skip("this libseccomp knows loongarch64")
    with pytest.raises(SeccompError, match=r"SCMP_ARCH_LOONGARCH64 is not supported by libseccomp .*"
                                           r"\(config: /linux/seccomp/architectures/1\)"):
        sc.compile_filter(profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"]))


def test_a_second_unconditional_rule_for_a_syscall_is_ignored_by_libseccomp() -> None:
    # Same outcome as under runc (both hand the rules to libseccomp in config order): the first one wins.
    p = profile(syscalls=[rule(["mkdir"], "SCMP_ACT_KILL"), rule(["mkdir"], "SCMP_ACT_TRAP")])
    actions = [line.strip() for line in sc.describe_filter(p).splitlines() if line.strip().startswith("action")]
    assert actions[0] == "action KILL;"
    assert "action TRAP;" not in actions


def test_flags() -> None:
    f = sc.compile_filter(profile(flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                         "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]))
    # TSYNC is accepted and ignored (runc): the init is single-threaded.
    assert f.flags == scmp.FILTER_FLAG_LOG | scmp.FILTER_FLAG_SPEC_ALLOW
    # WAIT_KILLABLE_RECV only means something (and the kernel only accepts it) with a listener.
    f = sc.compile_filter(profile(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]))
    assert f.flags == 0
    f = sc.compile_filter(profile(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], listenerPath="/x",
                                  syscalls=[rule(["mkdir"], "SCMP_ACT_NOTIFY")]))
    assert f.notify
    assert f.flags == scmp.FILTER_FLAG_NEW_LISTENER | scmp.FILTER_FLAG_WAIT_KILLABLE_RECV
    assert set(sc.supported_flags()) == set(sc.FLAGS)  # this kernel (6.x) has them all


def test_notify_without_a_resolvable_syscall_gives_no_listener() -> None:
    f = sc.compile_filter(profile(listenerPath="/x", syscalls=[rule(["pyrunc_future_syscall"], "SCMP_ACT_NOTIFY")]))
    # flags absent: SPEC_ALLOW, as runc sets it when the kernel supports it.
    assert not f.notify and f.flags == scmp.FILTER_FLAG_SPEC_ALLOW


def test_container_process_state_shape() -> None:
    state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 42, "bundle": "/b"}
    assert sc.container_process_state(42, state, "meta") == {
        "ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": 42, "metadata": "meta", "state": state,
    }
    assert "metadata" not in sc.container_process_state(42, state, None)


def test_send_listener_failure_names_the_pointer(tmp_path: Path) -> None:
    # "failed to connect with seccomp agent": runc's wording, which its bats tests (1.1 and HEAD) look for.
    with pytest.raises(SeccompError, match=r"failed to connect with seccomp agent: cannot send seccomp fd to .*"
                                           r"\(config: /linux/seccomp/listenerPath\)"):
        sc.send_listener(str(tmp_path / "nobody-listens"), 0, {"pid": 1}, None)


def test_notify_for_write_is_refused_in_runc_wording() -> None:
    from pyrunc.spec.validate import Context, check_seccomp

    raw = {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                                 "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}}}
    problems = [str(p) for p in check_seccomp(raw, Context("/b"))]
    assert any("SCMP_ACT_NOTIFY cannot be used for the write syscall" in p for p in problems), problems


def test_allowlist_json_is_generated_from_make_allowlist() -> None:
    mod = runpy.run_path(str(DATA / "make_allowlist.py"))
    assert (DATA / "allowlist.json").read_text() == mod["render"](), "rerun tests/data/seccomp/make_allowlist.py"
    raw = json.loads((DATA / "allowlist.json").read_text())
    assert sum(len(s["names"]) for s in raw["syscalls"]) >= 300
