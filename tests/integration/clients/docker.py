"""A private dockerd for the tests, on a private containerd, touching nothing of the host's networking.

dockerd gets its own data root, exec root, pid file, socket and (empty) config file; `--bridge=none` and no
iptables/ip6tables/masquerading/forwarding changes, so containers run with `--network none`. It is pointed at a private
containerd started by the tests (`--containerd`), never at a system one. pyrunc is registered with
`--add-runtime pyrunc=<wrapper>`; the control is dockerd's built-in `runc` runtime (runc found by PATH lookup, which
puts Debian's /usr/sbin/runc first).
Docker 20.10 gives every runtime the same state root, `<exec-root>/runtime-runc/moby` (its shim option `Root`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from .cgroups import remove_cgroup_tree
from .commands import DEFAULT_TIMEOUT, describe, run, stop_process, tail, unmount_all_under, wait_until
from .containerd import Containerd
from .image import ImageArchive
from .leftovers import missing, remove_created
from .runtimes import RUNC, daemon_env

CONTAINERD_NAMESPACE = "moby"  # dockerd's default namespace in containerd
CGROUP_PARENT = f"/pyrunc-it-docker-{os.getpid()}"  # per session, like the containerd namespace
# What dockerd 20.10 creates on the host whatever its flags (its identity key, the plugin socket directory), deepest
# first; whichever of these did not exist before the test's dockerd started is removed after it stops.
HOST_LEFTOVERS = (Path("/etc/docker/key.json"), Path("/run/docker/plugins"), Path("/run/docker"))


class Dockerd:
    def __init__(self, workdir: Path, dockerd: str, docker: str, containerd: Containerd,
                 runtimes: dict[str, Path]) -> None:
        """`runtimes`: extra runtime name -> executable, passed as --add-runtime (not "runc": that one is built in)."""
        self.dir = workdir
        self.bin = dockerd
        self.docker_bin = docker
        self.containerd = containerd
        self.runtimes = runtimes
        self.sock = workdir / "docker.sock"
        self.data_root = workdir / "data"
        self.exec_root = workdir / "exec"
        self.log = workdir / "dockerd.log"
        self.runtime_root = self.exec_root / "runtime-runc"  # + /moby; for every runtime, see above
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=str(workdir / "client-config"))
        self.env.pop("DOCKER_CONTEXT", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.made_on_host: list[Path] = []

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "client-config").mkdir(exist_ok=True)
        config = self.dir / "daemon.json"
        config.write_text("{}\n")  # not /etc/docker/daemon.json
        storage = "overlay2" if "overlay" in Path("/proc/filesystems").read_text() else "vfs"
        argv = [
            self.bin,
            "--config-file", str(config),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.dir / "dockerd.pid"),
            "-H", f"unix://{self.sock}",
            "--containerd", str(self.containerd.sock),
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
            "--userland-proxy=false",
            "--storage-driver", storage,
            "--exec-opt", "native.cgroupdriver=cgroupfs",
            "--cgroup-parent", CGROUP_PARENT,
            "--log-level", "info",
        ]
        for name, path in self.runtimes.items():
            argv += ["--add-runtime", f"{name}={path}"]
        # Tell the containerd helper where docker's shims keep each runtime's state, so that its teardown can
        # `delete --force` whatever a runtime left.
        for binary in (RUNC, *map(str, self.runtimes.values())):
            self.containerd.runtime_roots[binary] = self.runtime_root
        self.made_on_host = missing(HOST_LEFTOVERS)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, env=daemon_env())

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"dockerd exited with {self.proc.returncode}:\n{tail(self.log)}")
            return self.sock.exists() and self.docker("version", check=False, timeout=10).returncode == 0

        wait_until(ready, timeout=60, interval=0.2, what=f"dockerd on {self.sock}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
        if self.proc is not None:
            stop_process(self.proc, timeout=20)
        unmount_all_under(self.dir)  # overlay2 layers, netns files, shm of containers
        for d in (self.data_root, self.exec_root):
            shutil.rmtree(d, ignore_errors=True)
        remove_cgroup_tree(CGROUP_PARENT)
        remove_created(self.made_on_host)

    def docker(self, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT, input: str | None = None,
               ) -> subprocess.CompletedProcess[str]:
        return run([self.docker_bin, *args], check=check, timeout=timeout, input=input, env=self.env)

    def load_image(self, image: ImageArchive) -> None:
        p = self.docker("load", "-i", str(image.path), timeout=120)
        inspected = json.loads(self.docker("image", "inspect", image.name, check=False).stdout or "[]")
        assert inspected, f"docker load did not create {image.name}\n{describe(p)}"

    def log_tail(self) -> str:
        return tail(self.log)
