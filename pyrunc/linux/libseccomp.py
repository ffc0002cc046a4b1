"""ctypes binding to libseccomp.so.2, plus the raw seccomp(2) calls pyrunc makes itself.

libseccomp is used only to *compile*: a context is built, its classic-BPF program exported into memory, and the
context released. Loading is a single `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` on the prepared program
(`load_program`), as crun does. That keeps the init process's work after the filter is live to one syscall and no
allocation, lets the kernel flags (LOG, SPEC_ALLOW, NEW_LISTENER, WAIT_KILLABLE_RECV) be passed whatever the
libseccomp version, and returns the user-notification fd straight from the kernel.

The library is opened by soname at import time, before any fork: after pivot_root the host's libraries are gone,
so importing this module is what makes seccomp usable in the init process (ARCHITECTURE rule 7). Every prototype
is declared here, once. `ctypes.util.find_library` is not used: it runs ldconfig/gcc and costs ~100 ms.

libseccomp reports failures as negative errno values; they become `SyscallError(op, errno)` here.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.linux import cabi
from pyrunc.linux.libc import raw_syscall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SONAME = "libseccomp.so.2"

# ----------------------------------------------------------------------------------------- constants (seccomp.h)

# Actions (SCMP_ACT_*). ERRNO and TRACE carry a 16-bit value in the low bits.
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO_BASE = 0x00050000
ACT_TRACE_BASE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000
ACT_DATA_MASK = 0x0000FFFF


def act_errno(value: int) -> int:
    return ACT_ERRNO_BASE | (value & ACT_DATA_MASK)


def act_trace(value: int) -> int:
    return ACT_TRACE_BASE | (value & ACT_DATA_MASK)


# enum scmp_compare
CMP_NE = 1
CMP_LT = 2
CMP_LE = 3
CMP_EQ = 4
CMP_GE = 5
CMP_GT = 6
CMP_MASKED_EQ = 7

# enum scmp_filter_attr
FLTATR_ACT_DEFAULT = 1
FLTATR_ACT_BADARCH = 2
FLTATR_CTL_NNP = 3
FLTATR_CTL_TSYNC = 4
FLTATR_API_TSKIP = 5
FLTATR_CTL_LOG = 6
FLTATR_CTL_SSB = 7
FLTATR_CTL_OPTIMIZE = 8
FLTATR_API_SYSRAWRC = 9
FLTATR_CTL_WAITKILL = 10  # libseccomp >= 2.6 only

NR_SCMP_ERROR = -1  # what seccomp_syscall_resolve_name returns for an unknown name

# Kernel side (linux/seccomp.h)
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
FILTER_FLAG_TSYNC = 1 << 0
FILTER_FLAG_LOG = 1 << 1
FILTER_FLAG_SPEC_ALLOW = 1 << 2
FILTER_FLAG_NEW_LISTENER = 1 << 3
FILTER_FLAG_TSYNC_ESRCH = 1 << 4
FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5
BPF_MAXINSNS = 4096  # the kernel refuses longer classic-BPF programs
SOCK_FILTER_SIZE = 8  # sizeof(struct sock_filter)


# ----------------------------------------------------------------------------------------- structures


class ArgCmp(cabi.Structure):
    """struct scmp_arg_cmp."""

    _fields_ = [
        ("arg", cabi.c_uint),
        ("op", cabi.c_int),
        ("datum_a", cabi.c_uint64),
        ("datum_b", cabi.c_uint64),
    ]


class _Version(cabi.Structure):
    _fields_ = [("major", cabi.c_uint), ("minor", cabi.c_uint), ("micro", cabi.c_uint)]


class SockFprog(cabi.Structure):
    """struct sock_fprog: what seccomp(SECCOMP_SET_MODE_FILTER) takes."""

    _fields_ = [("len", cabi.c_ushort), ("filter", cabi.c_void_p)]


# ----------------------------------------------------------------------------------------- library


def _open() -> tuple[cabi.CDLL | None, str | None]:
    try:
        return cabi.CDLL(SONAME, use_errno=True), None
    except OSError as e:
        return None, str(e)


lib, LOAD_ERROR = _open()

_ctx_t = cabi.c_void_p
if lib is not None:
    _PROTOTYPES: dict[str, tuple[object, list[object]]] = {
        "seccomp_version": (cabi.POINTER(_Version), []),
        "seccomp_api_get": (cabi.c_uint, []),
        "seccomp_init": (_ctx_t, [cabi.c_uint32]),
        "seccomp_release": (None, [_ctx_t]),
        "seccomp_arch_resolve_name": (cabi.c_uint32, [cabi.c_char_p]),
        "seccomp_arch_native": (cabi.c_uint32, []),
        "seccomp_arch_add": (cabi.c_int, [_ctx_t, cabi.c_uint32]),
        "seccomp_attr_set": (cabi.c_int, [_ctx_t, cabi.c_int, cabi.c_uint32]),
        "seccomp_attr_get": (cabi.c_int, [_ctx_t, cabi.c_int, cabi.POINTER(cabi.c_uint32)]),
        "seccomp_syscall_resolve_name": (cabi.c_int, [cabi.c_char_p]),
        "seccomp_syscall_resolve_name_arch": (cabi.c_int, [cabi.c_uint32, cabi.c_char_p]),
        "seccomp_rule_add_array": (
            cabi.c_int, [_ctx_t, cabi.c_uint32, cabi.c_int, cabi.c_uint, cabi.POINTER(ArgCmp)]),
        "seccomp_export_bpf": (cabi.c_int, [_ctx_t, cabi.c_int]),
        "seccomp_export_pfc": (cabi.c_int, [_ctx_t, cabi.c_int]),
    }
    for _name, (_res, _args) in _PROTOTYPES.items():
        _fn = getattr(lib, _name)
        _fn.restype = _res
        _fn.argtypes = _args


def _lib() -> cabi.CDLL:
    if lib is None:
        raise SyscallError("dlopen", errno.ENOENT, path=SONAME, detail=LOAD_ERROR)
    return lib


def _check(rc: int, op: str, detail: str | None = None) -> int:
    if rc < 0:
        raise SyscallError(op, -rc, detail=detail)
    return rc


def available() -> bool:
    """True if libseccomp.so.2 could be loaded."""
    return lib is not None


def version() -> tuple[int, int, int]:
    v = _lib().seccomp_version().contents
    return (int(v.major), int(v.minor), int(v.micro))


def version_string() -> str:
    return ".".join(str(n) for n in version()) if lib is not None else "unavailable"


def api_level() -> int:
    """libseccomp's API level (seccomp_api_get): 3 = KILL_PROCESS/LOG actions, 6 = user notification."""
    return int(_lib().seccomp_api_get())


