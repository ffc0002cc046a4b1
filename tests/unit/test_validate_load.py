"""pyrunc.spec.load: the bundle -> Spec path, load_process, and the semantic corpus (tests/configs/semantic)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from pyrunc.errors import PyruncError, SpecError
from pyrunc.linux.nsfs import NotANamespace, namespace_type
from pyrunc.spec.default import example_spec
from pyrunc.spec.load import inspect_bundle, load_bundle, load_process, load_spec, parse_json
from pyrunc.spec.validate import Context, check_config, sysctl_proc_path

CORPUS = os.path.join(os.path.dirname(__file__), os.pardir, "configs")
REPO = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)


def make_bundle(path: Any, cfg: Any) -> str:
    os.makedirs(os.path.join(path, "rootfs"), exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return str(path)


def good() -> dict[str, Any]:
    cfg = example_spec(cgroup2=False)
    cfg["process"]["terminal"] = False
    return cfg


# --------------------------------------------------------------------------------------------- load_spec


def test_load_spec_returns_the_typed_model(tmp_path: Any) -> None:
    cfg = good()
    cfg["mounts"].append({"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"]})
    cfg["mounts"].append({"destination": "/abs", "type": "none", "source": "/srv", "options": ["bind"]})
    cfg["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs"})
    spec = load_spec(make_bundle(tmp_path, cfg))
    real = os.path.realpath(tmp_path)
    assert spec.bundle == real
    assert spec.root.path == os.path.join(real, "rootfs")
    assert spec.root.readonly is True
    assert spec.process is not None and spec.process.args == ("sh",)
    assert spec.hostname == "pyrunc"
    assert [n.type for n in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert spec.mounts[7].source == os.path.join(real, "data")  # bind sources are relative to the bundle
    assert spec.mounts[8].source == "/srv"
    assert spec.mounts[9].source == "tmpfs"  # not a bind mount: a dummy, left alone
    assert spec.mounts[7].spec_path == "/mounts/7"


def test_absolute_root_path(tmp_path: Any) -> None:
    rootfs = tmp_path / "elsewhere"
    rootfs.mkdir()
    cfg = good()
    cfg["root"]["path"] = str(rootfs)
    assert load_spec(make_bundle(tmp_path / "b", cfg)).root.path == os.path.realpath(rootfs)


def test_relative_bundle_path(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_bundle(tmp_path / "b", good())
    monkeypatch.chdir(tmp_path)
    assert load_spec("b").bundle == os.path.realpath(tmp_path / "b")


def test_load_bundle_returns_the_resolved_raw_dict(tmp_path: Any) -> None:
    spec, raw = load_bundle(make_bundle(tmp_path, good()))
    assert raw["root"]["path"] == spec.root.path
    assert raw["ociVersion"] == "1.3.0"


def test_missing_bundle_and_config(tmp_path: Any) -> None:
    with pytest.raises(PyruncError, match=r"^bundle .*/nope: No such file or directory$"):
        load_spec(str(tmp_path / "nope"))
    (tmp_path / "file").write_text("")
    with pytest.raises(PyruncError, match="Not a directory"):
        load_spec(str(tmp_path / "file"))
    with pytest.raises(PyruncError, match=r"^JSON specification file .*/config.json not found$") as info:
        load_spec(str(tmp_path))
    assert not isinstance(info.value, SpecError)


def test_spec_error_renders_one_line_per_problem(tmp_path: Any) -> None:
    cfg = good()
    cfg["process"]["args"] = []
    cfg["process"]["cwd"] = "rel"
    with pytest.raises(SpecError) as info:
        load_spec(make_bundle(tmp_path, cfg))
    assert info.value.lines() == [
        "config.json: /process/args: must not be empty",
        "config.json: /process/cwd: must be an absolute path",
    ]
    assert str(info.value) == "config.json: /process/args: must not be empty (and 1 more problem)"


def test_schema_problem_hides_semantic_repeat(tmp_path: Any) -> None:
    cfg = good()
    cfg["process"]["rlimits"] = [{"type": "nofile", "soft": 1, "hard": 1}]
    with pytest.raises(SpecError) as info:
        load_spec(make_bundle(tmp_path, cfg))
    assert [p for p, _ in info.value.problems] == ["/process/rlimits/0/type"]


def test_terminal_rules_follow_runc(tmp_path: Any) -> None:
    cfg = good()
    cfg["process"]["terminal"] = True
    bundle = make_bundle(tmp_path, cfg)
    with pytest.raises(SpecError, match="/process/terminal"):
        load_spec(bundle)  # create: detached, needs a console socket
    load_spec(bundle, console_socket="/run/sock")
    load_spec(bundle, detach=False)  # foreground run: the runtime holds the pty itself
    load_spec(bundle, for_create=False)
    with pytest.raises(SpecError, match="/process/terminal"):
        load_spec(bundle, detach=False, console_socket="/run/sock")


def test_process_is_optional_when_not_creating(tmp_path: Any) -> None:
    cfg = good()
    del cfg["process"]
    bundle = make_bundle(tmp_path, cfg)
    assert load_spec(bundle, for_create=False).process is None
    with pytest.raises(SpecError, match=r"^config\.json: /process: is required to create a container$"):
        load_spec(bundle)


def test_warnings_are_logged_not_raised(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    cfg = good()
    cfg["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"})
    with caplog.at_level(logging.WARNING, logger="pyrunc.spec"):
        load_spec(make_bundle(tmp_path, cfg))
    assert "config.json: /mounts/7/destination: relative destinations are deprecated" in caplog.text


def test_inspect_bundle_returns_everything(tmp_path: Any) -> None:
    cfg = good()
    cfg["process"]["args"] = []
    cfg["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"})
    _, raw, problems = inspect_bundle(make_bundle(tmp_path, cfg))
    assert raw["process"]["args"] == []
    assert [(p.pointer, p.warning) for p in problems] == [("/mounts/7/destination", True), ("/process/args", False)]


def test_unknown_device_access_letters_are_a_warning(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    cfg = good()
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"},
                                             {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "rwa"}]}
    with caplog.at_level(logging.WARNING, logger="pyrunc.spec"):
        spec = load_spec(make_bundle(tmp_path, cfg))
    assert ('config.json: /linux/resources/devices/1/access: ignoring unknown device access "a" in "rwa"'
            in caplog.text)
    assert spec.linux.resources is not None and spec.linux.resources.devices[1].access == "rwa"


MPOL_KNOWN = ("MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_PREFERRED_MANY, "
              "MPOL_WEIGHTED_INTERLEAVE")


@pytest.mark.parametrize(("policy", "line"), [
    ({}, "config.json: /linux/memoryPolicy/mode: invalid memory policy mode: is required"),
    ({"nodes": "0-7"}, "config.json: /linux/memoryPolicy/mode: invalid memory policy mode: is required"),
    ({"mode": "INTERLEAVE", "nodes": "0"},
     f'config.json: /linux/memoryPolicy/mode: invalid memory policy mode "INTERLEAVE" (known: {MPOL_KNOWN})'),
    ({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES", "badflag"]},
     'config.json: /linux/memoryPolicy/flags/1: invalid memory policy flag "badflag" (known: '
     'MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES)'),
    # a wrong JSON type keeps the schema's message
    ({"mode": 5}, "config.json: /linux/memoryPolicy/mode: must be one of"),
])
def test_memory_policy_names_use_runcs_wording(tmp_path: Any, policy: dict[str, Any], line: str) -> None:
    """runc's phrases ("invalid memory policy mode/flag", which clients and runc's tests match) replace the
    schema's message at the same pointer: one problem per fault, our format."""
    cfg = good()
    cfg["linux"]["memoryPolicy"] = policy
    with pytest.raises(SpecError) as info:
        load_spec(make_bundle(tmp_path, cfg))
    lines = info.value.lines()
    assert len(lines) == 1 and lines[0].startswith(line), lines


