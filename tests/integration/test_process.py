"""The container process: args/PATH, env, cwd, user, umask, rlimits, oomScoreAdj, capabilities, no_new_privs,
fds (--preserve-fds, LISTEN_FDS, nothing leaked), terminals, and the init's own protections."""

from __future__ import annotations

import array
import os
import shlex
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq
from console_io import read_until_eof, recv_master

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def run_sh(runtime: Any, make_bundle: Any, script: str, edit: Any = None, name: str = "c-proc") -> str:
    bundle = make_bundle(edit=edit, args=["sh", "-c", script])
    p = runtime("run", "-b", str(bundle), uniq(name))
    assert p.returncode == 0, p.stderr
    return p.stdout


def status_field(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in {text!r}")


def env_with_repo() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


# ------------------------------------------------------------------------------------------- args, env, cwd


def test_args_are_resolved_through_the_containers_path(runtime: Any, make_bundle: Any) -> None:
    def only_bin(c: dict[str, Any]) -> None:
        c["process"]["env"] = ["PATH=/bin"]

    bundle = make_bundle(edit=only_bin, args=["echo", "found"])
    p = runtime("run", "-b", str(bundle), uniq("c-path"))
    assert (p.returncode, p.stdout) == (0, "found\n"), p.stderr

    def no_path(c: dict[str, Any]) -> None:
        c["process"]["env"] = ["PATH=/nowhere"]

    bundle = make_bundle(edit=no_path, args=["echo", "x"])
    p = runtime("run", "-b", str(bundle), uniq("c-nopath"))
    assert p.returncode == 1
    assert "executable file not found in $PATH" in p.stderr


def test_env_and_home_default(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["env"] += ["FOO=bar baz", "EMPTY="]

    out = run_sh(runtime, make_bundle, 'echo "FOO=$FOO"; echo "HOME=$HOME"; env | grep -c "^EMPTY=$"', edit)
    assert out == "FOO=bar baz\nHOME=/root\n1\n"


def test_cwd_is_used_and_created(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["cwd"] = "/tmp"

    assert run_sh(runtime, make_bundle, "pwd", edit) == "/tmp\n"

    def missing(c: dict[str, Any]) -> None:
        c["process"]["cwd"] = "/var/newdir/sub"

    assert run_sh(runtime, make_bundle, "pwd", missing, name="c-cwdnew") == "/var/newdir/sub\n"


# ------------------------------------------------------------------------------------------- user, limits


def test_user_groups_and_umask(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 100], "umask": 0o027}

    out = run_sh(runtime, make_bundle, "cat /proc/self/status; umask; echo HOME=$HOME", edit)
    assert status_field(out, "Uid").split() == ["1000"] * 4
    assert status_field(out, "Gid").split() == ["1000"] * 4
    assert sorted(status_field(out, "Groups").split()) == ["100", "5"]
    assert "\n0027\n" in out
    assert "HOME=/home/user" in out
    # A non-root user keeps only what the config gives it (no capabilities in effective without ambient).
    assert int(status_field(out, "CapEff"), 16) == 0


def test_rlimits_and_oom_score_adj(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        ]
        c["process"]["oomScoreAdj"] = 567

    out = run_sh(runtime, make_bundle, "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj", edit)
    assert out.split() == ["512", "2048", "0", "567"]


def test_rlimits_take_the_whole_uint64_range(runtime: Any, make_bundle: Any) -> None:
    """The spec's rlimit values are uint64: 2**63 and above (Python's resource module stops at 2**63 - 1) are set
    exactly, 2**64 - 1 is unlimited."""
    def edit(c: dict[str, Any]) -> None:
        c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 2**63, "hard": 2**64 - 1}]

    out = run_sh(runtime, make_bundle, "ulimit -c; ulimit -Hc", edit)
    assert out.split() == [str(2**63 // 512), "unlimited"]  # ulimit -c counts 512-byte blocks


def test_capabilities_all_five_sets(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        caps = c["process"]["capabilities"]
        caps["bounding"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
        caps["effective"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        caps["permitted"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        caps["inheritable"] = ["CAP_KILL"]
        caps["ambient"] = ["CAP_KILL"]

    out = run_sh(runtime, make_bundle, "cat /proc/self/status", edit)
    kill, nbs, chown = 1 << 5, 1 << 10, 1 << 0
    assert int(status_field(out, "CapBnd"), 16) == kill | nbs | chown
    # execve: effective/permitted of root come from the bounding set ∩ ... for uid 0; check the exact sets
    # through a non-root user below. Inheritable is exactly what the config lists (CVE-2022-29162).
    assert int(status_field(out, "CapInh"), 16) == kill
    assert int(status_field(out, "CapAmb"), 16) == kill


def test_capabilities_non_root_user_get_exactly_the_config(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        caps = c["process"]["capabilities"]
        caps["bounding"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        caps["effective"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        caps["permitted"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        caps["inheritable"] = ["CAP_NET_BIND_SERVICE"]
        caps["ambient"] = ["CAP_NET_BIND_SERVICE"]

    out = run_sh(runtime, make_bundle, "cat /proc/self/status", edit)
    nbs = 1 << 10
    # After execve a non-root process keeps only its ambient caps in permitted/effective.
    assert int(status_field(out, "CapPrm"), 16) == nbs
    assert int(status_field(out, "CapEff"), 16) == nbs
    assert int(status_field(out, "CapInh"), 16) == nbs
    assert int(status_field(out, "CapAmb"), 16) == nbs


def test_unknown_capabilities_are_a_warning_and_ambient_needs_inheritable(runtime: Any, make_bundle: Any) -> None:
    """Runtime-spec: caps that cannot be mapped are logged as a warning and ignored (runc's bats capabilities.bats);
    an ambient cap that is not inheritable is skipped with runc's warning wording."""
    def edit(c: dict[str, Any]) -> None:
        caps = c["process"]["capabilities"]
        caps["bounding"] = ["CAP_UNKNOWN", "CAP_KILL", "UNKNOWN_CAP"]
        caps["effective"] = caps["permitted"] = ["CAP_KILL", "CAP_CHOWN", "CAP_UNKNOWN"]
        caps["inheritable"] = ["CAP_KILL"]
        caps["ambient"] = ["CAP_KILL", "CAP_CHOWN"]

    bundle = make_bundle(edit=edit, args=["cat", "/proc/self/status"])
    p = runtime("run", "-b", str(bundle), uniq("c-capunk"))
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("ignoring unknown or unavailable capabilities: [CAP_UNKNOWN UNKNOWN_CAP]") == 1, p.stderr
    assert "can't raise ambient capability CAP_CHOWN: " in p.stderr
    assert int(status_field(p.stdout, "CapBnd"), 16) == 1 << 5
    assert int(status_field(p.stdout, "CapAmb"), 16) == 1 << 5


def test_no_capabilities_object_means_none(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        del c["process"]["capabilities"]

    out = run_sh(runtime, make_bundle, "cat /proc/self/status", edit)
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status_field(out, key), 16) == 0, key


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(runtime: Any, make_bundle: Any, nnp: bool) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["noNewPrivileges"] = nnp

    out = run_sh(runtime, make_bundle, "cat /proc/self/status", edit)
    assert status_field(out, "NoNewPrivs") == ("1" if nnp else "0")


# ------------------------------------------------------------------------------------------- fds


def test_no_runtime_fd_reaches_the_container(runtime: Any, make_bundle: Any) -> None:
    """Fds the caller leaks into pyrunc (containerd passes a socket as fd 3) never reach the container."""
    bundle = make_bundle(args=["sh", "-c", "ls /proc/$$/fd; true"])
    r, w = os.pipe()
    s1, s2 = socket.socketpair()
    try:
        argv = [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle), uniq("c-fds")]
        p = subprocess.run(argv, env=env_with_repo(), capture_output=True, text=True, timeout=60,
                           pass_fds=(r, w, s1.fileno()))
    finally:
        for fd in (r, w):
            os.close(fd)
        s1.close()
        s2.close()
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == ["0", "1", "2"]


def test_preserve_fds(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    out = tmp_path / "fd3.txt"
    bundle = make_bundle(args=["sh", "-c", "echo preserved >&3; ls /proc/$$/fd; true"])
    cmd = " ".join(shlex.quote(a) for a in [*runtime.cmd, "--root", str(runtime.root), "run", "--preserve-fds",
                                            "1", "-b", str(bundle), uniq("c-preserve")])
    p = subprocess.run(f"{cmd} 3>{shlex.quote(str(out))}", shell=True, env=env_with_repo(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "preserved\n"
    assert sorted(p.stdout.split()) == ["0", "1", "2", "3"]


def test_listen_fds_are_passed_with_their_env(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    out = tmp_path / "listen.txt"
    bundle = make_bundle(args=["sh", "-c", 'echo "$LISTEN_FDS $LISTEN_PID" >&3'])
    cmd = " ".join(shlex.quote(a) for a in [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle),
                                            uniq("c-listen")])
    p = subprocess.run(f"LISTEN_FDS=1 {cmd} 3>{shlex.quote(str(out))}", shell=True, env=env_with_repo(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "1 1\n"


def test_preserve_fds_not_open_is_refused(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["true"])
    p = runtime("run", "--preserve-fds", "40", "-b", str(bundle), uniq("c-badfds"))
    assert p.returncode == 1 and "--preserve-fds" in p.stderr
    assert not (runtime.root / uniq("c-badfds")).exists()


# ------------------------------------------------------------------------------------------- terminal




def test_terminal_through_console_socket(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 30, "width": 100}

    bundle = make_bundle(edit=edit, args=["sh"])
    sock_path = str(tmp_path / "console.sock")
    cid = uniq("c-tty")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(sock_path)
        srv.listen(1)
        with tempfile.TemporaryFile("w+") as err:
            p = runtime("create", "-b", str(bundle), "--console-socket", sock_path, cid, capture_output=False,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            assert p.returncode == 0, err.read()
        conn, _ = srv.accept()
        with conn:
            master, name = recv_master(conn)
    try:
        assert name == b"/dev/ptmx"
        runtime("start", cid, check=True)
        os.write(master, b"stty size; tty; test -t 0 && echo stdin-is-tty; exit 7\n")
        out = read_until_eof(master).decode(errors="replace")
    finally:
        os.close(master)
    assert "30 100" in out
    assert "/dev/pts/0" in out
    assert "stdin-is-tty" in out


def test_run_terminal_without_console_socket_relays_bytes(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True

    bundle = make_bundle(edit=edit, args=["sh"])
    argv = [*runtime.cmd, "--root", str(runtime.root), "run", "-b", str(bundle), uniq("c-runtty")]
    p = subprocess.run(argv, env=env_with_repo(), input="tty >/dev/null && echo on-a-tty; exit 5\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 5, p.stderr
    assert "on-a-tty" in p.stdout


def test_console_socket_that_does_not_exist(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True

    bundle = make_bundle(edit=edit, args=["sh"])
    cid = uniq("c-badsock")
    p = runtime("create", "-b", str(bundle), "--console-socket", str(tmp_path / "nosuch.sock"), cid)
    assert p.returncode == 1 and "console" in p.stderr
    assert not (runtime.root / cid).exists()


def test_create_terminal_requires_console_socket(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["terminal"] = True

    bundle = make_bundle(edit=edit, args=["sh"])
    p = runtime("create", "-b", str(bundle), uniq("c-nosock"))
    assert p.returncode == 1
    assert "console" in p.stderr
    assert not (runtime.root / uniq("c-nosock")).exists()


# ------------------------------------------------------------------------------------------- init protections


def test_init_is_not_dumpable_while_waiting(runtime: Any, make_bundle: Any, userns_rootfs: Path) -> None:
    """CVE-2019-5736/CVE-2016-9962: the parked init's /proc files belong to the host's root, not to the
    container's (mapped) root, which is how the kernel shows a non-dumpable process."""
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    bundle = make_bundle(edit=edit, args=["sleep", "10"], rootfs=userns_rootfs)
    cid = uniq("c-dumpable")
    with tempfile.TemporaryFile("w+") as err:
        p = runtime("create", "-b", str(bundle), cid, capture_output=False, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        assert p.returncode == 0, err.read()
    pid = runtime.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        assert status_field(f.read(), "Uid").split()[0] == "100000"
    assert os.stat(f"/proc/{pid}/environ").st_uid == 0
    runtime("start", cid, check=True)
    time.sleep(0.2)
    # After execve the program is dumpable again: its /proc files belong to its own uid.
    assert os.stat(f"/proc/{pid}/environ").st_uid == 100000


@pytest.mark.parametrize("how", ["shebang", "symlink"])
def test_entrypoint_reaching_the_runtime_binary_is_refused(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                           how: str) -> None:
    """CVE-2019-5736 variant: `#!/proc/self/exe` would run the host's interpreter as the container process."""
    evil = private_rootfs / "bin" / "evil"
    if how == "shebang":
        evil.write_text("#!/proc/self/exe\n")
        evil.chmod(0o755)
    else:
        evil.symlink_to("/proc/self/exe")
    bundle = make_bundle(args=["/bin/evil"], rootfs=private_rootfs)
    p = runtime("run", "-b", str(bundle), uniq(f"c-evil-{how}"))
    assert p.returncode == 1
    assert "CVE-2019-5736" in p.stderr
    assert not (runtime.root / uniq(f"c-evil-{how}")).exists()


# ------------------------------------------------------------------------------------------- scheduling


def test_scheduler_io_priority_personality_and_affinity(runtime: Any, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
        c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
        c["linux"]["personality"] = {"domain": "LINUX32"}

    out = run_sh(runtime, make_bundle, "cat /proc/self/stat; uname -m", edit)
    stat_fields = out.splitlines()[0].rsplit(")", 1)[1].split()
    assert stat_fields[16] == "7"  # nice (field 19)
    assert stat_fields[38] == "3"  # policy (field 41): SCHED_BATCH
    assert out.splitlines()[-1] in ("i686", "armv8l", "armv7l")  # LINUX32 personality


def test_deadline_scheduler_with_a_cpuset_says_why(runtime: Any, make_bundle: Any) -> None:
    """sched_setattr(SCHED_DEADLINE) is EPERM unless the affinity has every CPU: runc's hint names the cpuset
    (runc's bats scheduler.bats, "scheduler vs cpus"); a pinned runtime alone does not cause it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    deadline = {"policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 1000000, "period": 1000000}

    def with_cpuset(c: dict[str, Any]) -> None:
        c["process"]["scheduler"] = deadline
        c["linux"]["resources"] = {"cpu": {"cpus": str(cpus[0]), "mems": "0"}}

    p = runtime("run", "-b", str(make_bundle(edit=with_cpuset, args=["true"])), uniq("c-dl1"))
    assert p.returncode == 1
    assert "process scheduler can't be used together with AllowedCPUs" in p.stderr, p.stderr

    bundle = make_bundle(edit=lambda c: c["process"].update(scheduler=deadline), args=["true"])
    p = runtime("run", "-b", str(bundle), uniq("c-dl2"), preexec_fn=lambda: os.sched_setaffinity(0, cpus[:1]))
    assert p.returncode == 0, p.stderr


def test_init_gets_every_cpu_not_the_runtimes_affinity(runtime: Any, make_bundle: Any) -> None:
    """A pinned runtime (taskset) does not pin the container (runc's bats cpu_affinity.bats); execCPUAffinity is
    "not applicable to the container's init process" (runtime-spec)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")

    def edit(c: dict[str, Any]) -> None:
        c["process"]["execCPUAffinity"] = {"initial": str(cpus[0]), "final": str(cpus[0])}

    bundle = make_bundle(edit=edit, args=["grep", "Cpus_allowed_list", "/proc/self/status"])
    p = runtime("run", "-b", str(bundle), uniq("c-aff"), preexec_fn=lambda: os.sched_setaffinity(0, cpus[-1:]))
    assert p.returncode == 0, p.stderr
    allowed = p.stdout.split("\t")[1].strip()
    assert allowed not in (str(cpus[0]), str(cpus[-1])), p.stdout


# ------------------------------------------------------------------------------------------- seccomp


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_profile_is_loaded_into_the_container(runtime: Any, make_bundle: Any, nnp: bool) -> None:
    """Loaded by the init before execve: with no_new_privs as late as possible, without it before the
    capabilities are dropped (it needs CAP_SYS_ADMIN then)."""
    def edit(c: dict[str, Any]) -> None:
        c["process"]["noNewPrivileges"] = nnp
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        }

    out = run_sh(runtime, make_bundle, "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status", edit)
    assert "Operation not permitted" in out
    assert "Seccomp:\t2" in out


def test_seccomp_listener_receives_the_notify_fd(runtime: Any, make_bundle: Any, tmp_path: Path) -> None:
    import json

    path = str(tmp_path / "seccomp.sock")

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path,
            "listenerMetadata": "meta",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }

    bundle = make_bundle(edit=edit, args=["sleep", "30"])
    cid = uniq("c-notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)
        with tempfile.TemporaryFile("w+") as err:
            p = runtime("create", "-b", str(bundle), cid, capture_output=False, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            assert p.returncode == 0, err.read()
        conn, _ = srv.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _f, _a = conn.recvmsg(65536, socket.CMSG_SPACE(fds.itemsize))
            fds.frombytes(anc[0][2])
    os.close(fds[0])
    doc = json.loads(msg)
    assert doc["metadata"] == "meta" and doc["state"]["id"] == cid
    assert doc["pid"] == runtime.state(cid)["pid"]


# ------------------------------------------------------------------------------------------- keyring, no-pivot


@pytest.mark.parametrize("flag", [None, "--no-new-keyring"])
def test_session_keyring(runtime: Any, make_bundle: Any, flag: str | None) -> None:
    cid = uniq(f"c-keyring{'-none' if flag else ''}")

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["maskedPaths"].remove("/proc/keys")

    bundle = make_bundle(edit=edit, args=["sh", "-c", f"grep -c '_ses.{cid}:' /proc/keys; true"])
    p = runtime("run", *([flag] if flag else []), "-b", str(bundle), cid)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ("0" if flag else "1")


def test_no_pivot(runtime: Any, make_bundle: Any) -> None:
    bundle = make_bundle(args=["sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l"])
    p = runtime("run", "--no-pivot", "-b", str(bundle), uniq("c-nopivot"))
    assert p.returncode == 0, p.stderr
    assert "bin" in p.stdout.split() and "etc" in p.stdout.split()
