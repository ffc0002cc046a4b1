"""containerd (runc v2 shim) driving the runtime, through ctr, against a private containerd started for this module.

Every scenario runs twice: with Debian's runc (the control) and with pyrunc, chosen per container with
`ctr run --runc-binary` (the shim keeps using that binary for exec/ps/kill/pause/delete of the container).
No image is pulled: the busybox rootfs is imported as a locally built OCI archive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import shell
from clients.cgroups import cgroup_dirs, freezer_state
from clients.commands import describe, pids_matching, run, run_in_pty, stop_process, wait_until
from clients.containerd import NAMESPACE, Containerd
from clients.fixtures import ClientRuntime, client_runtime, image_archive
from clients.image import IMAGE_PATH_ENV, ImageArchive
from clients.leftovers import assert_container_gone, listed_ids
from clients.runtimes import require_binary

__all__ = ["client_runtime", "image_archive"]  # fixtures used by the tests below

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory, image_archive: ImageArchive) -> Iterator[Containerd]:
    daemon = Containerd(tmp_path_factory.mktemp("containerd"), require_binary("containerd", "containerd"),
                        require_binary("ctr", "containerd"))
    require_binary("containerd-shim-runc-v2", "containerd")
    try:
        daemon.start()
        daemon.import_image(image_archive)
        yield daemon
    finally:
        daemon.stop()


class Ctr:
    """ctr for one runtime, removing at the end every container the test made (whatever state it is in)."""

    def __init__(self, daemon: Containerd, rt: ClientRuntime, image: str) -> None:
        self.d = daemon
        self.rt = rt
        self.image = image
        self.ids: list[str] = []
        self.execs = 0

    def new_id(self, scenario: str) -> str:
        cid = self.rt.unique_id(scenario)
        self.ids.append(cid)
        return cid

    def __call__(self, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        return self.d.ctr(*args, **kw)

    def run_argv(self, cid: str, *cmd: str, opts: tuple[str, ...] = ()) -> list[str]:
        return [*self.d.ctr_argv(), "run", *self.d.run_args(self.rt.binary), *opts, self.image, cid, *cmd]

    def run(self, cid: str, *cmd: str, opts: tuple[str, ...] = (), check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
        return run(self.run_argv(cid, *cmd, opts=opts), check=check)

    def exec(self, cid: str, *cmd: str, opts: tuple[str, ...] = (), check: bool = True,
             ) -> subprocess.CompletedProcess[str]:
        """`ctr task exec` with a fresh exec id."""
        self.execs += 1
        return self("task", "exec", "--fifo-dir", str(self.d.fifo_dir), "--exec-id", f"exec{self.execs}", *opts, cid,
                    *cmd, check=check)

    def tasks(self) -> dict[str, tuple[int, str]]:
        """id -> (pid, STATUS) from `ctr task ls`."""
        out = self("task", "ls").stdout.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (line.split() for line in out) if len(f) >= 3}

    def wait_status(self, cid: str, status: str, timeout: float = 20) -> None:
        wait_until(lambda: self.tasks().get(cid, (0, ""))[1] == status, timeout=timeout,
                   what=f"task {cid} to be {status} (tasks: {self.tasks()})")

    def runtime_root(self) -> Path:
        """The --root the shim passes to the runtime for this namespace."""
        return self.d.runtime_root(self.rt.binary) / NAMESPACE

    def runtime(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The runtime binary itself, on the state root the shim uses."""
        return run([str(self.rt.binary), "--root", str(self.runtime_root()), *args], check=check, timeout=30)

    def runtime_ids(self) -> list[str]:
        return listed_ids(self.rt.binary, self.runtime_root())

    def assert_gone(self, cid: str, pid: int, cgroups: dict[str, Path]) -> None:
        assert_container_gone(self.rt.binary, self.runtime_root(), cid, pid, cgroups)

    def cleanup(self) -> None:
        tasks = self.tasks()
        for cid in self.ids:
            if cid in tasks:
                self("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=20)
                self("task", "delete", "--force", cid, check=False, timeout=30)
            self("container", "delete", cid, check=False, timeout=20)
            self.d.shim_socket(cid).unlink(missing_ok=True)  # left behind when a test kills the shim


@pytest.fixture
def ctr(containerd: Containerd, client_runtime: ClientRuntime, image_archive: ImageArchive) -> Iterator[Ctr]:
    c = Ctr(containerd, client_runtime, image_archive.name)
    yield c
    c.cleanup()


def test_run_to_completion(ctr: Ctr) -> None:
    """`ctr run --rm`: stdout and stderr come through separately, the exit status is the process's."""
    cid = ctr.new_id("run")
    p = ctr.run(cid, "sh", "-c", 'echo "hello from $(pwd) with $PATH"; echo oops >&2; exit 3', opts=("--rm",),
                check=False)
    assert p.returncode == 3, describe(p)
    assert p.stdout == f"hello from / with {IMAGE_PATH_ENV[5:]}\n", describe(p)  # the image's Env
    assert "oops" in p.stderr, describe(p)
    assert cid not in ctr.runtime_ids()


def test_detached_exec_ps_kill_delete(ctr: Ctr) -> None:
    """`ctr run -d`, `task exec` (output, status, cwd, user), `task ps` (runtime `ps --format json`), kill, delete."""
    cid = ctr.new_id("detached")
    ctr.run(cid, "sh", "-c", shell.TRAP_TERM, opts=("-d",))
    ctr.wait_status(cid, "RUNNING")
    pid = ctr.tasks()[cid][0]
    cgroups = cgroup_dirs(pid)

    p = ctr.exec(cid, "sh", "-c", 'echo "exec in $(pwd) as $(id -u)"; exit 5', opts=("--cwd", "/tmp", "--user", "1000"),
                 check=False)
    assert (p.returncode, p.stdout) == (5, "exec in /tmp as 1000\n"), describe(p)

    listed = ctr("task", "ps", cid).stdout.split()
    assert str(pid) in listed, f"init pid {pid} not in `ctr task ps`: {listed}"
    assert len([w for w in listed if w.isdigit()]) >= 2, f"sleep should be listed too: {listed}"

    ctr("task", "kill", cid)  # SIGTERM
    ctr.wait_status(cid, "STOPPED")
    p = ctr("task", "delete", cid)
    assert "exit code 7" in p.stdout + p.stderr, describe(p)
    ctr("container", "delete", cid)
    ctr.assert_gone(cid, pid, cgroups)


def test_tty(ctr: Ctr) -> None:
    """`ctr run -t`: the process gets a terminal of the client's size on stdin/stdout (console socket + resize)."""
    cid = ctr.new_id("tty")
    r = run_in_pty(ctr.run_argv(cid, "sh", "-c", shell.TTY_CHECK, opts=("--rm", "-t")),
                   rows=shell.TTY_ROWS, cols=shell.TTY_COLS)
    assert r.returncode == 4, r
    assert r.output.splitlines()[:3] == shell.TTY_EXPECTED, r
    # The client's terminal is raw: the line endings are the container pty's own, with ONLCR on as the kernel
    # makes it (a runtime that cleared it would print a staircase).
    assert "\r\n" in r.raw, r


def test_memory_limit(ctr: Ctr) -> None:
    """`--memory-limit`: the limit is set in the container's memory cgroup and enforced (OOM kill, status 137)."""
    cid = ctr.new_id("memory")
    p = ctr.run(cid, "sh", "-c", shell.READ_MEMORY_LIMIT,
                opts=("--rm", "--memory-limit", str(shell.MEMORY_LIMIT),
                      "--mount", "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro"))
    assert p.stdout.strip() == str(shell.MEMORY_LIMIT), describe(p)

    cid = ctr.new_id("oom")
    p = ctr.run(cid, "sh", "-c", shell.EXCEED_MEMORY, opts=("--rm", "--memory-limit", str(shell.MEMORY_LIMIT)),
                check=False)
    assert p.returncode == 137, describe(p)


def test_pause_resume(ctr: Ctr) -> None:
    """`task pause`/`resume`: the freezer cgroup is frozen and thawed; the container works again afterwards."""
    cid = ctr.new_id("pause")
    ctr.run(cid, "sleep", "1000", opts=("-d",))
    ctr.wait_status(cid, "RUNNING")
    dirs = cgroup_dirs(ctr.tasks()[cid][0])

    ctr("task", "pause", cid)
    ctr.wait_status(cid, "PAUSED")
    assert freezer_state(dirs) == "FROZEN"
    ctr("task", "resume", cid)
    ctr.wait_status(cid, "RUNNING")
    assert freezer_state(dirs) == "THAWED"
    p = ctr.exec(cid, "echo", "awake")
    assert p.stdout == "awake\n"


def test_metrics(ctr: Ctr) -> None:
    """`task metrics`: the shim reads the cgroups the runtime put the init in (memory, cpu, pids)."""
    cid = ctr.new_id("metrics")
    ctr.run(cid, "sh", "-c", "sleep 1000 & sleep 1000 & wait", opts=("-d", "--memory-limit", str(48 * shell.MiB)))
    ctr.wait_status(cid, "RUNNING")
    wait_until(lambda: len([w for w in ctr("task", "ps", cid).stdout.split() if w.isdigit()]) == 3,
               what="sh and both sleeps to run")
    m = json.loads(ctr("task", "metrics", "--format", "json", cid).stdout)
    assert m["pids"]["current"] == 3, m["pids"]
    if "usage_limit" in m["memory"]:  # cgroup v2 metrics
        assert m["memory"]["usage_limit"] == 48 * shell.MiB, m["memory"]
        assert m["cpu"]["usage_usec"] > 0, m["cpu"]
    else:
        assert m["memory"]["usage"]["limit"] == 48 * shell.MiB, m["memory"]
        assert m["memory"]["usage"]["usage"] > 0, m["memory"]
        assert m["cpu"]["usage"]["total"] > 0, m["cpu"]


def test_runc_binary_is_used(ctr: Ctr, containerd: Containerd) -> None:
    """`ctr run --runc-binary B --runc-root R`: the shim records B and R, and B's own `state` sees the container."""
    cid = ctr.new_id("binary")
    ctr.run(cid, "sleep", "1000", opts=("-d",))
    ctr.wait_status(cid, "RUNNING")
    bundle = containerd.state / "io.containerd.runtime.v2.task" / NAMESPACE / cid
    options = json.loads((bundle / "options.json").read_text())
    assert options["binary_name"] == str(ctr.rt.binary), options
    state = json.loads(ctr.runtime("state", cid).stdout)
    assert (state["id"], state["status"], state["pid"]) == (cid, "running", ctr.tasks()[cid][0]), state
    assert Path(state["bundle"]) == bundle, state


def test_create_error_reaches_ctr(ctr: Ctr) -> None:
    """A container that cannot start: ctr shows the runtime's own message (from log.json) and nothing is left."""
    cid = ctr.new_id("badexec")
    p = ctr.run(cid, "/nonexistent", opts=("--rm",), check=False)
    assert p.returncode != 0, describe(p)
    assert "OCI runtime create failed" in p.stderr, describe(p)
    assert "unable to retrieve OCI runtime error" not in p.stderr, describe(p)
    assert "/nonexistent" in p.stderr, describe(p)  # the message names what was wrong
    assert cid not in ctr.runtime_ids()
    assert not (ctr.runtime_root() / cid).exists()
    cgroups = Path("/sys/fs/cgroup")
    leftovers = [str(d) for pattern in (f"*/{NAMESPACE}/{cid}", f"{NAMESPACE}/{cid}") for d in cgroups.glob(pattern)]
    assert not leftovers, leftovers


def _shim_pids(containerd: Containerd, cid: str) -> list[int]:
    return pids_matching(f"-namespace {NAMESPACE} -id {cid} -address {containerd.sock}")


def test_killed_shim_is_cleaned_up(ctr: Ctr, containerd: Containerd) -> None:
    """SIGKILL the shim: containerd's cleanup (`<runtime> delete --force`) removes the whole container."""
    cid = ctr.new_id("deadshim")
    ctr.run(cid, "sleep", "1000", opts=("-d",))
    ctr.wait_status(cid, "RUNNING")
    pid = ctr.tasks()[cid][0]
    cgroups = cgroup_dirs(pid)
    shims = _shim_pids(containerd, cid)
    assert len(shims) == 1, shims
    os.kill(shims[0], signal.SIGKILL)
    wait_until(lambda: cid not in ctr.tasks(), timeout=20, what="containerd to drop the task of the dead shim")
    ctr.assert_gone(cid, pid, cgroups)


def test_killed_client_leaves_a_deletable_container(ctr: Ctr) -> None:
    """SIGKILL a foreground `ctr run`: the task lives on, and `<runtime> delete --force` removes all of it."""
    cid = ctr.new_id("deadclient")
    client = subprocess.Popen(ctr.run_argv(cid, "sleep", "1000"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ctr.wait_status(cid, "RUNNING")
        client.kill()
        client.wait(timeout=10)
    finally:
        stop_process(client)
    time.sleep(0.2)
    assert ctr.tasks()[cid][1] == "RUNNING"
    pid = ctr.tasks()[cid][0]
    cgroups = cgroup_dirs(pid)
    ctr.runtime("delete", "--force", cid)
    ctr.assert_gone(cid, pid, cgroups)
    ctr.wait_status(cid, "STOPPED")  # the shim saw its init die
