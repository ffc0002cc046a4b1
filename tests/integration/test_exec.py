"""`pyrunc exec` into real running busybox containers: output and status, --process, --detach + --pid-file (the
process becomes a child of the caller's subreaper), terminals, flags, namespaces, cgroup, refusals, and hygiene
(no fd, process or cgroup entry left behind; CVE-2024-21626 through --cwd)."""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq
from console_io import read_until_eof, recv_master

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
NS = ("pid", "net", "ipc", "uts", "mnt", "cgroup", "user")


def env_with_repo() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


@pytest.fixture
def running(runtime: Any, make_bundle: Any) -> Callable[..., tuple[str, int]]:
    """running(edit=None, name="c-exec") -> (id, init pid) of a started `sleep` container."""

    def start(edit: Any = None, name: str = "c-exec", rootfs: Path | None = None) -> tuple[str, int]:
        bundle = make_bundle(edit=edit, args=["sleep", "1000"], rootfs=rootfs)
        cid = uniq(name)
        runtime.create(bundle, cid)
        runtime("start", cid, check=True)
        return cid, runtime.state(cid)["pid"]

    return start


def exec_detached(runtime: Any, cid: str, *args: str, pid_file: Path, flags: tuple[str, ...] = ()) -> int:
    """`exec -d --pid-file`: stdio must not be pipes we wait on (the process keeps them)."""
    with tempfile.TemporaryFile("w+") as err:
        p = runtime("exec", "-d", "--pid-file", str(pid_file), *flags, cid, *args, capture_output=False,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        assert p.returncode == 0, err.read()
    return int(pid_file.read_text())


def ns_inode(pid: int | str, name: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{name}")


def kill_wait(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.02)


def cgroup_procs_of(init_pid: int, controller: str = "pids") -> list[int]:
    """Every pid in the container's cgroup (v1 `controller` hierarchy, as the init's /proc/<pid>/cgroup says)."""
    for line in Path(f"/proc/{init_pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return sorted(int(x) for x in Path(f"/sys/fs/cgroup/{controller}{path}/cgroup.procs").read_text().split())
    raise AssertionError(f"no {controller} cgroup for {init_pid}")


# ------------------------------------------------------------------------------------------- basics


def test_output_and_exit_status(runtime: Any, running: Any) -> None:
    cid, _ = running()
    p = runtime("exec", cid, "sh", "-c", "echo to-out; echo to-err >&2; exit 7")
    assert p.returncode == 7, p.stderr
    assert p.stdout == "to-out\n"
    assert "to-err" in p.stderr
    # Options end at the id: `-c` belongs to sh, not to --cap.
    p = runtime("exec", cid, "sh", "-c", "kill -TERM $$")
    assert p.returncode == 128 + signal.SIGTERM


def test_process_json(runtime: Any, running: Any, tmp_path: Path) -> None:
    cid, _ = running()
    doc = {"terminal": False, "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]}, "cwd": "/tmp",
           "env": ["PATH=/bin:/usr/bin", "CONF_X=exec-env"],
           "args": ["sh", "-c", "id -u; id -g; id -G; pwd; echo $CONF_X $HOME"]}
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps(doc))
    # Flags that describe the process are ignored with --process (runc); the command after the id too.
    p = runtime("exec", "--process", str(pfile), "--cwd", "/", "-e", "CONF_X=flag", cid, "ignored")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1000", "1000", "1000", "5", "/tmp", "exec-env", "/home/user"]


def test_process_json_errors_name_the_file(runtime: Any, running: Any, tmp_path: Path) -> None:
    cid, _ = running()
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps({"cwd": "/", "args": []}))
    p = runtime("exec", "-p", str(pfile), cid)
    assert p.returncode == 255
    assert f"exec failed: {pfile}: /args: must not be empty" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_env_cwd_user_caps_flags(runtime: Any, running: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["noNewPrivileges"] = False
        c["process"]["env"].append("FROM_CONFIG=yes")

    cid, _ = running(edit)
    p = runtime("exec", "-e", "FOO=bar", "--env", "FROM_CONFIG=overridden", "--cwd", "/tmp", "-u", "1000:1000",
                "-g", "5", "-g", "6", cid, "sh", "-c", "echo $FOO $FROM_CONFIG; pwd; id -u; id -g; id -G")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["bar overridden", "/tmp", "1000", "1000", "1000 5 6"]

    # As root (a non-root user's permitted set does not survive execve without ambient caps).
    p = runtime("exec", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", cid, "cat", "/proc/self/status")
    assert p.returncode == 0, p.stderr
    status = dict(line.split(":\t", 1) for line in p.stdout.splitlines() if ":\t" in line)
    cap_sys_admin = 1 << 21
    for key in ("CapBnd", "CapPrm", "CapEff"):
        assert int(status[key], 16) & cap_sys_admin, (key, status[key])
    # CVE-2022-29162: --cap never reaches the inheritable set.
    assert int(status["CapInh"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"
    p = runtime("exec", cid, "grep", "-E", "^(CapBnd|NoNewPrivs)", "/proc/self/status")
    assert not int(p.stdout.split()[1], 16) & cap_sys_admin
    assert "NoNewPrivs:\t0" in p.stdout


def test_defaults_come_from_the_containers_process(runtime: Any, running: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["cwd"] = "/home"
        c["process"]["env"].append("FROM_CONFIG=yes")
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
        c["process"]["oomScoreAdj"] = 123

    cid, _ = running(edit)
    p = runtime("exec", cid, "sh", "-c", "id -u; pwd; echo $FROM_CONFIG; ulimit -n; ulimit -Hn; "
                "cat /proc/self/oom_score_adj; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    assert lines[:6] == ["1000", "/home", "yes", "256", "512", "123"]
    assert "CapEff:\t0000000000000000" in p.stdout  # a non-root user gets exactly the config's sets
    assert "NoNewPrivs:\t1" in p.stdout


def test_exec_cpu_affinity_and_reset(runtime: Any, running: Any, tmp_path: Path) -> None:
    """execCPUAffinity.final from config.json or process.json; without one, an exec from a pinned runtime gets
    every CPU rather than the runtime's affinity (runc's bats cpu_affinity.bats)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    first, last = cpus[0], cpus[-1]

    def pinned() -> None:
        os.sched_setaffinity(0, {last})

    def allowed(p: subprocess.CompletedProcess) -> str:
        assert p.returncode == 0, p.stderr
        return p.stdout.split("\t")[1].strip()

    grep = ("grep", "Cpus_allowed_list", "/proc/self/status")
    cid, _ = running(name="c-aff0")
    assert allowed(runtime("exec", cid, *grep, preexec_fn=pinned)) not in (str(first), str(last))

    cid, _ = running(edit=lambda c: c["process"].update(execCPUAffinity={"final": str(first)}), name="c-aff1")
    assert allowed(runtime("exec", cid, *grep, preexec_fn=pinned)) == str(first)
    # With only "initial", the kernel decides the final affinity: the runtime's process keeps "initial".
    spec = {"args": list(grep), "cwd": "/", "env": ["PATH=/bin"], "execCPUAffinity": {"initial": str(first)}}
    (tmp_path / "p.json").write_text(json.dumps(spec))
    assert allowed(runtime("exec", "-p", str(tmp_path / "p.json"), cid, preexec_fn=pinned)) == str(first)
    # --debug names the initial mask in runc's nsexec wording (runc's bats cpu_affinity.bats look for it).
    p = runtime("--debug", "exec", "-p", str(tmp_path / "p.json"), cid, preexec_fn=pinned)
    assert f"nsexec: affinity: {1 << first:#x}" in p.stderr, p.stderr


def test_io_priority_class_without_priority(runtime: Any, running: Any, tmp_path: Path) -> None:
    """process.ioPriority.priority may be left out (the spec's schema and runc; runc's bats ioprio.bats)."""
    cid, _ = running(edit=lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 4}))
    spec = {"args": ["cat", "/proc/self/stat"], "cwd": "/", "env": ["PATH=/bin"],
            "ioPriority": {"class": "IOPRIO_CLASS_IDLE"}}
    (tmp_path / "p.json").write_text(json.dumps(spec))
    p = runtime("exec", "-p", str(tmp_path / "p.json"), cid)
    assert p.returncode == 0, p.stderr


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting for its (slow) reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_kill_reaches_leftovers_of_a_host_pidns_container_whose_init_is_gone(runtime: Any, running: Any,
                                                                             tmp_path: Path) -> None:
    """runc >= 1.2 (its issue 4047, bats kill.bats "kill KILL [host pidns + init gone]"): `kill KILL` of a
    container without its own pid namespace kills what is left in its cgroup, even when the init is gone."""
    def host_pidns(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
        c["linux"]["cgroupsPath"] = f"/{uniq('pyrunc-kill-hostpid')}"

    cid, init = running(edit=host_pidns, name="c-killhp")
    child = exec_detached(runtime, cid, "sleep", "1000", pid_file=tmp_path / "x.pid")
    os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while runtime.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _dead(child)
    p = runtime("kill", cid, "KILL")
    assert p.returncode == 0, p.stderr
    while not _dead(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(child)


def test_unknown_cap_is_a_warning(runtime: Any, running: Any) -> None:
    cid, _ = running()
    p = runtime("exec", "--cap", "CAP_NOPE", cid, "true")
    assert p.returncode == 0, p.stderr
    assert "ignoring unknown or unavailable capabilities: [CAP_NOPE]" in p.stderr


BAD_FLAGS = [
    (["-u", "abc"], "bad uid"),
    (["-e", "NOEQUALS"], "invalid environment variable"),
    (["--cwd", "relative"], "Cwd must be an absolute path"),
    (["--apparmor", "prof"], "AppArmor is not enabled on this host"),
    (["--process-label", "x"], "selinux label is specified in config, but selinux is disabled or not supported"),
    (["-t", "-d"], "cannot allocate tty if pyrunc will detach without setting console socket"),
    (["--console-socket", "/nonexistent.sock"], "cannot use console socket if pyrunc will not detach or allocate tty"),
    (["--cgroup", "nosuchcontroller:x"], "unknown controller nosuchcontroller"),
    (["--cgroup", "../escape"], "bad sub cgroup path: ../escape is not a sub cgroup path"),
    (["--cgroup", "nonexistent"], "/nonexistent/cgroup.procs: no such file or directory"),
    (["--cgroup", "a", "--cgroup", "b"], "missing <controller>: prefix"),
    (["--preserve-fds", "40"], "fd 3 is not open"),
]


def test_bad_flags_fail_with_one_line(runtime: Any, running: Any, subtests: Any) -> None:
    cid, init = running()
    for flags, message in BAD_FLAGS:
        with subtests.test(flags=flags):
            p = runtime("exec", *flags, cid, "true")
            assert p.returncode == 255, p.stderr
            assert p.stderr.startswith('time="') and "exec failed: " in p.stderr and message in p.stderr, p.stderr
            assert len(p.stderr.strip().splitlines()) == 1
    assert cgroup_procs_of(init) == [init]


def test_no_command(runtime: Any, running: Any) -> None:
    cid, _ = running()
    p = runtime("exec", cid)
    assert p.returncode == 255
    assert "exec failed: exec args cannot be empty" in p.stderr


# ------------------------------------------------------------------------------------------- detach


SUBREAPER = textwrap.dedent("""
    import ctypes, json, os, signal, subprocess, sys
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER, as containerd's shim and conmon
    pid_file = sys.argv[1]
    with open(pid_file + ".err", "w") as err:
        rc = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err).returncode
    out = {"rc": rc, "err": open(pid_file + ".err").read()}
    if rc == 0:
        pid = int(open(pid_file).read())
        out["pid"] = pid
        out["alive_child"] = os.waitpid(pid, os.WNOHANG) == (0, 0)   # ChildProcessError if not our child
        stat = open(f"/proc/{pid}/stat").read()
        out["ppid"] = int(stat[stat.rindex(")") + 2:].split()[1])
        out["me"] = os.getpid()
        out["cmdline"] = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")[:2] == [b"sleep", b"1000"]
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        out["killed"] = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    print(json.dumps(out))
""")


def test_detach_pid_file_and_subreaper(runtime: Any, running: Any, tmp_path: Path) -> None:
    """exec -d returns once the process runs, the pid file is written before, and the process is a child of the
    caller's subreaper (containerd's shim reaps it): no pyrunc process stays in between."""
    cid, _ = running()
    pid_file = tmp_path / "exec.pid"
    argv = [sys.executable, "-c", SUBREAPER, str(pid_file), *runtime.cmd, "--root", str(runtime.root),
            "exec", "--detach", "--pid-file", str(pid_file), cid, "sleep", "1000"]
    p = subprocess.run(argv, env=env_with_repo(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["rc"] == 0, out["err"]
    assert out["alive_child"] and out["ppid"] == out["me"] and out["cmdline"] and out["killed"], out


def test_detached_process_shares_namespaces_and_cgroup_with_init(runtime: Any, running: Any, tmp_path: Path) -> None:
    cid, init = running()
    epid = exec_detached(runtime, cid, "sleep", "1000", pid_file=tmp_path / "e.pid")
    try:
        assert [ns_inode(epid, n) for n in NS] == [ns_inode(init, n) for n in NS]
        assert Path(f"/proc/{epid}/cgroup").read_text() == Path(f"/proc/{init}/cgroup").read_text()
        assert epid in cgroup_procs_of(init)
        assert Path(f"/proc/{epid}/comm").read_text().strip() == "sleep"
        # pid 1 of the container is the init; the exec'd process is another pid in the same pid namespace.
        nspid = [line for line in Path(f"/proc/{epid}/status").read_text().splitlines() if line.startswith("NSpid")]
        assert nspid and nspid[0].split()[-1] != "1"
    finally:
        kill_wait(epid)


def test_pidfd_socket_receives_a_pidfd_of_the_process(runtime: Any, running: Any, tmp_path: Path) -> None:
    cid, _ = running()
    path = str(tmp_path / "pidfd.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)
        epid = exec_detached(runtime, cid, "sleep", "1000", pid_file=tmp_path / "p.pid", flags=("--pidfd-socket", path))
        conn, _ = srv.accept()
        with conn:
            pidfd, _name = recv_master(conn)
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            assert next(line for line in f if line.startswith("Pid:")).split()[1] == str(epid)
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        assert select.select([pidfd], [], [], 10)[0], "the exec'd process did not exit"
    finally:
        os.close(pidfd)


# ------------------------------------------------------------------------------------------- terminal




def test_tty_through_console_socket(runtime: Any, running: Any, tmp_path: Path) -> None:
    """containerd/conmon's way: exec --process (terminal: true) --detach --console-socket; the master arrives
    with runc's framing (one fd, the pty name as payload) and the shell lives on the container's devpts."""
    cid, init = running()
    doc = {"terminal": True, "consoleSize": {"height": 24, "width": 80}, "cwd": "/",
           "env": ["PATH=/bin:/usr/bin"], "args": ["sh"], "user": {"uid": 0, "gid": 0}}
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps(doc))
    sock_path = str(tmp_path / "console.sock")
    pid_file = tmp_path / "tty.pid"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(sock_path)
        srv.listen(1)
        # conmon <= 2.1.10 also passes --tty along with --process.
        p = runtime("exec", "--pid-file", str(pid_file), "--process", str(pfile), "--detach", "--tty",
                    "--console-socket", sock_path, cid, capture_output=False, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert p.returncode == 0
        conn, _ = srv.accept()
        with conn:
            master, name = recv_master(conn)
    try:
        assert name == b"/dev/ptmx"
        epid = int(pid_file.read_text())
        assert ns_inode(epid, "mnt") == ns_inode(init, "mnt")
        os.write(master, b"echo hi; stty size; tty; test -t 0 && echo stdin-is-tty; exit\n")
        out = read_until_eof(master).decode(errors="replace")
    finally:
        os.close(master)
    # The kernel's default ONLCR stays on: the socket's owner relays to a raw terminal (runc leaves it too).
    assert "hi\r\n" in out
    assert "24 80" in out
    assert "/dev/pts/" in out
    assert "stdin-is-tty" in out


def test_tty_without_console_socket_is_relayed(runtime: Any, running: Any) -> None:
    cid, _ = running()
    argv = [*runtime.cmd, "--root", str(runtime.root), "exec", "-t", cid, "sh"]
    p = subprocess.run(argv, env=env_with_repo(), input="tty >/dev/null && echo on-a-tty; exit 5\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 5, p.stderr
    assert "on-a-tty\n" in p.stdout
    assert "\r" not in p.stdout  # our own relay clears ONLCR, as runc's


def test_signals_are_forwarded_to_the_process(runtime: Any, running: Any) -> None:
    cid, _ = running()
    argv = [*runtime.cmd, "--root", str(runtime.root), "exec", cid, "sh", "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done"]
    proc = subprocess.Popen(argv, env=env_with_repo(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 42, err
    assert "got-term" in out


# ------------------------------------------------------------------------------------------- status rules


def test_exec_into_stopped_container_fails(runtime: Any, running: Any) -> None:
    cid, _ = running()
    assert runtime("exec", cid, "true").returncode == 0
    runtime("kill", cid, "KILL", check=True)
    deadline = time.monotonic() + 10
    while runtime.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    p = runtime("exec", cid, "true")
    assert p.returncode == 255
    assert "exec failed: cannot exec in a stopped container" in p.stderr


def test_exec_into_paused_container_needs_ignore_paused(runtime: Any, running: Any) -> None:
    cid, init = running()
    runtime("pause", cid, check=True)
    try:
        p = runtime("exec", cid, "true")
        assert p.returncode == 255
        assert "exec failed: cannot exec in a paused container (use --ignore-paused to override)" in p.stderr
        assert cgroup_procs_of(init) == [init]
    finally:
        runtime("resume", cid, check=True)
    assert runtime("exec", "--ignore-paused", cid, "true").returncode == 0


def test_exec_into_created_container(runtime: Any, make_bundle: Any) -> None:
    """runc allows exec before start: the namespaces exist; the init still waits on exec.fifo."""
    bundle = make_bundle(args=["sleep", "1000"])
    cid = uniq("c-exec-created")
    runtime.create(bundle, cid)
    p = runtime("exec", cid, "sh", "-c", "cat /proc/1/comm; hostname")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["pyrunc:[2:INIT]", "pyrunc-test"]
    assert runtime.state(cid)["status"] == "created"


def test_exec_unknown_container(runtime: Any) -> None:
    p = runtime("exec", uniq("nosuch"), "true")
    assert p.returncode == 255
    assert "exec failed: container does not exist" in p.stderr


# ------------------------------------------------------------------------------------------- failures, hygiene


def test_missing_binary_runc_like_error_and_nothing_left(runtime: Any, running: Any) -> None:
    cid, init = running()
    p = runtime("exec", cid, "nosuch")
    assert p.returncode == 255
    assert p.stderr.count("\n") == 1
    assert 'exec failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH' \
        in p.stderr, p.stderr
    assert cgroup_procs_of(init) == [init]
    p = runtime("exec", cid, "/bin/nosuch")
    assert p.returncode == 255 and "stat /bin/nosuch: no such file or directory" in p.stderr
    assert cgroup_procs_of(init) == [init]
    assert runtime.state(cid)["status"] == "running"


def test_no_fd_leaks_into_the_process(runtime: Any, running: Any, tmp_path: Path) -> None:
    """Only stdio reaches the process: not the fds our caller passed us (a shim's stray socket), not ours."""
    cid, _ = running()
    host_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    r, w = os.pipe()
    try:
        p = runtime("exec", cid, "sh", "-c", "ls /proc/$$/fd; true", pass_fds=(host_dir, r, w))
    finally:
        for fd in (host_dir, r, w):
            os.close(fd)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "2"]


def test_cwd_through_a_leaked_fd_is_refused(runtime: Any, running: Any) -> None:
    """CVE-2024-21626 attack 2: `exec --cwd /proc/self/fd/N` where N would be a host directory fd."""
    cid, _ = running()
    host_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for n in range(3, 7):
            p = runtime("exec", "--cwd", f"/proc/self/fd/{n}", cid, "pwd", pass_fds=(host_dir,))
            assert p.returncode == 255, (n, p.stdout)
            assert "exec failed: unable to start container process: cwd" in p.stderr
    finally:
        os.close(host_dir)


def test_preserve_fds(runtime: Any, running: Any, tmp_path: Path) -> None:
    cid, _ = running()
    data = tmp_path / "data"
    data.write_text("passed-through\n")
    # sh opens the file as fd 3 for pyrunc (pytest's own fd 3 must not be touched).
    argv = ["sh", "-c", 'exec "$@" 3<"$0"', str(data), *runtime.cmd, "--root", str(runtime.root), "exec",
            "--preserve-fds", "1", cid, "sh", "-c", "cat <&3; ls /proc/$$/fd; true"]
    p = subprocess.run(argv, env=env_with_repo(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["passed-through", "0", "1", "2", "3"]


def test_containers_seccomp_profile_applies(runtime: Any, running: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        }

    cid, _ = running(edit)
    p = runtime("exec", cid, "sh", "-c", "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status")
    assert "Operation not permitted" in p.stdout
    assert "Seccomp:\t2" in p.stdout


def test_exec_uses_the_filter_create_compiled_never_a_stale_one(runtime: Any, running: Any) -> None:
    """create keeps the compiled program in the state dir (0600) and exec loads it without libseccomp
    (pyrunc.runtime.seccomp_cache), but only for the very profile it was compiled from: a record of another
    profile (here one that allows mkdir) or a damaged one is ignored, and the container's profile compiled again."""
    def profile(action: str) -> Callable[[dict[str, Any]], None]:
        def edit(c: dict[str, Any]) -> None:
            c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}
        return edit

    cid, _ = running(profile("SCMP_ACT_ERRNO"), name="c-exec-bpf")
    other, _ = running(profile("SCMP_ACT_LOG"), name="c-exec-bpf-other")
    kept = runtime.root / cid / "seccomp.bpf"
    assert kept.stat().st_mode & 0o777 == 0o600
    good = kept.read_bytes()
    mkdir = ("sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status")

    p = runtime("--debug", "exec", cid, *mkdir)
    assert "Operation not permitted" in p.stdout and "Seccomp:\t2" in p.stdout, p.stdout + p.stderr
    assert "seccomp.bpf" not in p.stderr  # loaded, not compiled

    kept.write_bytes((runtime.root / other / "seccomp.bpf").read_bytes())
    p = runtime("--debug", "exec", cid, *mkdir)
    assert "Operation not permitted" in p.stdout, p.stdout + p.stderr
    assert "not used (compiled from another profile" in p.stderr

    record = json.loads(good)
    record["program"] = record["program"][:-16] + "06000000ffff7f00"  # last instruction: RET ALLOW
    kept.write_text(json.dumps(record))
    p = runtime("--debug", "exec", cid, *mkdir)
    assert "Operation not permitted" in p.stdout, p.stdout + p.stderr
    assert "not used (digest mismatch)" in p.stderr


def test_seccomp_listener_gets_the_exec_process(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    """A NOTIFY profile: exec's process sends its own listener fd; the state names the container (its init),
    the container process pid is the exec'd one (runc)."""
    path = str(tmp_path / "seccomp.sock")

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}

    bundle = make_bundle(edit=edit, args=["sleep", "1000"])
    cid = uniq("c-exec-notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(2)
        runtime.create(bundle, cid)
        srv.accept()[0].close()  # the init's listener fd
        runtime("start", cid, check=True)
        init = runtime.state(cid)["pid"]
        epid = exec_detached(runtime, cid, "sleep", "1000", pid_file=tmp_path / "n.pid")
        conn, _ = srv.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _f, _a = conn.recvmsg(65536, socket.CMSG_SPACE(fds.itemsize))
            fds.frombytes(anc[0][2])
    os.close(fds[0])
    kill_wait(epid)
    doc = json.loads(msg)
    assert (doc["pid"], doc["state"]["pid"], doc["state"]["id"]) == (epid, init, cid)


def test_sub_cgroup(runtime: Any, running: Any, tmp_path: Path) -> None:
    """--cgroup CONTROLLER:PATH runs the process in an existing sub-cgroup of the container's."""
    cid, init = running()
    line = next(x for x in Path(f"/proc/{init}/cgroup").read_text().splitlines() if ":pids:" in x)
    sub = Path(f"/sys/fs/cgroup/pids{line.split(':', 2)[2]}") / "sub"
    sub.mkdir()
    try:
        epid = exec_detached(runtime, cid, "sleep", "1000", pid_file=tmp_path / "s.pid", flags=("--cgroup", "pids:sub"))
        try:
            lines = Path(f"/proc/{epid}/cgroup").read_text().splitlines()
            assert next(x for x in lines if ":pids:" in x).endswith("/sub")
            assert next(x for x in lines if ":memory:" in x) == next(
                x for x in Path(f"/proc/{init}/cgroup").read_text().splitlines() if ":memory:" in x)
        finally:
            kill_wait(epid)
        p = runtime("exec", "--cgroup", "pids:nosuch", cid, "true")
        assert p.returncode == 255 and "/nosuch/cgroup.procs: no such file or directory" in p.stderr
    finally:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sub.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_exec_into_user_and_cgroup_namespaces(runtime: Any, running: Any, userns_rootfs: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"] += [{"type": "user"}, {"type": "cgroup"}]
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    cid, init = running(edit, rootfs=userns_rootfs)
    script = "id -u; cat /proc/self/uid_map; " + "".join(f"readlink /proc/self/ns/{n}; " for n in NS) + \
        "grep :pids: /proc/self/cgroup"
    p = runtime("exec", "-u", "1000", cid, "sh", "-c", script)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "1000"
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2:2 + len(NS)] == [ns_inode(init, n) for n in NS]
    assert lines[-1] == "8:pids:/" or lines[-1].endswith(":pids:/")  # rooted at the container's cgroup
