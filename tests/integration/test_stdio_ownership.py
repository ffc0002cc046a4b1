"""stdio of a non-root container process is its own (runc's fixStdioPermissions): the pipes and files the caller
hands over, and the console pty, are chowned to `process.user.uid` before the uid changes, so the process can
reopen /proc/self/fd/N and own its terminal. Never /dev/null, never a group change (the pty keeps devpts' gid=5)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

REOPEN = "echo via-proc > /proc/self/fd/1; echo err-via-proc > /dev/stderr"


def as_user(c: dict[str, Any]) -> None:
    c["process"]["user"] = {"uid": 1000, "gid": 100}


def test_run_pipes_are_reopenable_by_a_non_root_process(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(edit=as_user, args=["sh", "-c", REOPEN])
    p = runtime("run", "-b", str(bundle), uniq("c-stdio-pipe"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "via-proc\n"
    assert p.stderr == "err-via-proc\n"


def test_run_tty_is_owned_by_the_process_uid_with_the_tty_group(runtime: Any, make_bundle: Any) -> None:
    """bats tty.bats "runc run [tty owner] ({u,g}id != 0)": owner 1000, group 5 (devpts gid=5), not 100."""
    def edit(c: dict[str, Any]) -> None:
        as_user(c)
        c["process"]["terminal"] = True

    bundle = make_bundle(edit=edit, args=["sh", "-c", "stat -c %u:%g $(tty)"])
    p = runtime("run", "-b", str(bundle), uniq("c-stdio-tty"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1000:5"


def test_exec_pipes_and_tty_are_the_users(runtime: Any, make_bundle: Any) -> None:
    """bats tty.bats "runc exec [tty owner] ({u,g}id != 0)" and the same for exec's pipes."""
    bundle = make_bundle(args=["sleep", "1000"])
    cid = uniq("c-stdio-exec")
    runtime.create(bundle, cid)
    runtime("start", cid, check=True)
    p = runtime("exec", "--user", "1000:100", cid, "sh", "-c", REOPEN, stdin=subprocess.DEVNULL)
    assert (p.returncode, p.stdout, p.stderr) == (0, "via-proc\n", "err-via-proc\n")
    p = runtime("exec", "-t", "--user", "1000:100", cid, "sh", "-c", "stat -c %u:%g $(tty)",
                stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1000:5"


def test_dev_null_and_files_of_the_right_owner_are_left_alone(runtime: Any, make_bundle: Any,
                                                              tmp_path: Path) -> None:
    """/dev/null is never chowned; a regular file the caller passes is given to the uid (as runc does)."""
    out = tmp_path / "out.txt"
    bundle = make_bundle(edit=as_user, args=["sh", "-c", "echo to-file > /proc/self/fd/1"])
    with open(out, "w") as f:
        p = runtime("run", "-b", str(bundle), uniq("c-stdio-file"), stdin=subprocess.DEVNULL, stdout=f,
                    capture_output=False, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "to-file\n"
    assert (os.stat(out).st_uid, os.stat(out).st_gid) == (1000, 0)
    assert os.stat("/dev/null").st_uid == 0


def test_a_host_terminal_passed_as_stdio_stays_the_hosts(runtime: Any, make_bundle: Any) -> None:
    """Unlike runc, a terminal of the host (not the container's own console pty) is not given to the container's
    uid: that would let a host user with the same uid read and write the caller's terminal."""
    master, slave = os.openpty()
    try:
        before = os.fstat(slave)
        bundle = make_bundle(edit=as_user, args=["sh", "-c", "echo on-host-tty"])
        p = runtime("run", "-b", str(bundle), uniq("c-stdio-hosttty"), stdin=slave, stdout=slave,
                    capture_output=False, stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr
        after = os.fstat(slave)
        assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
        assert b"on-host-tty" in os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
