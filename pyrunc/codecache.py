"""The launcher's code cache: the compiled code of pyrunc's modules (and the few standard ones it imports) in one file.

Why: `create`, `run` and `exec` import ~110 modules. Through Python's path finder each costs a directory check,
a stat of its source, an open, fstat, read and close of its .pyc and the import machinery's own Python code around
them: ~3 ms of a `run` (bench/README.md). From this file the finder is one dict lookup and one stat (the source's
mtime and size, the check a .pyc gets) and the code is one pread from a file opened once.

What it does not change: what is imported, in what order, from which source. A module whose source changed since
the cache was written (its mtime or size differs), or that the cache lacks, is imported the usual way; a cache
written by another interpreter (its magic number and cache tag are in the header) or unreadable is not used at
all. Modules get the spec, __file__ and package __path__ the path finder would give them, so tracebacks and
relative imports are as before.

Who uses it: the launcher script (pyrunc.launcher) passes the cache's path to pyrunc.cli.main.main, which installs
the finder for the set-up commands only (create, run, exec): `state` or `kill` import a dozen modules, fewer than
reading the cache is worth. The launcher writes the cache (`write`) next to the launcher script it writes.

File format: MAGIC, a 4-byte little-endian header length, the marshalled header {"magic": importlib's MAGIC_NUMBER,
"tag": sys.implementation.cache_tag, "optimize": sys.flags.optimize, "modules": {name: (offset, length,
is_package, source path, source mtime_ns, source size)}}, then each module's marshalled code object at `offset`
from the end of the header.
"""

import marshal
import posix
import sys

MAGIC = b"pyrunc-codecache-1\n"
# Standard-library modules that the set-up commands import and that are not frozen into the interpreter (os,
# posixpath, stat, codecs, io, abc... are; built-in modules such as posix or _ctypes have no code to cache; pyrunc
# does not import `ctypes` itself: see pyrunc.linux.cabi).
STDLIB = ("struct", "__future__")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any


def _interpreter_key() -> tuple[bytes, str, int]:
    from importlib.util import MAGIC_NUMBER  # only when writing: importlib.util is a ~1 ms import

    return MAGIC_NUMBER, sys.implementation.cache_tag, sys.flags.optimize


class CodeCache:
    """A meta path finder and loader over one open cache file: the header's index in memory, each module's code
    read (pread) when it is imported, so the process holds no more than the usual imports would (peak RSS is a
    bench/ figure)."""

    def __init__(self, fd: int, modules: "dict[str, tuple[int, int, bool, str, int, int]]", base: int) -> None:
        self.fd = fd
        self.modules = modules
        self.base = base

    def find_spec(self, name: str, path: "Any" = None, target: "Any" = None) -> "Any":
        entry = self.modules.get(name)
        if entry is None or self.fd < 0:
            return None
        offset, length, is_package, origin, mtime_ns, size = entry
        try:
            st = posix.stat(origin)
            if st.st_mtime_ns != mtime_ns or st.st_size != size:
                return None  # edited since the cache was written: the usual import (and its .pyc) is up to date
            blob = posix.pread(self.fd, length, self.base + offset)
        except OSError:
            return None
        if len(blob) != length:
            return None  # the file was cut short under us: the usual import
        from _frozen_importlib import ModuleSpec

        spec = ModuleSpec(name, self, origin=origin, is_package=is_package, loader_state=blob)
        if is_package:
            spec.submodule_search_locations = [origin.rpartition("/")[0]]
        # has_location stays False: importlib would then derive __cached__ from the origin (string work for every
        # module, ~5 us each) for a .pyc we do not use. exec_module sets __file__, as the path finder's specs do.
        return spec

    def create_module(self, spec: "Any") -> None:
        return None  # the default module object

    def exec_module(self, module: "ModuleType") -> None:
        spec = module.__spec__
        code = marshal.loads(spec.loader_state)
        spec.loader_state = None
        module.__file__ = spec.origin
        exec(code, module.__dict__)

    def close(self) -> None:
        """Stop serving imports and close the file. Registered to run in every forked child: the container's
        processes must hold no runtime fd (the init closes every fd it does not pass on anyway), and a child
        must not read through an fd number that may have been closed and reused."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                posix.close(fd)
            except OSError:
                pass


def _pread_exact(fd: int, length: int, offset: int) -> bytes | None:
    data = posix.pread(fd, length, offset)
    return data if len(data) == length else None


def load(path: str) -> CodeCache | None:
    """The cache at `path` if this interpreter wrote it (magic, tag and -O level match), else None. Never raises
    for a missing, truncated or foreign file: the usual imports then do the work."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    if fd < 3:
        # Called with a closed stdin/stdout/stderr: the file must not take its place (`run` relays fd 0 into the
        # container), so it moves above them for as long as it stays open.
        import fcntl

        low, fd = fd, fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        posix.close(low)
    cache = None
    try:
        n = len(MAGIC)
        lead = _pread_exact(fd, n + 4, 0)
        if lead is None or lead[:n] != MAGIC:
            return None
        size = int.from_bytes(lead[n:], "little")
        raw = _pread_exact(fd, size, n + 4)
        header = marshal.loads(raw) if raw is not None else None
        if not isinstance(header, dict) or header.get("tag") != sys.implementation.cache_tag \
                or header.get("optimize") != sys.flags.optimize:
            return None
        # The magic number is checked against what this interpreter writes into its .pyc files (the frozen
        # importlib's copy: importlib.util is not imported for this).
        import _frozen_importlib_external

        modules = header.get("modules")
        if header.get("magic") != _frozen_importlib_external.MAGIC_NUMBER or not isinstance(modules, dict):
            return None
        cache = CodeCache(fd, modules, n + 4 + size)
        return cache
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        if cache is None:
            posix.close(fd)


