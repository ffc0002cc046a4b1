"""`pyrunc spec` (runc's example config) and `pyrunc validate` (every problem, one per line)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from pyrunc.cli.commands import spec as spec_cmd
from pyrunc.cli.commands import validate as validate_cmd
from pyrunc.cli.context import Context
from pyrunc.errors import PyruncError
from pyrunc.spec import schema
from pyrunc.spec.default import example_spec, to_rootless
from pyrunc.spec.load import load_spec

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def run_cmd(module: Any, argv: list[str], tmp_path: Any) -> int:
    p = argparse.ArgumentParser()
    module.add_arguments(p)
    return module.run(p.parse_args(argv), Context(root=str(tmp_path / "state")))


def pyrunc(*argv: str, cwd: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "pyrunc", *argv], cwd=cwd, env=env, capture_output=True, text=True)


# --------------------------------------------------------------------------------------------- spec


def test_example_matches_runc() -> None:
    spec = example_spec(cgroup2=False)
    assert list(spec) == ["ociVersion", "process", "root", "hostname", "mounts", "linux"]
    assert spec["ociVersion"] == "1.3.0"
    proc = spec["process"]
    assert proc["args"] == ["sh"] and proc["terminal"] is True and proc["cwd"] == "/"
    assert proc["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    # CVE-2022-29162: no inheritable (and no ambient) capabilities in the example.
    assert proc["capabilities"] == {"bounding": caps, "effective": caps, "permitted": caps}
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
    ]  # fmt: skip
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert [n["type"] for n in example_spec(cgroup2=True)["linux"]["namespaces"]][-1] == "cgroup"
    assert schema.validate(spec) == []


def test_rootless_matches_runc() -> None:
    spec = to_rootless(example_spec(cgroup2=False), uid=1000, gid=100)
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount", "user"]
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 100, "size": 1}]
    assert "resources" not in spec["linux"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}  # fmt: skip
    pts = next(m for m in spec["mounts"] if m["destination"] == "/dev/pts")
    assert "gid=5" not in pts["options"]
    assert schema.validate(spec) == []


def test_spec_writes_config_json(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cmd(spec_cmd, [], tmp_path) == 0
    text = (tmp_path / "config.json").read_text()
    assert text.startswith('{\n  "ociVersion": "1.3.0",\n  "process": {\n    "terminal": true,')
    assert json.loads(text) == example_spec()
    (tmp_path / "rootfs").mkdir()
    load_spec(str(tmp_path), console_socket="/run/console.sock")  # what spec writes is a valid config


def test_spec_refuses_to_overwrite(tmp_path: Any) -> None:
    (tmp_path / "config.json").write_text("mine")
    with pytest.raises(PyruncError, match=r"^File config\.json exists\. Remove it first$"):
        run_cmd(spec_cmd, ["-b", str(tmp_path)], tmp_path)
    assert (tmp_path / "config.json").read_text() == "mine"
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").symlink_to(tmp_path / "target")  # a dangling symlink is not followed either
    with pytest.raises(PyruncError, match="exists"):
        run_cmd(spec_cmd, ["--bundle", str(tmp_path)], tmp_path)
    assert not (tmp_path / "target").exists()


def test_spec_rootless_into_bundle(tmp_path: Any) -> None:
    assert run_cmd(spec_cmd, ["-b", str(tmp_path), "--rootless"], tmp_path) == 0
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["linux"]["uidMappings"][0]["hostID"] == os.geteuid()


def test_spec_missing_bundle(tmp_path: Any) -> None:
    with pytest.raises(PyruncError, match="No such file or directory"):
        run_cmd(spec_cmd, ["-b", str(tmp_path / "nope")], tmp_path)


def test_spec_through_the_cli(tmp_path: Any) -> None:
    assert pyrunc("spec", cwd=tmp_path).returncode == 0
    again = pyrunc("spec", cwd=tmp_path)
    assert again.returncode == 1
    assert "File config.json exists. Remove it first" in again.stderr


# --------------------------------------------------------------------------------------------- validate


def _bundle(tmp_path: Any, cfg: Any) -> str:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path)


def test_validate_valid_prints_nothing(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, example_spec())
    assert run_cmd(validate_cmd, ["-b", bundle], tmp_path) == 0
    assert capsys.readouterr().out == ""
    # As create would see it: terminal: true needs --console-socket.
    assert run_cmd(validate_cmd, ["-b", bundle, "--create"], tmp_path) == 1
    assert capsys.readouterr().out == (
        "config.json: /process/terminal: is true, so --console-socket is required when the container runs detached\n"
    )
    assert run_cmd(validate_cmd, ["-b", bundle, "--create", "--console-socket", "/run/s"], tmp_path) == 0
    assert run_cmd(validate_cmd, ["-b", bundle, "--console-socket", "/run/s"], tmp_path) == 0


def test_validate_prints_every_problem(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = example_spec()
    cfg["process"]["args"] = []
    cfg["process"]["user"]["uid"] = -1
    cfg["linux"]["namespaces"].append({"type": "pid"})
    cfg["mounts"].append({"destination": "rel", "type": "tmpfs", "source": "tmpfs"})
    assert run_cmd(validate_cmd, ["-b", _bundle(tmp_path, cfg)], tmp_path) == 1
    assert capsys.readouterr().out.splitlines() == [
        "config.json: /process/user/uid: must be >= 0 (got -1)",
        "config.json: /mounts/7/destination: warning: relative destinations are deprecated; taken as relative to /",
        "config.json: /process/args: must not be empty",
        'config.json: /linux/namespaces/5/type: "pid" is already given at /linux/namespaces/0',
    ]


def test_validate_warnings_alone_succeed(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = example_spec()
    cfg["mounts"].append({"destination": "rel", "type": "tmpfs", "source": "tmpfs"})
    assert run_cmd(validate_cmd, ["-b", _bundle(tmp_path, cfg)], tmp_path) == 0
    assert "warning: relative destinations" in capsys.readouterr().out


def test_validate_bad_json(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text('{"ociVersion": "1.0.0",}')
    assert run_cmd(validate_cmd, ["-b", str(tmp_path)], tmp_path) == 1
    assert capsys.readouterr().out.startswith("config.json: /: invalid JSON: ")


def test_validate_through_the_cli(tmp_path: Any) -> None:
    cfg = example_spec()
    cfg["process"]["cwd"] = "x"
    cfg["hostname"] = 5
    done = pyrunc("validate", "-b", _bundle(tmp_path, cfg), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "config.json: /hostname: must be a string (got integer)",
        "config.json: /process/cwd: must be an absolute path",
    ]
    missing = pyrunc("validate", "-b", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr and missing.stdout == ""
