"""How the container's first process joins its cgroup (pyrunc.process.spawn, pyrunc.linux.clone): forked into the
cgroup v2 directory with clone3(CLONE_INTO_CGROUP), v1 hierarchies joined by the intermediate itself ("0" to
`tasks`), and the parent's cgroup.procs writes as the fallback for each. Whatever path is taken, the init ends up
in the container's cgroup in every hierarchy, before it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, uniq

pytestmark = pytest.mark.root


def _memberships(pid: int) -> dict[str, str]:
    """hierarchy (controllers, or "" for cgroup2) -> cgroup path, from /proc/<pid>/cgroup."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        out[controllers] = path
    return out


# Each variant runs pyrunc in a fresh interpreter with one of the fast paths broken, as on a kernel without
# clone3 (or a seccomp profile refusing it) or a host where the v1 `tasks` write is refused.
VARIANTS = {
    "fast": "",
    "no-clone3": "import pyrunc.linux.clone as c\n"
                 "def refuse(d, **kw):\n    raise OSError(38, 'Function not implemented')\n"
                 "c.fork_into_cgroup = refuse\n",
    "no-tasks": "import pyrunc.cgroups.files as f\n_w = f.write\n"
                "def write(d, name, value, **kw):\n"
                "    if name == 'tasks':\n        raise f.CgroupError('refused', path=d)\n"
                "    return _w(d, name, value, **kw)\n"
                "f.write = write\n",
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_init_is_in_the_cgroup_in_every_hierarchy(variant: str, make_bundle, tmp_path: Path, cid: str) -> None:  # type: ignore[no-untyped-def]
    cgpath = f"/{uniq('placement')}-{variant}"

    def edit(c: dict) -> None:  # type: ignore[type-arg]
        c["linux"]["cgroupsPath"] = cgpath
        c["process"]["args"] = ["sleep", "60"]

    bundle = make_bundle(edit)
    root = tmp_path / "root"
    code = (f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{VARIANTS[variant]}"
            "from pyrunc.cli.main import main\n"
            f"sys.exit(main(['--root', {str(root)!r}, 'create', '--bundle', {str(bundle)!r}, {cid!r}]))\n")
    # stderr to a file: the init inherits create's stdio, so a pipe would only see EOF when the container exits.
    with open(tmp_path / "create.err", "w+") as err:
        p = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err, timeout=60)
        err.seek(0)
        message = err.read()
    try:
        assert p.returncode == 0, message
        pid = int((root / cid / "state.json").read_text().split('"pid":')[1].split(",")[0])
        got = _memberships(pid)
        mine = _memberships(os.getpid())
        assert set(got) == set(mine)
        for hierarchy, path in got.items():
            assert path == cgpath, (hierarchy, path)
    finally:
        subprocess.run([sys.executable, "-m", "pyrunc", "--root", str(root), "delete", "--force", cid],
                       capture_output=True, cwd=REPO, timeout=60)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_exec_process_is_in_the_cgroup(variant: str, make_bundle, runtime, tmp_path: Path, cid: str) -> None:  # type: ignore[no-untyped-def]
    """`exec` joins the container's cgroup the same way (and with the same fallbacks)."""
    cgpath = f"/{uniq('placement-exec')}-{variant}"

    def edit(c: dict) -> None:  # type: ignore[type-arg]
        c["linux"]["cgroupsPath"] = cgpath
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
        c["process"]["args"] = ["sleep", "60"]

    runtime.create(make_bundle(edit), cid)
    code = (f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{VARIANTS[variant]}"
            "from pyrunc.cli.main import main\n"
            f"sys.exit(main(['--root', {str(runtime.root)!r}, 'exec', {cid!r}, 'cat', '/proc/self/cgroup']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in p.stdout.splitlines()}
    assert set(got) == set(_memberships(os.getpid()))
    assert all(path == cgpath for path in got.values()), got


def test_failed_create_removes_the_parents_it_made(make_bundle, runtime, cid: str) -> None:  # type: ignore[no-untyped-def]
    """A create that fails after making `a/b/leaf` (no `a` before) leaves no `a` or `a/b` in any hierarchy; a
    parent another container's cgroup lives in is kept."""
    top = uniq("made-parents")

    def bad(c: dict) -> None:  # type: ignore[type-arg]
        c["linux"]["cgroupsPath"] = f"/{top}/b/leaf"
        c["linux"]["resources"]["cpu"] = {"cpus": "4095"}  # refused by the kernel when written: after the mkdirs

    p = runtime.create(make_bundle(bad), cid, check=False)
    assert p.returncode != 0
    assert "cpuset" in p.stderr or "cpus" in p.stderr, p.stderr
    left = [h for h in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{h}/{top}")]
    assert left == [], f"{top} left in {left}"

    def good(c: dict) -> None:  # type: ignore[type-arg]
        c["linux"]["cgroupsPath"] = f"/{top}/b/other"
        c["process"]["args"] = ["sleep", "60"]

    other = cid + "-other"
    runtime.create(make_bundle(good), other)
    p = runtime.create(make_bundle(bad), cid, check=False)
    assert p.returncode != 0
    assert os.path.isdir(f"/sys/fs/cgroup/memory/{top}/b/other") or os.path.isdir(f"/sys/fs/cgroup/{top}/b/other")
    runtime("delete", "--force", other, check=True)
    for h in os.listdir("/sys/fs/cgroup"):  # the parents a successful container made stay, as with runc
        for d in (f"/sys/fs/cgroup/{h}/{top}/b", f"/sys/fs/cgroup/{h}/{top}"):
            if os.path.isdir(d):
                os.rmdir(d)
