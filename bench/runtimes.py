"""The runtimes under test, their bundles, and one measured command: wall time and peak RSS of a child.

Every command is started the same way for every runtime: fork + execvp from this process of bench/launch.c
(a tiny C launcher that forks the command, times it and reports its ru_maxrss from wait4), stdout and stderr
to memfds, stdin from /dev/null.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT = 120  # seconds; a hung runtime fails its figure instead of hanging CI

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2


class CommandTimeout(Exception):
    pass


@dataclass
class Result:
    argv: list[str]
    rc: int
    seconds: float
    maxrss_kib: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self) -> str:
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-3:]
        return f"`{shlex.join(self.argv)}` exited {self.rc}: {' | '.join(tail) or '(no output)'}"


@dataclass
class Runtime:
    """One runtime binary with its private state root and bundles."""

    name: str
    argv: list[str]
    root: str = ""
    bundles: dict[str, str] = field(default_factory=dict)
    # crun refuses hybrid hosts whose cgroup2 mount has controllers; its commands then run in a private mount
    # namespace without that mount (a per-child unshare, invisible to the host and to the other runtimes).
    hide_mount: str | None = None
    # crun 1.8 rejects ociVersion > 1.1.x; its bundles get this version instead (the fields used exist in 1.0).
    oci_version: str | None = None
    version: str = ""
    broken: str | None = None

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, "--root", self.root, *args]


def parse_runtime(name: str, command: str) -> Runtime:
    argv = shlex.split(command)
    rt = Runtime(name=name, argv=argv)
    if os.path.basename(argv[0]) == "crun":
        rt.hide_mount = cgroup2_mount_with_controllers()
        rt.oci_version = "1.0.2"
    return rt


def cgroup2_mount_with_controllers() -> str | None:
    """The cgroup2 mount point of a hybrid host (v1 at /sys/fs/cgroup) if it has controllers, else None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            mountpoint = fields[4]
            if fstype == "cgroup2" and mountpoint != "/sys/fs/cgroup":
                try:
                    with open(os.path.join(mountpoint, "cgroup.controllers")) as c:
                        if c.read().strip():
                            return mountpoint
                except OSError:
                    pass
    return None


def version_of(rt: Runtime) -> str:
    try:
        r = subprocess.run([*rt.argv, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0] if lines else f"unknown (exit {r.returncode})"


# ---------------------------------------------------------------------------------------------------- bundles


def write_bundles(rt: Runtime, template: dict[str, Any], rootfs: Path, workdir: Path) -> None:
    """Bundles `true` (runs /bin/true) and `sleep` (a long-running pid 1), copies of the template config."""
    programs = {"true": ["/bin/true"], "sleep": ["/bin/sleep", "1000000"]}
    for kind, args in programs.items():
        config = json.loads(json.dumps(template))
        config["process"]["args"] = args
        config["process"]["terminal"] = False
        config["root"]["path"] = str(rootfs)
        config["hostname"] = f"bench-{kind}"
        if rt.oci_version:
            config["ociVersion"] = rt.oci_version
        bundle = workdir / "bundles" / rt.name / kind
        bundle.mkdir(parents=True)
        (bundle / "config.json").write_text(json.dumps(config, indent=2))
        rt.bundles[kind] = str(bundle)


# ------------------------------------------------------------------------------------------ running commands

_libc: ctypes.CDLL | None = None
_launcher: str | None = None


def build_launcher(workdir: Path) -> str | None:
    """Compile bench/launch.c (see there why); None when no C compiler works (RSS then includes the harness's)."""
    global _launcher
    source = Path(__file__).with_name("launch.c")
    binary = workdir / "launch"
    for extra in (["-static"], []):
        r = subprocess.run(["cc", "-O2", *extra, "-o", str(binary), str(source)], capture_output=True)
        if r.returncode == 0:
            _launcher = str(binary)
            return _launcher
    return None


@dataclass
class _Child:
    pid: int
    argv: list[str]
    started_ns: int
    out: int
    err: int
    report: int


def _prepare_child_mounts(hide_mount: str) -> None:
    """In the forked child only: a private mount namespace without `hide_mount`."""
    assert _libc is not None
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    if _libc.umount2(hide_mount.encode(), MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), f"umount {hide_mount}")


def spawn(argv: Sequence[str], hide_mount: str | None = None) -> _Child:
    """Fork and exec argv (through the launcher when there is one), output to memfds, stdin from /dev/null."""
    global _libc
    if hide_mount and _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    out = os.memfd_create("stdout")
    err = os.memfd_create("stderr")
    report = os.memfd_create("report")
    full = [_launcher, *argv] if _launcher else list(argv)
    started = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.dup2(report, 3)
            if hide_mount:
                _prepare_child_mounts(hide_mount)
            os.execvp(full[0], full)
        except BaseException as e:
            os.write(2, f"bench: cannot run {full[0]}: {e}\n".encode())
        finally:
            os._exit(127)
    return _Child(pid, list(argv), started, out, err, report)


def _on_alarm(signum: int, frame: object) -> None:
    raise CommandTimeout


def _read_all(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(fd, "rb") as f:
        return f.read().decode(errors="replace")


def reap(child: _Child, timeout: float = COMMAND_TIMEOUT) -> Result:
    timed_out = False
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status, rusage = os.wait4(child.pid, 0)
    except CommandTimeout:
        timed_out = True
        os.kill(child.pid, signal.SIGKILL)
        _, status, rusage = os.wait4(child.pid, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    seconds = (time.perf_counter_ns() - child.started_ns) / 1e9
    maxrss = rusage.ru_maxrss
    stdout, stderr, report = _read_all(child.out), _read_all(child.err), _read_all(child.report).split()
    if len(report) == 2:  # the launcher's own figures: the runtime's RSS and wall time, without the fork from here
        seconds, maxrss = int(report[0]) / 1e9, int(report[1])
    if timed_out:
        stderr += f"\n(killed: no exit after {timeout}s)"
    return Result(child.argv, os.waitstatus_to_exitcode(status), seconds, maxrss, stdout, stderr)


def execute(argv: Sequence[str], hide_mount: str | None = None, timeout: float = COMMAND_TIMEOUT) -> Result:
    """Run one command to completion."""
    return reap(spawn(argv, hide_mount), timeout)


def execute_concurrently(
    commands: Sequence[Sequence[str]], hide_mount: str | None = None
) -> tuple[float, list[Result]]:
    """Start all commands at once; returns (wall seconds until the last one exited, results)."""
    started = time.perf_counter_ns()
    children = [spawn(argv, hide_mount) for argv in commands]
    results = [reap(child) for child in children]
    return (time.perf_counter_ns() - started) / 1e9, results


# --------------------------------------------------------------------------------------- state root fixtures


def clone_state_dir(root: str, source_id: str, new_id: str) -> None:
    """Copy a container's state directory under a new id (fifos recreated, not read), fixing a top-level "id" in
    its JSON files. The copy names the same process and cgroups as the source, so `list` does the same work for
    it (read state, check liveness) as for a real container; it is removed with rmtree, never `delete`d."""
    src, dst = os.path.join(root, source_id), os.path.join(root, new_id)
    os.mkdir(dst, stat.S_IMODE(os.stat(src).st_mode))
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISFIFO(st.st_mode):
            os.mkfifo(target, stat.S_IMODE(st.st_mode))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(entry.path, target)
            _fix_id(target, source_id, new_id)


def _fix_id(path: str, source_id: str, new_id: str) -> None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(data, dict) and data.get("id") == source_id:
        data["id"] = new_id
        with open(path, "w") as f:
            json.dump(data, f)
