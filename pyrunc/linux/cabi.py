"""The C types and calls pyrunc's syscall wrappers use, defined on `_ctypes` (the C module under `ctypes`).

Why not `import ctypes`: its __init__ defines every C type Python knows, checks their sizes with `struct`, imports
`types` and builds pythonapi and the memmove/memset/cast/string_at prototypes: ~3-4 ms of a ~10 ms interpreter
start, paid by every create, run and exec (bench/README.md). This module defines only what pyrunc/linux uses, the
way ctypes/__init__.py defines them (the same `_type_` codes on the same `_SimpleCData`, the same function-pointer
flags), so values, structures and calls behave exactly as ctypes' do; tests/unit/test_cabi.py checks sizes,
alignments, conversions and calls against ctypes itself.

Only these names may be mixed with each other: a `ctypes.c_int` is a different class from `cabi.c_int`, and an
argument declared as one does not accept the other. Every module of pyrunc/linux uses this one.
"""

import _ctypes
from _ctypes import (
    POINTER,
    CFuncPtr,
    Structure,
    _SimpleCData,
    addressof,
    alignment,
    byref,
    get_errno,
    set_errno,
    sizeof,
)

__all__ = [
    "CDLL", "POINTER", "PyDLL", "Structure", "addressof", "alignment", "byref", "c_char", "c_char_p", "c_int",
    "c_int32", "c_long", "c_size_t", "c_uint", "c_uint32", "c_uint64", "c_ulong", "c_ushort", "c_void_p", "cast",
    "create_string_buffer", "get_errno", "memmove", "memset", "pythonapi", "set_errno", "sizeof",
]


def _simple(name: str, code: str) -> type:
    """A C scalar type: a `_SimpleCData` subclass whose `_type_` is a struct-module format character, as each
    one in ctypes/__init__.py."""
    return type(name, (_SimpleCData,), {"_type_": code, "__module__": __name__})


c_char = _simple("c_char", "c")
c_ushort = _simple("c_ushort", "H")
c_int = _simple("c_int", "i")
c_uint = _simple("c_uint", "I")
c_long = _simple("c_long", "l")
c_ulong = _simple("c_ulong", "L")
c_longlong = _simple("c_longlong", "q")
c_ulonglong = _simple("c_ulonglong", "Q")
c_char_p = _simple("c_char_p", "z")  # NUL-terminated char *: bytes or None in, bytes out
c_void_p = _simple("c_void_p", "P")
py_object = _simple("py_object", "O")


# Fixed-width aliases, chosen by size as ctypes does (on Linux: int is 32 bits; long is 64 bits on LP64).
c_int32 = c_int
c_uint32 = c_uint
c_uint64 = c_ulong if sizeof(c_ulong) == 8 else c_ulonglong
c_size_t = c_ulong if sizeof(c_void_p) == sizeof(c_ulong) else c_uint
assert sizeof(c_int) == 4 and sizeof(c_uint64) == 8 and sizeof(c_size_t) == sizeof(c_void_p)

_FUNC_TYPES: dict[tuple[object, tuple[object, ...], int], type] = {}


def _function_type(restype: object, argtypes: tuple[object, ...], flags: int) -> type:
    """A function-pointer class (ctypes' CFUNCTYPE/PYFUNCTYPE)."""
    key = (restype, argtypes, flags)
    cls = _FUNC_TYPES.get(key)
    if cls is None:
        cls = type("CFunctionType", (CFuncPtr,), {"_argtypes_": argtypes, "_restype_": restype, "_flags_": flags})
        _FUNC_TYPES[key] = cls
    return cls


class CDLL:
    """A shared library: attribute access gives its functions (restype c_int until set), as ctypes.CDLL."""

    _func_flags_ = _ctypes.FUNCFLAG_CDECL

    def __init__(self, name: str | None, use_errno: bool = False) -> None:
        flags = self._func_flags_ | (_ctypes.FUNCFLAG_USE_ERRNO if use_errno else 0)
        self._name = name
        self._FuncPtr = type("_FuncPtr", (CFuncPtr,), {"_flags_": flags, "_restype_": c_int})
        self._handle = _ctypes.dlopen(name, _ctypes.RTLD_LOCAL)

    def __getattr__(self, name: str) -> CFuncPtr:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        func = self._FuncPtr((name, self))
        setattr(self, name, func)
        return func

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self._name}', handle {self._handle:x}>"


class PyDLL(CDLL):
    """Calls hold the GIL and check for a Python exception afterwards (ctypes.PyDLL)."""

    _func_flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI


pythonapi = PyDLL(None)

memmove = _function_type(c_void_p, (c_void_p, c_void_p, c_size_t), _ctypes.FUNCFLAG_CDECL)(_ctypes._memmove_addr)
memset = _function_type(c_void_p, (c_void_p, c_int, c_size_t), _ctypes.FUNCFLAG_CDECL)(_ctypes._memset_addr)
_cast = _function_type(py_object, (c_void_p, py_object, py_object),
                       _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI)(_ctypes._cast_addr)


def cast(obj: object, typ: type) -> object:
    """`obj` (a pointer, array or address) as a `typ` pointer: ctypes.cast."""
    return _cast(obj, obj, typ)


def create_string_buffer(init: bytes | int, size: int | None = None) -> object:
    """A mutable char array: `init` bytes (plus a NUL unless `size` says otherwise) or `init` zero bytes."""
    if isinstance(init, bytes):
        if size is None:
            size = len(init) + 1
        buf = (c_char * size)()
        buf.value = init
        return buf
    if isinstance(init, int):
        return (c_char * init)()
    raise TypeError(init)
