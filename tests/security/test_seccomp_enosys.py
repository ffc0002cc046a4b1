"""The -ENOSYS stub on real containers: a profile written before clone3/openat2 existed answers them ENOSYS (so libc
falls back to older syscalls), keeps answering its default errno inside its own range, and leaves permissive
profiles alone (pyrunc.security.enosys; runc's "patchbpf", whose bats test `seccomp -ENOSYS handling` this mirrors).

The calls are made by `sectool syscall NR...` (raw syscalls with zero arguments, the errno printed as is) in a
busybox rootfs. Syscall numbers are x86_64's; an x32 call is the x86_64 number with bit 30 set, which the filter sees
whether or not the kernel has the x32 ABI (seccomp runs before the syscall table is chosen).
"""

from __future__ import annotations

import errno
import json
import platform
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from pyrunc.linux import libseccomp as scmp

from .runtimes import Runtime, uniq

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers are x86_64's")]

ALLOWLIST = Path(__file__).resolve().parents[1] / "data" / "seccomp" / "allowlist.json"
X32 = 0x40000000
NEWER = ("clone3", "close_range", "openat2", "faccessat2", "fchmodat2")  # all numbered above pidfd_open (434)
ENOSYS, EPERM = str(errno.ENOSYS), str(errno.EPERM)


def nr(name: str) -> int:
    got = scmp.resolve_syscall_arch(name, scmp.arch_token("x86_64"))
    assert got is not None and got >= 0, name
    return got


def old_profile(default: str = "SCMP_ACT_ERRNO", arches: tuple[str, ...] = ("SCMP_ARCH_X86_64",)) -> dict[str, Any]:
    """The repository's allowlist cut down to syscalls older than clone3, as a profile of 2019 would be: its
    newest is pidfd_open (434). unshare (272) is not in it; clone is, without namespace flags."""
    raw = json.loads(ALLOWLIST.read_text())
    calls = []
    for call in raw["syscalls"]:
        names = [n for n in call["names"] if call["action"] == "SCMP_ACT_ALLOW"
                 and (scmp.resolve_syscall_arch(n, scmp.arch_token("x86_64")) or -1) < nr("clone3")]
        if names:
            calls.append({**call, "names": names})
    allowed = {n for call in calls for n in call["names"]}
    assert {"pidfd_open", "getppid", "clone"} <= allowed and "unshare" not in allowed
    return {"defaultAction": default, "architectures": list(arches), "syscalls": calls}


def with_sectool(rootfs: Path, sectool: Path) -> None:
    shutil.copy(sectool, rootfs / "bin" / "sectool")


def probe_args(*names: str | int) -> list[str]:
    return ["/bin/sectool", "syscall", *(str(nr(n)) if isinstance(n, str) else hex(n) for n in names)]


