"""State store: atomic save/load, exclusive reserve, live status (pid + start time), id validation."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.errors import ContainerExists, ContainerNotExist, PyruncError, UsageError
from pyrunc.paths import validate_id
from pyrunc.runtime import state


def test_reserve_save_load_roundtrip(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    state.reserve(root, "c1")
    st = state.State(id="c1", bundle="/b", rootfs="/b/rootfs", annotations={"a": "b"})
    state.save(root, st)
    again = state.load(root, "c1")
    assert again.to_dict() == st.to_dict()
    assert oct(os.stat(root).st_mode & 0o777) == "0o700"
    assert oct(os.stat(Path(root) / "c1" / "state.json").st_mode & 0o777) == "0o600"
    assert not [p for p in os.listdir(Path(root) / "c1") if p.endswith(".tmp")]


def test_reserve_twice_fails(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "x")
    with pytest.raises(ContainerExists, match="container with id exists: x"):
        state.reserve(root, "x")


def _try_reserve(args: tuple[str, str]) -> bool:
    try:
        state.reserve(*args)
        return True
    except ContainerExists:
        return False


def test_concurrent_reserve_exactly_one_wins(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.map(_try_reserve, [(str(tmp_path), "same")] * 20)
    assert results.count(True) == 1


def test_load_missing_is_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ContainerNotExist, match="does not exist"):
        state.load(str(tmp_path), "nope")


def test_status_follows_pid_and_start_time(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "c")
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        st = state.State(id="c", bundle="/b", pid=p.pid, pid_start=state.pid_start_time(p.pid), status_hint="created")
        assert state.status(root, st) == state.RUNNING  # no exec.fifo
        os.mkfifo(state.fifo_path(root, "c"))
        assert state.status(root, st) == state.CREATED
        os.unlink(state.fifo_path(root, "c"))
        # A different start time means the pid was reused: the container is stopped, never "running".
        st.pid_start += 1
        assert state.status(root, st) == state.STOPPED
        st.pid_start -= 1
        p.kill()
        p.wait()
        assert state.status(root, st) == state.STOPPED
    finally:
        p.kill()
        p.wait()


def test_zombie_is_stopped(tmp_path: Path) -> None:
    p = subprocess.Popen(["true"])
    # wait until it exits but do not reap it
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    st = state.State(id="z", bundle="/b", pid=p.pid, pid_start=state.pid_start_time(p.pid), status_hint="running")
    assert state.status(str(tmp_path), st) == state.STOPPED
    p.wait()


def test_oci_shape() -> None:
    st = state.State(id="c", bundle="/b", rootfs="/r", pid=42, owner="")
    out = st.oci("running")
    assert list(out) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    assert st.oci("stopped")["pid"] == 0
    st.annotations = {"k": "v"}
    assert list(st.oci("running"))[-2:] == ["annotations", "owner"]
    json.dumps(out)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", "a b", "x" * 256, "é", "a\x00b", "a\n", "\u0661"])
def test_bad_ids(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_id(bad)


@pytest.mark.parametrize("good", ["a", "abc-123", "A_b.c+d", "x" * 255])
def test_good_ids(good: str) -> None:
    assert validate_id(good) == good


def test_config_is_kept_apart_and_loaded_on_use(tmp_path: Path) -> None:
    """state.json stays small (list/state/kill read it for every container); the config is read only when asked."""
    root = str(tmp_path)
    state.reserve(root, "c")
    config = {"ociVersion": "1.3.0", "hooks": {"poststop": [{"path": "/bin/true"}]}, "big": ["x" * 100] * 100}
    state.save(root, state.State(id="c", bundle="/b", config=config))
    on_disk = json.loads((tmp_path / "c" / "state.json").read_text())
    assert "config" not in on_disk and on_disk["id"] == "c"
    assert json.loads((tmp_path / "c" / "config.json").read_text()) == config
    again = state.load(root, "c")
    assert again._config is None  # not read yet
    assert again.config == config
    assert again.to_dict()["config"] == config


def test_config_changes_are_saved(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "c")
    state.save(root, state.State(id="c", bundle="/b", config={"linux": {}}))
    st = state.load(root, "c")
    st.config.setdefault("linux", {})["resources"] = {"pids": {"limit": 10}}  # what `update` does
    state.save(root, st)
    assert state.load(root, "c").config["linux"]["resources"] == {"pids": {"limit": 10}}
    # A save of a state whose config was never read leaves config.json alone.
    st = state.load(root, "c")
    st.status_hint = "running"
    state.save(root, st)
    assert state.load(root, "c").config["linux"]["resources"] == {"pids": {"limit": 10}}


def test_state_files_of_older_versions_still_load(tmp_path: Path) -> None:
    """Before config.json, the config was a field of state.json."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "state.json").write_text(json.dumps(
        {"id": "old", "bundle": "/b", "pid": 0, "status_hint": "created", "config": {"ociVersion": "1.0.2"}}))
    st = state.load(str(tmp_path), "old")
    assert st.config == {"ociVersion": "1.0.2"} and st.status_hint == "created"


