"""The cgroup v2 manager on a real cgroup2 hierarchy: the unified mount of a hybrid host (few controllers, but
cgroup.freeze, cgroup.kill, eBPF device programs and hugetlb work there), or /sys/fs/cgroup on a pure v2 host."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cgroups_support import (
    TEST_PARENT,
    python,
    read,
    remove_test_parent,
    restore_subtree_control,
    spawn_in,
    unified_root,
    wait_for,
)

from pyrunc.cgroups import detect_mode
from pyrunc.cgroups.v2 import V2Manager, available_controllers
from pyrunc.errors import CgroupError
from pyrunc.spec.model import Resources

ROOT = unified_root()

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(ROOT is None, reason="no cgroup2 hierarchy mounted on this host"),
]


@pytest.fixture(scope="module", autouse=True)
def _parent() -> Iterator[None]:
    before = read(os.path.join(ROOT, "cgroup.subtree_control")) if ROOT else ""
    yield
    remove_test_parent()
    restore_subtree_control(before)


@pytest.fixture
def cg(request: pytest.FixtureRequest) -> Iterator[V2Manager]:
    assert ROOT is not None
    m = V2Manager(os.path.join(ROOT, TEST_PARENT.lstrip("/"), request.node.name[:40].replace("[", "-")), ROOT)
    m.create()
    procs: list[subprocess.Popen[bytes]] = []
    m.procs = procs  # type: ignore[attr-defined]
    yield m
    for p in procs:
        if p.poll() is None:
            p.kill()
    m.destroy()
    for p in procs:
        p.wait()
    assert not os.path.exists(m.dir)


def start(cg: Any, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    p = spawn_in(cg, argv, **kw)
    cg.procs.append(p)
    return p


def test_mode_is_known() -> None:
    assert detect_mode() in ("v2", "hybrid")


def test_placement_pids_and_stats(cg: V2Manager) -> None:
    p = start(cg, ["sh", "-c", "sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 2)
    assert p.pid in cg.pids()
    rel = "/" + os.path.relpath(cg.dir, ROOT)
    assert f"0::{rel}" in read(f"/proc/{p.pid}/cgroup").splitlines()
    s = cg.stats()
    assert s["pids"]["current"] == 2 and "usage" in s["cpu"] and "throttling" in s["cpu"]
    assert cg.paths() == {"": cg.dir} and cg.exists()


def test_freeze_really_freezes(cg: V2Manager, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    start(cg, python(f"import time\ni = 0\nwhile True:\n    i += 1\n    open({str(counter)!r}, 'w').write(str(i))\n"
                     "    time.sleep(0.005)"))
    assert wait_for(lambda: counter.exists() and counter.read_text() != "")
    cg.freeze()
    assert cg.is_frozen() and "frozen 1" in read(f"{cg.dir}/cgroup.events")
    value = counter.read_text()
    time.sleep(0.3)
    assert counter.read_text() == value
    cg.thaw()
    assert not cg.is_frozen()
    assert wait_for(lambda: counter.read_text() != value)


def test_kill_all_and_cgroup_kill(cg: V2Manager) -> None:
    p = start(cg, ["sh", "-c", "trap 'exit 3' USR1; sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 2)
    cg.kill_all(signal.SIGUSR1)  # freeze, signal each, thaw
    assert p.wait(timeout=10) == 3 and not cg.is_frozen()
    q = start(cg, ["sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)  # (p's sleep got the USR1 too and is gone)
    cg.kill_all(signal.SIGKILL)  # cgroup.kill
    assert q.wait(timeout=10) == -signal.SIGKILL
    assert wait_for(lambda: cg.pids() == [])


def test_destroy_kills_leftovers(cg: V2Manager) -> None:
    start(cg, ["sh", "-c", "trap '' TERM HUP; sleep 100 & sleep 100 & wait"])
    assert wait_for(lambda: len(cg.pids()) == 3)
    cg.destroy()
    assert not os.path.exists(cg.dir)
    cg.destroy()  # idempotent


def test_device_filter_is_enforced(cg: V2Manager) -> None:
    from pyrunc.cgroups.devices_bpf import attached_program_count

    # devices outside runc's default set that this process may open (the sandbox may deny others, e.g. vda)
    def opens(path: str) -> bool:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            return True
        except OSError:
            return False

    extra = [d for d in ("/dev/kmsg", "/dev/loop0", "/dev/loop-control", "/dev/fuse") if opens(d)]
    if not extra:
        pytest.skip("no device outside the default set can be opened here")
    paths = ["/dev/null", "/dev/zero", *extra]
    probe = python("import os, sys\nfor p in sys.argv[1:]:\n    try:\n        os.close(os.open(p, os.O_RDONLY | "
                   "os.O_NONBLOCK))\n        print('ok')\n    except PermissionError:\n        print('denied')")
    cg.set(Resources.from_dict({"devices": [{"allow": False, "access": "rwm"}]}))
    assert attached_program_count(cg.dir) == 1
    out = start(cg, [*probe, *paths], stdout=subprocess.PIPE).communicate(timeout=10)[0].decode()
    assert out.split() == ["ok", "ok"] + ["denied"] * len(extra)
    # set again: the new program replaces the old one, never two filters
    cg.set(Resources.from_dict({"devices": [{"allow": True, "access": "rwm"}]}))
    assert attached_program_count(cg.dir) == 1
    out = start(cg, [*probe, *paths], stdout=subprocess.PIPE).communicate(timeout=10)[0].decode()
    assert out.split() == ["ok"] * len(paths)


def test_hugetlb_on_cgroup2(cg: V2Manager) -> None:
    from pyrunc.cgroups.v1_stats import hugepage_sizes

    if "hugetlb" not in available_controllers(ROOT):  # type: ignore[arg-type]
        pytest.skip("no hugetlb on cgroup2 here")
    size = sorted(hugepage_sizes(), key=lambda s: ("KB", "MB", "GB").index(s[-2:]))[0]
    cg.enable(["hugetlb"])
    cg.set(Resources.from_dict({"hugepageLimits": [{"pageSize": size, "limit": 8 << 20}]}))
    assert read(f"{cg.dir}/hugetlb.{size}.max") == str(8 << 20)
    assert read(f"{cg.dir}/hugetlb.{size}.rsvd.max") == str(8 << 20)


def test_controller_not_enabled_is_a_clear_error(cg: V2Manager) -> None:
    have = available_controllers(cg.dir)
    if "memory" in have:
        pytest.skip("memory is enabled here")
    with pytest.raises(CgroupError) as e:
        cg.set(Resources.from_dict({"memory": {"limit": 1 << 26}}))
    assert "'memory' is not enabled for this cgroup" in str(e.value)
    assert e.value.spec_path == "/linux/resources/memory" and e.value.path == f"{cg.dir}/cgroup.controllers"


def test_watcher_reports_the_cgroup_emptying(cg: V2Manager) -> None:
    import select

    w = cg.oom_watcher()
    try:
        p = start(cg, ["sleep", "0.3"])
        p.wait(timeout=10)
        gone = False
        deadline = time.monotonic() + 5
        while not gone and time.monotonic() < deadline:
            if select.select([w], [], [], 1)[0]:
                ooms, gone = w.read()
                assert ooms == 0
        assert gone, "populated 0 was not reported"
    finally:
        w.close()


def test_nonempty_cgroup_is_refused(cg: V2Manager) -> None:
    start(cg, ["sleep", "100"])
    with pytest.raises(CgroupError, match="not empty"):
        V2Manager(cg.dir, cg.mountpoint).create()
