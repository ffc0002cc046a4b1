"""The runtime an attack is mounted against: pyrunc by default, any runc-compatible binary on request.

    PYRUNC_SECURITY_RUNTIMES=pyrunc,runc=/usr/sbin/runc pytest tests/security

runs every attack test once per runtime (ids `[pyrunc]`, `[runc]`). CI runs pyrunc only. A runtime entry is
`name=command` (`command` split on spaces) or just `pyrunc` / `runc` (the default commands below).

`Runtime` speaks only runc's CLI (`--root DIR create|start|run|state|kill|delete`), so the same test runs against
both. Commands whose container keeps our stdio (create, run -d) get files, never pipes: a pipe would make us wait
for the container's exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# The pyrunc source tree the runtime under test imports: this checkout, or a deliberately weakened copy of it
# (tests/security/mutants.py sets this to show each attack test fails on a runtime with the bug).
SRC = Path(os.environ.get("PYRUNC_SECURITY_SRC") or REPO)
SESSION = uuid.uuid4().hex[:6]  # in every id: cgroups and processes of this session are told apart by it
DEFAULT_COMMANDS = {
    "pyrunc": f"{sys.executable} -m pyrunc",
    "runc": "/usr/sbin/runc",
}


def selected_runtimes() -> list[tuple[str, list[str]]]:
    raw = os.environ.get("PYRUNC_SECURITY_RUNTIMES", "pyrunc")
    out = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, cmd = item.partition("=")
        out.append((name, (cmd if eq else DEFAULT_COMMANDS.get(name, name)).split()))
    return out


def uniq(name: str) -> str:
    """A container id unique to this session (the default cgroupsPath is the id; other runs share the host)."""
    return f"{name}-{SESSION}-{uuid.uuid4().hex[:4]}"


class Runtime:
    """One runtime binary with a private state root. Everything it creates is deleted by `cleanup()`."""

    def __init__(self, name: str, cmd: list[str], root: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.root = root
        self.env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
        self.ids: set[str] = set()

    @property
    def is_pyrunc(self) -> bool:
        return self.name.startswith("pyrunc")

    def __call__(self, *args: str, timeout: float = 60, files: bool = False, **kw: Any) -> subprocess.CompletedProcess:
        """Run `<cmd> --root <root> args...`. `files`: stdout/stderr through temporary files (see module doc)."""
        argv = [*self.cmd, "--root", str(self.root), *args]
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("cwd", "/")
        if "stdout" in kw or "stderr" in kw:
            return subprocess.run(argv, text=True, timeout=timeout, env=self.env, **kw)
        if not files:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env, **kw)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(argv, stdout=out, stderr=err, text=True, timeout=timeout, env=self.env, **kw)
            out.seek(0)
            err.seek(0)
            p.stdout, p.stderr = out.read(), err.read()
        return p

    # ---- the verbs, with our bookkeeping
    def run(self, bundle: Path, cid: str, *extra: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
        """Foreground `run`: the container's stdout/stderr come back in the result."""
        self.ids.add(cid)
        return self(("run"), "-b", str(bundle), *extra, cid, timeout=timeout, files=True, **kw)

    def create(self, bundle: Path, cid: str, *extra: str, **kw: Any) -> subprocess.CompletedProcess:
        self.ids.add(cid)
        return self("create", "-b", str(bundle), *extra, cid, files=True, **kw)

    def start(self, cid: str) -> subprocess.CompletedProcess:
        return self("start", cid, files=True)

    def state(self, cid: str) -> dict[str, Any] | None:
        p = self("state", cid)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def kill(self, cid: str, sig: str = "KILL") -> subprocess.CompletedProcess:
        return self("kill", cid, sig)

    def delete(self, cid: str, force: bool = True) -> subprocess.CompletedProcess:
        return self("delete", *(["--force"] if force else []), cid)

    def cleanup(self) -> None:
        """`delete --force` every container still in the state root (a missing dir has nothing to delete); then,
        as a last resort, remove cgroups of our ids that the runtime left (runc 1.1.5 does, after some attacks)."""
        from .hostprobe import cgroup_dirs, remove_cgroups

        ids = set(os.listdir(self.root)) if self.root.exists() else set()
        for cid in sorted(e for e in ids if not e.startswith(".")):
            try:
                self.delete(cid)
            except subprocess.TimeoutExpired:
                pass
        for d in cgroup_dirs(SESSION):
            if os.path.basename(d) in self.ids:
                remove_cgroups(os.path.basename(d))


def fix_busybox_links(rootfs: Path) -> None:
    """`busybox --install -s` links applets to the host path of the binary; point them at /bin/busybox."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):
        top = rootfs / d
        if not top.is_dir():
            continue
        for entry in top.iterdir():
            if entry.is_symlink():
                target = os.readlink(entry)
                if target.endswith("/busybox") and target != "/bin/busybox":
                    entry.unlink()
                    entry.symlink_to("/bin/busybox")


def copy_rootfs(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    fix_busybox_links(dest)
    return dest
