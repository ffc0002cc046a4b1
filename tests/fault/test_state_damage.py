"""A damaged state directory: pyrunc must still answer in one line, never signal a process that is not the
container's, and `delete --force` must still clean up from the id alone (SECURITY rule 6)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from security.hostprobe import pid_alive, remove_cgroups, wait_until
from security.runtimes import Runtime, uniq

from .test_concurrency import no_crash, spawn_all
from .test_sigkill import assert_clean

pytestmark = pytest.mark.root


def force_cleanup(pid: int, cid: str) -> None:
    """What `delete --force` should have done, for when it does not: never leave the host dirty."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(lambda: not pid_alive(pid), timeout=10)
    remove_cgroups(cid)


def damage_then_delete(pyrunc: Runtime, sleeper: Path, world: Path, name: str, damage: Callable[[str], str],
                       verbs: tuple[tuple[str, ...], ...] = (("state",), ("list",), ("kill", "KILL"), ("ps",))) -> None:
    """Run a container, rewrite `name` in its state directory with damage(old text), check that each of `verbs`
    (the id goes after the verb's name, except for `list`) and exec answer without crashing, then that
    `delete --force` removes the container and everything it had."""
    cid = uniq("damaged")
    assert pyrunc.run(sleeper, cid, "-d").returncode == 0
    pid = pyrunc.state(cid)["pid"]  # type: ignore[index]
    path = pyrunc.root / cid / name
    path.write_text(damage(path.read_text()))
    try:
        for verb, *rest in verbs:
            no_crash([pyrunc(verb, *(() if verb == "list" else (cid,)), *rest)])
        e = pyrunc("exec", cid, "true")  # exec's failures exit 255, as runc's
        assert "internal error" not in e.stderr and e.returncode in (0, 255), (e.returncode, e.stderr)
        d = pyrunc.delete(cid)
        assert d.returncode == 0, d.stderr
        assert wait_until(lambda: not pid_alive(pid), timeout=10), "delete --force left the container running"
        assert_clean(pyrunc, cid, world)
    finally:
        force_cleanup(pid, cid)


def _with(key: str, value: object) -> Callable[[str], str]:
    """A damage that sets one member of the JSON object in the file."""
    def damage(text: str) -> str:
        doc = json.loads(text)
        doc[key] = value
        return json.dumps(doc)
    return damage


# "truncated" and "unterminated" are what a crash mid-write leaves; the C JSON scanner reports them differently from
# "garbage" (see pyrunc.quickjson.scan), and they used to end `state`, `list` and `delete --force` in "internal error".
DAMAGE = {"garbage": "garbage{", "empty": "", "not-an-object": "[1, 2]", "truncated": '{"ociVersion": "1.3.0", ',
          "unterminated": '{"ociVersion": "1.3'}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_delete_force_with_a_corrupt_state_file(pyrunc: Runtime, sleeper: Path, world: Path, damage: str) -> None:
    damage_then_delete(pyrunc, sleeper, world, "state.json", lambda _old: DAMAGE[damage])


# A well-formed state.json with a field of the wrong type or value (a bit flip, a hand edit): these used to reach
# the code that compares pids or formats `list` ("internal error: TypeError"), and `delete --force` left everything.
FIELD_DAMAGE = {"pid-null": ("pid", None), "pid-string": ("pid", "12"), "id-other": ("id", "../elsewhere"),
                "status-unknown": ("status_hint", "zombie"), "annotations-list": ("annotations", [1]),
                "created-number": ("created", 5)}


@pytest.mark.parametrize("damage", sorted(FIELD_DAMAGE))
def test_delete_force_with_a_damaged_field(pyrunc: Runtime, sleeper: Path, world: Path, damage: str) -> None:
    damage_then_delete(pyrunc, sleeper, world, "state.json", _with(*FIELD_DAMAGE[damage]))


