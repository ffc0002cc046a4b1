"""`<command> -h` in runc's layout (bats help.bats reads `NAME:` and `runc <command>` on the first two lines),
for every command runc has, checkpoint and restore included (declared, refused: no CRIU support)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNC_COMMANDS = ("checkpoint", "create", "delete", "events", "exec", "kill", "list", "pause", "ps", "restore",
                 "resume", "run", "spec", "start", "state", "update", "features")


@pytest.mark.parametrize("cmd", RUNC_COMMANDS)
def test_command_help_has_runcs_name_section(cmd: str) -> None:
    """The name is fixed, as runc's is ("runc create" whatever the binary is called)."""
    for flag in ("-h", "--help"):
        p = subprocess.run([sys.executable, "-m", "pyrunc", cmd, flag], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=30)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0] == "NAME:"
        assert lines[1].startswith(f"   pyrunc {cmd} - ")


@pytest.mark.parametrize("cmd", ["checkpoint", "restore"])
def test_checkpoint_and_restore_are_refused_in_one_line(tmp_path: Path, cmd: str) -> None:
    p = subprocess.run([sys.executable, "-m", "pyrunc", "--root", str(tmp_path), cmd, "--image-path", "/x", "ctr"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=30)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert f"{cmd} failed: checkpoint/restore is not supported by pyrunc" in p.stderr