def test_corrupt_files(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "state.json").write_text("{")
    with pytest.raises(PyruncError, match="corrupt state file"):
        state.load(str(tmp_path), "c")
    (tmp_path / "c" / "state.json").write_text('{"id": "c", "bundle": "/b"}')
    (tmp_path / "c" / "config.json").write_text("[]")
    with pytest.raises(PyruncError, match=r"corrupt config\.json"):
        state.load(str(tmp_path), "c").config  # noqa: B018


def test_lock_is_exclusive_and_reports_a_vanished_container(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "c")
    with state.lock(root, "c"):
        other = subprocess.run(
            [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
             "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(tmp_path / "c")], capture_output=True)
        assert other.returncode != 0  # held
    with pytest.raises(ContainerNotExist):
        with state.lock(root, "gone"):
            pass


def test_remove_state_dir(tmp_path: Path) -> None:
    from pyrunc.runtime.teardown import remove_state_dir

    root = str(tmp_path)
    state.reserve(root, "c")
    state.save(root, state.State(id="c", bundle="/b", config={}))
    os.mkfifo(state.fifo_path(root, "c"))
    (tmp_path / "c" / "sub").mkdir()
    (tmp_path / "c" / "sub" / "f").write_text("x")
    remove_state_dir(root, "c")
    assert not (tmp_path / "c").exists()
    remove_state_dir(root, "c")  # idempotent


def test_unchanged_config_is_not_rewritten(tmp_path: Path) -> None:
    """create saves the state several times: the (possibly big) config.json is written once."""
    root = str(tmp_path)
    state.reserve(root, "c")
    st = state.State(id="c", bundle="/b", config={"ociVersion": "1.3.0"})
    state.save(root, st)
    ino = os.stat(tmp_path / "c" / "config.json").st_ino
    st.status_hint = "created"
    state.save(root, st)
    loaded = state.load(root, "c")
    assert loaded.config == {"ociVersion": "1.3.0"}
    state.save(root, loaded)
    assert os.stat(tmp_path / "c" / "config.json").st_ino == ino
    loaded.config["hostname"] = "h"
    state.save(root, loaded)
    assert os.stat(tmp_path / "c" / "config.json").st_ino != ino


def test_cgroup_is_kept_apart_too_and_big_parts_load(tmp_path: Path) -> None:
    root = str(tmp_path)
    state.reserve(root, "c")
    cgroup = {"mode": "v1", "dirs": {f"ctl{i}": f"/sys/fs/cgroup/ctl{i}/c" for i in range(12)}}
    config = {"ociVersion": "1.3.0", "annotations": {f"k{i}": "v" * 100 for i in range(2000)}}  # > 64 KiB
    state.save(root, state.State(id="c", bundle="/b", cgroup=cgroup, config=config))
    assert len((tmp_path / "c" / "state.json").read_bytes()) < 400
    assert json.loads((tmp_path / "c" / "cgroup.json").read_text()) == cgroup
    st = state.load(root, "c")
    assert st._cgroup is None and st.cgroup == cgroup
    assert st.config == config and len((tmp_path / "c" / "config.json").read_bytes()) > 65536
    assert state.State(id="x", bundle="/b").cgroup == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_state_files_keep_the_directory_owner(tmp_path: Path) -> None:
    """`list` shows the owner of state.json as the container's owner: root saving another user's state keeps it."""
    root = str(tmp_path)
    state.reserve(root, "c")
    os.chown(tmp_path / "c", 1000, 1000)
    state.save(root, state.State(id="c", bundle="/b", config={}))
    assert os.stat(tmp_path / "c" / "state.json").st_uid == 1000
    assert os.stat(tmp_path / "c" / "config.json").st_uid == 1000
    assert [uid for _, _, uid in state.scan(root)] == [1000]


def test_scan_agrees_with_status(tmp_path: Path) -> None:
    """`list` (scan) and `state` (status) give every container the same status; `list -q` (live=False) the same
    containers without looking at them."""
    root = str(tmp_path / "root")
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = state.pid_start_time(p.pid)
        cases = {  # id: (status hint, pid start time, exec.fifo)
            "created": ("created", start, True),
            "started-unsaved": ("created", start, False),  # start removed the fifo and died before saving
            "running": ("running", start, False),
            "creating": ("creating", start, True),
            "reused": ("running", start + 1, False),
            "paused-no-cgroup": ("paused", start, False),
        }
        for cid, (hint, pid_start, fifo) in cases.items():
            state.reserve(root, cid)
            state.save(root, state.State(id=cid, bundle="/b", pid=p.pid, pid_start=pid_start, status_hint=hint))
            if fifo:
                os.mkfifo(state.fifo_path(root, cid))
        os.mkdir(os.path.join(root, "no-state"))
        listed = {st.id: status for st, status, _ in state.scan(root)}
        assert listed == {cid: state.status(root, state.load(root, cid)) for cid in cases}
        assert listed == {"created": "created", "started-unsaved": "running", "running": "running",
                          "creating": "creating", "reused": "stopped", "paused-no-cgroup": "running"}
        quiet = [(st.id, status, uid) for st, status, uid in state.scan(root, live=False)]
        assert quiet == [(cid, "", -1) for cid in sorted(cases)]
    finally:
        p.kill()
        p.wait()


def test_config_mentions_answers_from_the_text_and_reads_once(tmp_path: Path) -> None:
    root = str(tmp_path)
    for cid, config in (("plain", {"process": {"env": ["A=b"]}}),
                        ("hooked", {"hooks": {"poststart": [{"path": "/bin/true"}]}}),
                        ("quoted", {"process": {"args": ["echo", "poststop"]}})):
        state.reserve(root, cid)
        state.save(root, state.State(id=cid, bundle="/b", config=config))
    st = state.load(root, "plain")
    assert not st.config_mentions("poststart") and not st.config_mentions("hooks")
    os.unlink(tmp_path / "plain" / "config.json")
    assert st.config == {"process": {"env": ["A=b"]}}  # what config_mentions read, parsed: no second read
    assert state.load(root, "hooked").config_mentions("poststart")
    assert state.load(root, "quoted").config_mentions("poststop")  # only a string: unsure, so True
    st = state.load(root, "quoted")
    assert st.config and st.config_mentions("anything")  # parsed already: the caller looks at it
    assert state.State(id="x", bundle="/b").config_mentions("poststart")  # never saved: nothing to read


def test_saves_exchange_names_where_the_c_layer_is_loaded(tmp_path: Path) -> None:
    """create/run/exec (pyrunc.linux.fs loaded) replace state.json by RENAME_EXCHANGE + unlink (ext4 flushes a file
    renamed over another): same content, no temp file left, and a first save (nothing to exchange with) renames."""
    import pyrunc.linux.fs  # noqa: F401  (what create/run/exec have loaded)
    from pyrunc.runtime import state as store

    d = tmp_path / "c1"
    d.mkdir()
    store._write_atomic(str(d), "state.json", b'{"v":1}')
    assert (d / "state.json").read_bytes() == b'{"v":1}'
    ino = (d / "state.json").stat().st_ino
    store._write_atomic(str(d), "state.json", b'{"v":2}')
    assert (d / "state.json").read_bytes() == b'{"v":2}'
    assert (d / "state.json").stat().st_ino != ino  # a new file took the name
    assert sorted(p.name for p in d.iterdir()) == ["state.json"]
