"""The parent <-> child sync protocol: framing, fds, EOF, typed errors crossing a real fork."""

from __future__ import annotations

import errno
import os

import pytest

from pyrunc.errors import HookError, InitError, SyscallError
from pyrunc.process import sync
from pyrunc.process.sync import Msg, StepError


def test_roundtrip_message_and_fields() -> None:
    a, b = sync.socketpair()
    with a, b:
        sync.send(b, Msg.INIT_PID, pid=1234)
        kind, fields, fd = sync.recv(a)
        assert (kind, fields, fd) == (Msg.INIT_PID, {"pid": 1234}, None)
        sync.send(a, Msg.HOOKS_DONE, state={"id": "x", "status": "creating"})
        assert sync.expect(b, Msg.HOOKS_DONE) == {"state": {"id": "x", "status": "creating"}}


def test_messages_keep_their_boundaries() -> None:
    a, b = sync.socketpair()
    with a, b:
        for kind in (Msg.MAP_REQUEST, Msg.HOOKS, Msg.READY):
            sync.send(b, kind)
        assert [sync.recv(a)[0] for _ in range(3)] == [Msg.MAP_REQUEST, Msg.HOOKS, Msg.READY]


def test_fd_passing() -> None:
    a, b = sync.socketpair()
    r, w = os.pipe()
    try:
        with a, b:
            sync.send(b, Msg.SECCOMP, fd=w)
            kind, _fields, got = sync.recv(a)
            assert kind is Msg.SECCOMP and got is not None and got != w
            os.write(got, b"x")
            os.close(got)
            assert os.read(r, 1) == b"x"
    finally:
        os.close(r)
        os.close(w)


def test_eof_and_wrong_message() -> None:
    a, b = sync.socketpair()
    with a:
        sync.send(b, Msg.READY)
        b.close()
        with pytest.raises(sync.ProtocolError):
            sync.expect(a, Msg.RUN)
        with pytest.raises(sync.SyncEOF):
            sync.recv(a)


def test_sockets_are_close_on_exec() -> None:
    a, b = sync.socketpair()
    with a, b:
        assert not os.get_inheritable(a.fileno()) and not os.get_inheritable(b.fileno())


@pytest.mark.parametrize(
    ("exc", "step", "want"),
    [
        (SyscallError("mount", errno.ENOENT, path="/x", spec_path="/mounts/3"), "prepare rootfs",
         {"step": "prepare rootfs", "errno": errno.ENOENT, "message": "mount /x: No such file or directory",
          "spec_path": "/mounts/3"}),
        (StepError("exec", '"sh": executable file not found in $PATH', errno.ENOENT, "/process/args/0"), "x",
         {"step": "exec", "errno": errno.ENOENT, "message": '"sh": executable file not found in $PATH',
          "spec_path": "/process/args/0"}),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/y"), "cwd",
         {"step": "cwd", "errno": errno.ENOENT, "message": "No such file or directory: /y", "spec_path": None}),
        (ValueError("bad"), "user", {"step": "user", "errno": 0, "message": "ValueError: bad", "spec_path": None}),
    ],
)
def test_error_fields(exc: BaseException, step: str, want: dict) -> None:
    assert sync.error_fields(exc, step) == want


def test_hook_error_keeps_its_own_pointer() -> None:
    f = sync.error_fields(HookError("createContainer", 0, "/h", "exit status 1"), "createContainer hooks")
    assert "/hooks/createContainer/0" in f["message"]


def test_init_error_is_one_line_naming_step_and_field() -> None:
    err = sync.init_error({"step": "exec", "errno": 2, "message": '"x": executable file not found in $PATH',
                           "spec_path": "/process/args/0"})
    assert isinstance(err, InitError)
    assert str(err) == ('unable to start container process: exec: "x": executable file not found in $PATH '
                        "(config: /process/args/0)")
    assert err.errno == 2 and err.step == "exec"


def test_error_crosses_a_fork() -> None:
    """A child stage's exception arrives as ERROR and the child ends in os._exit, never returning here."""
    a, b = sync.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            a.close()
            raise SyscallError("pivot_root", errno.EINVAL, path="/rootfs")
        except BaseException as e:
            sync.send_error(b, e, "pivot_root")
        finally:
            os._exit(255)
    b.close()
    with a:
        kind, fields, _ = sync.recv(a)
        assert kind is Msg.ERROR
        err = sync.init_error(fields)
        assert str(err) == "unable to start container process: pivot_root: pivot_root /rootfs: Invalid argument"
        with pytest.raises(sync.SyncEOF):
            sync.recv(a)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 255
