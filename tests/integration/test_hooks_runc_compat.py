"""Hooks as runc's clients see them: failures read "error running <kind> hook #<n>: ...", a hook killed by a signal
is described as Go describes it ("signal: bad system call"), and startContainer hooks without an `env` of their own
run in the container process's environment (bats hooks.bats, seccomp.bats)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_hook_wording_at_create(runtime: Any, make_bundle: Any, kind: str) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["hooks"] = {kind: [{"path": "/bin/true"}, {"path": "/bin/false"}]}

    cid = uniq(f"c-hookword-{kind.lower()}")
    p = runtime.create(make_bundle(edit=edit), cid, check=False)
    assert p.returncode == 1
    assert f"error running {kind} hook #1: /bin/false: exit status 1" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_start_container_hook_gets_the_process_environment(runtime: Any, make_bundle: Any,
                                                           private_rootfs: Path) -> None:
    """No `env` of its own: the process's (HOME added); with one: exactly its own."""
    def edit(c: dict[str, Any]) -> None:
        c["root"]["readonly"] = False  # the hooks leave their environment in the (private) rootfs
        c["process"]["env"] = ["ONE=two", "FOO=bar", "PATH=/bin"]
        c["hooks"] = {"startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "env | sort > /tmp/inherited"]},
            {"path": "/bin/sh", "args": ["sh", "-c", "env | sort > /tmp/own"], "env": ["ONLY=this"]},
        ]}

    bundle = make_bundle(edit=edit, args=["sh", "-c", "cat /tmp/inherited; echo --; cat /tmp/own"],
                         rootfs=private_rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-hookenv"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    inherited, own = p.stdout.split("--\n")
    assert {"ONE=two", "FOO=bar", "HOME=/root"} <= set(inherited.split())
    assert "ONLY=this" in own.split() and "ONE=two" not in own


def test_start_container_hook_killed_by_seccomp(runtime: Any, make_bundle: Any) -> None:
    """bats seccomp.bats "(startContainer hook)": the hook runs under the container's filter."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}
        c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        c["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/foo"]}]}

    p = runtime("run", "-b", str(make_bundle(edit=edit)), uniq("c-hooksys"), stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert "error running startContainer hook #0:" in p.stderr
    assert "signal: bad system call" in p.stderr, p.stderr
