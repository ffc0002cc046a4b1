"""`--debug`: debug lines from the parent and from the child stages (forwarded over the sync socket) go to stderr,
or to --log in text or JSON, as runc's logrus lines do; runc's bats (debug.bats, exec.bats) look for a few phrases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

RUN_PHRASES = ("nsexec container setup", "child process in init()", "init: closing the pipe to signal completion")


def test_debug_to_stderr(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["echo", "Hello World"])
    p = runtime("--debug", "run", "-b", str(bundle), uniq("c-debug"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Hello World\n"
    lines = p.stderr.splitlines()
    assert lines and all(line.startswith('time="') and " level=debug msg=" in line for line in lines), p.stderr
    for phrase in RUN_PHRASES:
        assert phrase in p.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_debug_to_log_file(runtime: Any, make_bundle: Any, tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "log.out"
    bundle = make_bundle(args=["echo", "Hello World"])
    p = runtime("--log", str(log), "--log-format", fmt, "--debug", "run", "-b", str(bundle), uniq(f"c-dlog-{fmt}"),
                stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "level=debug" not in p.stderr and "debug" not in p.stderr
    text = log.read_text()
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines()]
        assert records and {r["level"] for r in records} == {"debug"}
        msgs = " ".join(r["msg"] for r in records)
    else:
        assert all(" level=debug msg=" in line for line in text.splitlines())
        msgs = text
    for phrase in RUN_PHRASES:
        assert phrase in msgs


def test_debug_exec(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    bundle = make_bundle(args=["sleep", "1000"])
    cid = uniq("c-debug-exec")
    runtime.create(bundle, cid)
    runtime("start", cid, check=True)
    p = runtime("--debug", "exec", cid, "true", stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    for phrase in ("nsexec container setup", "child process in init()", "setns_init: about to exec"):
        assert phrase in p.stderr
    log = tmp_path / "exec.log"
    p = runtime("--debug", "--log", str(log), "exec", cid, "true", stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "level=debug" not in p.stderr, p.stderr
    assert "setns_init: about to exec" in log.read_text()


def test_no_debug_lines_without_debug(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["echo", "quiet"])
    p = runtime("run", "-b", str(bundle), uniq("c-nodebug"), stdin=subprocess.DEVNULL)
    assert (p.returncode, p.stdout, p.stderr) == (0, "quiet\n", "")
