"""A docker-style CLI (docker, podman) as one test uses it: containers run with one runtime, all removed at the end."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import DEFAULT_TIMEOUT, run
from .fixtures import ClientRuntime
from .leftovers import assert_container_gone, listed_ids


@dataclass
class ContainerCli:
    argv: list[str]                  # the client and its global options
    env: dict[str, str]
    rt: ClientRuntime
    image: str
    binary: Path                     # what the client really runs for rt (its --add-runtime path, its runtimes entry)
    runtime_root: Path | None        # the --root the client gives the runtime; None: the runtime's default
    run_opts: tuple[str, ...] = ()   # added to every `run`
    rm_argv: tuple[str, ...] = ("rm", "--force")
    names: list[str] = field(default_factory=list)

    def new_name(self, scenario: str) -> str:
        name = self.rt.unique_id(scenario)
        self.names.append(name)
        return name

    def __call__(self, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 ) -> subprocess.CompletedProcess[str]:
        return run([*self.argv, *args], check=check, timeout=timeout, env=self.env)

    def run_argv(self, name: str, *cmd: str, opts: tuple[str, ...] = ()) -> list[str]:
        return [*self.argv, "run", "--name", name, "--runtime", self.rt.name, "--network", "none", *self.run_opts,
                *opts, self.image, *cmd]

    def run(self, name: str, *cmd: str, opts: tuple[str, ...] = (), check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
        return run(self.run_argv(name, *cmd, opts=opts), check=check, env=self.env)

    def inspect(self, name: str) -> dict[str, Any]:
        return json.loads(self("inspect", name).stdout)[0]

    def runtime(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The runtime binary itself, on the state root the client uses."""
        root = ["--root", str(self.runtime_root)] if self.runtime_root else []
        return run([str(self.binary), *root, *args], check=check, timeout=30)

    def runtime_ids(self) -> list[str]:
        return listed_ids(self.binary, self.runtime_root)

    def assert_gone(self, cid: str, pid: int, cgroups: dict[str, Path]) -> None:
        assert_container_gone(self.binary, self.runtime_root, cid, pid, cgroups)

    def cleanup(self) -> None:
        if self.names:
            self(*self.rm_argv, *self.names, check=False, timeout=60)
