"""Concurrent verbs on one container id, a container that dies before `start`, a full state root."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from security.hostprobe import cgroup_dirs, processes, wait_until
from security.runtimes import Runtime, uniq

from .test_sigkill import assert_clean

pytestmark = pytest.mark.root


def spawn_all(rt: Runtime, argvs: list[list[str]], timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """Start every command at once (stdout/stderr to files: a created container keeps them), wait for all."""
    procs = []
    for argv in argvs:
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        full = [*rt.cmd, "--root", str(rt.root), *argv]
        procs.append((full, subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                                             env=rt.env, cwd="/"), out, err))
    results = []
    for full, p, out, err in procs:
        rc = p.wait(timeout=timeout)
        out.seek(0)
        err.seek(0)
        results.append(subprocess.CompletedProcess(full, rc, out.read(), err.read()))
        out.close()
        err.close()
    return results


def no_crash(results: list[subprocess.CompletedProcess]) -> None:
    for r in results:
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (r.args, r.stderr)
        assert r.returncode in (0, 1), (r.args, r.returncode, r.stderr)


def test_20_concurrent_creates_of_one_id_yield_one_container(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    cid = uniq("race")
    results = spawn_all(pyrunc, [["create", "-b", str(sleeper), cid] for _ in range(20)])
    no_crash(results)
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for r in results:
        if r.returncode != 0:
            assert "exists" in r.stderr, r.stderr
    # The losers must not have touched the winner: its cgroup, state and init are intact, and it starts.
    assert cgroup_dirs(cid), "the winner's cgroup was removed by a loser"
    assert pyrunc.state(cid)["status"] == "created"  # type: ignore[index]
    assert pyrunc.start(cid).returncode == 0
    assert pyrunc.state(cid)["status"] == "running"  # type: ignore[index]
    assert pyrunc.delete(cid).returncode == 0
    assert_clean(pyrunc, cid, world)


def test_concurrent_state_kill_delete_never_corrupt_state(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    cid = uniq("busy")
    assert pyrunc.run(sleeper, cid, "-d").returncode == 0
    # First a storm without delete: the container must come out of it intact.
    storm = [["state", cid]] * 10 + [["kill", cid, "CONT"]] * 8 + [["list", "--format", "json"]] * 2
    results = spawn_all(pyrunc, storm)
    no_crash(results)
    for r in results:
        if r.args[-2:] == ["state", cid] or "state" in r.args:
            if r.returncode == 0 and "list" not in r.args:
                assert json.loads(r.stdout)["status"] == "running", r.stdout
        if "list" in r.args:
            assert any(c["id"] == cid for c in json.loads(r.stdout)), r.stdout
    st = json.loads((pyrunc.root / cid / "state.json").read_text())
    assert st["id"] == cid and st["pid"] > 0
    assert pyrunc.state(cid)["status"] == "running"  # type: ignore[index]
    # Then with deletes among them: exactly the allowed outcomes, and nothing left at the end.
    storm = ([["state", cid]] * 8 + [["kill", cid, "KILL"]] * 4 + [["delete", "--force", cid]] * 3
             + [["delete", cid]] * 2 + [["kill", "--all", cid, "TERM"]] * 2 + [["list"]])
    results = spawn_all(pyrunc, storm)
    no_crash(results)
    for r in results:
        if "state" in r.args and r.returncode == 0:
            assert json.loads(r.stdout)["status"] in ("running", "stopped"), r.stdout
        elif r.returncode != 0:
            assert any(s in r.stderr for s in ("does not exist", "not running", "not stopped", "stopped")), (
                r.args, r.stderr)
    assert any(r.returncode == 0 for r in results if "--force" in r.args)
    assert pyrunc.state(cid) is None
    assert_clean(pyrunc, cid, world)


def test_process_dying_before_start_is_reported_stopped(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    cid = uniq("early")
    assert pyrunc.create(sleeper, cid).returncode == 0
    pid = pyrunc.state(cid)["pid"]  # type: ignore[index]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: (pyrunc.state(cid) or {}).get("status") == "stopped", timeout=10), pyrunc.state(cid)
    listed = json.loads(pyrunc("list", "--format", "json").stdout)
    assert [c["status"] for c in listed if c["id"] == cid] == ["stopped"]
    s = pyrunc.start(cid)
    assert s.returncode == 1 and "stopped" in s.stderr, s.stderr
    d = pyrunc.delete(cid, force=False)
    assert d.returncode == 0, d.stderr
    assert_clean(pyrunc, cid, world)


# --------------------------------------------------------------------------------------------- a full state root
@pytest.fixture
def tiny_root(world: Path) -> Iterator[Path]:
    """A tmpfs for --root with room for a few directories and nothing else once filled."""
    mnt = world / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=64", "tmpfs", str(mnt)], check=True,
                   timeout=30)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], timeout=30)


def fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def full_root_case(tiny_root: Path, sleeper: Path, inodes: bool) -> tuple[Runtime, str, subprocess.CompletedProcess]:
    import sys

    rt = Runtime("pyrunc", [sys.executable, "-m", "pyrunc"], tiny_root / "root")
    (tiny_root / "root").mkdir()
    if inodes:
        i = 0
        while True:
            try:
                (tiny_root / f"i{i}").mkdir()
            except OSError:
                break
            i += 1
    else:
        fill(tiny_root / "fill")
    cid = uniq("full")
    return rt, cid, rt.create(sleeper, cid)


@pytest.mark.parametrize("inodes", [False, True], ids=["no-space", "no-inodes"])
def test_full_state_root_leaves_nothing_behind(tiny_root: Path, sleeper: Path, world: Path, inodes: bool) -> None:
    rt, cid, p = full_root_case(tiny_root, sleeper, inodes)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert not (rt.root / cid).exists()
    assert not cgroup_dirs(cid) and not processes(cid)
    assert rt.delete(cid).returncode == 0


@pytest.mark.parametrize("inodes", [
    False,
    True], ids=["no-space", "no-inodes"])
def test_full_state_root_fails_with_one_clear_line(tiny_root: Path, sleeper: Path, inodes: bool) -> None:
    _rt, _cid, p = full_root_case(tiny_root, sleeper, inodes)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 1 and len(lines) == 1, p.stderr
    assert "internal error" not in p.stderr, p.stderr
    assert "space" in p.stderr or "inode" in p.stderr or "No space" in p.stderr, p.stderr
