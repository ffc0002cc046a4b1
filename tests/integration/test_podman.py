"""podman 4.3 + conmon driving the runtime (`--runtime runc` as the control, `--runtime pyrunc`), cgroupfs manager.

podman runs conmon, which runs the runtime's `create`/`exec`; podman itself runs `start`, `kill`, `delete --force`,
`update` and `state` (without `--root`). Storage, run dir, tmp dir and config are private to the test module; the
image is built locally and loaded with `podman load`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import shell
from clients.cgroups import cgroup_dirs
from clients.cli import ContainerCli
from clients.commands import describe, pid_alive, run_in_pty, stop_process, wait_until
from clients.fixtures import ClientRuntime, client_runtime, image_archive
from clients.image import ImageArchive
from clients.podman import CGROUP_PARENT, Podman
from clients.runtimes import RUNC, require_binary, write_pyrunc_wrapper

__all__ = ["client_runtime", "image_archive"]  # fixtures used by the tests below

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory: pytest.TempPathFactory, image_archive: ImageArchive) -> Iterator[Podman]:
    workdir = tmp_path_factory.mktemp("podman")
    p = Podman(workdir, require_binary("podman", "podman"), require_binary("conmon", "conmon"),
               {"runc": Path(RUNC), "pyrunc": write_pyrunc_wrapper(workdir / "bin")})
    try:
        p.setup()
        p.load_image(image_archive)
        yield p
    finally:
        p.teardown()


@pytest.fixture
def podman(podman_env: Podman, client_runtime: ClientRuntime, image_archive: ImageArchive) -> Iterator[ContainerCli]:
    p = ContainerCli(podman_env.argv(), podman_env.env, client_runtime, image_archive.name,
                     podman_env.runtimes[client_runtime.name], None, run_opts=("--cgroup-parent", CGROUP_PARENT),
                     rm_argv=("rm", "--force", "--ignore", "--time", "0"))
    yield p
    p.cleanup()


def test_run(podman: ContainerCli) -> None:
    """`podman run --rm`: output, separate stderr, exit status, hostname."""
    name = podman.new_name("run")
    p = podman.run(name, "sh", "-c", 'echo "hello from $(hostname)"; echo oops >&2; exit 3',
                   opts=("--rm", "--hostname", "podbox"), check=False)
    assert (p.returncode, p.stdout) == (3, "hello from podbox\n"), describe(p)
    assert "oops" in p.stderr, describe(p)


def test_detached_exec_stop_rm(podman: ContainerCli) -> None:
    """`run -d`, `exec` (env, workdir, user, status), `stop` (SIGTERM reaches the init), `rm`: nothing left."""
    name = podman.new_name("detached")
    podman.run(name, "sh", "-c", shell.TRAP_TERM, opts=("-d",))
    info = podman.inspect(name)
    cid, pid = info["Id"], info["State"]["Pid"]
    state = json.loads(podman.runtime("state", cid).stdout)  # the container is this runtime's
    assert (state["status"], state["pid"]) == ("running", pid), state
    cgroups = cgroup_dirs(pid)

    p = podman("exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "1000:1000", name, "sh", "-c",
               'echo "$GREETING from $(pwd) as $(id -u):$(id -g)"; exit 5', check=False)
    assert (p.returncode, p.stdout) == (5, "hi from /tmp as 1000:1000\n"), describe(p)

    podman("stop", "-t", "10", name, timeout=30)
    assert podman.inspect(name)["State"]["ExitCode"] == 7
    podman("rm", name)
    podman.assert_gone(cid, pid, cgroups)


def test_tty(podman: ContainerCli) -> None:
    """`podman run -it`: a terminal of the client's size on the process's stdin and stdout."""
    name = podman.new_name("tty")
    r = run_in_pty(podman.run_argv(name, "sh", "-c", shell.TTY_CHECK, opts=("--rm", "-it")),
                   rows=shell.TTY_ROWS, cols=shell.TTY_COLS, env=podman.env)
    assert r.returncode == 4, r
    assert r.output.splitlines()[:3] == shell.TTY_EXPECTED, r
    # The client's terminal is raw: the line endings are the container pty's own, with ONLCR on as the kernel
    # makes it (a runtime that cleared it would print a staircase).
    assert "\r\n" in r.raw, r


def test_env_workdir_user(podman: ContainerCli) -> None:
    """`-e`, `-w`, `-u uid:gid`, `--group-add`: process.env, cwd, user.uid/gid/additionalGids."""
    name = podman.new_name("user")
    p = podman.run(name, "sh", "-c", 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(id -G)"',
                   opts=("--rm", "-e", "FOO=bar baz", "-w", "/tmp", "-u", "1000:1000", "--group-add", "65534"))
    assert p.stdout == "bar baz|/tmp|1000:1000|1000 65534\n", describe(p)


def test_memory_limit(podman: ContainerCli) -> None:
    """`--memory`: the limit is in the container's memory cgroup (seen inside) and enforced (OOM kill, 137)."""
    name = podman.new_name("memory")
    limit = ("--memory", str(shell.MEMORY_LIMIT))
    p = podman.run(name, "sh", "-c", shell.READ_MEMORY_LIMIT, opts=("--rm", *limit))
    assert p.stdout.strip() == str(shell.MEMORY_LIMIT), describe(p)
    name = podman.new_name("oom")
    p = podman.run(name, "sh", "-c", shell.EXCEED_MEMORY, opts=("--rm", *limit), check=False)
    assert p.returncode == 137, describe(p)


def test_top(podman: ContainerCli) -> None:
    """`podman top`: the container's processes (podman reads /proc from the init pid the runtime reported)."""
    name = podman.new_name("top")
    podman.run(name, "sh", "-c", "sleep 1000 & sleep 1001 & wait", opts=("-d",))
    wait_until(lambda: "sleep 1001" in podman("top", name, "args").stdout, what="both sleeps in podman top")
    rows = podman("top", name, "pid", "args").stdout.splitlines()[1:]
    assert len(rows) == 3 and rows[0].split()[:2] == ["1", "sh"], rows  # pids as seen in the container's pid ns


def test_create_error_reaches_podman(podman: ContainerCli) -> None:
    """A container that cannot start: podman shows the runtime's own message, and nothing is left behind."""
    name = podman.new_name("badexec")
    p = podman.run(name, "/nonexistent", check=False)
    assert p.returncode != 0, describe(p)
    assert "/nonexistent" in p.stderr, describe(p)
    cid = podman.inspect(name)["Id"]
    assert cid not in podman.runtime_ids()


def test_killed_client_leaves_a_deletable_container(podman: ContainerCli) -> None:
    """SIGKILL a foreground `podman run`: conmon keeps the container, and `<runtime> delete --force` removes it."""
    name = podman.new_name("deadclient")
    client = subprocess.Popen(podman.run_argv(name, "sleep", "1000"), env=podman.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
                   == "running", timeout=30, what=f"{name} to run")
        client.kill()
        client.wait(timeout=10)
    finally:
        stop_process(client)
    info = podman.inspect(name)
    cid, pid = info["Id"], info["State"]["Pid"]
    assert pid_alive(pid)
    cgroups = cgroup_dirs(pid)
    podman.runtime("delete", "--force", cid)
    podman.assert_gone(cid, pid, cgroups)
    podman("rm", "--force", name)
