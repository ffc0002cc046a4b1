"""Docker (dockerd 20.10 -> containerd -> runc v2 shim) driving the runtime, against a private dockerd.

Every scenario runs with `--runtime runc` (Debian's runc, the control) and `--runtime pyrunc` (registered with
`dockerd --add-runtime pyrunc=<wrapper>`). Containers use `--network none`; dockerd changes no host networking.
The image is built locally and loaded with `docker load`.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import shell
from clients.cgroups import cgroup_dirs, memory_limit_file
from clients.cli import ContainerCli
from clients.commands import describe, run_in_pty, wait_until
from clients.containerd import Containerd
from clients.docker import CONTAINERD_NAMESPACE, Dockerd
from clients.fixtures import ClientRuntime, client_runtime, image_archive
from clients.image import ImageArchive
from clients.runtimes import RUNC, require_binary, write_pyrunc_wrapper
from security.sectool import build_sectool

__all__ = ["client_runtime", "image_archive"]  # fixtures used by the tests below

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory, image_archive: ImageArchive) -> Iterator[Dockerd]:
    dockerd_bin = require_binary("dockerd", "docker.io")
    docker_bin = require_binary("docker", "docker.io")
    require_binary("containerd-shim-runc-v2", "containerd")
    workdir = tmp_path_factory.mktemp("docker")
    containerd = Containerd(workdir / "containerd", require_binary("containerd", "containerd"),
                            require_binary("ctr", "containerd"), namespace=CONTAINERD_NAMESPACE)
    # dockerd takes every runtime at start, before any test (and its client_runtime) runs.
    pyrunc = write_pyrunc_wrapper(workdir / "bin")
    daemon = Dockerd(workdir, dockerd_bin, docker_bin, containerd, {"pyrunc": pyrunc})
    try:
        containerd.start()
        daemon.start()
        daemon.load_image(image_archive)
        yield daemon
    finally:
        try:
            daemon.stop()
        finally:
            containerd.stop()


@pytest.fixture
def docker(dockerd: Dockerd, client_runtime: ClientRuntime, image_archive: ImageArchive) -> Iterator[ContainerCli]:
    # dockerd runs runc by PATH lookup (Debian's first, see clients/runtimes.py) or the --add-runtime executable.
    binary = Path(RUNC) if client_runtime.name == "runc" else dockerd.runtimes[client_runtime.name]
    d = ContainerCli([dockerd.docker_bin], dockerd.env, client_runtime, image_archive.name, binary,
                     dockerd.runtime_root / CONTAINERD_NAMESPACE)
    yield d
    d.cleanup()


def test_run(docker: ContainerCli) -> None:
    """`docker run --rm`: output, separate stderr, exit status, hostname and the image's environment."""
    name = docker.new_name("run")
    p = docker.run(name, "sh", "-c", 'echo "hello from $(hostname) in $(pwd)"; echo oops >&2; exit 3',
                   opts=("--rm", "--hostname", "dockerbox"), check=False)
    assert (p.returncode, p.stdout) == (3, "hello from dockerbox in /\n"), describe(p)
    assert "oops" in p.stderr, describe(p)


def test_detached_exec_stop_rm(docker: ContainerCli) -> None:
    """`run -d`, `exec` (env, workdir, user, status), `stop` (SIGTERM reaches the init), `rm`: nothing left."""
    name = docker.new_name("detached")
    docker.run(name, "sh", "-c", shell.TRAP_TERM, opts=("-d",))
    info = docker.inspect(name)
    cid, pid = info["Id"], info["State"]["Pid"]
    assert info["HostConfig"]["Runtime"] == docker.rt.name
    state = json.loads(docker.runtime("state", cid).stdout)  # the container is this runtime's
    assert (state["status"], state["pid"]) == ("running", pid), state
    cgroups = cgroup_dirs(pid)

    p = docker("exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "1000:1000", name, "sh", "-c",
               'echo "$GREETING from $(pwd) as $(id -u):$(id -g)"; exit 5', check=False)
    assert (p.returncode, p.stdout) == (5, "hi from /tmp as 1000:1000\n"), describe(p)

    docker("stop", "-t", "10", name, timeout=30)
    assert docker.inspect(name)["State"]["ExitCode"] == 7
    docker("rm", name)
    docker.assert_gone(cid, pid, cgroups)


def test_tty(docker: ContainerCli) -> None:
    """`docker run -it`: a terminal of the client's size on the process's stdin and stdout."""
    name = docker.new_name("tty")
    r = run_in_pty(docker.run_argv(name, "sh", "-c", shell.TTY_CHECK, opts=("--rm", "-it")),
                   rows=shell.TTY_ROWS, cols=shell.TTY_COLS, env=docker.env)
    assert r.returncode == 4, r
    assert r.output.splitlines()[:3] == shell.TTY_EXPECTED, r
    # The client's terminal is raw: the line endings are the container pty's own, with ONLCR on as the kernel
    # makes it (a runtime that cleared it would print a staircase).
    assert "\r\n" in r.raw, r


