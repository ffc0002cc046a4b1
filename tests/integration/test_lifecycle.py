"""create / start / run / kill / delete with real containers (busybox), and clean failure.

Every failing create must leave nothing: no state dir, no cgroup directory, no process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root


def create(runtime: Any, *args: str, **kw: Any) -> subprocess.CompletedProcess:
    """`create` with stdio the container may keep: its init inherits them (as with runc), so capturing them
    through pipes would wait for the container's exit. stderr goes to a file we read back."""
    import tempfile

    check = kw.pop("check", False)
    with tempfile.TemporaryFile("w+") as err:
        p = runtime("create", *args, capture_output=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=err, **kw)
        err.seek(0)
        p.stderr = err.read()
    if check and p.returncode != 0:
        raise AssertionError(f"create {args} exited {p.returncode}: {p.stderr}")
    return p


def cgroup_dirs(cid: str) -> list[str]:
    """Every cgroup directory on the host whose name is the container id (the default cgroupsPath)."""
    found = []
    for base, dirs, _files in os.walk("/sys/fs/cgroup"):
        if cid in dirs:
            found.append(os.path.join(base, cid))
        if base.count("/") > 6:
            dirs[:] = []
    return found


def processes_with(marker: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def assert_nothing_left(runtime: Any, cid: str) -> None:
    assert not (runtime.root / cid).exists(), f"state dir of {cid} left behind"
    assert cgroup_dirs(cid) == [], f"cgroup of {cid} left behind"


def wait_status(runtime: Any, cid: str, want: str, timeout: float = 10) -> dict[str, Any]:
    """Poll `state` until it reports `want` (the container may not exist yet when we begin)."""
    import json

    deadline = time.monotonic() + timeout
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        p = runtime("state", cid)
        if p.returncode == 0:
            st = json.loads(p.stdout)
            if st["status"] == want:
                break
        time.sleep(0.05)
    return st


# ------------------------------------------------------------------------------------------- run


def test_run_one_shot_prints_and_exits_zero(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["echo", "hello from pyrunc"])
    p = runtime("run", "-b", str(bundle), uniq("c-echo"))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from pyrunc\n"
    assert_nothing_left(runtime, uniq("c-echo"))


def test_run_exit_status_propagates(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["sh", "-c", "echo out; echo err >&2; exit 3"])
    p = runtime("run", "-b", str(bundle), uniq("c-exit3"))
    assert p.returncode == 3
    assert p.stdout == "out\n" and "err" in p.stderr
    assert_nothing_left(runtime, uniq("c-exit3"))


def test_run_killed_container_exits_128_plus_signal(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["sleep", "60"])
    argv = [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle), uniq("c-killed")]
    proc = subprocess.Popen(argv, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_status(runtime, uniq("c-killed"), "running")["status"] == "running"
        runtime("kill", uniq("c-killed"), "KILL", check=True)
        assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert_nothing_left(runtime, uniq("c-killed"))


def test_run_forwards_signals_to_the_container(runtime: Any, make_bundle: Any) -> None:
    # pid 1 ignores signals it has no handler for: the shell traps TERM and exits with its own status.
    bundle = make_bundle(args=["sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; "
                                           "while true; do sleep 0.1; done"])
    argv = [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle), uniq("c-fwd")]
    proc = subprocess.Popen(argv, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=20)
        assert proc.returncode == 42
        assert "got-term" in out
    finally:
        proc.kill()
        proc.wait()
    assert_nothing_left(runtime, uniq("c-fwd"))


