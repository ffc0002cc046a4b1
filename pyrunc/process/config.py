"""What the parent hands to its child stages. Inherited through fork (no serialisation): plain attributes only."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from pyrunc.spec.model import Personality, Process, Spec


@dataclass(slots=True)
class NamespacePlan:
    """`linux.namespaces` split into what to create and what to join."""

    new: list[str] = field(default_factory=list)                    # OCI types to unshare
    join: list[tuple[str, str, str]] = field(default_factory=list)   # (type, path, spec pointer)

    @classmethod
    def from_spec(cls, spec: Spec) -> NamespacePlan:
        plan = cls()
        for i, ns in enumerate(spec.linux.namespaces):
            if ns.path:
                plan.join.append((ns.type, ns.path, f"/linux/namespaces/{i}/path"))
            else:
                plan.new.append(ns.type)
        return plan

    def has(self, kind: str) -> bool:
        return kind in self.new or any(t == kind for t, _, _ in self.join)


@dataclass(slots=True)
class ProcessConfig:
    spec: Spec
    cid: str
    namespaces: NamespacePlan
    fifo_fd: int                          # O_PATH fd of <root>/<id>/exec.fifo
    env: list[str]                        # process.env plus LISTEN_FDS/LISTEN_PID when passed
    extra_fds: int = 0                    # LISTEN_FDS + --preserve-fds: fds 3 .. 3+extra-1 reach the container
    console: socket.socket | None = None  # connected console socket (or `run`'s own socketpair end)
    no_pivot: bool = False
    no_new_keyring: bool = False
    seccomp: Any = None                   # pyrunc.security.seccomp.SeccompFilter, compiled by the parent
    cgroup_paths: Any = None              # handed to prepare_rootfs for `cgroup` mounts
    parent_pid: int = 0

    def keep_fds(self, sock: socket.socket) -> set[int]:
        keep = {sock.fileno(), self.fifo_fd, *range(3, 3 + self.extra_fds)}
        if self.console is not None:
            keep.add(self.console.fileno())
        return keep


@dataclass(slots=True)
class ExecConfig:
    """What `exec` hands to its child stages (`pyrunc.process.execproc`)."""

    cid: str
    process: Process                      # the process to run (config.json's + flags, or `--process FILE`)
    env: list[str]
    join: list[tuple[str, int]]           # (OCI namespace type, fd of /proc/<init>/ns/<name>) to setns into
    extra_fds: int = 0                    # --preserve-fds: fds 3 .. 3+extra-1 reach the process
    console: socket.socket | None = None  # connected --console-socket (or exec's own socketpair end)
    no_new_keyring: bool = False          # the container was created with --no-new-keyring
    seccomp: Any = None                   # the container's compiled `linux.seccomp` filter
    personality: Personality | None = None  # the container's `linux.personality`
    memory_policy: Any = None             # the container's `linux.memoryPolicy` (mode, nodes, flags mapping)
    parent_pid: int = 0

    def keep_fds(self, sock: socket.socket) -> set[int]:
        keep = {sock.fileno(), *range(3, 3 + self.extra_fds), *(fd for _, fd in self.join)}
        if self.console is not None:
            keep.add(self.console.fileno())
        return keep
