"""podman (4.3, with conmon) set up privately for the tests: its own storage, run dir, tmp dir, config and events file.

podman has no daemon: every `podman` call gets the same global options and environment (CONTAINERS_CONF,
CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF point at files written here, so no host configuration is read and
no registry is ever asked). Runtimes are named in containers.conf `[engine.runtimes]`; `pyrunc` is added to
`runtime_supports_json` so that conmon passes `--log-format=json --log <file>` to it as it does to runc.
podman calls `state`/`kill`/`delete` without `--root`, so each runtime keeps its state in its default root
(/run/runc, /run/pyrunc).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from .cgroups import remove_cgroup_tree
from .commands import DEFAULT_TIMEOUT, describe, kill_pids, pids_matching, run, unmount_all_under
from .image import ImageArchive

CGROUP_PARENT = f"/pyrunc-it-podman-{os.getpid()}"  # per session


def _has_cap_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return bool(caps & (1 << 24))  # CAP_SYS_RESOURCE


class Podman:
    def __init__(self, workdir: Path, podman: str, conmon: str, runtimes: dict[str, Path]) -> None:
        self.dir = workdir
        self.bin = podman
        self.conmon = conmon
        self.runtimes = runtimes  # name -> executable
        self.storage = workdir / "storage"
        self.runroot = workdir / "runroot"
        self.tmpdir = workdir / "tmp"
        self.conf = workdir / "containers.conf"
        names = ", ".join(json.dumps(n) for n in ["crun", "runc", "kata", "runsc", "youki", "krun", *runtimes])
        ulimits = "" if _has_cap_sys_resource() else (
            "# podman (as root) raises RLIMIT_NOFILE/NPROC to the maximum by default, and conmon's runtime may get\n"
            "# a lower NPROC than podman: raising fails (EPERM) where root lacks CAP_SYS_RESOURCE (sandboxed CI).\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n')
        engine_runtimes = "\n".join(f"{name} = [{json.dumps(str(path))}]" for name, path in runtimes.items())
        self.conf_text = f"""\
[containers]
log_driver = "k8s-file"
{ulimits}
[engine]
cgroup_manager = "cgroupfs"
conmon_path = [{json.dumps(conmon)}]
events_logger = "file"
events_logfile_path = {json.dumps(str(workdir / "events.log"))}
network_cmd_path = ""
tmp_dir = {json.dumps(str(self.tmpdir))}
volume_path = {json.dumps(str(workdir / "volumes"))}
# Runtimes named here get --log-format=json --log <file> from conmon (the default list lacks pyrunc).
runtime_supports_json = [{names}]

[engine.runtimes]
{engine_runtimes}

[network]
network_config_dir = {json.dumps(str(workdir / "networks"))}
"""
        self.env = dict(
            os.environ,
            CONTAINERS_CONF=str(self.conf),
            CONTAINERS_STORAGE_CONF=str(workdir / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(workdir / "registries.conf"),
        )

    def setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for d in (self.tmpdir, self.dir / "networks", self.dir / "volumes"):
            d.mkdir(exist_ok=True)
        self.conf.write_text(self.conf_text)
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = {json.dumps(str(self.runroot))}\n'
            f'graphroot = {json.dumps(str(self.storage))}\n'
        )
        # No registry is searched for short names; only local images exist.
        (self.dir / "registries.conf").write_text('unqualified-search-registries = []\nshort-name-mode = "disabled"\n')

    def argv(self) -> list[str]:
        return [self.bin, "--root", str(self.storage), "--runroot", str(self.runroot), "--storage-driver", "vfs",
                "--tmpdir", str(self.tmpdir), "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--conmon", self.conmon]

    def podman(self, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT,
               ) -> subprocess.CompletedProcess[str]:
        return run([*self.argv(), *args], check=check, timeout=timeout, env=self.env)

    def load_image(self, image: ImageArchive) -> None:
        p = self.podman("load", "-i", str(image.path), timeout=120)
        assert self.podman("image", "exists", image.name, check=False).returncode == 0, \
            f"podman load did not create {image.name}\n{describe(p)}"

    def teardown(self) -> None:
        self.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
        # What `rm` could not remove: containers whose bundle is ours, in each runtime's default root ...
        for binary in self.runtimes.values():
            p = run([str(binary), "list", "--format", "json"], check=False, timeout=30)
            for c in (json.loads(p.stdout or "null") if p.returncode == 0 else None) or []:
                if str(c.get("bundle", "")).startswith(str(self.dir) + "/"):
                    run([str(binary), "delete", "--force", c["id"]], check=False, timeout=30)
        # ... and conmon processes, ours if they were given our paths.
        kill_pids(pids_matching(str(self.runroot)))
        unmount_all_under(self.dir)
        for d in (self.storage, self.runroot, self.tmpdir):
            shutil.rmtree(d, ignore_errors=True)
        remove_cgroup_tree(CGROUP_PARENT)
