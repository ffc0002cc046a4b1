"""The runtime itself short of file descriptors (a caller with a low RLIMIT_NOFILE): wherever the set-up runs out,
`create` fails in one line that says so (never "internal error") and leaves nothing behind."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import pytest
from security.runtimes import Runtime, uniq

from .test_sigkill import assert_clean

pytestmark = pytest.mark.root


@pytest.mark.parametrize("nofile", range(6, 15))
def test_create_short_of_fds_fails_cleanly(pyrunc: Runtime, sleeper: Path, world: Path, nofile: int) -> None:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    cid = uniq("nofile")
    p = pyrunc.create(sleeper, cid, preexec_fn=limit)
    if p.returncode == 0:  # enough for this config on this host: then it must work as usual
        assert pyrunc.state(cid)["status"] == "created"  # type: ignore[index]
        pyrunc.delete(cid)
    else:
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1, p.stderr
        assert "internal error" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert_clean(pyrunc, cid, world)


def test_exec_short_of_fds_reports_in_one_line(pyrunc: Runtime, sleeper: Path) -> None:
    """Down to no fd at all to load a module with: even the error line is written without `_json`."""
    cid = uniq("nofile")
    assert pyrunc.run(sleeper, cid, "-d").returncode == 0
    # Without `site` (as the launcher runs it): with a few fds, its .pth processing fails before pyrunc runs.
    bare = Runtime("pyrunc", [sys.executable, "-S", "-m", "pyrunc"], pyrunc.root)
    try:
        for nofile in range(4, 12):
            for fmt in ("text", "json"):
                p = bare("--log-format", fmt, "exec", cid, "true",
                           preexec_fn=lambda n=nofile: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)))
                if p.returncode == 0:
                    continue
                lines = p.stderr.strip().splitlines()
                assert len(lines) == 1, (nofile, p.stderr)
                assert "internal error" not in p.stderr and "Traceback" not in p.stderr, (nofile, p.stderr)
        assert pyrunc.state(cid)["status"] == "running"  # type: ignore[index]
    finally:
        pyrunc.delete(cid)


def _pids_dir() -> Path | None:
    """Where a cgroup with a pids limit can be made: the v1 pids hierarchy, or cgroup2 with pids enabled."""
    v1 = Path("/sys/fs/cgroup/pids")
    if (v1 / "cgroup.procs").exists():
        return v1
    v2 = Path("/sys/fs/cgroup")
    if "pids" in (v2 / "cgroup.subtree_control").read_text() if (v2 / "cgroup.subtree_control").exists() else "":
        return v2
    return None


def test_create_that_cannot_fork_fails_cleanly(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    """The caller's cgroup allows no more processes: `create` cannot fork the init and says so in one line."""
    top = _pids_dir()
    if top is None:
        pytest.skip("no pids controller to limit the runtime with")
    jail = top / uniq("pids-jail")
    jail.mkdir()
    try:
        (jail / "pids.max").write_text("1")

        def enter() -> None:
            (jail / "cgroup.procs").write_text("0")

        cid = uniq("nofork")
        p = pyrunc.create(sleeper, cid, preexec_fn=enter)
        assert p.returncode == 1, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "fork" in lines[0] and "internal error" not in lines[0], p.stderr
        assert_clean(pyrunc, cid, world)
    finally:
        for d in sorted(jail.glob("**/"), key=lambda d: len(str(d)), reverse=True):
            d.rmdir()
