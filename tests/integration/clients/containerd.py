"""A private containerd for the tests: its own root, state, socket and config; stopped and cleaned up at the end.

`ctr` talks to it with `--address <sock> -n <namespace>`. Without the CRI plugin (disabled here: it is slow to start
and ctr does not use it) a runtime binary is chosen per container with `ctr run --runc-binary`, which the runc v2 shim
stores in the container's options and uses for every later call (exec, kill, pause, delete). Each runtime gets its own
state root through `--runc-root`, so teardown knows which binary owns which leftover.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .cgroups import remove_cgroup_tree
from .commands import (
    DEFAULT_TIMEOUT,
    describe,
    kill_pids,
    pids_matching,
    run,
    stop_process,
    tail,
    unmount_all_under,
    wait_until,
)
from .image import ImageArchive
from .leftovers import missing, remove_created
from .runtimes import daemon_env

# Per test session (ctr's default cgroupsPath is /<namespace>/<id>): concurrent sessions never share a cgroup parent.
NAMESPACE = f"pyrunc-it-{os.getpid()}"

# containerd 1.6 puts every shim's socket in the host's /run/containerd/s, whatever its own state dir.
HOST_LEFTOVERS = (Path("/run/containerd/s"), Path("/run/containerd"))

_CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
# The CRI plugin is for kubelet, not ctr; the other snapshotters only slow the start down.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  level = "info"
"""


class Containerd:
    """One containerd daemon; `ctr(...)` runs ctr against it."""

    def __init__(self, workdir: Path, containerd: str, ctr: str, namespace: str = NAMESPACE) -> None:
        self.dir = workdir
        self.namespace = namespace
        self.bin = containerd
        self.ctr_bin = ctr
        self.sock = workdir / "containerd.sock"
        self.root = workdir / "root"
        self.state = workdir / "state"
        self.config = workdir / "config.toml"
        self.log = workdir / "containerd.log"
        self.fifo_dir = workdir / "fifo"  # ctr's stdio fifos (by default in the host's /run/containerd/fifo)
        self.proc: subprocess.Popen[bytes] | None = None
        self.made_on_host: list[Path] = []
        self.snapshotter = "overlayfs"
        # runtime binary -> the runtime root given to the shim for it (the shim appends /<namespace>)
        self.runtime_roots: dict[str, Path] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(_CONFIG.format(root=self.root, state=self.state, sock=self.sock))
        self.made_on_host = missing(HOST_LEFTOVERS)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.bin, "--config", str(self.config)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True, env=daemon_env())

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"containerd exited with {self.proc.returncode}:\n{tail(self.log)}")
            return self.sock.exists() and self.ctr("version", check=False, timeout=10).returncode == 0

        wait_until(ready, timeout=30, what=f"containerd on {self.sock}")
        plugins = self.ctr("plugins", "ls").stdout
        if not any(line.split()[:2] == ["io.containerd.snapshotter.v1", "overlayfs"] and line.split()[-1] == "ok"
                   for line in plugins.splitlines() if line.strip()):
            self.snapshotter = "native"  # e.g. when the test directory is itself on overlayfs

    def stop(self) -> None:
        """Remove every task and container, stop the daemon and its shims, clean what a runtime left, unmount, rm."""
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.ctr("task", "ls", "-q", check=False, timeout=20).stdout.split():
                self.ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=20)
            for cid in self.ctr("task", "ls", "-q", check=False, timeout=20).stdout.split():
                self.ctr("task", "delete", "--force", cid, check=False, timeout=30)
            for cid in self.ctr("container", "ls", "-q", check=False, timeout=20).stdout.split():
                self.ctr("container", "delete", cid, check=False, timeout=20)
            self.proc.send_signal(signal.SIGTERM)
        if self.proc is not None:
            stop_process(self.proc)
        # Shims outlive containerd on purpose; they are ours if they were given our socket address.
        kill_pids(pids_matching(f"-address {self.sock}"))
        for binary, root in self.runtime_roots.items():
            ns_root = root / self.namespace
            if ns_root.is_dir():
                for cid in os.listdir(ns_root):
                    subprocess.run([binary, "--root", str(ns_root), "delete", "--force", cid], capture_output=True,
                                   timeout=30)
        time.sleep(0.2)
        unmount_all_under(self.dir)
        for d in (self.root, self.state, self.fifo_dir, *self.runtime_roots.values()):
            shutil.rmtree(d, ignore_errors=True)
        remove_cgroup_tree(self.namespace)  # ctr's default cgroupsPath is /<namespace>/<id>
        remove_created(self.made_on_host)

    # -- clients -----------------------------------------------------------------------------------------------------
    def ctr(self, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT, input: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
        return run([*self.ctr_argv(), *args], check=check, timeout=timeout, input=input)

    def ctr_argv(self) -> list[str]:
        return [self.ctr_bin, "--address", str(self.sock), "--namespace", self.namespace]

    def runtime_root(self, binary: Path) -> Path:
        """The --runc-root for `binary`; the runtime's state for our namespace is in <that>/<namespace>."""
        return self.runtime_roots.setdefault(str(binary), self.dir / f"runtime-root-{binary.name}")

    def run_args(self, binary: Path) -> list[str]:
        """`ctr run` options choosing the runtime and its private state root, our snapshotter and fifo dir."""
        return ["--snapshotter", self.snapshotter, "--fifo-dir", str(self.fifo_dir), "--runc-binary", str(binary),
                "--runc-root", str(self.runtime_root(binary))]

    def shim_socket(self, cid: str) -> Path:
        """The socket the v2 shim of `cid` listens on: containerd 1.6 puts it in the host's /run/containerd/s,
        named by a hash of (our address, namespace, id). A shim that is killed leaves it behind."""
        digest = hashlib.sha256(os.path.join(str(self.sock), self.namespace, cid).encode()).hexdigest()
        return Path("/run/containerd/s") / digest

    def import_image(self, image: ImageArchive) -> None:
        p = self.ctr("image", "import", "--snapshotter", self.snapshotter, str(image.path), timeout=120)
        listed = self.ctr("image", "ls", "-q").stdout.split()
        assert image.name in listed, f"ctr image import did not create {image.name}: {listed}\n{describe(p)}"

    def log_tail(self) -> str:
        return tail(self.log)
