"""process.apparmorProfile / selinuxLabel (pyrunc.security.lsm).

This host has neither AppArmor nor SELinux, so a label cannot be applied: create, run and exec refuse it in one
line, leaving nothing behind, instead of running the process unconfined (runc and crun refuse it too). The write
path itself is exercised against the kernel: through the real procfs it reaches this thread's attr file (which
the kernel refuses without an LSM), and through a /proc that is not a procfs it is refused before any write
(CVE-2019-16884: runc wrote the label into a fake /proc and the profile was silently not applied)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, uniq

from pyrunc.errors import SyscallError
from pyrunc.security import lsm

pytestmark = pytest.mark.root

needs_no_lsm = pytest.mark.skipif(lsm.apparmor_enabled() or lsm.selinux_enabled(),
                                  reason="this host has an LSM: the labels would apply")


@needs_no_lsm
@pytest.mark.parametrize(("field", "value", "message"), [
    ("apparmorProfile", "docker-default", "AppArmor is not enabled on this host"),
    ("selinuxLabel", "system_u:system_r:container_t:s0", "selinux is disabled or not supported"),
])
def test_create_refuses_a_label_it_cannot_apply(runtime: Any, make_bundle: Any, cid: str, field: str, value: str,
                                                message: str) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"][field] = value

    p = runtime.create(make_bundle(edit=edit), cid, check=False)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"config.json: /process/{field}: " in lines[0] and message in lines[0], p.stderr
    assert not (runtime.root / cid).exists()


@needs_no_lsm
def test_exec_refuses_a_label_from_a_process_file(runtime: Any, make_bundle: Any, cid: str, tmp_path: Path) -> None:
    runtime.create(make_bundle(args=["sleep", "1000"]), cid)
    runtime("start", cid, check=True)
    process = {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "apparmorProfile": "docker-default"}
    (tmp_path / "process.json").write_text(json.dumps(process))
    p = runtime("exec", "--process", str(tmp_path / "process.json"), cid)
    assert p.returncode != 0
    assert "/process/apparmorProfile" in p.stderr and "AppArmor is not enabled" in p.stderr, p.stderr
    assert runtime("ps", "--format", "json", cid, check=True).stdout.count(",") == 0  # only the init runs


def test_features_announce_lsm_support(runtime: Any) -> None:
    linux = json.loads(runtime("features", check=True).stdout)["linux"]
    assert linux["apparmor"] == {"enabled": True} and linux["selinux"] == {"enabled": True}


@needs_no_lsm
def test_label_write_reaches_this_threads_attr_file() -> None:
    """Through the real /proc: the open is resolved to <tid>/attr/exec (attr/apparmor/exec does not exist
    without AppArmor), and the kernel itself refuses the value (EINVAL: no LSM takes it)."""
    with pytest.raises(SyscallError) as e:
        lsm.apply("some-profile", None)
    assert e.value.errno == errno.EINVAL and e.value.op == "write", str(e.value)
    assert e.value.path is not None and e.value.path.endswith("/attr/exec") and "/task/" in e.value.path
    assert e.value.spec_path == "/process/apparmorProfile"


def test_label_is_not_written_through_a_fake_proc(tmp_path: Path) -> None:
    """CVE-2019-16884: /proc replaced (here by a tmpfs holding a look-alike attr file) is refused before any
    write, and the look-alike is left untouched."""
    script = f"""
import os, sys
sys.path.insert(0, {str(REPO)!r})
from pyrunc.errors import SyscallError
from pyrunc.security import lsm
os.system("mount -t tmpfs fake /proc")
tid = "1/task/1"
os.makedirs(f"/proc/{{tid}}/attr", exist_ok=True)
os.symlink(tid, "/proc/thread-self")
open(f"/proc/{{tid}}/attr/exec", "w").close()
try:
    lsm.apply("some-profile", "some_u:some_r:some_t:s0")
except SyscallError as e:
    print("refused:", e)
print("left:", repr(open(f"/proc/{{tid}}/attr/exec").read()))
"""
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "refused:" in p.stdout and "not the root of a procfs" in p.stdout and "CVE-2025-52881" in p.stdout
    assert "left: ''" in p.stdout


def test_intel_rdt_without_resctrl_is_refused(runtime: Any, make_bundle: Any, cid: str) -> None:
    """runtime-spec: with intelRdt set and no resctrl mounted the runtime MUST generate an error."""
    if b" - resctrl " in Path("/proc/self/mountinfo").read_bytes():
        pytest.skip("resctrl is mounted here")

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["intelRdt"] = {"closID": uniq("clos")}

    p = runtime.create(make_bundle(edit=edit), cid, check=False)
    assert p.returncode != 0
    assert "config.json: /linux/intelRdt: no resctrl filesystem is mounted" in p.stderr, p.stderr
    assert not (runtime.root / cid).exists()


def test_mount_label_option_is_quoted() -> None:
    """runc's label.FormatMountLabel: MCS categories hold commas, which would split a bare mount option."""
    from pyrunc.rootfs.mounts import context_option

    assert context_option("system_u:object_r:container_file_t:s0:c1,c2") == \
        'context="system_u:object_r:container_file_t:s0:c1,c2"'


@needs_no_lsm
def test_mount_label_without_selinux_is_ignored(runtime: Any, make_bundle: Any, cid: str) -> None:
    """linux.mountLabel where SELinux is disabled: nothing to label, the container runs (newer runc ignores it
    too; runc 1.1.5 passed context= to the kernel, which refused the tmpfs)."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"

    p = runtime("run", "-b", str(make_bundle(edit=edit, args=["sh", "-c", "grep ' /dev ' /proc/self/mountinfo"])),
                cid)
    assert p.returncode == 0, p.stderr
    assert "context=" not in p.stdout
