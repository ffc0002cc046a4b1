"""The create/run/start/exec command lines pyrunc.cli.main.parse_plain parses without argparse give exactly what
their argparse parsers give (and anything parse_plain does not understand is left to argparse)."""

from __future__ import annotations

import pytest

from pyrunc.cli import main as cli_main
from pyrunc.cli.commands import create as create_cmd
from pyrunc.cli.commands import exec as exec_cmd
from pyrunc.cli.commands import run as run_cmd
from pyrunc.cli.commands import start as start_cmd
from tests.unit.cli_oracle import check_plain_agrees

CREATE = [["x"], ["-b", "/b", "x"], ["--bundle=/b", "x"], ["x", "--bundle", "/b"], ["--pid-file", "/p", "-b",
          "/b", "--console-socket", "/s", "x"], ["--preserve-fds", "2", "x"], ["--preserve-fds", "two", "x"],
          ["--preserve-fds", "-1", "x"], ["--bundle", "-x", "x"], ["--bundle=-x", "x"], ["--no-pivot", "x"],
          ["--no-pivot=1", "x"], ["-b"], ["x", "y"], ["--bundle", "/b"], ["-bx", "y"], ["--help"],
          ["--no-new-keyring", "--pidfd-socket", "/s", "x"], ["--detach", "x"]]
RUN = [*CREATE, ["-d", "x"], ["--detach", "--keep", "x"], ["-no-subreaper", "x"], ["--no-subreaper", "-b", "/b", "x"],
                ["x", "-d"], ["--keep=true", "x"]]
START = [["x"], [], ["x", "y"], ["-x"], ["--help"], ["--", "x"]]
EXEC = [["x", "true"], ["x"], ["x", "sh", "-c", "echo hi"], ["-t", "x", "sh"], ["--tty", "--cwd", "/tmp", "x", "ls"],
        ["--process", "/p.json", "--detach", "--pid-file", "/pid", "x"], ["-p", "/p", "-d", "x"],
        ["-e", "A=1", "-e", "B=2", "x", "env"], ["--env=A=1", "x", "env"], ["-u", "1000:1000", "x", "id"],
        ["--user", "0", "-g", "10", "-g", "20", "x", "id"], ["--additional-gids", "ten", "x", "id"],
        ["--cap", "CAP_KILL", "-c", "CAP_CHOWN", "x", "sh"], ["--cgroup", "a:/b", "--cgroup", "/c", "x", "sh"],
        ["--preserve-fds", "3", "x", "sh"], ["--no-new-privs", "--ignore-paused", "x", "sh"], ["x", "--", "sh"],
        ["--", "x", "sh"], ["-x", "x"], ["--help"], ["-e"], ["--console-socket", "/s", "--pidfd-socket", "/f", "x",
        "sh", "-t"], ["--apparmor", "p", "--process-label", "l", "x", "sh"], ["-td", "x", "sh"], []]




CASES = [(m, a) for m, lines in ((create_cmd, CREATE), (run_cmd, RUN), (start_cmd, START), (exec_cmd, EXEC))
         for a in lines]


@pytest.mark.parametrize(("module", "argv"), CASES,
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v.__name__.rsplit(".", 1)[-1])
def test_plain_agrees_with_argparse(module: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    check_plain_agrees(module, argv)
    capsys.readouterr()  # argparse's --help output


@pytest.mark.parametrize(("module", "argv"), [
    (create_cmd, ["--bundle", "/b", "--pid-file", "/p", "--console-socket", "/s", "x"]),  # containerd's create
    (run_cmd, ["--bundle", "/b", "--pid-file", "/p", "-d", "x"]),
    (start_cmd, ["x"]),
    (exec_cmd, ["--process", "/p.json", "--detach", "--pid-file", "/pid", "x"]),  # containerd's exec
    (exec_cmd, ["-t", "x", "sh", "-c", "echo"]),
    (exec_cmd, ["--user", "1000", "-e", "A=1", "--cwd", "/", "x", "ls", "-l"]),
])
def test_client_lines_need_no_argparse(module: object, argv: list[str]) -> None:
    assert cli_main.parse_plain(argv, **module.PLAIN) is not None  # type: ignore[attr-defined]
