"""The case registry and the per-case context (`Ctx`) that drives one runtime.

A case is a function `fn(t: Ctx) -> None` registered with `@case(name, level, ref)`.
It raises `Fail` (via t.expect*/t.fail) or `Skip`; returning normally is a pass.
Everything a case creates (containers, mounts, cgroups, files) lives under the
case's work dir and is torn down by `Ctx.cleanup()` whatever the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import hostinfo
from conformance.baseconfig import base_config
from conformance.rootfs import copy_rootfs

# Requirement levels shown in the table.
MUST = "MUST"  # runtime-spec requirement
SHOULD = "SHOULD"  # runtime-spec recommendation
RUNC = "runc"  # runc-compatible behaviour that clients rely on (not in the spec)

DEFAULT_CALL_TIMEOUT = 15.0
# Put into the runtime's environment; it must never show up inside a container.
LEAK_MARKER = "CONFORMANCE_HOST_ONLY"


# --------------------------------------------------------------------------- results


class Fail(Exception):
    def __init__(self, message: str, proc: Proc | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.proc = proc
        self.detail = detail


class Skip(Exception):
    pass


@dataclass
class Proc:
    """One runtime (or helper) invocation."""

    argv: list[str]
    rc: int
    out: str
    err: str
    duration: float

    @property
    def cmd(self) -> str:
        return shlex.join(self.argv)

    def describe(self, limit: int = 600) -> str:
        lines = [f"$ {self.cmd}", f"  exit {self.rc} after {self.duration:.2f}s"]
        for label, text in (("stdout", self.out), ("stderr", self.err)):
            text = text.strip()
            if text:
                if len(text) > limit:
                    text = text[:limit] + f" ...[{len(text) - limit} more chars]"
                lines.append(f"  {label}: " + text.replace("\n", "\n          "))
        return "\n".join(lines)


@dataclass
class Result:
    case: str
    runtime: str
    status: str  # PASS FAIL SKIP XFAIL XPASS
    reason: str = ""
    details: str = ""
    duration: float = 0.0


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[[Ctx], None]
    level: str
    ref: str
    doc: str
    timeout: float


REGISTRY: dict[str, Case] = {}


CaseFn = Callable[["Ctx"], None]


def case(name: str, level: str = MUST, ref: str = "", timeout: float = 40.0) -> Callable[[CaseFn], CaseFn]:
    """Register a case. `ref` points at the spec text (file#anchor) or runc behaviour it checks."""

    def deco(fn: CaseFn) -> CaseFn:
        if name in REGISTRY:
            raise ValueError(f"duplicate case {name}")
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        REGISTRY[name] = Case(name, fn, level, ref, doc, timeout)
        return fn

    return deco


# --------------------------------------------------------------------------- runtime + bundle


@dataclass(frozen=True)
class Runtime:
    name: str
    argv: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str) -> Runtime:
        """`NAME=CMD` (CMD may be several words) or just `CMD` (named after its basename)."""
        name, sep, cmd = spec.partition("=")
        if not sep or " " in name or "/" in name:
            name, cmd = "", spec
        argv = tuple(shlex.split(cmd))
        if not argv:
            raise ValueError(f"empty runtime command in {spec!r}")
        if "/" in argv[0] and not os.path.isabs(argv[0]):
            argv = (os.path.abspath(argv[0]), *argv[1:])
        return cls(name or os.path.basename(argv[0]), argv)


@dataclass
class Bundle:
    path: Path
    cid: str
    config: dict[str, Any]

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def process(self) -> dict[str, Any]:
        return self.config["process"]

    @property
    def linux(self) -> dict[str, Any]:
        return self.config["linux"]

    @property
    def cgroups_path(self) -> str | None:
        return self.linux.get("cgroupsPath")

    def add_mount(self, destination: str, type_: str, source: str, options: list[str] | None = None) -> None:
        m: dict[str, Any] = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = options
        self.config["mounts"].append(m)

    def remove_mount(self, destination: str) -> None:
        self.config["mounts"] = [m for m in self.config["mounts"] if m["destination"] != destination]

    def set_namespaces(self, types: Iterable[str]) -> None:
        self.linux["namespaces"] = [{"type": t} for t in types]

    def add_namespace(self, type_: str, path: str | None = None) -> None:
        ns = [n for n in self.linux["namespaces"] if n["type"] != type_]
        ns.append({"type": type_, "path": path} if path else {"type": type_})
        self.linux["namespaces"] = ns

    def add_caps(self, *caps: str, sets: tuple[str, ...] = ("bounding", "effective", "permitted")) -> None:
        for s in sets:
            cur = self.process["capabilities"].setdefault(s, [])
            cur.extend(c for c in caps if c not in cur)

    def write(self) -> None:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))


