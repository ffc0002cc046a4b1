"""One stage or two (pyrunc.process.spawn, NamespacePlan.one_stage): without a user namespace, a new time namespace
or a joined pid namespace, the runtime's clone3 makes the init itself (pid 1 of its new pid namespace); otherwise an
intermediate enters the namespaces and forks it. Either way the container is the same, it outlives `create`, and a
`create` killed during set-up leaves no init behind."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.root

USERNS = {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
          "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}


def _nspid(pid: int) -> list[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError("no NSpid line")


def _edit_for(case: str) -> Any:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["args"] = ["sh", "-c", "echo $$ > /tmp/pid; exec sleep 60"]
        c["root"]["readonly"] = False
        ns = c["linux"]["namespaces"]
        if case == "no-pid-namespace":
            ns[:] = [n for n in ns if n["type"] != "pid"]
        elif case == "pid-namespace-by-path":
            # The host's pid namespace, by the path of a process of ours (pid 1 may refuse it, as on this VM).
            ns[:] = [n for n in ns if n["type"] != "pid"] + [{"type": "pid", "path": f"/proc/{os.getpid()}/ns/pid"}]
        elif case == "time-namespace":
            ns.append({"type": "time"})
        elif case == "user-namespace":
            ns.append({"type": "user"})
            c["linux"].update(USERNS)
    return edit


CASES = {  # case -> (one stage?, init is pid 1 of its own pid namespace?)
    "default": (True, True),
    "no-pid-namespace": (True, False),
    "pid-namespace-by-path": (False, False),
    "time-namespace": (False, True),
    "user-namespace": (False, True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stages_and_the_resulting_container(case: str, make_bundle: Any, runtime: Any, userns_rootfs: Path,
                                            tmp_path: Path, cid: str) -> None:
    one_stage, own_pidns = CASES[case]
    if case == "time-namespace" and not os.path.exists("/proc/self/ns/time"):
        pytest.skip("no time namespaces in this kernel")
    bundle = make_bundle(_edit_for(case), rootfs=userns_rootfs if case == "user-namespace" else None)
    log = tmp_path / "debug.log"
    runtime.ids.add(cid)  # deleted by the fixture
    with open(tmp_path / "create.err", "w+") as err:
        p = subprocess.run([*runtime.cmd, "--debug", "--log", str(log), "--root", str(runtime.root), "create",
                            "--bundle", str(bundle), cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
        err.seek(0)
        assert p.returncode == 0, err.read() + log.read_text()
    text = log.read_text()
    assert ("one stage: no intermediate" in text) == one_stage, text
    assert ("forked the intermediate stage" in text) == (not one_stage), text
    assert "nsexec container setup" in text  # runc's debug phrase, which its tests look for

    # create has exited: the init lives on (its set-up death signal is gone), parked until start.
    st = runtime.state(cid)
    assert st["status"] == "created"
    pid = st["pid"]
    if own_pidns:
        assert _nspid(pid)[-1] == 1
    else:
        assert len(_nspid(pid)) == 1  # the host's pid namespace (none of its own, or ours given by path)
    runtime("start", cid, check=True)
    deadline = time.monotonic() + 10
    while runtime.state(cid)["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    inner = runtime("exec", cid, "cat", "/tmp/pid", check=True).stdout.strip()
    assert (inner == "1") == own_pidns, inner
    runtime("kill", cid, "KILL", check=True)


def test_create_killed_during_set_up_leaves_no_init(make_bundle: Any, runtime: Any, tmp_path: Path,
                                                    cid: str) -> None:
    """One stage: the init's parent is `create` itself, and dies with it while the set-up lasts (the death signal
    it holds until it reports success)."""
    marker = tmp_path / "hook-started"

    def edit(c: dict[str, Any]) -> None:
        c["process"]["args"] = ["sleep", "60"]
        c["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}; sleep 30"]}]}

    bundle = make_bundle(edit)
    runtime.ids.add(cid)
    proc = subprocess.Popen([*runtime.cmd, "--root", str(runtime.root), "create", "--bundle", str(bundle), cid],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the hook never ran"
            time.sleep(0.02)
        state = (runtime.root / cid / "state.json").read_text()
        init = int(state.split('"pid":')[1].split(",")[0])
        assert init > 0 and Path(f"/proc/{init}").exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{init}").exists():
            stat = Path(f"/proc/{init}/stat").read_text() if Path(f"/proc/{init}/stat").exists() else ""
            if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
                break  # dead, waiting for its reaper
            assert time.monotonic() < deadline, "the init outlived the killed create"
            time.sleep(0.02)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the hook's shell and sleep
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.kill()
    # delete --force cleans what the killed create left (state dir, cgroup).
    runtime("delete", "--force", cid, check=True)
    assert not (runtime.root / cid).exists()


EXEC_CASES = {  # case -> one stage for exec? (a time namespace can only be joined by an intermediate's child)
    "default": True,
    "no-pid-namespace": True,
    "pid-namespace-by-path": True,
    "time-namespace": False,
    "user-namespace": True,
}


@pytest.mark.parametrize("case", sorted(EXEC_CASES))
def test_exec_stages(case: str, make_bundle: Any, runtime: Any, userns_rootfs: Path, tmp_path: Path,
                     cid: str) -> None:
    """exec, one stage: the runtime enters the container's pid namespace for its children just for the fork, so its
    child runs the command itself. The command is in the container's pid namespace, and an `exec -d` command
    outlives `exec` (the set-up's death signal is gone by then)."""
    if case == "time-namespace" and not os.path.exists("/proc/self/ns/time"):
        pytest.skip("no time namespaces in this kernel")
    bundle = make_bundle(_edit_for(case), rootfs=userns_rootfs if case == "user-namespace" else None)
    runtime.create(bundle, cid)
    runtime("start", cid, check=True)
    init = runtime.state(cid)["pid"]
    log = tmp_path / "exec-debug.log"
    p = runtime("--debug", "--log", str(log), "exec", cid, "readlink", "/proc/self/ns/pid")
    assert p.returncode == 0, p.stderr + log.read_text()
    text = log.read_text()
    assert ("this process runs the command" in text) == EXEC_CASES[case], text
    assert p.stdout.strip() == os.readlink(f"/proc/{init}/ns/pid")  # the container's pid namespace

    # Not captured: the command keeps its stdio, and a pipe would reach EOF only when it exits.
    runtime("exec", "-d", cid, "sleep", "60", check=True, capture_output=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        procs = runtime("ps", "--format", "json", cid, check=True).stdout
        if procs.count(",") >= 1:  # the init and the sleep
            break
        assert time.monotonic() < deadline, f"the exec -d command died with exec: {procs}"
        time.sleep(0.05)
    time.sleep(0.3)
    assert runtime("ps", "--format", "json", cid, check=True).stdout.count(",") >= 1
    runtime("kill", "--all", cid, "KILL", check=True)
