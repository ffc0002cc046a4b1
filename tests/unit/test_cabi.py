"""pyrunc.linux.cabi against ctypes itself: the same sizes, alignments, conversions, layouts and calls."""

import ctypes
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.linux import cabi

REPO = Path(__file__).resolve().parents[2]

SCALARS = ["c_char", "c_ushort", "c_int", "c_uint", "c_long", "c_ulong", "c_char_p", "c_void_p", "c_int32",
           "c_uint32", "c_uint64", "c_size_t"]


@pytest.mark.parametrize("name", SCALARS)
def test_scalar_types_match_ctypes(name: str) -> None:
    ours, theirs = getattr(cabi, name), getattr(ctypes, name)
    assert cabi.sizeof(ours) == ctypes.sizeof(theirs)
    assert cabi.alignment(ours) == ctypes.alignment(theirs)
    assert ours._type_ == theirs._type_


@pytest.mark.parametrize("name,values", [
    ("c_int", [0, 1, -1, 2**31 - 1, -(2**31), 2**31]),  # the last wraps, as in ctypes
    ("c_uint", [0, 2**32 - 1, -1]),
    ("c_long", [0, -(2**63), 2**63 - 1]),
    ("c_ulong", [0, 2**64 - 1, -1]),
    ("c_uint64", [0, 2**64 - 1]),
    ("c_ushort", [0, 65535, 65536]),
    ("c_char", [b"a", b"\0", 7]),
    ("c_char_p", [None, b"", b"text"]),
    ("c_void_p", [None, 0, 4096]),
])
def test_values_convert_as_in_ctypes(name: str, values: list[object]) -> None:
    for v in values:
        assert getattr(cabi, name)(v).value == getattr(ctypes, name)(v).value, v
    with pytest.raises(TypeError):
        cabi.c_int("1")


def test_structure_layout_matches_ctypes() -> None:
    fields = [("a", "c_uint32"), ("b", "c_uint64"), ("c", "c_ushort"), ("d", "c_int"), ("e", "c_void_p")]

    class Ours(cabi.Structure):
        _fields_ = [(n, getattr(cabi, t)) for n, t in fields]

    class Theirs(ctypes.Structure):
        _fields_ = [(n, getattr(ctypes, t)) for n, t in fields]

    assert cabi.sizeof(Ours) == ctypes.sizeof(Theirs)
    for n, _ in fields:
        assert getattr(Ours, n).offset == getattr(Theirs, n).offset
    s = Ours(a=1, b=2**40, c=3, d=-4)
    assert bytes(s) == bytes(Theirs(a=1, b=2**40, c=3, d=-4))
    arr = (cabi.c_uint32 * 3)(1, 2, 3)
    assert bytes(arr) == bytes((ctypes.c_uint32 * 3)(1, 2, 3))
    p = cabi.POINTER(Ours)(s)
    assert p.contents.b == 2**40


def test_buffers_and_memory_functions() -> None:
    for init, size in [(b"abc", None), (b"abc", 8), (b"", None), (16, None)]:
        ours = cabi.create_string_buffer(init, size) if size else cabi.create_string_buffer(init)
        theirs = ctypes.create_string_buffer(init, size) if size else ctypes.create_string_buffer(init)
        assert ours.raw == theirs.raw and cabi.sizeof(ours) == ctypes.sizeof(theirs)
    buf = cabi.create_string_buffer(8)
    cabi.memset(buf, ord("x"), 4)
    assert buf.raw == b"xxxx\0\0\0\0"
    src = cabi.create_string_buffer(b"hello")
    cabi.memmove(cabi.addressof(buf) + 2, src, 5)
    assert buf.raw == b"xxhello\0"
    ptr = cabi.cast(buf, cabi.c_void_p)
    assert ptr.value == cabi.addressof(buf)
    as_int = cabi.cast(ptr, cabi.POINTER(cabi.c_uint32))
    assert as_int[0] == int.from_bytes(b"xxhe", sys.byteorder)


def test_calls_and_errno() -> None:
    libc = cabi.CDLL("libc.so.6", use_errno=True)
    assert libc.getpid() == os.getpid()
    libc.strlen.restype = cabi.c_size_t
    libc.strlen.argtypes = [cabi.c_char_p]
    assert libc.strlen(b"pyrunc") == 6
    cabi.set_errno(0)
    assert libc.close(cabi.c_int(-1)) == -1
    assert cabi.get_errno() == errno.EBADF
    with pytest.raises(AttributeError):
        libc.no_such_function_in_libc  # noqa: B018
    with pytest.raises(AttributeError):
        libc.__wrapped__  # noqa: B018
    assert cabi.pythonapi.Py_IsInitialized() == 1
    held = cabi.PyDLL("libc.so.6", use_errno=True)
    held.syscall.restype = cabi.c_long
    assert held.syscall(cabi.c_long(39)) == os.getpid() or os.uname().machine != "x86_64"  # getpid


def test_the_syscall_layer_does_not_import_ctypes() -> None:
    """What the module is for: pyrunc/linux loads without ctypes/__init__.py (~3-4 ms per create/run/exec)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "import pyrunc.linux.libc, pyrunc.linux.fs, pyrunc.linux.mount, pyrunc.linux.clone, pyrunc.linux.proc,"
            " pyrunc.linux.prctl, pyrunc.linux.caps, pyrunc.linux.keyring, pyrunc.linux.mempolicy;"
            "print('ctypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
