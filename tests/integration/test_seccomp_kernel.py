"""Seccomp on the real kernel: a forked child loads a filter (as the init does) and execs a program under it."""

from __future__ import annotations

import array
import ctypes
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console_io import read_until_eof

from pyrunc.linux import libseccomp as scmp
from pyrunc.security import seccomp as sc
from pyrunc.spec.model import Seccomp

pytestmark = pytest.mark.root

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
DATA = Path(__file__).resolve().parent.parent / "data" / "seccomp"
MKDIRS = ["mkdir", "mkdirat"]  # whichever the libc uses


def profile(raw: dict[str, Any]) -> Seccomp:
    return Seccomp.from_dict({"defaultAction": "SCMP_ACT_ALLOW", **raw})


def run_filtered(
    prof: Seccomp,
    argv: list[str] | None = None,
    *,
    compile_in_child: bool = False,
    in_child: Callable[[int | None], str] | None = None,
    timeout: float = 20,
) -> tuple[int, str]:
    """Fork; the child loads the filter and runs `in_child(notify_fd)` (its return value is printed) and/or
    execs `argv`. Returns (wait status, combined stdout+stderr of the child)."""
    f = None if compile_in_child else sc.compile_filter(prof)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: always ends in os._exit / execve
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            filt = sc.compile_filter(prof) if f is None else f
            fd = sc.load_filter(filt)
            if in_child is not None:
                os.write(1, in_child(fd).encode())
            if argv is not None:
                os.execv(argv[0], argv)
            os._exit(0)
        except BaseException as e:
            os.write(2, f"child failed: {e!r}\n".encode())
        finally:
            os._exit(127)
    os.close(w)
    out = b""
    finished = False
    try:
        while True:
            ready, _, _ = select.select([r], [], [], timeout)
            if not ready:
                raise AssertionError(f"child {pid} produced no EOF within {timeout}s; output so far: {out!r}")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            out += chunk
        finished = True
    finally:
        os.close(r)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    return status, out.decode(errors="replace")


def deny_mkdir(action: str, **extra: Any) -> Seccomp:
    return profile({"syscalls": [{"names": MKDIRS, "action": action, **extra}]})


# ------------------------------------------------------------------------------------------ actions


@pytest.mark.parametrize("compile_in_child", [False, True], ids=["compiled-before-fork", "compiled-in-child"])
def test_errno_action_defaults_to_eperm(tmp_path: Path, compile_in_child: bool) -> None:
    target = tmp_path / "x"
    status, out = run_filtered(deny_mkdir("SCMP_ACT_ERRNO"), [BUSYBOX, "mkdir", str(target)],
                               compile_in_child=compile_in_child)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, out
    assert "Operation not permitted" in out
    assert not target.exists()


def test_errno_action_with_errno_ret(tmp_path: Path) -> None:
    status, out = run_filtered(deny_mkdir("SCMP_ACT_ERRNO", errnoRet=errno.ENOSPC),
                               [BUSYBOX, "mkdir", str(tmp_path / "x")])
    assert os.WEXITSTATUS(status) == 1 and "No space left on device" in out, out


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_TRAP"])
def test_killing_actions_end_the_process_with_sigsys(tmp_path: Path, action: str) -> None:
    status, out = run_filtered(deny_mkdir(action), [BUSYBOX, "mkdir", str(tmp_path / "x")])
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, (status, out)
    assert not (tmp_path / "x").exists()


def test_trace_without_a_tracer_fails_the_syscall_with_enosys(tmp_path: Path) -> None:
    status, out = run_filtered(deny_mkdir("SCMP_ACT_TRACE"), [BUSYBOX, "mkdir", str(tmp_path / "x")])
    assert os.WEXITSTATUS(status) == 1 and "Function not implemented" in out, out


def test_log_action_allows(tmp_path: Path) -> None:
    status, out = run_filtered(deny_mkdir("SCMP_ACT_LOG"), [BUSYBOX, "mkdir", str(tmp_path / "x")])
    assert status == 0, out
    assert (tmp_path / "x").is_dir()


