"""A minimal busybox root filesystem for the cases.

One template is built per session; every bundle gets its own copy (the busybox
binary is hard-linked, everything else is copied) so that containers writing to
their rootfs never disturb each other.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
conf:x:1000:1000:conformance user:/home/conf:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""

GROUP = """\
root:x:0:
wheel:x:10:
dialout:x:20:
tty:x:5:
conf:x:1000:
nogroup:x:65534:
"""

# Directories every case may rely on (mount points are created up front so that a
# runtime running as a mapped user in a user namespace never has to mkdir them).
DIRS = (
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "etc",
    "proc",
    "sys",
    "dev",
    "tmp",
    "var",
    "var/tmp",
    "root",
    "home/conf",
    "mnt",
    "run",
    "opt",
)

_PT_INTERP = 3


def find_busybox() -> str:
    """A statically linked busybox (the container has no libc to load a dynamic one)."""
    for cand in (os.environ.get("CONFORMANCE_BUSYBOX"), "/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")):
        if cand and os.path.isfile(cand) and _is_static_elf(cand):
            return cand
    raise RuntimeError(
        "no statically linked busybox found (apt-get install busybox-static, or set CONFORMANCE_BUSYBOX)"
    )


def _is_static_elf(path: str) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        phoff = struct.unpack_from("<Q", head, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != _PT_INTERP for i in range(phnum))


def build_template(dest: Path, template: Path | None = None) -> Path:
    """Create the session's template rootfs in `dest` (or copy `template`, e.g. bundles/out/rootfs)."""
    if template is not None:
        shutil.copytree(template, dest, symlinks=True)
        for d in DIRS:
            (dest / d).mkdir(parents=True, exist_ok=True)
        return dest
    busybox = find_busybox()
    dest.mkdir(parents=True)
    for d in DIRS:
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "var/tmp", 0o1777)
    shutil.copy2(busybox, dest / "bin/busybox")
    os.chmod(dest / "bin/busybox", 0o755)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for rel in applets:
        if rel == "bin/busybox":
            continue
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists() and not link.is_symlink():
            os.symlink("/bin/busybox", link)
    (dest / "etc/passwd").write_text(PASSWD)
    (dest / "etc/group").write_text(GROUP)
    (dest / "etc/hostname").write_text("conformance\n")
    os.chown(dest / "home/conf", 1000, 1000)
    return dest


def _link_or_copy(src: str, dst: str) -> str:
    # Only the (large, never written) busybox binary is shared between bundles.
    if os.path.getsize(src) > 256 * 1024:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    return shutil.copy2(src, dst)


def copy_rootfs(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True, copy_function=_link_or_copy)
    home = dest / "home/conf"
    if home.is_dir():
        os.chown(home, 1000, 1000)  # copytree keeps modes, not owners
    return dest