# The other files of the state directory: cgroup.json (where the container's cgroup is) and the saved config.json
# (read by exec, and by start and delete for their hooks). Each used to end some command in "internal error", and a
# damaged cgroup.json made `delete --force` leave the whole container.
PART_DAMAGE: dict[str, tuple[str, Callable[[str], str]]] = {
    "cgroup-empty": ("cgroup.json", lambda _old: ""),
    "cgroup-truncated": ("cgroup.json", lambda _old: '{"mode": "hy'),
    "cgroup-not-object": ("cgroup.json", lambda _old: "[1]"),
    "cgroup-unknown-mode": ("cgroup.json", _with("mode", "v9")),
    "cgroup-missing-dirs": ("cgroup.json", lambda _old: '{"mode": "hybrid"}'),
    "cgroup-relative-dir": ("cgroup.json", lambda _old: '{"mode": "v2", "dir": "x", "mountpoint": "/sys/fs/cgroup"}'),
    "config-hooks-list": ("config.json", _with("hooks", [1])),
    "config-poststop-int": ("config.json", _with("hooks", {"poststop": 5})),
    "config-poststop-path": ("config.json", _with("hooks", {"poststop": [{"path": 5}]})),
    "config-linux-list": ("config.json", _with("linux", [1])),
}


@pytest.mark.parametrize("damage", sorted(PART_DAMAGE))
def test_damaged_cgroup_or_config_file(pyrunc: Runtime, sleeper: Path, world: Path, damage: str) -> None:
    damage_then_delete(pyrunc, sleeper, world, *PART_DAMAGE[damage], verbs=(("state",), ("list",), ("ps",),
                                                                          ("kill", "CONT")))


def test_state_naming_another_process_is_never_signalled(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    """pid reuse: state.json names a live host process (same pid, other start time). `kill`, `kill --all`-less
    SIGKILL and `delete --force` must treat the container as stopped and leave that process alone."""
    cid = uniq("reuse")
    assert pyrunc.run(sleeper, cid, "-d").returncode == 0
    pid = pyrunc.state(cid)["pid"]  # type: ignore[index]
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        path = pyrunc.root / cid / "state.json"
        st = json.loads(path.read_text())
        st["pid"] = bystander.pid  # pid_start stays the container init's: it cannot match the bystander's
        path.write_text(json.dumps(st))
        s = pyrunc.state(cid)
        assert s is not None and s["status"] == "stopped", s
        k = pyrunc.kill(cid, "KILL")
        assert k.returncode == 1 and "not running" in k.stderr, k.stderr
        # delete --force kills the container's cgroup (the real init), never the bystander.
        d = pyrunc.delete(cid)
        assert d.returncode == 0, d.stderr
        assert bystander.poll() is None, "pyrunc signalled a process that is not the container's"
    finally:
        bystander.kill()
        bystander.wait(timeout=10)
        force_cleanup(pid, cid)
    assert_clean(pyrunc, cid, world)


def test_state_dir_without_state_file(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    """Only <root>/<id> exists (a create killed right after reserving): state says so in one line, delete --force
    removes it, and a new create of the id works."""
    cid = uniq("bare")
    (pyrunc.root / cid).mkdir(parents=True)
    for verb in (("state", cid), ("list",), ("kill", cid), ("delete", cid)):
        no_crash([pyrunc(*verb)])
    assert pyrunc.delete(cid).returncode == 0
    assert not (pyrunc.root / cid).exists()
    assert pyrunc.create(sleeper, cid).returncode == 0
    assert pyrunc.delete(cid).returncode == 0
    assert_clean(pyrunc, cid, world)


def test_create_racing_delete_force_leaves_nothing(pyrunc: Runtime, sleeper: Path, world: Path) -> None:
    """containerd runs `delete --force` after a create it gave up on; the two can overlap. Whoever wins, the
    host ends clean and neither crashes."""
    for i in range(4):
        cid = uniq(f"cd{i}")
        results = spawn_all(pyrunc, [["create", "-b", str(sleeper), cid]] + [["delete", "--force", cid]] * 3)
        no_crash(results)
        pyrunc.delete(cid)
        assert_clean(pyrunc, cid, world)