def test_namespace_paths_of_this_process_are_accepted(tmp_path: Any) -> None:
    cfg = good()
    for n in cfg["linux"]["namespaces"]:
        if n["type"] in ("ipc", "uts"):
            n["path"] = f"/proc/self/ns/{n['type']}"
    load_spec(make_bundle(tmp_path, cfg))


# --------------------------------------------------------------------------------------------- load_process


def test_load_process(tmp_path: Any) -> None:
    path = tmp_path / "process.json"
    path.write_text(json.dumps({"args": ["ls"], "cwd": "/", "env": ["A=1"], "user": {"uid": 5, "gid": 6}}))
    proc = load_process(str(path))
    assert proc.args == ("ls",) and proc.user.uid == 5 and proc.env == ("A=1",)


def test_load_process_problems_name_the_file(tmp_path: Any) -> None:
    path = tmp_path / "process.json"
    path.write_text(json.dumps({"args": [], "cwd": "x", "capabilities": {"bounding": ["CAP_NOPE"]}}))
    with pytest.raises(SpecError) as info:
        load_process(str(path))
    assert info.value.lines() == [
        f"{path}: /args: must not be empty",
        f"{path}: /cwd: must be an absolute path",
    ]


def test_load_process_schema_and_terminal(tmp_path: Any) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"args": ["sh"], "terminal": True}))
    with pytest.raises(SpecError, match=r"p\.json: /cwd: is required"):
        load_process(str(path))
    path.write_text(json.dumps({"args": ["sh"], "cwd": "/", "terminal": True}))
    load_process(str(path))
    with pytest.raises(SpecError, match="/terminal"):
        load_process(str(path), detach=True)
    load_process(str(path), detach=True, console_socket="/run/s")
    with pytest.raises(PyruncError, match=r"process file .* not found"):
        load_process(str(tmp_path / "missing.json"))


