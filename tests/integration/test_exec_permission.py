"""The program's permission check asks the kernel with the process's effective ids and capabilities (faccessat
AT_EACCESS), as execve will: CAP_DAC_OVERRIDE may run a file only its owner may execute. And an execve failure
reads as runc's ("exec /run.sh: no such file or directory", bats exec.bats "[execve error]")."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUSYBOX, uniq

pytestmark = pytest.mark.root

CAPS = ["CAP_DAC_OVERRIDE", "CAP_KILL"]


def as_user_with_dac_override(c: dict[str, Any]) -> None:
    c["process"]["user"] = {"uid": 1000, "gid": 1000}
    c["process"]["capabilities"] = {k: CAPS for k in ("bounding", "effective", "permitted")}


def test_owner_only_program_runs_with_cap_dac_override(runtime: Any, make_bundle: Any,
                                                       private_rootfs: Path) -> None:
    prog = private_rootfs / "opt" / "echo"  # busybox runs the applet its name says
    prog.parent.mkdir()
    shutil.copy(BUSYBOX, prog)
    os.chown(prog, 0, 0)
    prog.chmod(0o700)
    bundle = make_bundle(edit=as_user_with_dac_override, args=["/opt/echo", "ran"], rootfs=private_rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-dacexec"), stdin=subprocess.DEVNULL)
    assert (p.returncode, p.stdout) == (0, "ran\n"), p.stderr

    # Without the capability the kernel says no, and so does the check, at create time with runc's wording.
    def no_caps(c: dict[str, Any]) -> None:
        as_user_with_dac_override(c)
        c["process"]["capabilities"] = {k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted")}

    bundle = make_bundle(edit=no_caps, args=["/opt/echo", "ran"], rootfs=private_rootfs)
    p = runtime.create(bundle, uniq("c-nodacexec"), check=False)
    assert p.returncode == 1
    assert '/opt/echo\\": permission denied' in p.stderr, p.stderr  # the log line escapes the quotes


def test_file_without_any_x_bit_is_refused_even_for_root(runtime: Any, make_bundle: Any,
                                                         private_rootfs: Path) -> None:
    prog = private_rootfs / "opt" / "echo"
    prog.parent.mkdir()
    shutil.copy(BUSYBOX, prog)
    prog.chmod(0o644)
    p = runtime.create(make_bundle(args=["/opt/echo", "ran"], rootfs=private_rootfs), uniq("c-noxexec"),
                       check=False)
    assert p.returncode == 1
    assert '/opt/echo\\": permission denied' in p.stderr, p.stderr  # the log line escapes the quotes


def test_execve_failure_wording(runtime: Any, make_bundle: Any, private_rootfs: Path) -> None:
    script = private_rootfs / "run.sh"
    script.write_text("#!/mmnnttbb foo bar\nsh\n")
    script.chmod(0o755)
    cid = uniq("c-execve-err")
    runtime.create(make_bundle(args=["sleep", "1000"], rootfs=private_rootfs), cid)
    runtime("start", cid, check=True)
    p = runtime("exec", cid, "/run.sh", stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "exec /run.sh: no such file or directory" in lines[0], p.stderr

    # The container's own process: as with runc, `start` succeeds (the init was released) and the container stops,
    # its init having told its stderr why and exited 255.
    cid2 = uniq("c-execve-err2")
    runtime.create(make_bundle(args=["/run.sh"], rootfs=private_rootfs), cid2)
    p = runtime("start", cid2)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    while runtime.state(cid2)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runtime.state(cid2)["status"] == "stopped"
