"""What the parent hands to its child stages. Inherited through fork (no serialisation): plain attributes only.

Plain classes with `__slots__`, not dataclasses: `import dataclasses` (with `inspect`, `ast`, `dis`) costs more
than the rest of `create`'s own modules together (see bench/README.md).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any

    from pyrunc.spec.model import Personality, Process, Spec


class NamespacePlan:
    """`linux.namespaces` split into what to create and what to join."""

    __slots__ = ("join", "new")

    def __init__(self, new: "list[str] | None" = None, join: "list[tuple[str, str, str]] | None" = None) -> None:
        self.new: list[str] = new if new is not None else []  # OCI types to unshare
        self.join: list[tuple[str, str, str]] = join if join is not None else []  # (type, path, spec pointer)

    @classmethod
    def from_spec(cls, spec: "Spec") -> "NamespacePlan":
        plan = cls()
        for i, ns in enumerate(spec.linux.namespaces):
            if ns.path:
                plan.join.append((ns.type, ns.path, f"/linux/namespaces/{i}/path"))
            else:
                plan.new.append(ns.type)
        return plan

    def has(self, kind: str) -> bool:
        return kind in self.new or any(t == kind for t, _, _ in self.join)

    def one_stage(self) -> bool:
        """Whether the init can be the runtime's own child, with no intermediate process (pyrunc.process.spawn):
        no user namespace (new ones need their id maps written between two steps of the child; joined ones must
        own everything made after them), no new time namespace and no pid namespace given by path (both apply to
        children only: after unshare or setns, a fork). A new pid namespace comes with clone3 itself."""
        if "user" in self.new or "time" in self.new:
            return False
        return not any(t in ("user", "pid", "time") for t, _, _ in self.join)


class ProcessConfig:
    __slots__ = ("cgroup_clone_dir", "cgroup_join", "cgroup_paths", "cid", "console", "env", "extra_fds", "fifo_fd",
                 "namespaces", "no_new_keyring", "no_pivot", "one_stage", "parent_pid", "seccomp", "spec")

    def __init__(self, spec: "Spec", cid: str, namespaces: NamespacePlan, fifo_fd: int, env: list[str],
                 extra_fds: int = 0, console: "socket.socket | None" = None, no_pivot: bool = False,
                 no_new_keyring: bool = False, seccomp: "Any" = None, cgroup_paths: "Any" = None,
                 parent_pid: int = 0) -> None:
        self.spec = spec
        self.cid = cid
        self.namespaces = namespaces
        self.fifo_fd = fifo_fd            # O_PATH fd of <root>/<id>/exec.fifo
        self.env = env                    # process.env plus LISTEN_FDS/LISTEN_PID when passed
        self.extra_fds = extra_fds        # LISTEN_FDS + --preserve-fds: fds 3 .. 3+extra-1 reach the container
        self.console = console            # connected console socket (or `run`'s own socketpair end)
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.seccomp = seccomp            # pyrunc.security.seccomp.SeccompFilter, compiled by the parent
        self.cgroup_paths = cgroup_paths  # handed to prepare_rootfs for `cgroup` mounts
        self.cgroup_join: list[str] = []  # v1 cgroup dirs the intermediate joins itself
        self.cgroup_clone_dir: str | None = None  # cgroup v2 dir the intermediate is forked into (linux.clone)
        self.parent_pid = parent_pid
        self.one_stage = False  # set by spawn: the first child becomes the process itself (no intermediate)
        self.one_stage = False  # set by spawn: the first child becomes the init itself (NamespacePlan.one_stage)

    def keep_fds(self, sock: "socket.socket") -> set[int]:
        keep = {sock.fileno(), self.fifo_fd, *range(3, 3 + self.extra_fds)}
        if self.console is not None:
            keep.add(self.console.fileno())
        return keep


class ExecConfig:
    """What `exec` hands to its child stages (`pyrunc.process.execproc`)."""

    __slots__ = ("cgroup_clone_dir", "cgroup_join", "cid", "console", "env", "extra_fds", "join", "memory_policy",
                 "no_new_keyring", "one_stage", "parent_pid", "personality", "process", "seccomp")

    def __init__(self, cid: str, process: "Process", env: list[str], join: list[tuple[str, int]],
                 extra_fds: int = 0, console: "socket.socket | None" = None, no_new_keyring: bool = False,
                 seccomp: "Any" = None, personality: "Personality | None" = None, parent_pid: int = 0,
                 memory_policy: "Any" = None) -> None:
        self.cid = cid
        self.process = process            # the process to run (config.json's + flags, or `--process FILE`)
        self.env = env
        self.join = join                  # (OCI namespace type, fd of /proc/<init>/ns/<name>) to setns into
        self.extra_fds = extra_fds        # --preserve-fds: fds 3 .. 3+extra-1 reach the process
        self.console = console            # connected --console-socket (or exec's own socketpair end)
        self.no_new_keyring = no_new_keyring  # the container was created with --no-new-keyring
        self.seccomp = seccomp            # the container's compiled `linux.seccomp` filter
        self.personality = personality    # the container's `linux.personality`
        self.memory_policy = memory_policy  # the container's `linux.memoryPolicy` (mode, nodes, flags mapping)
        self.cgroup_join: list[str] = []  # v1 cgroup dirs the intermediate joins itself
        self.cgroup_clone_dir: str | None = None  # cgroup v2 dir the intermediate is forked into (linux.clone)
        self.parent_pid = parent_pid
        self.one_stage = False  # set by spawn: the first child becomes the process itself (no intermediate)

    def keep_fds(self, sock: "socket.socket") -> set[int]:
        keep = {sock.fileno(), *range(3, 3 + self.extra_fds), *(fd for _, fd in self.join)}
        if self.console is not None:
            keep.add(self.console.fileno())
        return keep