# --------------------------------------------------------------------------------------------- corpus, helpers


def _expected() -> dict[str, dict[str, str]]:
    with open(os.path.join(CORPUS, "expected.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("name", sorted(n for n in _expected() if not n.startswith("invalid/")))
def test_semantic_corpus(name: str) -> None:
    with open(os.path.join(CORPUS, name), "rb") as f:
        doc = parse_json(f.read(), name)
    errors = [p for p in check_config(doc, Context(bundle="/b", host=False, detach=False)) if not p.warning]
    if name.startswith("valid/"):
        assert errors == []
    else:
        assert _expected()[name]["pointer"] in [p.pointer for p in errors], errors


def test_sysctl_proc_path() -> None:
    assert sysctl_proc_path("net.ipv4.ip_forward") == "net/ipv4/ip_forward"
    assert sysctl_proc_path("net/ipv4/conf/eth0.100/rp_filter") == "net/ipv4/conf/eth0.100/rp_filter"
    assert sysctl_proc_path("net.ipv4.conf.eth0/100.rp_filter") == "net/ipv4/conf/eth0.100/rp_filter"


def test_namespace_type_of_files() -> None:
    assert namespace_type("/proc/self/ns/net") == "network"
    assert namespace_type("/proc/self/ns/mnt") == "mount"
    assert namespace_type("/proc/self/ns/pid") == "pid"
    with pytest.raises(NotANamespace):
        namespace_type("/proc/self/status")
    with pytest.raises(NotANamespace):
        namespace_type("/dev/null")
    with pytest.raises(FileNotFoundError):
        namespace_type("/nonexistent")


def test_capability_table() -> None:
    from pyrunc.linux.capnames import CAP_NAMES, CAP_NUMBERS

    assert CAP_NUMBERS["CAP_CHOWN"] == 0 and CAP_NUMBERS["CAP_SYS_ADMIN"] == 21
    assert CAP_NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40 and len(CAP_NAMES) == 41


def test_loading_never_imports_jsonschema(tmp_path: Any) -> None:
    bundle = make_bundle(tmp_path, good())
    code = (
        "import sys; from pyrunc.spec.load import load_spec; load_spec(sys.argv[1]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'referencing', 'logging', 'ctypes')]; "
        "assert not bad, bad"
    )
    env = dict(os.environ, PYTHONPATH=os.path.abspath(REPO))
    subprocess.run([sys.executable, "-c", code, bundle], check=True, env=env)


def test_resources_document() -> None:
    from pyrunc.spec.load import check_resources_document

    assert check_resources_document(b'{"memory": {"limit": 100}}', "r.json") == {"memory": {"limit": 100}}
    # pids.limit is OPTIONAL (1.3.0): absent leaves pids.max as it is, as runc's update does.
    assert check_resources_document(b'{"pids": {}}', "r.json") == {"pids": {}}
    with pytest.raises(SpecError) as info:
        check_resources_document(b'{"pids": {"limit": "10"}, "cpu": {"idle": 2}, "unified": {"a/b": "1"}}', "r.json")
    assert info.value.lines() == [
        "r.json: /pids/limit: must be an integer (got string)",
        "r.json: /cpu/idle: must be 0 or 1, got 2",
        'r.json: /unified/a~1b: "a/b" is not a cgroup file name',
    ]
    with pytest.raises(SpecError, match=r"^-: /: invalid JSON: NaN"):
        check_resources_document(b'{"cpu": {"shares": NaN}}', "-")
