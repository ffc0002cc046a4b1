"""The runtimes the client tests run: Debian's runc as the control, and pyrunc.

Clients take the runtime as one executable path (containerd's BinaryName / `ctr run --runc-binary`, dockerd's
`--add-runtime NAME=PATH`, podman's `--runtime PATH`), so pyrunc is given to them as a small wrapper script named
`pyrunc` (podman decides from the base name whether the runtime writes JSON error logs). The wrapper hands its argv to
`python -m pyrunc` untouched: the shim's `--root R --log B/log.json --log-format json create ...` reaches pyrunc as is.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNC = "/usr/sbin/runc"
RUNTIMES = ("runc", "pyrunc")


def daemon_env() -> dict[str, str]:
    """The environment for containerd and dockerd: Debian's directories first on PATH, because containerd finds
    `containerd-shim-runc-v2`, and the shim finds `runc` (the control runtime under Docker), by PATH lookup."""
    return dict(os.environ, PATH=f"/usr/sbin:/usr/bin:/sbin:/bin:{os.environ.get('PATH', '')}")


def write_pyrunc_wrapper(bin_dir: Path) -> Path:
    """<bin_dir>/pyrunc: `exec python -m pyrunc "$@"` with this repository on PYTHONPATH.

    $PYRUNC (the same variable tests/conftest.py honours) overrides the command, e.g. PYRUNC=/usr/local/bin/pyrunc.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    command = os.environ.get("PYRUNC")
    words = shlex.split(command) if command else [sys.executable, "-m", "pyrunc"]
    wrapper = bin_dir / "pyrunc"
    # Clients run the runtime with a scrubbed environment (podman keeps only XDG_RUNTIME_DIR), so set everything
    # the interpreter needs here rather than relying on the caller's environment.
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(REPO))}\n"
        "export PYTHONPATH\n"
        f"exec {' '.join(shlex.quote(w) for w in words)} \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return wrapper


def runtime_binary(name: str, bin_dir: Path) -> Path:
    """The executable a client is given for runtime `name`; fails the test (never skips) if it is missing."""
    if name == "runc":
        path = shutil.which(RUNC) or shutil.which("runc")
        if not path:
            pytest.fail("runc (the control runtime) is not installed: apt-get install runc")
        return Path(path)
    if name == "pyrunc":
        return write_pyrunc_wrapper(bin_dir)
    raise ValueError(name)


def require_binary(name: str, package: str) -> str:
    """Absolute path of a client binary; a clear failure (not a skip: CI must run these) when it is missing."""
    # Debian's own copy first: a stray newer build in /usr/local/bin (e.g. a static docker CLI) is not what we test.
    debian = (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK))
    path = next(debian, None) or shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed; the client tests need it: apt-get install {package}")
    return path