def test_run_detached_and_keep(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["sleep", "60"])
    # The detached container keeps our stdio (as with runc): don't capture it, or we'd wait for its exit.
    p = runtime("run", "-d", "-b", str(bundle), uniq("c-detach"), timeout=30, capture_output=False,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert p.returncode == 0
    assert runtime.state(uniq("c-detach"))["status"] == "running"
    runtime("delete", "--force", uniq("c-detach"), check=True)
    assert_nothing_left(runtime, uniq("c-detach"))

    bundle = make_bundle(args=["true"])
    p = runtime("run", "--keep", "-b", str(bundle), uniq("c-keep"))
    assert p.returncode == 0, p.stderr
    assert runtime.state(uniq("c-keep"))["status"] == "stopped"
    runtime("delete", uniq("c-keep"), check=True)
    assert_nothing_left(runtime, uniq("c-keep"))


# ------------------------------------------------------------------------------------------- create/start


def test_create_start_state_kill_delete(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    bundle = make_bundle(args=["sleep", "60"])
    pid_file = tmp_path / "init.pid"
    p = create(runtime, "-b", str(bundle), "--pid-file", str(pid_file), uniq("c-cycle"))
    assert p.returncode == 0, p.stderr
    st = runtime.state(uniq("c-cycle"))
    assert st["status"] == "created"
    assert int(pid_file.read_text()) == st["pid"] > 0
    assert (runtime.root / uniq("c-cycle") / "exec.fifo").exists()
    # The init waits, not yet the user's program.
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert b"sleep" not in f.read().split(b"\0")[0]

    runtime("start", uniq("c-cycle"), check=True)
    st = runtime.state(uniq("c-cycle"))
    assert st["status"] == "running"
    assert not (runtime.root / uniq("c-cycle") / "exec.fifo").exists()
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"

    p = runtime("start", uniq("c-cycle"))
    assert p.returncode == 1 and "cannot start an already running container" in p.stderr

    runtime("kill", uniq("c-cycle"), "KILL", check=True)
    assert wait_status(runtime, uniq("c-cycle"), "stopped")["status"] == "stopped"
    p = runtime("start", uniq("c-cycle"))
    assert p.returncode == 1 and "cannot start a container that has stopped" in p.stderr
    runtime("delete", uniq("c-cycle"), check=True)
    assert_nothing_left(runtime, uniq("c-cycle"))


def test_delete_force_kills_what_joined_the_cgroup_from_outside(runtime: Any, make_bundle: Any) -> None:
    """delete --force stops a running container by SIGKILL to the init of its pid namespace (which ends every
    process of the namespace); a process that joined the container's cgroup from outside the namespace is left
    for the cgroup's removal to find and kill, and nothing remains."""
    cid = uniq("c-joined")
    create(runtime, "-b", str(make_bundle(args=["sleep", "60"])), cid, check=True)
    runtime("start", cid, check=True)
    dirs = cgroup_dirs(cid)
    assert dirs
    outsider = subprocess.Popen(["sleep", "60"])
    try:
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(outsider.pid))
        runtime("delete", "--force", cid, check=True)
        assert outsider.wait(timeout=10) == -signal.SIGKILL
    finally:
        if outsider.poll() is None:
            outsider.kill()
            outsider.wait()
    assert_nothing_left(runtime, cid)


@pytest.mark.parametrize("paused", [False, True], ids=["created", "paused"])
def test_delete_force_of_a_created_or_paused_container(runtime: Any, make_bundle: Any, paused: bool) -> None:
    """A created init dies by its SIGKILL alone; a paused (frozen) one only once thawed, which the cgroup-wide
    kill does."""
    cid = uniq("c-paused" if paused else "c-created")
    create(runtime, "-b", str(make_bundle(args=["sleep", "60"])), cid, check=True)
    if paused:
        runtime("start", cid, check=True)
        runtime("pause", cid, check=True)
    pid = runtime.state(cid)["pid"]
    assert runtime.state(cid)["status"] == ("paused" if paused else "created")
    runtime("delete", "--force", cid, check=True)
    try:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().rpartition(")")[2].split()[0] in ("Z", "X"), "the init survived delete --force"
    except FileNotFoundError:
        pass
    assert_nothing_left(runtime, cid)


def test_create_twice_same_id_fails_and_keeps_first(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["sleep", "60"])
    create(runtime, "-b", str(bundle), uniq("c-dup"), check=True)
    p = create(runtime, "-b", str(bundle), uniq("c-dup"))
    assert p.returncode == 1 and "exists" in p.stderr
    assert runtime.state(uniq("c-dup"))["status"] == "created"
    runtime("delete", "--force", uniq("c-dup"), check=True)
    assert_nothing_left(runtime, uniq("c-dup"))


def test_relative_pid_file(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    bundle = make_bundle(args=["sleep", "60"])
    create(runtime, "-b", str(bundle), "--pid-file", "rel.pid", uniq("c-relpid"), cwd=tmp_path, check=True)
    assert int((tmp_path / "rel.pid").read_text()) == runtime.state(uniq("c-relpid"))["pid"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rel.pid")] == []


def test_create_does_not_hold_the_containers_stdio(runtime: Any, make_bundle: Any) -> None:
    """containerd's shim waits for EOF on the container's stdout: only the container may hold it."""
    bundle = make_bundle(args=["sh", "-c", "echo from-container"])
    argv = [*runtime.cmd, "--root", str(runtime.root), "create", "-b", str(bundle), uniq("c-stdio")]
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(argv, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
                                stdout=w, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        os.close(w)
        w = -1
        assert proc.wait(timeout=30) == 0
        runtime("start", uniq("c-stdio"), check=True)
        # EOF arrives once the container exits: no pyrunc process kept a copy of the pipe.
        data = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        assert data == b"from-container\n"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_start_unknown_container(runtime: Any) -> None:
    p = runtime("start", "nosuch")
    assert p.returncode == 1 and "does not exist" in p.stderr


# ------------------------------------------------------------------------------------------- failures leave nothing


@pytest.mark.parametrize(
    ("args", "cwd", "message"),
    [
        (["nosuch"], "/", 'exec: "nosuch": executable file not found in $PATH'),
        (["/nonexistent"], "/", 'exec: "/nonexistent": stat /nonexistent: no such file or directory'),
        (["/etc"], "/", 'exec: "/etc": is a directory'),
        (["/etc/passwd"], "/", 'exec: "/etc/passwd": permission denied'),
        (["true"], "/etc/passwd", "/process/cwd"),
    ],
)
def test_bad_process_fails_and_leaves_nothing(runtime: Any, make_bundle: Any, args: list[str], cwd: str,
                                              message: str) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["cwd"] = cwd

    bundle = make_bundle(edit=edit, args=args)
    for verb in ("create", "run"):
        p = runtime(verb, "-b", str(bundle), uniq("c-bad"))
        assert p.returncode == 1
        assert message in p.stderr.replace('\\"', '"')
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert_nothing_left(runtime, uniq("c-bad"))
        assert processes_with(str(bundle)) == []


def test_execve_failure_uses_runcs_wording(runtime: Any, make_bundle: Any, private_rootfs: Path) -> None:
    """execve itself fails (a script whose interpreter is missing): `run` and `exec` say so in runc's words
    (`exec /run.sh: no such file or directory`; runc's bats run.bats/exec.bats "[execve error]"). For the
    container's own process that is, as runc's, one line on the container's stderr and exit status 255: `start`
    has succeeded by then."""
    script = private_rootfs / "run.sh"
    script.write_text("#!/nonexistent-interpreter\n")
    script.chmod(0o755)
    bundle = make_bundle(args=["/run.sh"], rootfs=private_rootfs)
    cid = uniq("c-execve")
    p = runtime("run", "-b", str(bundle), cid)
    assert p.returncode == 255
    assert p.stderr.splitlines() == ["exec /run.sh: no such file or directory"], p.stderr
    assert_nothing_left(runtime, cid)

    bundle = make_bundle(args=["sleep", "100"], rootfs=private_rootfs)
    cid = uniq("c-execve2")
    runtime.create(bundle, cid)
    runtime("start", cid, check=True)
    p = runtime("exec", cid, "/run.sh")
    assert p.returncode == 255
    assert "exec /run.sh: no such file or directory" in p.stderr, p.stderr


def test_missing_mount_source_fails_and_leaves_nothing(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(tmp_path / "nonexistent"),
                            "options": ["rbind"]})

    bundle = make_bundle(edit=edit)
    p = create(runtime, "-b", str(bundle), uniq("c-nomount"))
    assert p.returncode == 1
    assert "/mounts/7" in p.stderr
    assert_nothing_left(runtime, uniq("c-nomount"))


def test_device_that_cannot_be_created_fails_and_leaves_nothing(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["devices"] = [{"path": "/dev/null/sub", "type": "c", "major": 1, "minor": 3}]

    bundle = make_bundle(edit=edit)
    cid = uniq("c-baddev")
    p = runtime("run", "-b", str(bundle), cid)
    assert p.returncode == 1
    assert "/linux/devices/0" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert_nothing_left(runtime, cid)


def test_container_without_proc_fails_at_create(runtime: Any, make_bundle: Any) -> None:
    """The init reopens exec.fifo through /proc/self/fd: without /proc, `create` must fail (not `start` hang)."""
    def edit(c: dict[str, Any]) -> None:
        c["mounts"] = [m for m in c["mounts"] if m["type"] != "proc"]
        c["linux"]["maskedPaths"] = []
        c["linux"]["readonlyPaths"] = []

    bundle = make_bundle(edit=edit)
    cid = uniq("c-noproc")
    p = runtime("create", "-b", str(bundle), cid)
    assert p.returncode == 1 and "/proc" in p.stderr
    assert_nothing_left(runtime, cid)


def test_failing_create_runtime_hook_leaves_nothing(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    hook = tmp_path / "fail.sh"
    hook.write_text("#!/bin/sh\necho boom >&2\nexit 7\n")
    hook.chmod(0o755)

    def edit(c: dict[str, Any]) -> None:
        c["hooks"] = {"createRuntime": [{"path": str(hook)}]}

    bundle = make_bundle(edit=edit)
    p = create(runtime, "-b", str(bundle), uniq("c-hookfail"))
    assert p.returncode == 1
    assert "createRuntime" in p.stderr
    assert_nothing_left(runtime, uniq("c-hookfail"))


def test_killing_create_at_any_point_is_cleaned_by_delete_force(runtime: Any, make_bundle: Any,
                                                                tmp_path: Path) -> None:
    """SIGKILL `pyrunc create` at different moments; `delete --force` must always leave nothing."""
    hook = tmp_path / "slow.sh"
    hook.write_text("#!/bin/sh\nsleep 0.3\n")
    hook.chmod(0o755)

    def edit(c: dict[str, Any]) -> None:
        c["hooks"] = {"createRuntime": [{"path": str(hook)}]}

    bundle = make_bundle(edit=edit, args=["sleep", "60"])
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    for i, delay in enumerate((0.05, 0.15, 0.25, 0.35, 0.45, 0.6, 0.8)):
        cid = uniq(f"c-killcreate{i}")
        argv = [*runtime.cmd, "--root", str(runtime.root), "create", "-b", str(bundle), cid]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        p = runtime("delete", "--force", cid)
        assert p.returncode == 0, p.stderr
        assert_nothing_left(runtime, cid)
    # No init is left waiting anywhere (they die with their parent, or `delete --force` killed them).
    deadline = time.monotonic() + 5
    while processes_with(str(bundle)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(str(bundle)) == []


# ------------------------------------------------------------------------------------------- hooks, pidfd


def test_hooks_run_in_lifecycle_order_and_place(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                tmp_path: Path) -> None:
    """prestart/createRuntime in the runtime's namespaces, createContainer/startContainer in the container's
    (startContainer after pivot_root), poststart after the program was executed, poststop at delete."""
    logdir = tmp_path / "log"
    logdir.mkdir()
    hook = private_rootfs / "hook.sh"
    # $1: kind, $2: log file; records the kind, the hook's UTS namespace and what the state's pid executes.
    hook.write_text('#!/bin/sh\nread -r state\npid=$(echo "$state" | sed -n \'s/.*"pid":\\([0-9]*\\).*/\\1/p\')\n'
                    'echo "$1 $(readlink /proc/self/ns/uts) $(cat /proc/$pid/comm 2>/dev/null)" >> "$2"\n')
    hook.chmod(0o755)
    host_log = str(logdir / "hooks.log")

    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append({"destination": "/log", "type": "bind", "source": str(logdir), "options": ["rbind"]})
        host = lambda kind: {"path": str(hook), "args": ["hook", kind, host_log]}  # noqa: E731
        inner = lambda kind: {"path": "/hook.sh", "args": ["hook", kind, "/log/hooks.log"]}  # noqa: E731
        c["hooks"] = {
            "prestart": [host("prestart")],
            "createRuntime": [host("createRuntime")],
            "createContainer": [{"path": str(hook), "args": ["hook", "createContainer", host_log]}],
            "startContainer": [inner("startContainer")],
            "poststart": [host("poststart")],
            "poststop": [host("poststop")],
        }

    bundle = make_bundle(edit=edit, args=["sleep", "30"], rootfs=private_rootfs)
    cid = uniq("c-hooks")
    create(runtime, "-b", str(bundle), cid, check=True)
    runtime("start", cid, check=True)
    runtime("delete", "--force", cid, check=True)
    lines = [line.split() for line in (logdir / "hooks.log").read_text().splitlines()]
    host = os.readlink("/proc/self/ns/uts")
    assert [line[0] for line in lines] == ["prestart", "createRuntime", "createContainer", "startContainer",
                                           "poststart", "poststop"]
    assert lines[0][1] == lines[1][1] == host
    assert lines[2][1] == lines[3][1] != host
    assert lines[4][1:] == [host, "sleep"], "poststart ran before the program was executed"
    assert_nothing_left(runtime, cid)


def test_pidfd_socket_receives_a_pidfd_of_the_init(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    import array
    import socket

    bundle = make_bundle(args=["sleep", "30"])
    cid = uniq("c-pidfd")
    path = str(tmp_path / "pidfd.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)
        create(runtime, "-b", str(bundle), "--pidfd-socket", path, cid, check=True)
        conn, _ = srv.accept()
        with conn:
            fds = array.array("i")
            _msg, anc, _f, _a = conn.recvmsg(64, socket.CMSG_SPACE(fds.itemsize))
            fds.frombytes(anc[0][2])
    pidfd = fds[0]
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            pid_line = next(line for line in f if line.startswith("Pid:"))
        assert int(pid_line.split()[1]) == runtime.state(cid)["pid"]
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    assert wait_status(runtime, cid, "stopped")["status"] == "stopped"


# ------------------------------------------------------------------------------------------- hook semantics


def _hook_bundle(make_bundle: Any, tmp_path: Path, hooks: dict[str, Any], args: list[str]) -> tuple[Path, Path]:
    """A bundle whose /log is the host directory returned second (the container and host hooks write there)."""
    logdir = tmp_path / "log"
    logdir.mkdir(exist_ok=True)
    logdir.chmod(0o777)

    def edit(c: dict[str, Any]) -> None:
        c["mounts"].append({"destination": "/log", "type": "bind", "source": str(logdir), "options": ["rbind"]})
        c["hooks"] = hooks

    return make_bundle(edit=edit, args=args), logdir


def test_hooks_in_the_container_namespace_get_the_containers_pid(runtime: Any, make_bundle: Any,
                                                                  tmp_path: Path) -> None:
    """runtime-spec "State": for hooks executed in the container namespace (createContainer, startContainer) the
    pid is the one the container sees (1, with a new pid namespace); the others get the host pid."""
    logdir = tmp_path / "log"

    def save(kind: str) -> dict[str, Any]:
        # busybox sh has `cat`; the state goes to /log/<kind>.json (createContainer runs before pivot_root, in the
        # container's mount namespace with the host's paths: it writes to the host path of the log directory).
        target = f"{logdir}/{kind}.json" if kind != "startContainer" else f"/log/{kind}.json"
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {target}"]}

    hooks = {k: [save(k)] for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart")}
    bundle, logdir = _hook_bundle(make_bundle, tmp_path, hooks, ["sleep", "60"])
    cid = uniq("c-hookpid")
    create(runtime, "-b", str(bundle), cid, check=True)
    runtime("start", cid, check=True)
    host_pid = runtime.state(cid)["pid"]
    import json

    pids = {k: json.loads((logdir / f"{k}.json").read_text())["pid"] for k in hooks}
    assert pids == {"prestart": host_pid, "createRuntime": host_pid, "createContainer": 1, "startContainer": 1,
                    "poststart": host_pid}


def test_failing_start_container_hook_fails_start_and_stops(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    """runtime-spec v1.3.0 lifecycle step 7: a failing startContainer hook: error, container stopped, the
    program never runs; `delete` then destroys it and runs poststop (steps 12-13)."""
    hooks = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}],
             "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {tmp_path}/log/poststop.json"]}]}
    bundle, logdir = _hook_bundle(make_bundle, tmp_path, hooks, ["sh", "-c", "echo ran > /log/ran; sleep 60"])
    cid = uniq("c-startfail")
    create(runtime, "-b", str(bundle), cid, check=True)
    p = runtime("start", cid)
    assert p.returncode == 1
    assert "error running startContainer hook #0: /bin/sh: exit status 3: nope" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert runtime.state(cid)["status"] == "stopped"
    assert not (logdir / "ran").exists()
    runtime("delete", cid, check=True)
    assert (logdir / "poststop.json").exists()
    assert_nothing_left(runtime, cid)


def test_failing_poststart_hook_fails_start_and_stops(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    """runtime-spec v1.3.0 lifecycle step 9: a failing poststart hook: error, and the container is stopped."""
    hooks = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; echo nope >&2; exit 4"]}]}
    bundle, logdir = _hook_bundle(make_bundle, tmp_path, hooks, ["sh", "-c", "echo ran > /log/ran; sleep 60"])
    cid = uniq("c-poststartfail")
    create(runtime, "-b", str(bundle), cid, check=True)
    pid = runtime.state(cid)["pid"]
    p = runtime("start", cid)
    assert p.returncode == 1
    assert "error running poststart hook #0: /bin/sh: exit status 4: nope" in p.stderr
    assert runtime.state(cid)["status"] == "stopped"
    assert not os.path.exists(f"/proc/{pid}/cmdline") or not open(f"/proc/{pid}/cmdline", "rb").read()
    assert (logdir / "ran").exists(), "poststart must run after the program was executed"
    runtime("delete", cid, check=True)
    assert_nothing_left(runtime, cid)


@pytest.mark.parametrize("kind", ["startContainer", "poststart"])
def test_run_with_failing_start_hook_leaves_nothing(runtime: Any, make_bundle: Any, tmp_path: Path,
                                                     kind: str) -> None:
    hooks = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 5"]}]}
    bundle, _logdir = _hook_bundle(make_bundle, tmp_path, hooks, ["sleep", "60"])
    cid = uniq(f"c-run-{kind.lower()}")
    p = runtime("run", "-b", str(bundle), cid, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert f"error running {kind} hook #0: /bin/sh: exit status 5" in p.stderr
    assert_nothing_left(runtime, cid)


def test_created_container_stops_on_term(runtime: Any, make_bundle: Any) -> None:
    """The parked init is pid 1 of its pid namespace: it handles TERM itself (the kernel would drop it)."""
    bundle = make_bundle(args=["sleep", "60"])
    cid = uniq("c-created-term")
    create(runtime, "-b", str(bundle), cid, check=True)
    runtime("kill", cid, "TERM", check=True)
    assert wait_status(runtime, cid, "stopped")["status"] == "stopped"
    runtime("delete", cid, check=True)
    assert_nothing_left(runtime, cid)