def test_filter_is_installed_and_no_listener_without_notify() -> None:
    def child(fd: int | None) -> str:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        return f"{fd} {fields['Seccomp'].strip()} {fields['Seccomp_filters'].strip()}"

    status, out = run_filtered(deny_mkdir("SCMP_ACT_ERRNO"), in_child=child)
    assert status == 0 and out == "None 2 1", out


def test_loading_without_no_new_privs_needs_cap_sys_admin() -> None:
    f = sc.compile_filter(deny_mkdir("SCMP_ACT_ERRNO"))

    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setresuid(65534, 65534, 65534)  # drops every capability; no_new_privs stays unset
            try:
                sc.load_filter(f)
                os.write(w, b"loaded")
            except OSError as e:
                os.write(w, f"{type(e).__name__} {e}".encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert out.startswith("SyscallError seccomp: Permission denied (flags=0x")


# ------------------------------------------------------------------------------------------ arguments


def _syscall_errnos(nr: int, arg_sets: list[tuple[int, ...]]) -> Callable[[int | None], str]:
    """In the child: call syscall `nr` with each argument tuple (full 64-bit registers) and report the errnos."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def child(_fd: int | None) -> str:
        out = []
        for args in arg_sets:
            ctypes.set_errno(0)
            rc = libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a) for a in args))
            out.append(str(ctypes.get_errno() if rc == -1 else 0))
        return " ".join(out)

    return child


UMASK_VALUES = [0, 4, 5, 6, 0o777, 5 | (1 << 32)]


@pytest.mark.parametrize(
    ("op", "value", "value_two", "denied"),
    [
        ("SCMP_CMP_NE", 5, 0, lambda v: v != 5),
        ("SCMP_CMP_LT", 5, 0, lambda v: v < 5),
        ("SCMP_CMP_LE", 5, 0, lambda v: v <= 5),
        ("SCMP_CMP_EQ", 5, 0, lambda v: v == 5),
        ("SCMP_CMP_GE", 5, 0, lambda v: v >= 5),
        ("SCMP_CMP_GT", 5, 0, lambda v: v > 5),
        # MASKED_EQ: (arg & value) == valueTwo
        ("SCMP_CMP_MASKED_EQ", 0o7, 4, lambda v: v & 0o7 == 4),
    ],
)
def test_argument_operators_compare_all_64_bits(op: str, value: int, value_two: int,
                                                denied: Callable[[int], bool]) -> None:
    nr = scmp.resolve_syscall("umask")
    assert nr is not None
    prof = profile({"syscalls": [{"names": ["umask"], "action": "SCMP_ACT_ERRNO",
                                  "args": [{"index": 0, "value": value, "valueTwo": value_two, "op": op}]}]})
    status, out = run_filtered(prof, in_child=_syscall_errnos(nr, [(v,) for v in UMASK_VALUES]))
    assert status == 0, out
    expected = " ".join(str(errno.EPERM if denied(v) else 0) for v in UMASK_VALUES)
    assert out == expected, f"{op}: values {UMASK_VALUES}"


def test_arguments_on_different_indexes_are_anded() -> None:
    nr = scmp.resolve_syscall("getpriority")
    assert nr is not None
    prof = profile({"syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
                                  "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                                           {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]})
    # (PRIO_PROCESS, self) is denied; (PRIO_PGRP, 0) or (PRIO_PROCESS, pid 1) match only one comparison.
    status, out = run_filtered(prof, in_child=_syscall_errnos(nr, [(0, 0), (1, 0), (0, 1)]))
    assert status == 0 and out == f"{errno.EXDEV} 0 0", out


def test_arguments_sharing_an_index_are_ored_like_runc() -> None:
    nr = scmp.resolve_syscall("getpriority")
    assert nr is not None
    prof = profile({"syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
                                  "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                           {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]})
    status, out = run_filtered(prof, in_child=_syscall_errnos(nr, [(0, 0), (1, 0), (2, 0)]))
    assert status == 0 and out == f"0 {errno.EXDEV} {errno.EXDEV}", out


def test_socket_family_filter() -> None:
    prof = profile({"syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                                  "args": [{"index": 0, "value": socket.AF_INET, "op": "SCMP_CMP_EQ"}]}]})

    def child(_fd: int | None) -> str:
        res = []
        for family in (socket.AF_UNIX, socket.AF_INET):
            try:
                socket.socket(family, socket.SOCK_STREAM).close()
                res.append("ok")
            except OSError as e:
                res.append(errno.errorcode[e.errno or 0])
        return " ".join(res)

    status, out = run_filtered(prof, in_child=child)
    assert status == 0 and out == "ok EPERM", out


# ------------------------------------------------------------------------------------------ a full profile


def allowlist(**changes: Any) -> Seccomp:
    raw = json.loads((DATA / "allowlist.json").read_text())
    raw.update(changes)
    return Seccomp.from_dict(raw)


def test_shell_works_under_the_allowlist_profile(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    script = f"""
        echo start
        ls / >/dev/null && echo ls-ok
        mkdir {tmp_path}/d && rmdir {tmp_path}/d && echo mkdir-ok
        echo hello | cat | tr a-z A-Z
        grep '^Seccomp:' /proc/self/status
        unshare -m true; echo "unshare=$?"
        mount -t tmpfs none {tmp_path}/m; echo "mount=$?"
        echo done
    """
    try:
        status, out = run_filtered(allowlist(), [BUSYBOX, "sh", "-c", script])
    finally:
        if os.path.ismount(tmp_path / "m"):
            os.system(f"umount {tmp_path}/m")
    lines = out.splitlines()
    assert status == 0, out
    for want in ("start", "ls-ok", "mkdir-ok", "HELLO", "unshare=1", "mount=1", "done"):
        assert want in lines, out
    assert "Seccomp:\t2" in lines
    assert "unshare: unshare(0x20000): Operation not permitted" in out
    assert "mount: permission denied (are you root?)" in out  # EPERM, as root
    assert not os.path.ismount(tmp_path / "m")


def test_denied_syscalls_return_eperm_under_the_allowlist(tmp_path: Path) -> None:
    nrs = {n: scmp.resolve_syscall(n) for n in ("keyctl", "unshare", "mount", "setns", "clone", "personality",
                                               "add_key", "ptrace", "bpf", "clone3")}
    # A second Python, exec'd under the filter: its own start-up must work, then it probes syscalls itself.
    code = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nr = {nrs!r}
def probe(name, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr[name]), *(ctypes.c_ulong(a) for a in args))
    if rc == 0 and name == "clone":
        os._exit(0)  # only if the filter failed: the child leaves at once
    print(name, args, os.strerror(ctypes.get_errno()) if rc == -1 else "ok")
probe("keyctl", 0, 0)
probe("add_key", 0, 0, 0, 0, 0)
probe("unshare", 0x20000)
probe("mount", 0, 0, 0, 0, 0)
probe("setns", 0, 0)
probe("ptrace", 0, 0)
probe("bpf", 0, 0, 0)
probe("clone", 0x10000000 | 17, 0, 0, 0, 0)   # CLONE_NEWUSER|SIGCHLD
probe("clone3", 0, 0)
probe("personality", 0xffffffff)
probe("personality", 0x0040000)               # ADDR_NO_RANDOMIZE: not in the allowed values
"""
    status, out = run_filtered(allowlist(), [sys.executable, "-I", "-S", "-c", code])
    assert status == 0, out
    got = {line.split(" ", 1)[0]: line.rsplit(") ", 1)[1] for line in out.splitlines()
           if ") " in line and not line.startswith("personality")}
    assert got == {
        "keyctl": "Operation not permitted", "add_key": "Operation not permitted",
        "unshare": "Operation not permitted", "mount": "Operation not permitted",
        "setns": "Operation not permitted", "ptrace": "Operation not permitted", "bpf": "Operation not permitted",
        "clone": "Operation not permitted", "clone3": "Function not implemented",
    }, out
    assert "personality (4294967295,) ok" in out
    assert "personality (262144,) Operation not permitted" in out


def test_default_errno_ret(tmp_path: Path) -> None:
    status, out = run_filtered(allowlist(defaultErrnoRet=errno.EACCES), [BUSYBOX, "unshare", "-m", "true"])
    assert os.WEXITSTATUS(status) == 1 and "Permission denied" in out, out


def test_compile_and_load_need_no_file_system_or_imports(tmp_path: Path) -> None:
    """What the init does after pivot_root: no host libraries, no module imports. Here: chroot into a directory
    holding only busybox, forbid imports, then compile, load and exec."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(BUSYBOX, root / "busybox")
    prof = deny_mkdir("SCMP_ACT_ERRNO", errnoRet=errno.EROFS)

    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            os.chroot(root)
            os.chdir("/")
            sys.meta_path[:] = []  # any import from here on fails
            sys.path_importer_cache.clear()
            f = sc.compile_filter(prof)
            sc.load_filter(f)
            os.execv("/busybox", ["busybox", "mkdir", "/x"])
        except BaseException as e:
            os.write(2, f"child failed: {e!r}\n".encode())
        finally:
            os._exit(127)
    os.close(w)
    out = read_until_eof(r)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 1 and b"Read-only file system" in out, out
    assert not (root / "x").exists()


# ------------------------------------------------------------------------------------------ notify

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)      (80 bytes)
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp)  (24 bytes)
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


def _recv_state(listener: socket.socket) -> tuple[dict[str, Any], list[int]]:
    listener.settimeout(20)
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(20)
        fds = array.array("i")
        msg, anc, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        while more := conn.recv(1 << 16):  # the runtime closes the connection after one state
            msg += more
    return json.loads(msg), list(fds)


@pytest.mark.parametrize("answer", ["error", "continue"])
def test_notify_sends_fd_and_state_to_the_listener(tmp_path: Path, answer: str) -> None:
    sock_path = str(tmp_path / "agent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    target = tmp_path / "made-by-container"
    prof = profile({"listenerPath": sock_path, "listenerMetadata": "MKDIR=yes",
                    "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                    "syscalls": [{"names": MKDIRS, "action": "SCMP_ACT_NOTIFY"}]})
    f = sc.compile_filter(prof)
    assert f.notify

    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            listener.close()
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            fd = sc.load_filter(f)
            assert fd is not None
            cloexec = bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
            os.write(1, f"fd-cloexec={cloexec} link={os.readlink(f'/proc/self/fd/{fd}')}\n".encode())
            state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": os.getpid(),
                     "bundle": "/bundle", "annotations": {"k": "v"}}
            sc.send_listener(sock_path, fd, state, f.listener_metadata)
            os.execv(BUSYBOX, ["busybox", "mkdir", str(target)])
        except BaseException as e:
            os.write(2, f"child failed: {e!r}\n".encode())
        finally:
            os._exit(127)
    os.close(w)
    fds: list[int] = []
    try:
        cps, fds = _recv_state(listener)
        assert cps == {"ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": pid, "metadata": "MKDIR=yes",
                       "state": {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": pid,
                                 "bundle": "/bundle", "annotations": {"k": "v"}}}
        assert len(fds) == 1
        notify_fd = fds[0]
        assert os.readlink(f"/proc/self/fd/{notify_fd}") == "anon_inode:seccomp notify"
        ready, _, _ = select.select([notify_fd], [], [], 20)
        assert ready, "no notification within 20s"
        req = bytearray(80)
        fcntl.ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req, True)
        notif_id, notif_pid, _fl, nr = struct.unpack_from("=QIIi", req)
        assert notif_pid == pid
        assert nr in {scmp.resolve_syscall(n) for n in MKDIRS}
        if answer == "error":
            resp = struct.pack("=QqiI", notif_id, 0, -errno.EMLINK, 0)
        else:
            resp = struct.pack("=QqiI", notif_id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)
        fcntl.ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(resp), True)
        out = b""
        while chunk := os.read(r, 65536):
            out += chunk
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(r)
        for fd in fds:
            os.close(fd)
        listener.close()
    text = out.decode()
    assert "fd-cloexec=True link=anon_inode:seccomp notify" in text  # never reaches the container process
    if answer == "error":
        assert os.WEXITSTATUS(status) == 1 and "Too many links" in text, text
        assert not target.exists()
    else:
        assert status == 0, text
        assert target.is_dir()