def results(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def seccomp_config(profile: dict[str, Any], nnp: bool = True) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = profile
        c["process"]["noNewPrivileges"] = nnp
    return edit


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_newer_syscalls_get_enosys_older_ones_the_default(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any,
                                                          nnp: bool) -> None:
    """Without no_new_privs the filter is loaded earlier, and the runtime's own last steps run under it too."""
    with_sectool(rootfs, sectool)
    p = rt.run(bundle(probe_args("getppid", "pidfd_open", "unshare", "setns", *NEWER, 1000),
                      seccomp_config(old_profile(), nnp)), uniq("enosys"))
    assert p.returncode == 0, p.stderr
    got = results(p.stdout)
    assert got[str(nr("getppid"))] == "0", p.stdout                  # allowed: works
    assert got[str(nr("pidfd_open"))] == str(errno.EINVAL), p.stdout  # its newest: the kernel answers
    assert got[str(nr("unshare"))] == EPERM, p.stdout                 # inside the range, not allowed
    assert got[str(nr("setns"))] == EPERM, p.stdout
    for name in NEWER:
        assert got[str(nr(name))] == ENOSYS, f"{name}: {p.stdout}"
    assert got[hex(1000)] == ENOSYS, p.stdout


def test_exec_gets_the_same_filter(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any) -> None:
    """`exec` loads the container's filter (pyrunc: the program `create` kept), stub included."""
    with_sectool(rootfs, sectool)
    cid = uniq("enosys-exec")
    b = bundle(["/bin/sleep", "30"], seccomp_config(old_profile()))
    p = rt.create(b, cid)
    assert p.returncode == 0, p.stderr
    try:
        assert rt.start(cid).returncode == 0
        p = rt("exec", cid, *probe_args("getppid", "unshare", "clone3", "openat2", 1000))
        assert p.returncode == 0, p.stderr
        got = results(p.stdout)
        assert [got[str(nr(n))] for n in ("getppid", "unshare", "clone3", "openat2")] == ["0", EPERM, ENOSYS,
                                                                                           ENOSYS], p.stdout
        assert got[hex(1000)] == ENOSYS, p.stdout
    finally:
        rt.kill(cid)
        time.sleep(0.2)
        rt.delete(cid)


def test_kill_default_still_kills_inside_the_range(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any) -> None:
    """SCMP_ACT_KILL as the default (runc adds the stub there too): newer syscalls get ENOSYS, a denied one inside
    the profile's range still kills the process."""
    with_sectool(rootfs, sectool)
    newer = " ".join(probe_args("clone3", "openat2", 1000))
    denied = " ".join(probe_args("unshare"))
    script = f"{newer}; {denied}; echo status=$?"
    p = rt.run(bundle(["/bin/sh", "-c", script], seccomp_config(old_profile("SCMP_ACT_KILL"))), uniq("enosys-kill"))
    assert p.returncode == 0, p.stderr
    got = results(p.stdout)
    assert [got[str(nr("clone3"))], got[str(nr("openat2"))], got[hex(1000)]] == [ENOSYS] * 3, p.stdout
    assert str(nr("unshare")) not in got, p.stdout
    assert got["status"] == str(128 + signal.SIGSYS), p.stdout


def test_allow_default_gets_no_stub(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any) -> None:
    """A deny-list profile (default SCMP_ACT_ALLOW) lets newer syscalls reach the kernel: clone3 with no arguments
    is the kernel's EINVAL, not ENOSYS."""
    with_sectool(rootfs, sectool)
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["unshare", "setns"], "action": "SCMP_ACT_ERRNO"}]}
    p = rt.run(bundle(probe_args("unshare", "clone3", "openat2"), seccomp_config(profile)), uniq("enosys-allow"))
    assert p.returncode == 0, p.stderr
    got = results(p.stdout)
    assert got[str(nr("unshare"))] == EPERM, p.stdout
    assert got[str(nr("clone3"))] == str(errno.EINVAL), p.stdout
    assert got[str(nr("openat2"))] not in (ENOSYS, EPERM), p.stdout


def test_x86_64_and_x32_in_one_profile(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any) -> None:
    """Docker's amd64 set of architectures: x86_64 calls are judged against x86_64's newest syscall, x32 calls
    (bit 30) against x32's; inside each range the profile's default answers."""
    with_sectool(rootfs, sectool)
    profile = old_profile(arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"))
    p = rt.run(bundle(probe_args("getppid", "unshare", "clone3", 1000, X32 | nr("unshare"), X32 | 1000),
                      seccomp_config(profile)), uniq("enosys-x32"))
    assert p.returncode == 0, p.stderr
    got = results(p.stdout)
    assert [got[str(nr("getppid"))], got[str(nr("unshare"))], got[str(nr("clone3"))], got[hex(1000)]] == \
        ["0", EPERM, ENOSYS, ENOSYS], p.stdout
    assert got[hex(X32 | nr("unshare"))] == EPERM, p.stdout  # x32 unshare: in x32's range, denied
    assert got[hex(X32 | 1000)] == ENOSYS, p.stdout           # past x32's newest (547)


def test_allowlist_profile_runs_a_shell_and_exec(rt: Runtime, rootfs: Path, sectool: Path, bundle: Any) -> None:
    """The full Docker-style allowlist (x86_64, x86, x32; clone3 answered ENOSYS by its own rule): busybox works in
    the container and through exec; syscalls past its newest get ENOSYS, its explicit rules still hold."""
    with_sectool(rootfs, sectool)
    profile = json.loads(ALLOWLIST.read_text())
    cid = uniq("enosys-docker")
    p = rt.create(bundle(["/bin/sleep", "30"], seccomp_config(profile)), cid)
    assert p.returncode == 0, p.stderr
    try:
        assert rt.start(cid).returncode == 0
        script = ("echo hello | tr a-z A-Z; ls / >/dev/null && echo ls-ok; grep Seccomp: /proc/self/status; "
                  + " ".join(probe_args("getppid", "unshare", "clone3", 1000)))
        p = rt("exec", cid, "/bin/sh", "-c", script)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert "HELLO" in lines and "ls-ok" in lines and "Seccomp:\t2" in lines, p.stdout
        got = results(p.stdout)
        assert [got[str(nr("getppid"))], got[str(nr("unshare"))], got[str(nr("clone3"))], got[hex(1000)]] == \
            ["0", EPERM, ENOSYS, ENOSYS], p.stdout
    finally:
        rt.kill(cid)
        time.sleep(0.2)
        rt.delete(cid)
