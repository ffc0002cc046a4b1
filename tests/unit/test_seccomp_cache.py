"""pyrunc.runtime.seccomp_cache: what `create` keeps for `exec` loads back exactly, and only when it provably is the
program of the same profile, compiled by the same libseccomp, in an untouched record (libseccomp in user space;
nothing is loaded into a process here)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyrunc.linux import libseccomp as scmp
from pyrunc.runtime import seccomp_cache, state
from pyrunc.security import seccomp as sc
from pyrunc.spec.model import Seccomp

DATA = Path(__file__).resolve().parent.parent / "data" / "seccomp"
CID = "c1"
PROFILE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["read", "write", "exit_group", "pyrunc_future_syscall"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    ],
}


@pytest.fixture
def root(tmp_path: Path) -> str:
    r = str(tmp_path / "root")
    state.reserve(r, CID)
    return r


def keep(root: str, profile: dict[str, Any] = PROFILE) -> sc.SeccompFilter:
    """What create does: compile, then save."""
    f = sc.compile_filter(Seccomp.from_dict(profile))
    assert seccomp_cache.save(root, CID, profile, f)
    return f


def load(root: str, profile: dict[str, Any] = PROFILE) -> sc.SeccompFilter | None:
    # As exec: the raw profile of the saved config (a JSON round trip of what create had) and its model.
    raw = json.loads(json.dumps(profile))
    return seccomp_cache.load(root, CID, raw, Seccomp.from_dict(raw))


def record_path(root: str) -> Path:
    return Path(root) / CID / seccomp_cache.FILE


def test_round_trip_gives_the_compiled_filter(root: str) -> None:
    f = keep(root)
    g = load(root)
    assert g is not None
    assert g.program.to_bytes() == f.program.to_bytes() and g.program.instructions == f.program.instructions
    assert (g.flags, g.notify, g.skipped) == (f.flags, f.notify, f.skipped) == (f.flags, False,
                                                                                ("pyrunc_future_syscall",))


def test_round_trip_of_a_large_notify_profile(root: str) -> None:
    """The size of the usual default profiles, plus a NOTIFY rule: the listener flag and fields come back."""
    profile = json.loads((DATA / "allowlist.json").read_text())
    profile["listenerPath"] = "/run/agent.sock"
    profile["listenerMetadata"] = "meta"
    profile["syscalls"].append({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"})
    f = keep(root, profile)
    g = load(root, profile)
    assert g is not None and g.program.to_bytes() == f.program.to_bytes()
    assert g.notify and g.flags == f.flags and g.flags & scmp.FILTER_FLAG_NEW_LISTENER
    assert (g.listener_path, g.listener_metadata) == ("/run/agent.sock", "meta")


def test_record_is_private_and_written_atomically(root: str) -> None:
    keep(root)
    assert os.stat(record_path(root)).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(Path(root) / CID)) == [seccomp_cache.FILE]  # no temp file left


def test_no_record_means_compile(root: str) -> None:
    assert load(root) is None


@pytest.mark.parametrize("change", [
    lambda p: p.update(defaultErrnoRet=38),
    lambda p: p["syscalls"][0]["names"].remove("write"),
    lambda p: p["syscalls"][1]["args"][0].update(value=0),
    lambda p: p.update(flags=[]),
    lambda p: p["syscalls"].reverse(),
])
def test_another_profile_is_not_loaded(root: str, change: Callable[[dict[str, Any]], None]) -> None:
    keep(root)
    other = json.loads(json.dumps(PROFILE))
    change(other)
    assert load(root, other) is None


def test_another_libseccomp_is_not_trusted(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keep(root)
    monkeypatch.setattr(scmp, "version_string", lambda: "9.9.9")
    assert load(root) is None


def _rewrite(root: str, edit: Callable[[dict[str, Any]], Any]) -> None:
    rec = json.loads(record_path(root).read_bytes())
    edit(rec)
    record_path(root).write_text(json.dumps(rec))


def _redigest(rec: dict[str, Any]) -> None:
    """A record whose digest matches its (bad) content: only the other checks can refuse it."""
    rec["digest"] = seccomp_cache._digest(rec["key"], rec["flags"], rec["notify"], bytes.fromhex(rec["program"]))


@pytest.mark.parametrize("damage", [
    lambda rec: rec.update(program=rec["program"][:-16] + "06000000ffff7f00"),  # another last instruction
    lambda rec: rec.update(program=rec["program"][:-16]),                       # one instruction short
    lambda rec: rec.update(flags=rec["flags"] ^ scmp.FILTER_FLAG_LOG),
    lambda rec: rec.update(notify=True),
    lambda rec: rec.update(digest="0" * 64),
    lambda rec: rec.update(program="zz"),
    lambda rec: rec.update(flags="4"),
    lambda rec: rec.update(format=seccomp_cache.FORMAT + 1),
    lambda rec: (rec.update(program=rec["program"] + "00"), _redigest(rec)),   # not whole instructions
    lambda rec: (rec.update(program="00" * 8 * (scmp.BPF_MAXINSNS + 1)), _redigest(rec)),  # too long
    lambda rec: (rec.update(program=""), _redigest(rec)),
])
def test_damaged_record_is_not_loaded(root: str, damage: Callable[[dict[str, Any]], Any]) -> None:
    keep(root)
    _rewrite(root, damage)
    assert load(root) is None


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"\xff\xfe", b'{"format": 1}'])
def test_unreadable_record_is_not_loaded(root: str, content: bytes) -> None:
    keep(root)
    record_path(root).write_bytes(content)
    assert load(root) is None


def test_save_is_best_effort(tmp_path: Path) -> None:
    """A write that fails (here: no container directory) only means exec compiles."""
    f = sc.compile_filter(Seccomp.from_dict(PROFILE))
    assert seccomp_cache.save(str(tmp_path / "nowhere"), CID, PROFILE, f) is False
    assert not (tmp_path / "nowhere").exists()
