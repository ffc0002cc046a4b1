"""The example bundles in bundles/ and the rootfs builder (no root needed, nothing outside tmp_path touched)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "bundles"
BUILD_ROOTFS = BUNDLES / "build-rootfs.sh"
NAMES = ["oneshot", "longrun", "shell"]
OFFICIAL_SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
DEFAULT_MOUNTS = {
    "/proc": "proc",
    "/dev": "tmpfs",
    "/dev/pts": "devpts",
    "/dev/shm": "tmpfs",
    "/dev/mqueue": "mqueue",
    "/sys": "sysfs",
    "/sys/fs/cgroup": "cgroup",
}


def load(name: str) -> dict[str, Any]:
    with open(BUNDLES / name / "config.json") as f:
        config: dict[str, Any] = json.load(f)
    return config


@pytest.mark.parametrize("name", NAMES)
def test_bundle_is_modelled_on_runc_default_spec(name: str) -> None:
    c = load(name)
    assert c["ociVersion"] == "1.3.0"
    # Relative, so the bundle works wherever the repository is cloned; resolved against the bundle dir.
    assert c["root"]["path"] == "../out/rootfs"
    assert (BUNDLES / name / c["root"]["path"]).resolve() == BUNDLES / "out" / "rootfs"
    assert c["root"]["readonly"] is True
    p = c["process"]
    assert p["args"] and p["args"][0].startswith("/bin/")
    assert p["cwd"] == "/"
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["noNewPrivileges"] is True
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    for kind in ("bounding", "effective", "permitted"):
        assert p["capabilities"][kind] == DEFAULT_CAPS
    assert any(e.startswith("PATH=") for e in p["env"])
    mounts = {m["destination"]: m["type"] for m in c["mounts"]}
    assert DEFAULT_MOUNTS.items() <= mounts.items()
    linux = c["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert linux["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]
    assert c["hostname"] == name


def test_only_the_shell_bundle_wants_a_terminal() -> None:
    assert load("shell")["process"]["terminal"] is True
    assert load("shell")["process"]["args"] == ["/bin/sh"]
    assert load("oneshot")["process"]["terminal"] is False
    assert load("longrun")["process"]["terminal"] is False


@pytest.mark.parametrize("name", NAMES)
def test_bundle_parses_into_the_model(name: str) -> None:
    from pyrunc.spec.model import Spec

    spec = Spec.from_dict(load(name), bundle=str(BUNDLES / name))
    assert spec.oci_version == "1.3.0"
    assert spec.linux.namespace("pid") is not None
    assert spec.process is not None and spec.process.args


@pytest.mark.parametrize("name", NAMES)
def test_bundle_validates_against_the_official_schema(name: str) -> None:
    """Cross-check with the runtime-spec project's own schemas (Debian's golang-github-opencontainers-specs-dev,
    installed by ./dev). Those describe an older spec version, so only fields present there are checked."""
    if not (OFFICIAL_SCHEMA_DIR / "config-schema.json").is_file():
        pytest.skip(f"{OFFICIAL_SCHEMA_DIR} missing: apt-get install golang-github-opencontainers-specs-dev")
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for path in OFFICIAL_SCHEMA_DIR.glob("*.json"):
        with open(path) as f:
            resources.append((path.as_uri(), Resource.from_contents(json.load(f), default_specification=DRAFT4)))
    registry: Registry[Any] = Registry().with_resources(resources)
    root_uri = (OFFICIAL_SCHEMA_DIR / "config-schema.json").as_uri()
    validator = jsonschema.Draft4Validator({"$ref": root_uri}, registry=registry)
    errors = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(load(name))]
    assert errors == []


# ----------------------------------------------------------------------------------------------- the rootfs builder


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not any(os.access(p, os.X_OK) for p in ("/bin/busybox", "/usr/bin/busybox")):
        pytest.skip("busybox missing: apt-get install busybox-static")
    out = tmp_path_factory.mktemp("build") / "rootfs"
    subprocess.run([str(BUILD_ROOTFS), str(out)], check=True, capture_output=True, text=True)
    return out


def test_rootfs_layout(rootfs: Path) -> None:
    for d in ("bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "run", "var"):
        assert (rootfs / d).is_dir(), d
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (rootfs / "bin/busybox").is_file()
    assert os.readlink(rootfs / "bin/sh") == "/bin/busybox"
    assert os.readlink(rootfs / "bin/sleep") == "/bin/busybox"
    assert (rootfs / "etc/hostname").read_text().strip() == "pyrunc"
    # No stamp or temporary directory inside the rootfs: containers must not see build leftovers.
    assert not list(rootfs.glob("*.stamp"))
    assert sorted(p.name for p in rootfs.parent.iterdir()) == ["rootfs", "rootfs.stamp"]


def test_rootfs_users(rootfs: Path) -> None:
    passwd = {line.split(":")[0]: line.split(":") for line in (rootfs / "etc/passwd").read_text().splitlines()}
    assert passwd["root"][2:4] == ["0", "0"]
    assert passwd["nobody"][2:4] == ["65534", "65534"]
    assert passwd["user"][2:4] == ["1000", "1000"]
    groups = {line.split(":")[0]: line.split(":")[2] for line in (rootfs / "etc/group").read_text().splitlines()}
    assert groups["root"] == "0"
    assert groups["tty"] == "5"  # devpts is mounted with gid=5
    assert groups["nogroup"] == "65534"


def test_rootfs_build_is_idempotent(rootfs: Path) -> None:
    before = (rootfs / "bin/busybox").stat().st_ino
    r = subprocess.run([str(BUILD_ROOTFS), str(rootfs)], check=True, capture_output=True, text=True)
    assert "up to date" in r.stdout
    assert (rootfs / "bin/busybox").stat().st_ino == before


def test_rootfs_busybox_is_static(rootfs: Path) -> None:
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("ldd missing")
    r = subprocess.run([ldd, str(rootfs / "bin/busybox")], capture_output=True, text=True)
    assert r.returncode != 0 or "not a dynamic executable" in (r.stdout + r.stderr)
