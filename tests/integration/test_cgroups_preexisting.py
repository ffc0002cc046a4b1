"""v1 cgroups that partly exist before the container is created (made by someone else: a pod manager, an admin).

- a cgroup frozen in the freezer hierarchy only must be refused at create (else our init freezes on joining it
  and the runtime waits forever);
- a parent made with a plain mkdir has empty cpuset.cpus/mems: the container's cgroup must still be joinable.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from test_cgroups_support import TEST_PARENT, python, remove_test_parent, spawn_in

from pyrunc.cgroups import detect_mode, manager_for
from pyrunc.cgroups.mounts import read_layout
from pyrunc.errors import CgroupError

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(detect_mode() == "v2", reason="v1 controllers needed (this host is pure cgroup v2)"),
]


def _mountpoint(controller: str) -> str:
    for m in read_layout().v1:
        if controller in m.controllers:
            return m.mountpoint
    pytest.skip(f"no v1 {controller} hierarchy here")


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    remove_test_parent()


def test_cgroup_frozen_in_the_freezer_hierarchy_only_is_refused() -> None:
    freezer = os.path.join(_mountpoint("freezer"), TEST_PARENT.lstrip("/"), "frozen")
    os.makedirs(freezer)
    with open(os.path.join(freezer, "freezer.state"), "w") as f:
        f.write("FROZEN")
    cg = manager_for(f"{TEST_PARENT}/frozen", "unused")
    with pytest.raises(CgroupError, match="unexpectedly frozen"):
        cg.create()
    # Nothing was made in the other hierarchies.
    assert not os.path.exists(os.path.join(_mountpoint("memory"), TEST_PARENT.lstrip("/"), "frozen"))


def test_cpuset_parent_made_by_someone_else_is_filled_in() -> None:
    pod = os.path.join(_mountpoint("cpuset"), TEST_PARENT.lstrip("/"), "pod")
    os.makedirs(pod)  # a plain mkdir: cpus and mems start empty
    cg = manager_for(f"{TEST_PARENT}/pod/ctr", "unused")
    cg.create()
    p: subprocess.Popen[bytes] | None = None
    try:
        p = spawn_in(cg, python("import time; time.sleep(30)"))  # joining fails with ENOSPC if cpus/mems are empty
        assert p.pid in cg.pids()
    finally:
        if p is not None:
            p.kill()
            p.wait()
        cg.destroy()
