"""Bind mounts that the runtime makes on the host side: sources a user-namespaced container's root cannot reach,
and id-mapped mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`), with and without a user
namespace. Real containers through the CLI; the files' owners are checked from inside and on the host.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root

USERNS = {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
}
OVERFLOW = "65534:65534"  # an id the container's user namespace does not map (kernel.overflowuid)


@pytest.fixture
def host() -> Iterator[Path]:
    """A host directory every uid can traverse, for bind sources (pytest's tmp_path is 0700)."""
    top = Path(tempfile.mkdtemp(prefix="pyrunc-idmap-"))
    top.chmod(0o755)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def private_dir(parent: Path, name: str, owner: int = 0) -> Path:
    """`parent/name/data` and its file `f` owned by `owner`; `name` is 0700, owned by the host's root."""
    d = parent / name / "data"
    d.mkdir(parents=True)
    (d / "f").write_text(f"{name}\n")
    os.chown(d / "f", owner, owner)
    os.chown(d, owner, owner)
    (parent / name).chmod(0o700)
    return d


def bind(dest: str, source: Path, *options: str, maps: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """A bind mount; `maps` = (containerID, hostID, size) for both uidMappings and gidMappings."""
    m: dict[str, Any] = {"destination": dest, "type": "bind", "source": str(source), "options": ["bind", *options]}
    if maps is not None:
        c, h, n = maps
        m["uidMappings"] = m["gidMappings"] = [{"containerID": c, "hostID": h, "size": n}]
    return m


@pytest.fixture
def start(runtime: Any, make_bundle: Any, userns_rootfs: Path) -> Callable[..., Any]:
    """start(script, mounts, userns=True, edit=None) -> the `run` result of `sh -c script` with those mounts.
    Mount points are made in the rootfs first: the container's root may not create them in a root-owned image."""
    def go(script: str, mounts: list[dict[str, Any]], userns: bool = True,
           edit: Callable[[dict[str, Any]], None] | None = None) -> Any:
        for m in mounts:
            (userns_rootfs / m["destination"].lstrip("/")).mkdir(parents=True, exist_ok=True)

        def conf(c: dict[str, Any]) -> None:
            c["root"]["readonly"] = False
            if userns:
                c["linux"]["namespaces"].append({"type": "user"})
                c["linux"].update(USERNS)
            c["mounts"] += mounts
            if edit:
                edit(c)

        bundle = make_bundle(edit=conf, args=["sh", "-c", script], rootfs=userns_rootfs)
        return runtime("run", "-b", str(bundle), uniq("idmap"))

    return go


def test_binds_the_container_root_cannot_reach(start: Any, host: Path) -> None:
    """runc's userns.bats "userns with 2 inaccessible mounts": the sources lie under 0700 directories of the host's
    root, which uid 100000 cannot enter; the runtime opens them on the host side."""
    a, b = private_dir(host, "one"), private_dir(host, "two")
    p = start("cat /m1/f /m2/f; stat -c %u:%g /m1/f", [bind("/m1", a), bind("/m2", b, "ro")])
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["one", "two", OVERFLOW]  # not id-mapped: the host's root is unmapped here


def test_idmapped_bind_without_user_namespace(start: Any, host: Path) -> None:
    """A host directory owned by uid 1000, mapped 1000 -> 2000: the container sees 2000; the host's file keeps 1000."""
    src = private_dir(host, "owned", owner=1000)
    p = start("stat -c %u:%g /o/f; grep ' /o ' /proc/self/mountinfo",
              [bind("/o", src, "idmap", maps=(1000, 2000, 1))], userns=False)
    assert p.returncode == 0, p.stderr
    first, mountinfo = p.stdout.splitlines()
    assert first == "2000:2000"
    assert "idmapped" in mountinfo.split()[5]
    assert os.stat(src / "f").st_uid == 1000


def test_idmapped_bind_in_user_namespace(start: Any, host: Path) -> None:
    """Own mappings in a user-namespaced container: the file of uid 1000 belongs to the container's root (host id
    100000); a file the container's root creates is stored as uid 1000 on the host."""
    src = private_dir(host, "owned", owner=1000)
    p = start("stat -c %u:%g /o/f; touch /o/new && stat -c %u:%g /o/new",
              [bind("/o", src, "idmap", maps=(1000, 100000, 1))])
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["0:0", "0:0"]
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_idmap_option_uses_the_container_mapping(start: Any, host: Path) -> None:
    """`idmap` without mappings: the container's user namespace maps the mount, so ids read as on the host; the same
    source without idmap shows the unmapped overflow id."""
    src = private_dir(host, "owned", owner=1000)
    p = start("stat -c %u:%g /plain/f /mapped/f", [bind("/plain", src), bind("/mapped", src, "ridmap")])
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [OVERFLOW, "1000:1000"]


def test_idmapped_source_under_an_earlier_mount_of_the_container(start: Any, host: Path,
                                                                  userns_rootfs: Path) -> None:
    """runc's mounts.bats "mount order, container idmap source (userns)": the source of an id-mapped bind is a path
    of the rootfs that exists only once an earlier mount of the same container is made (`<rootfs>/mnt/x`, after a
    bind over /mnt/x). The host-side tree must be made when that mount's turn comes, in the container's mount
    namespace, not before the first mount."""
    srcs = {}
    for name in ("a", "b"):
        d = host / f"src-{name}"
        (d / "x").mkdir(parents=True)
        (d / "x" / "file").write_text(f"{name}\n")
        srcs[name] = d
    rootfs = str(userns_rootfs)
    mounts = [bind("/mnt", srcs["a"], "rbind"), bind("/mnt/x", srcs["b"], "rbind"),
              bind("/final", Path(f"{rootfs}/mnt/x"), "rbind", "idmap")]
    p = start("cat /final/x/file /mnt/x/x/file", mounts)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["b", "b"]


def test_idmap_option_with_a_joined_user_namespace(runtime: Any, make_bundle: Any, userns_rootfs: Path,
                                                   host: Path) -> None:
    """runc's idmap.bats "implied mapping, userns join": the mapping is that of the user namespace joined by path."""
    src = private_dir(host, "owned", owner=1000)
    (userns_rootfs / "o").mkdir()

    def first(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"].update(USERNS)

    target = uniq("idmap-target")
    b1 = make_bundle(edit=first, args=["sleep", "60"], rootfs=userns_rootfs)
    runtime.create(b1, target)
    pid = runtime.state(target)["pid"]

    def second(c: dict[str, Any]) -> None:
        c["root"]["readonly"] = False
        c["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})
        c["mounts"].append(bind("/o", src, "idmap"))

    b2 = make_bundle(edit=second, args=["stat", "-c", "%u:%g", "/o/f"], rootfs=userns_rootfs)
    p = runtime("run", "-b", str(b2), uniq("idmap-join"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1000:1000"


def test_no_mount_fd_reaches_the_container(runtime: Any, make_bundle: Any, userns_rootfs: Path, host: Path) -> None:
    """The trees handed to the init are closed before it waits for `start`: neither the parked init nor the
    container process holds an fd on a bind source."""
    a, b = private_dir(host, "one"), private_dir(host, "two", owner=1000)
    for d in ("m1", "m2"):
        (userns_rootfs / d).mkdir()

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"].update(USERNS)
        c["mounts"] += [bind("/m1", a), bind("/m2", b, "idmap", maps=(1000, 100000, 1))]

    cid = uniq("idmap-fds")
    runtime.create(make_bundle(edit=edit, args=["sh", "-c", "ls /proc/1/fd; true"], rootfs=userns_rootfs), cid)
    pid = runtime.state(cid)["pid"]
    held = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
    # stdio (create's: /dev/null and the error file) and exec.fifo; an attached tree would read as /m1 or /m2.
    extra = [t for t in held if t != "/dev/null" and not t.endswith((f"/create-{cid}.err", "/exec.fifo"))]
    assert not extra, held


def test_container_process_has_only_stdio(start: Any, host: Path) -> None:
    a, b = private_dir(host, "one"), private_dir(host, "two", owner=1000)
    p = start("ls /proc/1/fd; true", [bind("/m1", a), bind("/m2", b, maps=(1000, 100000, 1))])
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == ["0", "1", "2"]


def test_host_side_failure_is_a_clean_error(start: Any, runtime: Any) -> None:
    """sysfs cannot be id-mapped: the helper's error names the mount, the call and the config field, and nothing
    is left behind."""
    p = start("true", [bind("/s", Path("/sys/kernel"), "idmap")])
    assert p.returncode != 0
    msg = p.stderr.strip().splitlines()[-1]
    # The call that refuses: mount_setattr, or already open_tree when the host has mounts under /sys/kernel
    # (tracefs, once perf or a tracer mounted it).
    assert "mount bind /sys/kernel on /s: Invalid argument" in msg, msg
    assert "mount_setattr" in msg or "open_tree" in msg, msg
    assert "(config: /mounts/7)" in msg
    assert runtime("list", "-q").stdout.strip() == ""


def test_rootfs_the_container_root_cannot_enter_is_a_clean_error(runtime: Any, make_bundle: Any,
                                                                  userns_rootfs: Path) -> None:
    """A rootfs (0700, the host's root's) the container's mapped root cannot search: the error names the first mount,
    the rootfs and the config field, not a bare `Permission denied: .`; nothing is left behind."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"].update(USERNS)

    userns_rootfs.chmod(0o700)
    p = runtime("run", "-b", str(make_bundle(edit=edit, args=["true"], rootfs=userns_rootfs)), uniq("noentry"))
    assert p.returncode != 0
    msg = p.stderr.strip().splitlines()[-1]
    assert f"mount proc on /proc: Permission denied (openat {userns_rootfs})" in msg, msg
    assert "(config: /mounts/0)" in msg, msg
    assert runtime("list", "-q").stdout.strip() == ""