def arch_token(name: str) -> int:
    """The SCMP_ARCH_* token for a libseccomp arch name ("x86_64", "aarch64"...); 0 if this libseccomp lacks it."""
    return int(_lib().seccomp_arch_resolve_name(name.encode()))


def resolve_syscall(name: str) -> int | None:
    """Syscall number on the native arch (negative pseudo-numbers for multiplexed calls); None if unknown."""
    nr = int(_lib().seccomp_syscall_resolve_name(name.encode()))
    return None if nr == NR_SCMP_ERROR else nr


def resolve_syscall_arch(name: str, token: int) -> int | None:
    """Syscall number of `name` on libseccomp arch `token` (x32 numbers carry bit 30); None if unknown there."""
    nr = int(_lib().seccomp_syscall_resolve_name_arch(token, name.encode()))
    return None if nr == NR_SCMP_ERROR else nr


def native_arch() -> int:
    """The SCMP_ARCH_* token of the arch libseccomp was built for (seccomp_arch_native)."""
    return int(_lib().seccomp_arch_native())


class FilterContext:
    """An owned scmp_filter_ctx. Always `release()` it (or use `with`)."""

    def __init__(self, default_action: int) -> None:
        ctx = _lib().seccomp_init(default_action)
        if not ctx:
            raise SyscallError("seccomp_init", errno.EINVAL, detail=f"default action {default_action:#x}")
        self._ctx: int | None = ctx

    def __enter__(self) -> "FilterContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def ctx(self) -> int:
        if self._ctx is None:
            raise SyscallError("seccomp", errno.EBADF, detail="filter context already released")
        return self._ctx

    def release(self) -> None:
        if self._ctx is not None:
            _lib().seccomp_release(self._ctx)
            self._ctx = None

    def add_arch(self, token: int) -> None:
        rc = _lib().seccomp_arch_add(self.ctx, token)
        if rc == -errno.EEXIST:  # the native arch is always present
            return
        _check(rc, "seccomp_arch_add", detail=f"arch {token:#x}")

    def set_attr(self, attr: int, value: int) -> None:
        _check(_lib().seccomp_attr_set(self.ctx, attr, value), "seccomp_attr_set", detail=f"attribute {attr}")

    def get_attr(self, attr: int) -> int:
        out = cabi.c_uint32()
        _check(_lib().seccomp_attr_get(self.ctx, attr, cabi.byref(out)), "seccomp_attr_get")
        return int(out.value)

    def add_rule(self, action: int, syscall_nr: int, conditions: "Sequence[tuple[int, int, int, int]]") -> None:
        """seccomp_rule_add_array; `conditions` are (arg index, SCMP_CMP_*, datum_a, datum_b), ANDed."""
        arr = (ArgCmp * max(1, len(conditions)))()
        for i, (index, op, a, b) in enumerate(conditions):
            arr[i].arg, arr[i].op, arr[i].datum_a, arr[i].datum_b = index, op, a, b
        _check(_lib().seccomp_rule_add_array(self.ctx, action, syscall_nr, len(conditions), arr),
               "seccomp_rule_add")

    def _export(self, fn_name: str) -> bytes:
        # memfd: no file system needed (this may run in the init after pivot_root), no size limit like a pipe.
        fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
        try:
            _check(getattr(_lib(), fn_name)(self.ctx, fd), fn_name)
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    def export_bpf(self) -> bytes:
        """The compiled classic-BPF program (an array of struct sock_filter)."""
        return self._export("seccomp_export_bpf")

    def export_pfc(self) -> str:
        """Human-readable pseudo filter code, for debugging and tests."""
        return self._export("seccomp_export_pfc").decode()


