"""Mount destinations the image or another container controls: symlinks (static and raced), /proc symlinks,
destinations into /proc. The host is checked from the outside after every attack: the target directory's tree
(nothing created, nothing changed), and the container's own mount table (nothing mounted where it should not be).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import add_mount
from .hostprobe import container_mounts, tree_digest
from .runtimes import Runtime, uniq

pytestmark = pytest.mark.root

# How long each race is run against pyrunc (a vulnerable runtime loses it within a few attempts; runc 1.1.5 gets
# longer so its result is not luck). PYRUNC_RACE_SECONDS=60 for a long run.
RACE_SECONDS = float(os.environ.get("PYRUNC_RACE_SECONDS", "5"))


class Racer:
    """The process of another container that shares a volume with ours: swaps a directory and a symlink to a host
    path with renameat2(RENAME_EXCHANGE) as fast as it can, for as long as the attack lasts."""

    def __init__(self, sectool: Path, a: Path, b: Path, seconds: int) -> None:
        self.proc = subprocess.Popen([str(sectool), "race-exchange", str(a), str(b), str(seconds)],
                                     stdout=subprocess.PIPE, text=True)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def volume(world: Path, host_dir: Path) -> Iterator[tuple[Path, Path, Path]]:
    """(volume dir, vol/dir, vol/link): a shared volume where `dir` is a real directory and `link` a symlink to the
    host directory; the racer exchanges the two names."""
    vol = world / "volume"
    vol.mkdir()
    (vol / "dir").mkdir()
    (vol / "link").symlink_to(host_dir)
    yield vol, vol / "dir", vol / "link"


def mounts_outside(pid: int, allowed: tuple[str, ...]) -> list[str]:
    """Mount points of a running container that are not one of `allowed` (exact) or under them."""
    out = []
    for m in container_mounts(pid):
        if not any(m.point == a or m.point.startswith(a.rstrip("/") + "/") for a in allowed):
            out.append(f"{m.point} ({m.fstype} {m.source})")
    return out


def run_detached(rt: Runtime, b: Path, cid: str) -> tuple[int, str]:
    """`run -d`; (pid or 0, error text)."""
    p = rt.run(b, cid, "-d")
    if p.returncode != 0:
        return 0, p.stderr
    st = rt.state(cid)
    return (st or {}).get("pid", 0), ""


# --------------------------------------------------------------------------------------------- static symlinks
def test_cve_2021_30465_destination_through_symlink_to_host_dir(rt: Runtime, rootfs: Path, host_dir: Path,
                                                                bundle: Any) -> None:
    """CVE-2021-30465 / CVE-2019-19921 (static form): a mount destination runs through a symlink to a host
    directory. It must resolve inside the rootfs (or fail): the host directory gains nothing."""
    before = tree_digest(host_dir)
    (rootfs / "evil").symlink_to(host_dir)
    (rootfs / "evil-rel").symlink_to("../" * 12 + str(host_dir).lstrip("/"))

    def edit(c: dict[str, Any]) -> None:
        add_mount(c, "/evil/sub", "tmpfs", "tmpfs")
        add_mount(c, "/evil-rel/sub2", "tmpfs", "tmpfs")
        add_mount(c, "/evil/marker", "bind", "/etc/hostname", ["bind", "ro"])

    cid = uniq("c30465s")
    pid, err = run_detached(rt, bundle(["sleep", "30"], edit), cid)
    if pid:
        # Wherever the mounts landed, it is inside the container's root.
        inner = "/" + str(host_dir).lstrip("/")
        assert not mounts_outside(pid, ("/", )), "mounts outside the container root"
        points = {m.point for m in container_mounts(pid)}
        assert f"{inner}/sub" in points and f"{inner}/sub2" in points
    rt.delete(cid)
    assert tree_digest(host_dir) == before, f"the host directory changed ({err})"


def test_cve_2024_45310_dangling_destination_symlink_to_host_path(rt: Runtime, rootfs: Path, host_dir: Path,
                                                                  bundle: Any) -> None:
    """CVE-2024-45310 / CVE-2021-30465 (static, dangling form): /etc/hosts, /etc/data are dangling symlinks naming
    paths in a host directory (absolute, and climbing with ../). Following them to create the mountpoints, as
    runtimes do for Docker's /etc/hosts, must create and mount inside the rootfs only: the host directory gains
    no file, no directory, no mount."""
    before = tree_digest(host_dir)
    hosts = rootfs / "etc" / "hosts"
    if hosts.exists() or hosts.is_symlink():
        hosts.unlink()
    hosts.symlink_to(host_dir / "new-hosts")
    (rootfs / "etc" / "data").symlink_to("../" * 12 + str(host_dir / "new-dir").lstrip("/"))

    def edit(c: dict[str, Any]) -> None:
        add_mount(c, "/etc/hosts", "bind", "/etc/hostname", ["bind", "ro"])
        add_mount(c, "/etc/data", "tmpfs", "tmpfs")

    cid = uniq("c45310d")
    pid, err = run_detached(rt, bundle(["sleep", "30"], edit), cid)
    if pid:
        inner = "/" + str(host_dir).lstrip("/")
        points = {m.point for m in container_mounts(pid)}
        assert {f"{inner}/new-hosts", f"{inner}/new-dir"} <= points, points
        assert not mounts_outside(pid, ("/",)), "mounts outside the container root"
    rt.delete(cid)
    assert tree_digest(host_dir) == before, f"the host directory changed ({err})"
    assert not any(m.point.startswith(str(host_dir)) for m in container_mounts(os.getpid()))


# --------------------------------------------------------------------------------------------- races
def test_cve_2021_30465_raced_destination_never_lands_on_the_host(rt: Runtime, rootfs: Path, host_dir: Path,
                                                                  volume: tuple[Path, Path, Path], sectool: Path,
                                                                  bundle: Any) -> None:
    """CVE-2021-30465: the destinations lie in a volume whose directory another container swaps with a symlink to
    a host directory between the runtime's check and its mount(2). A later bind of that host directory shows
    whether an earlier mount landed on it (in the runtime's mount namespace)."""
    vol, d, link = volume
    n = 20
    for i in range(n):
        (d / f"m{i}").mkdir()
        (host_dir / f"m{i}").mkdir()  # the escape target exists: the mount itself is the attack
    before = tree_digest(host_dir)

    def edit(c: dict[str, Any]) -> None:
        add_mount(c, "/vol", "bind", str(vol), ["rbind"])
        for i in range(n):
            add_mount(c, f"/vol/dir/m{i}", "tmpfs", "tmpfs", ["size=16k"])
        add_mount(c, "/check", "bind", str(host_dir), ["rbind", "ro"])

    b = bundle(["sleep", "30"], edit)
    racer = Racer(sectool, d, link, int(RACE_SECONDS) + 40)
    escaped: list[str] = []
    try:
        deadline = time.monotonic() + (RACE_SECONDS if rt.is_pyrunc else max(RACE_SECONDS, 15))
        attempts = 0
        while time.monotonic() < deadline:
            attempts += 1
            cid = uniq("c30465r")
            pid, _ = run_detached(rt, b, cid)
            if pid:
                escaped += [f"{m.point} ({m.fstype})" for m in container_mounts(pid)
                            if m.point.startswith("/check/")]
            rt.delete(cid)
            if escaped:
                break
    finally:
        racer.stop()
    assert not escaped, f"a raced mount landed on the host directory (attempt {attempts}): {escaped}"
    assert tree_digest(host_dir) == before


def test_cve_2024_45310_raced_mkdir_creates_nothing_on_the_host(rt: Runtime, rootfs: Path, host_dir: Path,
                                                                volume: tuple[Path, Path, Path], sectool: Path,
                                                                bundle: Any) -> None:
    """CVE-2024-45310: missing mountpoints in a shared volume. Resolving the destination and then creating it by
    path (MkdirAll) follows a symlink swapped in between, creating directories on the host."""
    vol, d, link = volume
    before = tree_digest(host_dir)
    n = 25
    racer = Racer(sectool, d, link, int(RACE_SECONDS) + 40)
    created: list[str] = []
    try:
        deadline = time.monotonic() + (RACE_SECONDS if rt.is_pyrunc else max(RACE_SECONDS, 20))
        attempt = 0
        while time.monotonic() < deadline and not created:
            attempt += 1

            def edit(c: dict[str, Any], attempt: int = attempt) -> None:
                add_mount(c, "/vol", "bind", str(vol), ["rbind"])
                for i in range(n):
                    add_mount(c, f"/vol/dir/a{attempt}-{i}/x", "tmpfs", "tmpfs", ["size=16k"])

            cid = uniq("c45310")
            run_detached(rt, bundle(["true"], edit), cid)
            rt.delete(cid)
            created = sorted(set(tree_digest(host_dir)) - set(before))
    finally:
        racer.stop()
    assert not created, f"the runtime created {created[:5]} in the host directory {host_dir}"
    assert tree_digest(host_dir) == before


# --------------------------------------------------------------------------------------------- /proc
@pytest.mark.parametrize("target", ["host", "inside", "volume", "sys-host"])
def test_cve_2023_28642_proc_symlink_is_refused(rt: Runtime, rootfs: Path, host_dir: Path, world: Path,
                                                bundle: Any, target: str) -> None:
    """CVE-2019-19921 / CVE-2023-27561 / CVE-2023-28642: the image's /proc (or /sys) is a symlink: to a host path,
    to a directory of the image, to a volume another container controls. procfs/sysfs must never be mounted
    through it: the runtime refuses, and nothing is mounted or created at the symlink's target."""
    vol = world / "volume"
    vol.mkdir()
    (vol / "fakeproc").mkdir()
    (rootfs / "fakeproc").mkdir()
    which = "sys" if target == "sys-host" else "proc"
    shutil.rmtree(rootfs / which)
    link = {"host": str(host_dir), "inside": "/fakeproc", "volume": "/vol/fakeproc", "sys-host": str(host_dir)}[target]
    (rootfs / which).symlink_to(link)
    watched = {"host": host_dir, "inside": rootfs / "fakeproc", "volume": vol, "sys-host": host_dir}[target]
    before = tree_digest(watched)

    def edit(c: dict[str, Any]) -> None:
        c["mounts"].insert(0, {"destination": "/vol", "type": "bind", "source": str(vol), "options": ["rbind"]})

    cid = uniq("c28642")
    pid, _err = run_detached(rt, bundle(["sleep", "30"], edit), cid)
    fs = [m for m in container_mounts(pid) if m.fstype in ("proc", "sysfs")] if pid else []
    rt.delete(cid)
    assert not pid, f"the container started with /{which} a symlink to {link}; proc/sysfs mounts: {fs}"
    assert tree_digest(watched) == before


def test_cve_2025_52881_destination_symlink_into_proc_is_refused(rt: Runtime, rootfs: Path, bundle: Any) -> None:
    """CVE-2025-52881: a mount destination that is (or runs through) a symlink into /proc covers procfs files the
    runtime writes later. Here a tmpfs would land on /proc/sys/kernel, and the sysctl the config asks for would be
    written into the tmpfs instead of the kernel, silently. Either the runtime refuses, or the sysctl really is
    set and /proc/sys/kernel is still procfs."""
    (rootfs / "innocent").symlink_to("/proc/sys/kernel")

    def edit(c: dict[str, Any]) -> None:
        add_mount(c, "/innocent", "tmpfs", "tmpfs", ["size=16k"])
        c["linux"]["sysctl"] = {"kernel.shmmax": "7777777"}

    cid = uniq("c52881")
    p = rt.run(bundle(["sh", "-c", "cat /proc/sys/kernel/shmmax; echo; stat -f -c %T /proc/sys/kernel"], edit), cid)
    if p.returncode == 0:
        assert p.stdout.split() == ["7777777", "proc"], (
            f"the sysctl went into a fake /proc/sys/kernel: {p.stdout!r} (CVE-2025-52881)")


def test_cve_2025_52881_bind_over_proc_self_attr_is_refused(rt: Runtime, rootfs: Path, world: Path,
                                                            bundle: Any) -> None:
    """CVE-2025-52881 / CVE-2019-16884: a volume mounted over /proc/self/attr (through a symlink in the image)
    would make the runtime's LSM label writes land in a file the attacker controls."""
    fake = world / "fake-attr"
    fake.mkdir()
    (fake / "exec").write_text("")
    (rootfs / "attr").symlink_to("/proc/self/attr")

    def edit(c: dict[str, Any]) -> None:
        add_mount(c, "/attr", "bind", str(fake), ["bind"])

    cid = uniq("c52881a")
    pid, _ = run_detached(rt, bundle(["sleep", "30"], edit), cid)
    bad = [m.point for m in container_mounts(pid) if m.point.startswith("/proc/") and "attr" in m.point] if pid else []
    rt.delete(cid)
    assert not bad, f"a volume was mounted over {bad} (CVE-2025-52881)"
    assert (fake / "exec").read_text() == ""


# --------------------------------------------------------------------------------------------- tmpcopyup
def test_tmpcopyup_of_a_raced_volume_never_hangs_the_runtime(rt: Runtime, rootfs: Path, world: Path,
                                                             sectool: Path, bundle: Any) -> None:
    """`tmpcopyup` copies the directory a tmpfs covers, and that directory can be in a volume another container
    writes to. A regular file swapped for a fifo between the runtime's stat and its open would block the runtime
    in open(2) forever (the create never returns, the container never starts). Found by this suite; fixed in
    pyrunc/rootfs/copyup.py (`open_same`: O_NONBLOCK, and the opened inode must be the one stat'ed).
    The same raced directory is copied by ten mounts per container, so each attempt has many chances."""
    vol = world / "volume"
    data = vol / "data"
    data.mkdir(parents=True)
    for i in range(2):
        (data / f"f{i}").write_text("data\n")
        os.mkfifo(data / f"fifo{i}")

    def edit(c: dict[str, Any]) -> None:
        for i in range(10):
            add_mount(c, f"/v{i}", "bind", str(vol), ["rbind"])
            add_mount(c, f"/v{i}/data", "tmpfs", "tmpfs", ["tmpcopyup", "size=1m"])

    b = bundle(["true"], edit)
    racers = [Racer(sectool, data / f"f{i}", data / f"fifo{i}", int(RACE_SECONDS) + 40) for i in range(2)]
    hung = None
    try:
        deadline = time.monotonic() + RACE_SECONDS
        while time.monotonic() < deadline and hung is None:
            cid = uniq("ccopyup")
            try:
                p = rt.run(b, cid, timeout=20)
                assert p.returncode == 0 or "tmpcopyup" in p.stderr, p.stderr  # the race may be seen and refused
            except subprocess.TimeoutExpired:
                hung = cid  # the runtime was killed by the timeout; delete --force kills its blocked init
            rt.delete(cid)
    finally:
        for r in racers:
            r.stop()
    assert hung is None, f"`run` of {hung} hung: the runtime blocked on a fifo swapped into the copied directory"


COPY_AFTER_SWAP = """
import os, sys
from pyrunc.rootfs import copyup
top = sys.argv[1]
src = os.open(top + "/src", os.O_RDONLY | os.O_DIRECTORY)
dst = os.open(top + "/dst", os.O_RDONLY | os.O_DIRECTORY)
st = os.stat("f", dir_fd=src, follow_symlinks=False)     # what the copy saw: a regular file
os.unlink(top + "/src/f")
os.mkfifo(top + "/src/f")                                 # what is there when it opens it: a fifo
try:
    copyup.copy_entry(src, dst, "f", st, "/data/f")
except Exception as e:
    print("REFUSED", e)
"""


def test_tmpcopyup_entry_changed_after_stat_is_refused(world: Path) -> None:
    """The deterministic form of the race above: the entry is swapped between stat and open. The copy must refuse
    (or copy the fifo as a fifo), never block in open(2)."""
    from .runtimes import SRC

    (world / "src").mkdir()
    (world / "dst").mkdir()
    (world / "src" / "f").write_text("data\n")
    try:
        p = subprocess.run([sys.executable, "-c", COPY_AFTER_SWAP, str(world)], capture_output=True, text=True,
                           timeout=10, env=dict(os.environ, PYTHONPATH=str(SRC)), cwd="/")
    except subprocess.TimeoutExpired:
        pytest.fail("tmpcopyup blocked in open(2) on a fifo swapped in after stat")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "REFUSED" in p.stdout or stat.S_ISFIFO(os.lstat(world / "dst" / "f").st_mode), p.stdout
