"""`run` with `process.terminal: true` and no console socket: pyrunc wires the container's pty to its own terminal.

Driven through a real pty (Python's `pty.fork`), typing into a busybox shell in the container, as a person would.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, base_config

pytestmark = pytest.mark.root


def _read_until(fd: int, needle: bytes, timeout: float = 20.0, buf: bytes = b"") -> bytes:
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {buf[-500:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_interactive_shell_through_a_real_pty(busybox_rootfs: Path, tmp_path: Path, cid: str) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    cfg: dict[str, Any] = base_config(str(busybox_rootfs), ["/bin/sh"])
    cfg["process"]["terminal"] = True
    cfg["process"]["consoleSize"] = {"height": 30, "width": 100}
    (bundle / "config.json").write_text(json.dumps(cfg))
    root = tmp_path / "root"
    argv = [sys.executable, "-m", "pyrunc", "--root", str(root), "run", "-b", str(bundle), cid]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.environ["PYTHONPATH"] = str(REPO)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    try:
        os.write(fd, b"echo hello-$((40+2)); tty\n")
        out = _read_until(fd, b"hello-42")
        out = _read_until(fd, b"/dev/pts/", buf=out)
        out = _read_until(fd, b"\n", buf=out[out.index(b"/dev/pts/"):])
        # As runc's: our relay clears ONLCR on the container's pty and keeps output processing on our terminal
        # in raw mode, so each "\n" reaches the screen as "\r\n" exactly once (no staircase, no "\r\r\n").
        line = out.split(b"\n", 1)[0]  # the tty's answer; the prompt may follow in the same read
        assert line.endswith(b"\r") and b"\r\r" not in out, out
        os.write(fd, b"exit 7\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7
        assert not (root / cid).exists(), "run must delete the container after it exits"
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
        # After a failure above, `run` was killed: what it had made (state, cgroup, the init) must not outlive
        # the test.
        subprocess.run([sys.executable, "-m", "pyrunc", "--root", str(root), "delete", "--force", cid],
                       env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, timeout=60)