# --------------------------------------------------------------------------- per-case context


@dataclass
class Ctx:
    runtime: Runtime
    case: Case
    workdir: Path
    template: Path
    deadline: float
    log: list[Proc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    cgroup_paths: list[str] = field(default_factory=list)
    known_pids: dict[int, int | None] = field(default_factory=dict)
    _seq: int = 0

    # -- setup ---------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The private --root state directory."""
        return self.workdir / "state"

    def new_cid(self, tag: str = "") -> str:
        base = self.case.name.replace(".", "-").replace("_", "-")[:28]
        cid = f"{base}{'-' + tag if tag else ''}-{secrets.token_hex(3)}"
        self.containers.append(cid)
        return cid

    def bundle(
        self, script: str | None = None, args: list[str] | None = None, name: str = "bundle", cgroups: bool = True
    ) -> Bundle:
        """A fresh bundle with its own rootfs copy; `script` becomes `sh -c script`."""
        path = self.workdir / name
        path.mkdir()
        os.chmod(path, 0o755)
        copy_rootfs(self.template, path / "rootfs")
        cid = self.new_cid(name if name != "bundle" else "")
        if args is None:
            args = ["sh", "-c", script] if script is not None else ["sh", "-c", "sleep 1000"]
        cg = f"/conformance-{cid}" if cgroups else None
        if cg:
            self.cgroup_paths.append(cg)
        return Bundle(path, cid, base_config(args, cg))

    def host_dir(self, name: str) -> Path:
        p = self.workdir / name
        p.mkdir(parents=True)
        os.chmod(p, 0o755)
        return p

    # -- invoking the runtime -------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def exec(
        self,
        argv: list[str],
        *,
        ok: bool | None = True,
        stdin: str | None = None,
        timeout: float | None = None,
        out_path: Path | None = None,
        err_path: Path | None = None,
        label: str = "cmd",
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> Proc:
        """Run a command with stdio redirected to files (a container may keep them open after we return)."""
        self._seq += 1
        io = self.workdir / "io"
        io.mkdir(exist_ok=True)
        out_path = out_path or io / f"{self._seq:02d}-{label}.out"
        err_path = err_path or io / f"{self._seq:02d}-{label}.err"
        budget = self.remaining()
        if budget <= 0:
            raise Fail(f"case timeout ({self.case.timeout:.0f}s) reached before: {shlex.join(argv)}")
        timeout = min(timeout or DEFAULT_CALL_TIMEOUT, budget)
        run_env = dict(os.environ)
        run_env[LEAK_MARKER] = "1"
        if env:
            run_env.update(env)
        t0 = time.monotonic()
        with open(out_path, "ab") as fo, open(err_path, "ab") as fe:
            pos_out, pos_err = fo.tell(), fe.tell()
            p = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                env=run_env,
                start_new_session=True,
                pass_fds=pass_fds,
            )
            try:
                p.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(p.pid)
                p.wait()
                proc = Proc(
                    argv, -9, _read_from(out_path, pos_out), _read_from(err_path, pos_err), time.monotonic() - t0
                )
                self.log.append(proc)
                raise Fail(f"timed out after {timeout:.0f}s", proc) from None
        proc = Proc(
            argv, p.returncode, _read_from(out_path, pos_out), _read_from(err_path, pos_err), time.monotonic() - t0
        )
        self.log.append(proc)
        if ok is True and proc.rc != 0:
            raise Fail(f"`{label}` exited {proc.rc}", proc)
        if ok is False and proc.rc == 0:
            raise Fail(f"`{label}` was expected to fail but exited 0", proc)
        return proc

    def rt(
        self,
        *args: str,
        ok: bool | None = True,
        stdin: str | None = None,
        timeout: float | None = None,
        out_path: Path | None = None,
        err_path: Path | None = None,
        global_args: tuple[str, ...] = (),
    ) -> Proc:
        """`<runtime> --root <state> [global_args] <args...>`."""
        argv = [*self.runtime.argv, "--root", str(self.root), *global_args, *args]
        verb = next((a for a in args if not a.startswith("-")), "rt")
        return self.exec(argv, ok=ok, stdin=stdin, timeout=timeout, out_path=out_path, err_path=err_path, label=verb)

    # -- lifecycle shortcuts --------------------------------------------------

    def stdout_path(self, cid: str) -> Path:
        return self.workdir / "io" / f"{cid}.out"

    def stderr_path(self, cid: str) -> Path:
        return self.workdir / "io" / f"{cid}.err"

    def output(self, cid: str) -> str:
        """What the container wrote to its stdout so far (stdout of create/run is a file)."""
        try:
            return self.stdout_path(cid).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def create(
        self,
        b: Bundle,
        cid: str | None = None,
        *,
        ok: bool | None = True,
        pid_file: bool = True,
        extra: tuple[str, ...] = (),
    ) -> Proc:
        b.write()
        cid = cid or b.cid
        (self.workdir / "io").mkdir(exist_ok=True)
        args = ["create", "--bundle", str(b.path)]
        if pid_file:
            args += ["--pid-file", str(self.workdir / f"{cid}.pid")]
        proc = self.rt(*args, *extra, cid, ok=ok, out_path=self.stdout_path(cid), err_path=self.stderr_path(cid))
        if proc.rc == 0 and pid_file:
            self._remember(self.pid_from_file(cid))
        return proc

    def pid_from_file(self, cid: str) -> int:
        path = self.workdir / f"{cid}.pid"
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise Fail(f"--pid-file {path} was not written") from None
        if not text.isdigit() or int(text) <= 0:
            raise Fail(f"--pid-file holds {text!r}, not a positive pid")
        return int(text)

    def start(self, cid: str, ok: bool | None = True) -> Proc:
        return self.rt("start", cid, ok=ok)

    def run(
        self,
        b: Bundle,
        cid: str | None = None,
        *,
        ok: bool | None = True,
        detach: bool = False,
        timeout: float | None = None,
        extra: tuple[str, ...] = (),
    ) -> Proc:
        """`run` in the foreground (container stdout = returned .out) or detached."""
        b.write()
        cid = cid or b.cid
        (self.workdir / "io").mkdir(exist_ok=True)
        args = ["run", "--bundle", str(b.path)]
        if detach:
            args += ["--detach", "--pid-file", str(self.workdir / f"{cid}.pid")]
        proc = self.rt(
            *args, *extra, cid, ok=ok, timeout=timeout, out_path=self.stdout_path(cid), err_path=self.stderr_path(cid)
        )
        if detach and proc.rc == 0:
            self._remember(self.pid_from_file(cid))
        return proc

    def sh(self, script: str, edit: Callable[[Bundle], None] | None = None, *, rc: int | None = 0) -> str:
        """Run `sh -c script` in a fresh container (foreground) and return its stdout."""
        b = self.bundle(script)
        if edit:
            edit(b)
        proc = self.run(b, ok=None)
        if rc is not None and proc.rc != rc:
            raise Fail(f"container exited {proc.rc}, expected {rc}", proc)
        return proc.out

    def state(self, cid: str) -> dict[str, Any]:
        proc = self.rt("state", cid)
        try:
            st = json.loads(proc.out)
        except json.JSONDecodeError:
            raise Fail("`state` did not print JSON", proc) from None
        if not isinstance(st, dict):
            raise Fail("`state` JSON is not an object", proc)
        pid = st.get("pid")
        if isinstance(pid, int) and pid > 0:
            self._remember(pid)
        return st

    def wait_status(self, cid: str, want: str, timeout: float = 5.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            if st.get("status") == want:
                return st
            if time.monotonic() > end:
                raise Fail(f"state of {cid} stayed {st.get('status')!r}, expected {want!r}", self.log[-1])
            time.sleep(0.05)

    def kill(self, cid: str, sig: str = "KILL", ok: bool | None = True) -> Proc:
        return self.rt("kill", cid, sig, ok=ok)

    def delete(self, cid: str, force: bool = False, ok: bool | None = True) -> Proc:
        return self.rt("delete", *(["--force"] if force else []), cid, ok=ok)

    def stop_and_delete(self, cid: str) -> None:
        self.kill(cid, "KILL", ok=None)
        self.wait_status(cid, "stopped")
        self.delete(cid)

    def expect_gone(self, cid: str, cgroups_path: str | None = None) -> None:
        """No trace of the container: `state` fails, nothing named after it in --root, no cgroup dirs."""
        proc = self.rt("state", cid, ok=None)
        if proc.rc == 0:
            raise Fail(f"`state {cid}` still succeeds", proc)
        if self.root.is_dir():
            left = [p.name for p in self.root.iterdir() if cid in p.name]
            if left:
                raise Fail(f"--root still holds {left} for {cid}")
        if cgroups_path:
            left_cg = [str(p) for p in hostinfo.cgroup_dirs_for_path(cgroups_path) if p.exists()]
            if left_cg:
                raise Fail(f"cgroup dirs left behind: {left_cg}")

    def wait_for(self, cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        end = time.monotonic() + min(timeout, max(self.remaining(), 0.1))
        while not cond():
            if time.monotonic() > end:
                raise Fail(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_output(self, cid: str, needle: str, timeout: float = 5.0) -> str:
        self.wait_for(lambda: needle in self.output(cid), f"{needle!r} in the output of {cid}", timeout)
        return self.output(cid)

    # -- assertions -----------------------------------------------------------

    def fail(self, message: str, detail: str = "") -> None:
        raise Fail(message, self.log[-1] if self.log else None, detail)

    def expect(self, cond: object, message: str, detail: str = "") -> None:
        if not cond:
            self.fail(message, detail)

    def expect_eq(self, actual: object, expected: object, what: str) -> None:
        if actual != expected:
            self.fail(f"{what}: got {actual!r}, expected {expected!r}")

    def expect_in(self, needle: str, haystack: str, what: str) -> None:
        if needle not in haystack:
            self.fail(f"{what}: {needle!r} not found", detail=haystack[-1500:])

    def skip(self, reason: str) -> None:
        raise Skip(reason)

    def note(self, message: str) -> None:
        self.notes.append(message)

    # -- teardown -------------------------------------------------------------

    def _remember(self, pid: int) -> None:
        if pid not in self.known_pids:
            self.known_pids[pid] = hostinfo.start_time(pid)

    def cleanup(self) -> list[str]:
        """Best-effort teardown; returns problems worth reporting (never raises)."""
        problems: list[str] = []
        for cid in self.containers:
            try:
                self.deadline = max(self.deadline, time.monotonic() + 15)
                self.rt("delete", "--force", cid, ok=None, timeout=10)
            except Exception as e:  # teardown must go on whatever failed
                problems.append(f"delete --force {cid}: {e}")

        def survivors() -> list[int]:
            return [
                pid
                for pid, started in self.known_pids.items()
                if started is not None and hostinfo.start_time(pid) == started and hostinfo.alive(pid)
            ]

        # SIGKILL is asynchronous: give the kernel a moment before calling a process a survivor.
        end = time.monotonic() + 2
        while survivors() and time.monotonic() < end:
            time.sleep(0.05)
        for pid in survivors():
            problems.append(f"container process {pid} survived delete --force; killed it")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _unmount_under(self.workdir)
        for cg in self.cgroup_paths:
            for d in hostinfo.cgroup_dirs_for_path(cg):
                _rmdir_cgroup(d)
        return problems

    def remove_workdir(self) -> None:
        _unmount_under(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _read_from(path: Path, pos: int) -> str:
    with open(path, "rb") as f:
        f.seek(pos)
        return f.read().decode(errors="replace")


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _unmount_under(top: Path) -> None:
    prefix = str(top).rstrip("/") + "/"
    try:
        entries = hostinfo.parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    except OSError:
        return
    for e in reversed(entries):
        if e.mountpoint.startswith(prefix) or e.mountpoint == str(top):
            subprocess.run(["umount", "-l", e.mountpoint], capture_output=True)


def _rmdir_cgroup(d: Path) -> None:
    if not d.is_dir():
        return
    for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        d.rmdir()
    except OSError:
        pass
