"""State store: atomic save/load, exclusive reserve, live status (pid + start time), id validation."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.errors import ContainerExists, ContainerNotExist, UsageError
from pyrunc.paths import validate_id
from pyrunc.runtime import state


def test_reserve_save_load_roundtrip(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    state.reserve(root, "c1")
    st = state.State(id="c1", bundle="/b", rootfs="/b/rootfs", annotations={"a": "b"})
    state.save(root, st)
    again = state.load(root, "c1")
    assert again.to_dict() == st.to_dict()
    assert oct(os.stat(root).st_mode & 0o777) == "0o700"
    assert oct(os.stat(Path(root) / "c1" / "state.json").st_mode & 0o777) == "0o600"
    assert not [p for p in os.listdir(Path(root) / "c1") if p.endswith(".tmp")]


def test_reserve_twice_fails(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "x")
    with pytest.raises(ContainerExists, match="container with id exists: x"):
        state.reserve(root, "x")


def _try_reserve(args: tuple[str, str]) -> bool:
    try:
        state.reserve(*args)
        return True
    except ContainerExists:
        return False


def test_concurrent_reserve_exactly_one_wins(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.map(_try_reserve, [(str(tmp_path), "same")] * 20)
    assert results.count(True) == 1


def test_load_missing_is_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ContainerNotExist, match="does not exist"):
        state.load(str(tmp_path), "nope")


def test_status_follows_pid_and_start_time(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "c")
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        st = state.State(id="c", bundle="/b", pid=p.pid, pid_start=state.pid_start_time(p.pid), status_hint="created")
        assert state.status(root, st) == state.RUNNING  # no exec.fifo
        os.mkfifo(state.fifo_path(root, "c"))
        assert state.status(root, st) == state.CREATED
        os.unlink(state.fifo_path(root, "c"))
        # A different start time means the pid was reused: the container is stopped, never "running".
        st.pid_start += 1
        assert state.status(root, st) == state.STOPPED
        st.pid_start -= 1
        p.kill()
        p.wait()
        assert state.status(root, st) == state.STOPPED
    finally:
        p.kill()
        p.wait()


def test_zombie_is_stopped(tmp_path: Path) -> None:
    p = subprocess.Popen(["true"])
    # wait until it exits but do not reap it
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    st = state.State(id="z", bundle="/b", pid=p.pid, pid_start=state.pid_start_time(p.pid), status_hint="running")
    assert state.status(str(tmp_path), st) == state.STOPPED
    p.wait()


def test_oci_shape() -> None:
    st = state.State(id="c", bundle="/b", rootfs="/r", pid=42, owner="")
    out = st.oci("running")
    assert list(out) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    assert st.oci("stopped")["pid"] == 0
    st.annotations = {"k": "v"}
    assert list(st.oci("running"))[-2:] == ["annotations", "owner"]
    json.dumps(out)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", "a b", "x" * 256, "é", "a\x00b"])
def test_bad_ids(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_id(bad)


@pytest.mark.parametrize("good", ["a", "abc-123", "A_b.c+d", "x" * 255])
def test_good_ids(good: str) -> None:
    assert validate_id(good) == good
