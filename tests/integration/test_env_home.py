"""HOME and the process environment as runc prepares them (bats env.bats): each variable once with its last value;
HOME unset or empty comes from the container's /etc/passwd entry of the process's uid, "/" without one; the passwd
file is read before the uid changes. Not runtime-spec, but images rely on it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"


def run_env(runtime: Any, make_bundle: Any, env: list[str], user: dict[str, int] | None = None,
            rootfs: Path | None = None) -> list[str]:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["env"] = env
        if user:
            c["process"]["user"] = user

    bundle = make_bundle(edit=edit, args=["env"], rootfs=rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-home"), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


@pytest.mark.parametrize(("env", "home"), [
    ([PATH, "HOME=/override"], "/override"),
    ([PATH, "HOME="], "/root"),
    ([PATH, "HOME=/override", "HOME="], "/root"),
    ([PATH], "/root"),
])
def test_home(runtime: Any, make_bundle: Any, env: list[str], home: str) -> None:
    out = run_env(runtime, make_bundle, env)
    assert [e for e in out if e.startswith("HOME=")] == [f"HOME={home}"]


def test_each_variable_once_with_its_last_value(runtime: Any, make_bundle: Any) -> None:
    out = run_env(runtime, make_bundle, ["ONE=two", "ONE=", PATH, "TWO=a", "TWO=b"])
    assert sorted(out) == sorted(["ONE=", PATH, "TWO=b", "HOME=/root"])


def test_home_of_a_user_with_and_without_a_passwd_entry(runtime: Any, make_bundle: Any,
                                                        private_rootfs: Path) -> None:
    # Read as root, before the uid change: the user cannot read this passwd file.
    (private_rootfs / "etc" / "passwd").chmod(0o600)
    assert "HOME=/home/user" in run_env(runtime, make_bundle, [PATH], {"uid": 1000, "gid": 1000}, private_rootfs)
    assert "HOME=/" in run_env(runtime, make_bundle, [PATH], {"uid": 4242, "gid": 4242}, private_rootfs)


def test_exec_process_json_without_env_gets_home(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    """bats env.bats "env HOME is set for runc exec -p with no process.env"."""
    cid = uniq("c-home-exec")
    runtime.create(make_bundle(args=["sleep", "1000"]), cid)
    runtime("start", cid, check=True)
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps({"args": ["/usr/bin/env"], "cwd": "/"}))
    p = runtime("exec", "-p", str(pfile), cid, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["HOME=/root"]
