"""The state root's filesystem is full (ENOSPC): every command says so in one line, and what it reports is what
happened. `create` leaves nothing; `start` and `resume`, which have already acted when their save fails, succeed
with a warning (the status is computed live); `pause` and `update` fail and leave the container as it was."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from security.hostprobe import cgroup_dirs, remove_cgroups
from security.runtimes import Runtime, uniq

from .test_sigkill import assert_clean

pytestmark = pytest.mark.root


class TinyFs:
    """A 64 KiB tmpfs holding the state root, and a filler file to make it full."""

    def __init__(self, where: Path) -> None:
        self.dir = where
        self.filler = where / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass  # ENOSPC: full
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def tiny() -> Iterator[TinyFs]:
    # Not under the test's `world`: assert_clean looks for mounts left there by the runtime.
    where = Path(tempfile.mkdtemp(prefix="pyrunc-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(where)], check=True)
    try:
        yield TinyFs(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


@pytest.fixture
def full_root(tiny: TinyFs) -> Iterator[Runtime]:
    import sys

    rt = Runtime("pyrunc", [sys.executable, "-m", "pyrunc"], tiny.dir / "state")
    yield rt
    tiny.free()
    rt.cleanup()


def one_line(p: subprocess.CompletedProcess) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def cgroup_file(cid: str, controller: str, name: str) -> str:
    (d,) = [d for d in cgroup_dirs(cid) if f"/{controller}/" in d]
    return Path(d, name).read_text().strip()


def test_create_on_a_full_disk_fails_and_leaves_nothing(full_root: Runtime, tiny: TinyFs, sleeper: Path,
                                                       world: Path) -> None:
    tiny.fill()
    cid = uniq("full")
    p = full_root.create(sleeper, cid)
    assert p.returncode == 1
    assert "no space left on device" in one_line(p).lower()
    assert_clean(full_root, cid, world)


def test_start_that_cannot_save_still_starts(full_root: Runtime, tiny: TinyFs, sleeper: Path) -> None:
    cid = uniq("full")
    assert full_root.create(sleeper, cid).returncode == 0
    try:
        tiny.fill()
        p = full_root.start(cid)
        assert p.returncode == 0, p.stderr  # the container runs: failing would tell the client it did not
        assert "could not be saved" in one_line(p)
        assert full_root.state(cid)["status"] == "running"  # type: ignore[index]
    finally:
        tiny.free()
        full_root.delete(cid)
        remove_cgroups(cid)


def test_pause_update_resume_on_a_full_disk(full_root: Runtime, tiny: TinyFs, sleeper: Path) -> None:
    cid = uniq("full")
    assert full_root.run(sleeper, cid, "-d").returncode == 0
    try:
        tiny.fill()
        # pause: not remembered, so not done either (else `resume` would refuse a frozen container).
        p = full_root("pause", cid)
        assert p.returncode == 1
        one_line(p)
        assert full_root.state(cid)["status"] == "running"  # type: ignore[index]
        assert cgroup_file(cid, "freezer", "freezer.state") == "THAWED"
        # update: the new limit is neither remembered nor applied.
        before = cgroup_file(cid, "pids", "pids.max")
        p = full_root("update", "--pids-limit", "42", cid)
        assert p.returncode == 1
        one_line(p)
        assert cgroup_file(cid, "pids", "pids.max") == before
        # resume: thawed before the save fails, so it reports success.
        tiny.free()
        assert full_root("pause", cid).returncode == 0
        tiny.fill()
        p = full_root("resume", cid)
        assert p.returncode == 0, p.stderr
        assert "could not be saved" in one_line(p)
        assert cgroup_file(cid, "freezer", "freezer.state") == "THAWED"
        assert full_root.state(cid)["status"] == "running"  # type: ignore[index]
    finally:
        tiny.free()
        full_root.delete(cid)
        remove_cgroups(cid)
