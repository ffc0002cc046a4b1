"""pyrunc started with stdin, stdout or stderr closed (a daemon's child, `cmd >&-`): commands work, nothing the runtime
opens takes the closed fd's place, and the container finds the same fds closed (as with runc)."""

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.root


def _pyrunc(runtime: Any, closed: tuple[int, ...], *args: str, out: Path | None = None) -> int:
    """Run a pyrunc command line with the fds `closed` closed; stdout (if open) to `out`."""
    def close_them() -> None:
        for fd in closed:
            os.close(fd)

    with open(out or os.devnull, "w") as f:
        p = subprocess.run([*runtime.cmd, "--root", str(runtime.root), *args], stdin=subprocess.DEVNULL, stdout=f,
                           stderr=subprocess.DEVNULL, preexec_fn=close_them, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    return p.returncode


@pytest.mark.parametrize("closed", [(0,), (1,), (2,), (0, 1, 2)], ids=["stdin", "stdout", "stderr", "all"])
def test_run_with_closed_stdio(closed: tuple[int, ...], runtime: Any, make_bundle: Any, tmp_path: Path,
                               cid: str) -> None:
    marker = tmp_path / "fds"
    mount = {"destination": "/out", "type": "bind", "source": str(tmp_path), "options": ["rbind", "rw"]}

    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append(mount)
        # Which of fds 0-2 the container's process holds (written through fd 9: a redirect of 1 would hide it).
        c["process"]["args"] = ["sh", "-c", "exec 9>/out/fds; for f in 0 1 2; do [ -e /proc/$$/fd/$f ] && echo $f >&9; "
                                "done; true"]

    bundle = make_bundle(edit)
    runtime.ids.add(cid)
    assert _pyrunc(runtime, closed, "run", "--bundle", str(bundle), cid) == 0
    held = set(marker.read_text().split())
    assert {fd for fd in ("0", "1", "2") if fd in held} == {str(fd) for fd in (0, 1, 2) if fd not in closed}, held
    assert not (runtime.root / cid).exists()


def test_state_and_list_with_stdout_closed(runtime: Any, make_bundle: Any, cid: str) -> None:
    bundle = make_bundle(lambda c: c["process"].update(args=["sleep", "60"]))
    runtime.create(bundle, cid)
    assert _pyrunc(runtime, (1,), "state", cid) == 0
    assert _pyrunc(runtime, (1,), "list") == 0
    assert _pyrunc(runtime, (1, 2), "kill", cid, "KILL") == 0
    assert _pyrunc(runtime, (1, 2), "delete", "--force", cid) == 0
    assert not (runtime.root / cid).exists()
