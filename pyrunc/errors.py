"""The exception hierarchy. Only `pyrunc.cli.main` turns these into exit codes and log lines.

Every error knows how to render itself as the single line runc-style clients read (containerd keeps the last
`"level":"error"` line of the --log file; podman parses the whole file as one JSON object), so `str(err)` is
always one line.
"""

import errno as _errno
import os


class PyruncError(Exception):
    """Base of every error pyrunc reports on purpose (exit code 1)."""

    exit_code = 1

    def __str__(self) -> str:
        return " ".join(str(a) for a in self.args).replace("\n", " ")


class UsageError(PyruncError):
    """Bad command-line input: unknown flag, missing argument, bad value."""


class SpecError(PyruncError):
    """config.json is invalid. Carries every problem found, each with the JSON pointer it concerns."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "config.json") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.lines()[0] if problems else f"{source}: invalid")

    def lines(self) -> list[str]:
        """One `config.json: <pointer>: <message>` line per problem."""
        return [f"{self.source}: {ptr or '/'}: {msg}" for ptr, msg in self.problems]

    def __str__(self) -> str:
        lines = self.lines()
        if len(lines) == 1:
            return lines[0]
        return f"{lines[0]} (and {len(lines) - 1} more problem{'s' if len(lines) > 2 else ''})"


class ContainerError(PyruncError):
    """A lifecycle rule was broken (wrong status, id exists, id unknown)."""


class ContainerNotExist(ContainerError):
    """runc's wording: clients match the substring "does not exist"."""

    def __init__(self, cid: str | None = None) -> None:
        super().__init__("container does not exist")
        self.cid = cid


class ContainerExists(ContainerError):
    def __init__(self, cid: str) -> None:
        super().__init__(f"container with id exists: {cid}")


class CorruptState(ContainerError):
    """state.json exists but cannot be parsed (a crash, a full disk, tampering)."""


class InvalidTransition(ContainerError):
    """A verb not allowed in the container's current status (runc: "cannot start a container that has stopped")."""


class NotRunning(ContainerError):
    """runc's wording "container not running": containerd's shim maps it to NotFound."""

    def __init__(self) -> None:
        super().__init__("container not running")


class SyscallError(PyruncError, OSError):
    """A failed system call, with the operation, the path it concerned and the config field behind it."""

    def __init__(
        self,
        op: str,
        err: int,
        path: str | None = None,
        detail: str | None = None,
        spec_path: str | None = None,
    ) -> None:
        OSError.__init__(self, err, os.strerror(err) if err else "error")
        self.op = op
        self.path = path
        self.detail = detail
        self.spec_path = spec_path

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        detail = f" ({self.detail})" if self.detail else ""
        cfg = f" (config: {self.spec_path})" if self.spec_path else ""
        return f"{self.op}{where}: {os.strerror(self.errno) if self.errno else 'error'}{detail}{cfg}"


class CgroupError(PyruncError):
    """A cgroup operation failed: names the cgroup file, the value written and the config field."""

    def __init__(
        self,
        message: str,
        path: str | None = None,
        value: str | None = None,
        spec_path: str | None = None,
        err: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.value = value
        self.spec_path = spec_path
        self.errno = err
        super().__init__(message)

    def __str__(self) -> str:
        s = self.message
        if self.path:
            s += f": {self.path}"
        if self.value is not None:
            s += f" = {self.value!r}"
        if self.errno:
            s += f": {os.strerror(self.errno)}"
        if self.spec_path:
            s += f" (config: {self.spec_path})"
        return s


class HookError(PyruncError):
    """A hook failed or timed out. `phase` is the hook kind, `index` its position in the list. The message starts
    as runc's ("error running prestart hook #1: ..."): scripts and runc's own tests match that prefix."""

    def __init__(self, phase: str, index: int, path: str, message: str) -> None:
        self.phase = phase
        self.index = index
        self.path = path
        super().__init__(f"error running {phase} hook #{index}: {path}: {message} (config: /hooks/{phase}/{index})")


class InitError(PyruncError):
    """A step of container set-up failed in a child stage; rebuilt in the parent from the sync message."""

    def __init__(self, step: str, message: str, err: int = 0, spec_path: str | None = None) -> None:
        self.step = step
        self.errno = err
        self.spec_path = spec_path
        cfg = f" (config: {spec_path})" if spec_path else ""
        super().__init__(f"unable to start container process: {step}: {message}{cfg}")


class SeccompError(PyruncError):
    """The seccomp profile cannot be built or loaded."""


def errno_name(err: int) -> str:
    return _errno.errorcode.get(err, str(err))