def install(path: str) -> bool:
    """Put the cache at `path` first on sys.meta_path; False (and nothing changed) if it cannot be used."""
    cache = load(path)
    if cache is None:
        return False
    posix.register_at_fork(after_in_child=cache.close)
    sys.meta_path.insert(0, cache)
    return True


def _sources(package_dir: str) -> "list[tuple[str, str, bool]]":
    """(module name, source path, is package) of every module of the package in `package_dir`, and of STDLIB."""
    import importlib.util
    import os

    found: list[tuple[str, str, bool]] = []
    top = os.path.basename(package_dir)
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and
                             os.path.exists(os.path.join(dirpath, d, "__init__.py")))
        rel = os.path.relpath(dirpath, os.path.dirname(package_dir)).replace(os.sep, ".")
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            if f == "__init__.py":
                found.append((rel, os.path.join(dirpath, f), True))
            else:
                found.append((f"{rel}.{f[:-3]}", os.path.join(dirpath, f), False))
    assert all(name.split(".")[0] == top for name, _, _ in found)
    for name in STDLIB:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith(".py") and spec.has_location:
            found.append((name, spec.origin, spec.submodule_search_locations is not None))
    return found


def write(path: str, package_dir: str) -> int:
    """Write the cache for the package in `package_dir` (and STDLIB) to `path`, atomically, compiled for this
    interpreter's -O level (the launcher's is -OO: write from `python -OO`, as pyrunc.launcher does). Returns the
    number of modules. A module that does not compile is left out (its import reports the error as usual)."""
    import os

    magic, tag, optimize = _interpreter_key()
    modules: dict[str, tuple[int, int, bool, str, int, int]] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, origin, is_package in _sources(package_dir):
        with open(origin, "rb") as f:
            st = os.fstat(f.fileno())
            source = f.read()
        try:
            # What the path finder's loader does (SourceLoader.source_to_code) at this interpreter's -O level.
            code = compile(source, origin, "exec", dont_inherit=True, optimize=optimize)
        except SyntaxError:
            continue
        blob = marshal.dumps(code)
        modules[name] = (offset, len(blob), is_package, origin, st.st_mtime_ns, st.st_size)
        blobs.append(blob)
        offset += len(blob)
    header = marshal.dumps({"magic": magic, "tag": tag, "optimize": optimize, "modules": modules})
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + len(header).to_bytes(4, "little") + header)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)
    return len(modules)
