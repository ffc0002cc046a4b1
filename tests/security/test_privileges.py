"""What the container process may never get back once the runtime took it away: capabilities (CVE-2022-29162 and
plain regaining), privileges through setuid or file-capability binaries under no_new_privs, and its seccomp filter.

The attempts are made by sectool (tests/security/sectool.c), copied into the rootfs as an ordinary binary, as a
setuid-root binary and as a binary with file capabilities.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from .runtimes import Runtime, uniq

pytestmark = pytest.mark.root

CAP = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}
EPERM = "1"


def parse(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith(" "))


def file_caps(permitted: int, inheritable: int, effective: bool = True) -> bytes:
    """A security.capability xattr, VFS_CAP_REVISION_2 (what `setcap` writes)."""
    magic = 0x02000000 | (1 if effective else 0)
    return struct.pack("<IIIII", magic, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF, permitted >> 32,
                       inheritable >> 32)


@pytest.fixture
def tools(rootfs: Path, sectool: Path) -> Path:
    """/bin/sectool (plain), /bin/suid-sectool (setuid root), /bin/fcap-sectool (file permitted set: CAP_NET_RAW
    and CAP_SYS_ADMIN, capability-aware: no effective bit) and /bin/fcapi-sectool (the same two in the file
    *inheritable* set only, effective bit set: it gains them only from a process inheritable set)."""
    bindir = rootfs / "bin"
    shutil.copy(sectool, bindir / "sectool")
    shutil.copy(sectool, bindir / "suid-sectool")
    os.chown(bindir / "suid-sectool", 0, 0)
    os.chmod(bindir / "suid-sectool", 0o4755)
    shutil.copy(sectool, bindir / "fcap-sectool")
    mask = 1 << CAP["CAP_NET_RAW"] | 1 << CAP["CAP_SYS_ADMIN"]
    os.setxattr(bindir / "fcap-sectool", "security.capability", file_caps(mask, 0, effective=False))
    shutil.copy(sectool, bindir / "fcapi-sectool")
    os.setxattr(bindir / "fcapi-sectool", "security.capability", file_caps(0, mask, effective=True))
    return bindir


def caps_config(bounding: list[str], uid: int = 0, nnp: bool = True, **sets: list[str]):  # type: ignore[no-untyped-def]
    def edit(c: dict[str, Any]) -> None:
        c["process"]["user"] = {"uid": uid, "gid": uid}
        c["process"]["noNewPrivileges"] = nnp
        c["process"]["capabilities"] = {"bounding": bounding, **sets}
        c["root"]["readonly"] = False

    return edit


def mask_of(names: list[str]) -> int:
    return sum(1 << CAP[n] for n in names)


# --------------------------------------------------------------------------------------------- capabilities
def test_cve_2022_29162_no_inheritable_capabilities_unless_configured(rt: Runtime, tools: Path, bundle: Any) -> None:
    """CVE-2022-29162: the runtime set inheritable capabilities the config did not ask for. A non-root process with
    inheritable caps gains them in its permitted set by executing a binary whose *file* inheritable set has them,
    even though its own permitted set is empty."""
    edit = caps_config(["CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE"], uid=1000, nnp=False)
    p = rt.run(bundle(["/bin/sh", "-c", "grep CapInh /proc/self/status; /bin/fcapi-sectool ids"], edit),
               uniq("c29162"))
    assert p.returncode == 0, p.stderr
    got = parse(p.stdout)
    assert int(p.stdout.split()[1], 16) == 0, f"inheritable capabilities were set: {p.stdout}"
    assert int(got["capprm"], 16) == 0 and int(got["capeff"], 16) == 0, (
        f"a file-capability binary gained capabilities through the inheritable set: {p.stdout}")


def test_dropped_capabilities_cannot_be_regained(rt: Runtime, tools: Path, bundle: Any) -> None:
    """Root in the container with a small bounding set: capset(all), ambient raise of CAP_SYS_ADMIN, a setuid-root
    binary and a file-capability binary all stay within the bounding set."""
    bounding = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    edit = caps_config(bounding, uid=0, nnp=False, effective=bounding, permitted=bounding)
    script = "/bin/sectool regain; echo --; /bin/suid-sectool ids; echo --; /bin/fcap-sectool ids"
    p = rt.run(bundle(["/bin/sh", "-c", script], edit), uniq("cregain"))
    assert p.returncode == 0, p.stderr
    regain, suid, fcap = (parse(part) for part in p.stdout.split("--"))
    assert regain["capset_all"] == EPERM and regain["ambient_raise_sys_admin"] == EPERM, p.stdout
    assert regain["bounding_has_sys_admin"] == "0", p.stdout
    allowed = mask_of(bounding)
    for what, got in (("after capset", {"capprm": regain["after_capprm"], "capeff": regain["after_capeff"]}),
                      ("setuid binary", suid), ("file-capability binary", fcap)):
        for key in ("capprm", "capeff"):
            assert int(got[key], 16) & ~allowed == 0, f"{what}: {key}={got[key]} exceeds the bounding set"


def test_non_root_cannot_become_root_again(rt: Runtime, tools: Path, bundle: Any) -> None:
    edit = caps_config(["CAP_KILL"], uid=1000, nnp=True)
    p = rt.run(bundle(["/bin/sectool", "regain"], edit), uniq("cuid"))
    assert p.returncode == 0, p.stderr
    got = parse(p.stdout)
    assert got["setresuid0"] == EPERM and got["capset_all"] == EPERM, p.stdout
    assert int(got["after_capprm"], 16) == 0, p.stdout


# --------------------------------------------------------------------------------------------- no_new_privs
@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privs_holds_across_setuid_and_file_caps(rt: Runtime, tools: Path, bundle: Any, nnp: bool) -> None:
    """`process.noNewPrivileges`: a setuid-root binary keeps the caller's euid and a file-capability binary gets no
    capabilities. The run without it is the control that shows both binaries do raise privileges otherwise."""
    edit = caps_config(["CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"], uid=1000, nnp=nnp)
    p = rt.run(bundle(["/bin/sh", "-c", "/bin/suid-sectool ids; echo --; /bin/fcap-sectool ids"], edit),
               uniq("cnnp"))
    assert p.returncode == 0, p.stderr
    suid, fcap = (parse(part) for part in p.stdout.split("--"))
    if nnp:
        assert suid["nnp"] == "1" and suid["euid"] == "1000", p.stdout
        assert int(fcap["capprm"], 16) == 0, p.stdout
    else:
        assert suid["euid"] == "0", f"control: the setuid binary should work without no_new_privs: {p.stdout}"
        assert int(fcap["capprm"], 16) == mask_of(["CAP_NET_RAW", "CAP_SYS_ADMIN"]), p.stdout


# --------------------------------------------------------------------------------------------- seccomp
DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}],
}


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_filter_cannot_be_removed(rt: Runtime, tools: Path, bundle: Any, nnp: bool) -> None:
    """The container cannot get rid of its seccomp filter: no prctl turns it off, a permissive filter stacked on
    top does not override it, and it survives fork and the exec of a setuid binary."""
    def edit(c: dict[str, Any]) -> None:
        caps_config(["CAP_KILL", "CAP_SYS_ADMIN"], uid=0, nnp=nnp, effective=["CAP_KILL", "CAP_SYS_ADMIN"],
                    permitted=["CAP_KILL", "CAP_SYS_ADMIN"])(c)
        c["linux"]["seccomp"] = DENY_MKDIR

    script = ("/bin/sectool seccomp-escape /tmp/d; echo --; "
              "/bin/sectool exec /bin/suid-sectool mkdir /tmp/e")
    p = rt.run(bundle(["/bin/sh", "-c", script], edit), uniq("cseccomp"))
    assert p.returncode == 0, p.stderr
    esc, after_exec = (parse(part.replace(":\t", "=")) for part in p.stdout.split("--"))
    assert esc["mkdir_before"] == "95", f"the filter is not there: {p.stdout}"
    assert esc["prctl_disable"] != "0", p.stdout
    assert esc["mkdir_after_allow_all"] == "95" and esc["mkdir_in_child"] == "95", p.stdout
    assert esc["Seccomp"] == "2", p.stdout
    assert after_exec["mkdir"] == "95", p.stdout
