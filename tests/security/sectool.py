"""Building tests/security/sectool.c: a static helper (raw syscalls, capset, seccomp, renameat2) that runs in a
busybox rootfs without a libc. Used by the security suite and by the Docker client tests."""

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent / "sectool.c"


def build_sectool(out_dir: Path) -> Path:
    """Compile sectool into `out_dir`; fails the test (not skips it) without gcc, which ./dev installs."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to build tests/security/sectool.c (./dev installs it)")
    out = out_dir / "sectool"
    subprocess.run([gcc, "-static", "-O1", "-o", str(out), str(SOURCE)], check=True, timeout=120)
    return out
