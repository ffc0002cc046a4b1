"""The CLI surface: runc's global flags, --version, one-line errors, JSON log lines, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.cli.main import parse_global
from pyrunc.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


def pyrunc(*args: str, **kw: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pyrunc", *args], capture_output=True, text=True, env=env,
                          timeout=30, **kw)  # type: ignore[call-overload]


def test_parse_global_both_forms() -> None:
    opts, rest = parse_global(["--root", "/r", "--log=/l", "--log-format", "json", "--debug", "state", "x"])
    assert opts == {"root": "/r", "log": "/l", "log-format": "json", "debug": True}
    assert rest == ["state", "x"]
    opts, rest = parse_global(["--root=/r", "--systemd-cgroup", "--rootless=false", "--criu", "c", "kill", "x"])
    assert opts["root"] == "/r" and opts["systemd-cgroup"] is True and opts["rootless"] == "false"
    assert rest == ["kill", "x"]
    opts, rest = parse_global(["-root", "/r", "list"])
    assert opts["root"] == "/r" and rest == ["list"]


def test_parse_global_errors() -> None:
    with pytest.raises(UsageError, match="flag provided but not defined"):
        parse_global(["--nope", "state"])
    with pytest.raises(UsageError, match="needs an argument"):
        parse_global(["--root"])


def test_version() -> None:
    p = pyrunc("--version")
    lines = p.stdout.splitlines()
    assert p.returncode == 0
    assert lines[0].startswith("pyrunc version ")
    assert "spec: 1.3.0" in lines and lines[1] == "commit: none"  # runc: version, commit, spec


def test_help_lists_commands() -> None:
    p = pyrunc("--help")
    assert p.returncode == 0
    for cmd in ("create", "start", "run", "state", "kill", "delete", "list", "spec"):
        assert f"   {cmd} " in p.stdout


def test_unknown_command_one_line(tmp_path: Path) -> None:
    p = pyrunc("--root", str(tmp_path), "frobnicate")
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1
    assert "frobnicate" in p.stderr


def test_json_log_one_error_line(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    p = pyrunc("--root", str(tmp_path), "--log", str(log), "--log-format", "json", "state", "nope")
    assert p.returncode == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"
    assert entry["time"].endswith("Z")
    # runc's fatal(): the plain message on stderr too
    assert p.stderr.strip() == "container does not exist"


def test_log_file_created_even_on_success(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    p = pyrunc("--root", str(tmp_path), "--log", str(log), "--log-format", "json", "list", "-q")
    assert p.returncode == 0 and log.exists()


def test_log_file_that_cannot_be_opened(tmp_path: Path) -> None:
    """One line on stderr in runc's words, exit 1 (not an internal error)."""
    missing = tmp_path / "no-such-dir" / "log.json"
    p = pyrunc("--root", str(tmp_path), "--log", str(missing), "state", "nope")
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines()[-1].endswith(f'msg="open {missing}: no such file or directory"'), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_bad_log_format(tmp_path: Path) -> None:
    p = pyrunc("--log-format", "xml", "list")
    assert p.returncode == 1 and "invalid log-format" in p.stderr


def test_delete_force_unknown_is_success(tmp_path: Path) -> None:
    assert pyrunc("--root", str(tmp_path), "delete", "--force", "ghost").returncode == 0
    p = pyrunc("--root", str(tmp_path), "delete", "ghost")
    assert p.returncode == 1 and "does not exist" in p.stderr


def test_kill_unknown(tmp_path: Path) -> None:
    p = pyrunc("--root", str(tmp_path), "kill", "ghost", "9")
    assert p.returncode == 1 and "does not exist" in p.stderr