# ----------------------------------------------------------------------------------------- kernel


class Program:
    """A BPF program ready for seccomp(2): the bytes and the sock_fprog pointing at them, built ahead of time."""

    __slots__ = ("_buf", "fprog", "instructions")

    def __init__(self, bpf: bytes) -> None:
        self.instructions = len(bpf) // SOCK_FILTER_SIZE
        self._buf = cabi.create_string_buffer(bpf, len(bpf))
        self.fprog = SockFprog(self.instructions, cabi.cast(self._buf, cabi.c_void_p))

    def to_bytes(self) -> bytes:
        """The program as given (what `create` keeps for `exec`: pyrunc.runtime.seccomp_cache)."""
        return self._buf.raw


def load_program(prog: Program, flags: int) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Returns the listener fd with NEW_LISTENER, else 0.

    Needs no_new_privs or CAP_SYS_ADMIN (EACCES otherwise). The listener fd is close-on-exec (kernel).
    """
    return raw_syscall("seccomp", cabi.c_uint(SECCOMP_SET_MODE_FILTER), cabi.c_uint(flags),
                       cabi.byref(prog.fprog), detail=f"flags={flags:#x}")


def filter_flags_supported(flags: int) -> bool:
    """Whether the kernel knows these SECCOMP_FILTER_FLAG_* bits: with a NULL program it fails with EFAULT past
    the flag check, EINVAL before it. Installs nothing."""
    try:
        raw_syscall("seccomp", cabi.c_uint(SECCOMP_SET_MODE_FILTER), cabi.c_uint(flags), None)
    except SyscallError as e:
        return e.errno in (errno.EFAULT, errno.EACCES)
    return True  # pragma: no cover - cannot succeed with a NULL program


def action_available(action: int) -> bool:
    """seccomp(SECCOMP_GET_ACTION_AVAIL): whether the kernel supports a return action."""
    value = cabi.c_uint32(action & 0xFFFF0000)
    try:
        raw_syscall("seccomp", cabi.c_uint(SECCOMP_GET_ACTION_AVAIL), cabi.c_uint(0), cabi.byref(value))
    except SyscallError:
        return False
    return True
