"""Writes the `pyrunc` executable: a script run by `python -I -S -OO` that puts pyrunc on sys.path itself.

    python -m pyrunc.launcher PATH      # e.g. .venv/bin/pyrunc (what ./dev does) or /usr/local/bin/pyrunc

Why not pip's console script: its interpreter imports `site`, which processes every .pth file of site-packages
(setuptools' editable finder alone imports pathlib and friends: ~15 ms of a ~10 ms interpreter start) and reads
PYTHON* variables from the environment of whoever calls the runtime. containerd runs the runtime binary for every
create, start, state, kill and delete of every container, so that start-up cost is paid thousands of times.

`-I` (isolated: no PYTHON* variables, no user site, no script directory on sys.path), `-S` (no `site`) and `-OO`
(no docstrings or asserts in the loaded code: ~0.3 MiB less memory per process and less to unmarshal; pyrunc's
asserts only narrow types for checkers, never guard anything, and nothing reads a docstring) are one shebang
argument, `-ISOO`: Linux passes everything after the interpreter path as a single argument. The script is a
single executable path, as containerd's BinaryName, Docker's --add-runtime and podman's --runtime want.
`python -m pyrunc` keeps working as before. The launcher also lets the hot commands end the process without the
interpreter's finalization (pyrunc.cli.main.QUICK_EXIT), and gives the set-up commands the code cache written
with it (pyrunc.codecache: the compiled code of every pyrunc module in one file, in the package's __pycache__,
named after the interpreter that reads it).
"""

from __future__ import annotations

import os
import subprocess
import sys

TEMPLATE = """\
#!{python} -ISOO
# pyrunc: written by `python -m pyrunc.launcher` (see pyrunc/launcher.py); regenerate rather than edit.
import sys
sys.path += {paths!r}
from pyrunc.cli.main import main
sys.exit(main(quick_exit=True, code_cache={cache!r}))
"""


def package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def cache_path(python: str) -> str:
    """Where the code cache for `python` lives: the package's __pycache__, one file per interpreter binary (a
    virtualenv's python resolves to the interpreter it was made from, whose standard library the cache holds)."""
    import hashlib

    digest = hashlib.sha256(os.path.realpath(python).encode()).hexdigest()[:12]
    return os.path.join(package_dir(), "__pycache__", f"codecache.{sys.implementation.cache_tag}.{digest}.bin")


def launcher_text(python: str | None = None) -> str:
    """The script for the running interpreter (or `python`) and the directory this pyrunc package is in."""
    import sysconfig

    python = python or sys.executable
    if not python or not os.path.isabs(python) or any(c.isspace() for c in python) or len(python) > 120:
        # A shebang line cannot quote, and older kernels cut it at 127 bytes.
        raise SystemExit(f"pyrunc.launcher: cannot use {python!r} in a #! line (relative, blank or too long)")
    package_root = os.path.dirname(package_dir())
    paths = [package_root]
    # Dependencies, if a command ever needs one: after pyrunc and the standard library.
    for key in ("purelib", "platlib"):
        p = sysconfig.get_path(key)
        if p and p not in paths:
            paths.append(p)
    return TEMPLATE.format(python=python, paths=paths, cache=cache_path(python))


def write_cache(python: str | None = None) -> None:
    """(Re)write the code cache for `python` (default: this interpreter). It must be compiled at the launcher's
    -OO level by the interpreter that will read it: run that interpreter when it is not this one at -OO."""
    from pyrunc import codecache

    python = python or sys.executable
    target = cache_path(python)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.realpath(python) == os.path.realpath(sys.executable) and sys.flags.optimize == 2:
        codecache.write(target, package_dir())
        return
    subprocess.run([python, "-ISOO", "-c", "import sys; sys.path.insert(0, sys.argv[1]); from pyrunc import codecache;"
                    " codecache.write(sys.argv[2], sys.argv[3])", os.path.dirname(package_dir()), target,
                    package_dir()], check=True)


def write(path: str, python: str | None = None) -> None:
    """Write the launcher to `path` atomically (mode 0755), and its code cache (a failure to write the cache is
    reported on stderr: the launcher works without it, only slower)."""
    text = launcher_text(python)
    try:
        write_cache(python)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write(f"pyrunc.launcher: no code cache written ({e}); the launcher works without it\n")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python -m pyrunc.launcher PATH\n")
        return 2
    write(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