def test_memory_limit(docker: ContainerCli) -> None:
    """`--memory`: the limit is in the container's memory cgroup (seen inside) and enforced (OOM kill, 137)."""
    name = docker.new_name("memory")
    limit = ("--memory", str(shell.MEMORY_LIMIT))
    p = docker.run(name, "sh", "-c", shell.READ_MEMORY_LIMIT, opts=("--rm", *limit))
    assert p.stdout.strip() == str(shell.MEMORY_LIMIT), describe(p)
    name = docker.new_name("oom")
    p = docker.run(name, "sh", "-c", shell.EXCEED_MEMORY, opts=("--rm", *limit), check=False)
    assert p.returncode == 137, describe(p)


def test_top(docker: ContainerCli) -> None:
    """`docker top` (the runtime's `ps --format json`): the container's processes, with host pids."""
    name = docker.new_name("top")
    docker.run(name, "sh", "-c", "sleep 1000 & sleep 1001 & wait", opts=("-d",))
    pid = docker.inspect(name)["State"]["Pid"]
    wait_until(lambda: "sleep 1001" in docker("top", name).stdout, what="both sleeps to show in docker top")
    rows = docker("top", name, "-o", "pid,args").stdout.splitlines()[1:]
    pids = {int(r.split(None, 1)[0]) for r in rows}
    assert pid in pids and len(pids) == 3, rows


def test_update(docker: ContainerCli) -> None:
    """`docker update` (the runtime's `update --resources -`): new limits reach the running container's cgroups."""
    name = docker.new_name("update")
    docker.run(name, "sleep", "1000", opts=("-d", "--memory", "32m", "--cpu-shares", "512"))
    dirs = cgroup_dirs(docker.inspect(name)["State"]["Pid"])
    docker("update", "--memory", "64m", "--memory-swap", "128m", "--cpu-shares", "256", name)
    assert int(memory_limit_file(dirs).read_text()) == 64 * shell.MiB
    cpu = next((d for key, d in dirs.items() if "cpu" in key.split(",")), None)
    if cpu is not None:  # cgroup v1 (on v2 the shares become a converted cpu.weight)
        assert (cpu / "cpu.shares").read_text().strip() == "256"
    assert docker.inspect(name)["HostConfig"]["Memory"] == 64 * shell.MiB


def test_create_error_reaches_docker(docker: ContainerCli) -> None:
    """A container that cannot start: docker shows the runtime's own message, and nothing is left behind."""
    name = docker.new_name("badexec")
    p = docker.run(name, "/nonexistent", check=False)
    assert p.returncode != 0, describe(p)
    assert "unable to retrieve OCI runtime error" not in p.stderr, describe(p)
    assert "/nonexistent" in p.stderr and "OCI runtime create failed" in p.stderr, describe(p)
    cid = docker.inspect(name)["Id"]
    assert cid not in docker.runtime_ids()
    assert not (docker.runtime_root / cid).exists()
    docker("rm", name)


@pytest.fixture(scope="module")
def sectool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/security/sectool.c, static: it issues raw syscalls (`sectool syscall NR...`)."""
    return build_sectool(tmp_path_factory.mktemp("sectool"))


def test_default_seccomp_profile_answers_newer_syscalls_enosys(docker: ContainerCli, sectool: Path) -> None:
    """Docker's default seccomp profile (SCMP_ACT_ERRNO, EPERM): a syscall numbered past its newest gets ENOSYS (the
    runtime's -ENOSYS stub, as runc does it), one it denies EPERM; for `run` and `exec` alike."""
    unshare = "272"  # x86_64; denied without CAP_SYS_ADMIN
    if shutil.which("uname") and subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout != "x86_64\n":
        pytest.skip("syscall numbers are x86_64's")
    probe = ("/sectool", "syscall", "1000", unshare, "39")  # 39: getpid
    mount = ("-v", f"{sectool}:/sectool:ro")
    p = docker.run(docker.new_name("seccomp"), *probe, opts=("--rm", *mount))
    want = f"1000={errno.ENOSYS}\n{unshare}={errno.EPERM}\n39=0\n"
    assert p.stdout == want, describe(p)
    name = docker.new_name("seccomp-exec")
    docker.run(name, "sleep", "1000", opts=("-d", *mount))
    p = docker("exec", name, *probe)
    assert p.stdout == want, describe(p)
