"""prctl(2) operations pyrunc needs, one function each (names say what they set)."""

from pyrunc.linux import cabi
from pyrunc.linux.libc import call, libc

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_UL = cabi.c_ulong


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0, *, op: str = "prctl",
          detail: str | None = None, spec_path: str | None = None) -> int:
    return call(libc.prctl, cabi.c_int(option), _UL(a2), _UL(a3), _UL(a4), _UL(a5), op=op, detail=detail,
                spec_path=spec_path)


def set_pdeathsig(sig: int) -> None:
    """Deliver `sig` to this process when its parent thread exits."""
    prctl(PR_SET_PDEATHSIG, sig, op="prctl(PR_SET_PDEATHSIG)")


def set_dumpable(on: bool) -> None:
    """Non-dumpable: no ptrace attach, /proc/<pid>/{exe,fd,mem,...} closed to the container (CVE-2019-5736,
    CVE-2016-9962). execve of the container process resets it."""
    prctl(PR_SET_DUMPABLE, 1 if on else 0, op="prctl(PR_SET_DUMPABLE)")


def get_dumpable() -> bool:
    return prctl(PR_GET_DUMPABLE, op="prctl(PR_GET_DUMPABLE)") != 0


def set_keepcaps(on: bool) -> None:
    """Keep the permitted capabilities across setresuid from uid 0 to a non-zero uid."""
    prctl(PR_SET_KEEPCAPS, 1 if on else 0, op="prctl(PR_SET_KEEPCAPS)")


def set_name(name: str) -> None:
    """The process's comm name (15 bytes): `pyrunc:[2:INIT]`, as runc and youki name their stages."""
    buf = cabi.create_string_buffer(name.encode()[:15])
    call(libc.prctl, cabi.c_int(PR_SET_NAME), buf, _UL(0), _UL(0), _UL(0), op="prctl(PR_SET_NAME)")


def set_child_subreaper(on: bool) -> None:
    """Orphaned descendants are reparented to us instead of pid 1 (how `run` and `create` adopt the init)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, op="prctl(PR_SET_CHILD_SUBREAPER)")


def set_no_new_privs() -> None:
    """Implements `process.noNewPrivileges`."""
    prctl(PR_SET_NO_NEW_PRIVS, 1, op="prctl(PR_SET_NO_NEW_PRIVS)", spec_path="/process/noNewPrivileges")


def get_no_new_privs() -> bool:
    return prctl(PR_GET_NO_NEW_PRIVS, op="prctl(PR_GET_NO_NEW_PRIVS)") != 0


def capbset_read(cap: int) -> bool:
    return prctl(PR_CAPBSET_READ, cap, op="prctl(PR_CAPBSET_READ)") == 1


def capbset_drop(cap: int, *, detail: str | None = None) -> None:
    prctl(PR_CAPBSET_DROP, cap, op="prctl(PR_CAPBSET_DROP)", detail=detail,
          spec_path="/process/capabilities/bounding")


def ambient_raise(cap: int, *, detail: str | None = None) -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, op="prctl(PR_CAP_AMBIENT_RAISE)", detail=detail,
          spec_path="/process/capabilities/ambient")


def ambient_clear_all() -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, op="prctl(PR_CAP_AMBIENT_CLEAR_ALL)")