def test_list_empty_formats(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert pyrunc("--root", str(tmp_path / "empty"), "list", "--format", "json").stdout.strip() == "[]"
    assert pyrunc("--root", str(tmp_path / "empty"), "list", "-q").stdout == ""
    assert pyrunc("--root", str(tmp_path / "empty"), "list").stdout.startswith("ID")


def test_list_with_a_missing_root() -> None:
    """runc >= 1.2: an explicit --root that does not exist is an error (runc HEAD list.bats); the default root
    missing is not (nothing was created yet)."""
    p = pyrunc("--root", "/non-existent-dir", "list")
    assert p.returncode == 1 and p.stdout == ""
    assert "open /non-existent-dir: no such file or directory" in p.stderr
    from pyrunc.cli.commands import list as list_cmd
    from pyrunc.cli.context import Context
    from pyrunc.cli.main import parse_plain

    args = parse_plain([], **list_cmd.PLAIN)
    assert list_cmd.run(args, Context(root="/non-existent-dir")) == 0  # not explicit: the default root


@pytest.mark.parametrize("cmd", ["state", "kill", "list"])
def test_hot_commands_import_little(cmd: str, tmp_path: Path) -> None:
    """containerd runs these for every container: no validation, process set-up, logging or jsonschema."""
    code = (
        "import sys; from pyrunc.cli.main import main; "
        f"main(['--root', {str(tmp_path)!r}, {cmd!r}] + ([] if {cmd!r} == 'list' else ['x'])); "
        "bad = [m for m in sys.modules if m.startswith(('jsonschema', 'pyrunc.spec', 'pyrunc.process', "
        "'pyrunc.rootfs', 'pyrunc.security', 'logging', 'dataclasses', 'subprocess', 'ctypes'))]; "
        "bad = [m for m in bad if m not in ('pyrunc.process', 'pyrunc.process.signals')]; "
        "print('IMPORTED:' + ','.join(bad))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert p.stdout.strip().splitlines()[-1] == "IMPORTED:", (p.stdout, p.stderr)


def test_plain_parsing_falls_back_to_argparse_messages(tmp_path: Path) -> None:
    """Hot commands parse plain lines by hand; anything else still gets argparse's one-line usage errors."""
    p = pyrunc("--root", str(tmp_path), "kill", "x", "1", "2")
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and "unrecognized arguments" in p.stderr
    p = pyrunc("--root", str(tmp_path), "list", "--format", "xml")
    assert p.returncode != 0 and "invalid choice" in p.stderr
    p = pyrunc("--root", str(tmp_path), "state")
    assert p.returncode != 0 and "container-id" in p.stderr
    p = pyrunc("help", "kill")
    assert p.returncode == 0 and "--all" in p.stdout


def test_relative_and_unclean_root(tmp_path: Path) -> None:
    """--root is made absolute and clean (os.path.abspath), with or without the fast path."""
    (tmp_path / "r").mkdir()
    for root in ("r", "./r/", f"{tmp_path}//r/."):
        p = pyrunc("--root", root, "list", "--format", "json", cwd=tmp_path)
        assert p.returncode == 0 and p.stdout.strip() == "[]", (root, p.stderr)
    from pyrunc.cli.main import _abspath

    assert _abspath("/run/pyrunc") == "/run/pyrunc"
    assert _abspath("/") == "/"
    assert _abspath("/run//x/../y/") == "/run/y"
    assert _abspath("/a/.hidden") == "/a/.hidden"


def test_version_does_not_import_platform() -> None:
    p = pyrunc("--version")
    assert p.stdout.splitlines()[3] == f"python: {sys.version.split()[0]}"


def test_list_owner_names_come_from_etc_passwd_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runc reads /etc/passwd itself: the first entry with the uid names it; NSS (pwd) only for a uid the file
    does not have; else `#uid`."""
    from pyrunc.cli.commands import list as list_cmd

    passwd = tmp_path / "passwd"
    passwd.write_text("# a comment\n\nbroken\nfirst:x:1000:1000::/h:/bin/sh\nsecond:x:1000:1000::/h:/bin/sh\n"
                      "padded:x:0042:1::/:/bin/false\n  spaced:x:7:7::/:/bin/sh  \n:x:8:8::/:/bin/sh\n")
    assert list_cmd._passwd_name(1000, str(passwd)) == "first"
    assert list_cmd._passwd_name(42, str(passwd)) == "padded"
    assert list_cmd._passwd_name(7, str(passwd)) == "spaced"
    assert list_cmd._passwd_name(8, str(passwd)) is None  # no name: not an entry
    assert list_cmd._passwd_name(9, str(passwd)) is None
    assert list_cmd._passwd_name(0, str(tmp_path / "missing")) is None
    monkeypatch.setattr(list_cmd, "_passwd_name", lambda uid: None)
    import pwd

    assert list_cmd._owner(0, {}) == pwd.getpwuid(0).pw_name
    assert list_cmd._owner(2**31 - 7, {}) == f"#{2**31 - 7}"
