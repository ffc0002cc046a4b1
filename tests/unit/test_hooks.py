"""Hooks: order, argv/env/stdin, timeouts, failures, warn-only (poststop), fd hygiene, no lazy imports."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pyrunc.errors import HookError
from pyrunc.runtime.hooks import STATUS_BY_KIND, run_hooks, state_for_hooks
from pyrunc.spec.model import Hook

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
REPO = Path(__file__).resolve().parent.parent.parent
STATE = state_for_hooks("c1", "creating", 4242, "/bundles/c1", {"org.example/key": "value"})


def script(tmp_path: Path, name: str, body: str, mode: int = 0o755) -> str:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(mode)
    return str(p)


def sh(cmd: str, *, env: tuple[str, ...] = (), timeout: int | None = None) -> Hook:
    """A hook running busybox's sh applet: argv[0] ("sh") picks the applet, so it also proves args[0] is argv[0]."""
    return Hook(path=BUSYBOX, args=("sh", "-c", cmd), env=env, timeout=timeout)


def dump_environ(dest: Path, env: tuple[str, ...] = ()) -> Hook:
    """A hook copying its initial environment block (/proc/self/environ at execve) to `dest`. (Python, not a
    shell: a shell adds PWD/SHLVL before anything could look.)"""
    code = f"open({str(dest)!r}, 'wb').write(open('/proc/self/environ', 'rb').read())"
    return Hook(path=sys.executable, args=("python3", "-I", "-S", "-c", code), env=env)


def test_state_for_hooks() -> None:
    assert STATE == {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 4242, "bundle": "/bundles/c1",
                     "annotations": {"org.example/key": "value"}}
    # pid and annotations are omitted when absent, as runc does (poststop: the process is gone).
    assert state_for_hooks("c1", "stopped", 0, "/b", {}) == {
        "ociVersion": "1.3.0", "id": "c1", "status": "stopped", "bundle": "/b"}


def test_status_per_kind_follows_the_spec() -> None:
    assert STATUS_BY_KIND == {"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
                              "startContainer": "created", "poststart": "running", "poststop": "stopped"}


def test_hooks_run_in_order_with_args_env_and_state_on_stdin(tmp_path: Path) -> None:
    log = tmp_path / "log"
    hooks = (
        sh(f'echo "first $0 $1" >> {log}', env=("A=1",)),
        Hook(path=script(tmp_path, "second", f'echo "second $1 $2" >> {log}; cat > {tmp_path}/stdin\n'),
             args=("ignored-argv0", "x", "y z")),
        dump_environ(tmp_path / "environ", env=("FOO=bar", "EMPTY=", "FOO=baz", "PATH=/nowhere")),
    )
    run_hooks("createRuntime", hooks, STATE)
    assert log.read_text().splitlines() == ["first sh ", "second x y z"]
    assert json.loads((tmp_path / "stdin").read_text()) == STATE
    # Exactly the hook's env (the last of a repeated key wins), nothing inherited from pyrunc.
    environ = sorted((tmp_path / "environ").read_bytes().split(b"\0")[:-1])
    assert environ == [b"EMPTY=", b"FOO=baz", b"PATH=/nowhere"]


def test_no_env_means_an_empty_environment(tmp_path: Path) -> None:
    run_hooks("prestart", (dump_environ(tmp_path / "environ"),), STATE)
    assert (tmp_path / "environ").read_bytes() == b""


def test_empty_args_run_path_as_argv0(tmp_path: Path) -> None:
    hook = Hook(path=script(tmp_path, "noargs", f'echo "$#" > {tmp_path}/argc\n'))
    run_hooks("poststart", (hook,), STATE)
    assert (tmp_path / "argc").read_text() == "0\n"


def test_cwd(tmp_path: Path) -> None:
    run_hooks("prestart", (sh(f"pwd > {tmp_path}/pwd"),), STATE, cwd=str(tmp_path))
    assert (tmp_path / "pwd").read_text().strip() == str(tmp_path)


def test_non_zero_exit_names_hook_status_and_last_stderr_line(tmp_path: Path) -> None:
    marker = tmp_path / "third-ran"
    hooks = (sh("true"), sh("echo noise; echo first >&2; echo 'it broke: badly' >&2; echo >&2; exit 3"),
             sh(f"touch {marker}"))
    with pytest.raises(HookError) as ei:
        run_hooks("createRuntime", hooks, STATE)
    e = ei.value
    assert (e.phase, e.index, e.path) == ("createRuntime", 1, BUSYBOX)
    assert str(e) == (f"error running createRuntime hook #1: {BUSYBOX}: exit status 3: it broke: badly "
                      "(config: /hooks/createRuntime/1)")
    assert not marker.exists()  # the list stops at the first failure


def test_killed_by_a_signal() -> None:
    with pytest.raises(HookError, match=r"signal: killed \(SIGKILL\)"):
        run_hooks("prestart", (sh("kill -9 $$"),), STATE)


def test_timeout_kills_the_hook() -> None:
    start = time.monotonic()
    with pytest.raises(HookError, match=r"error running prestart hook #0: .*: timed out after 1s"):
        run_hooks("prestart", (Hook(path=BUSYBOX, args=("sleep", "30"), timeout=1),), STATE)
    assert time.monotonic() - start < 10


def test_a_fast_hook_with_a_timeout_succeeds() -> None:
    run_hooks("prestart", (sh("cat >/dev/null", timeout=5),), STATE)


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: str(p / "missing"), "no such file or directory"),
    (lambda p: script(p, "noexec", "exit 0\n", mode=0o644), "not executable"),
    (lambda p: str(p), "not a regular file"),
    (lambda p: "relative/hook", "path must be absolute"),
])
def test_bad_paths_fail_before_any_hook_runs(tmp_path: Path, make: Any, words: str) -> None:
    marker = tmp_path / "first-ran"
    path = make(tmp_path)
    with pytest.raises(HookError) as ei:
        run_hooks("createContainer", (sh(f"touch {marker}"), Hook(path=path)), STATE)
    assert ei.value.index == 1 and words in str(ei.value)
    assert not marker.exists()


def test_warn_only_logs_and_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pyrunc.runtime.hooks")
    marker = tmp_path / "last-ran"
    hooks = (sh("echo oops >&2; exit 1"), Hook(path=str(tmp_path / "missing")), Hook(path=BUSYBOX, args=("sleep", "30"),
             timeout=1), sh(f"touch {marker}"))
    run_hooks("poststop", hooks, state_for_hooks("c1", "stopped", None, "/b", None), warn_only=True)
    assert marker.exists()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 3
    assert any("poststop hook #0" in m and "exit status 1: oops" in m for m in messages)
    assert any("poststop hook #1" in m and "no such file" in m for m in messages)
    assert any("poststop hook #2" in m and "timed out after 1s" in m for m in messages)


def test_lots_of_output_and_a_big_state(tmp_path: Path) -> None:
    big = dict(STATE, annotations={f"k{i}": "v" * 100 for i in range(5000)})  # ~600 KiB of JSON
    # Reads stdin fully while writing ~8 MiB to each of stdout and stderr, then fails.
    cmd = ("{ yes out | head -c 8000000; yes err | head -c 8000000 >&2; } & "
           f"cat > {tmp_path}/stdin; wait; echo the-end >&2; exit 2")
    with pytest.raises(HookError, match=r"exit status 2: the-end"):
        run_hooks("prestart", (sh(cmd),), big)
    assert json.loads((tmp_path / "stdin").read_text()) == big


def test_a_hook_that_ignores_its_stdin_is_fine() -> None:
    big = dict(STATE, annotations={f"k{i}": "v" * 100 for i in range(5000)})
    run_hooks("prestart", (sh("exit 0"),), big)


def test_a_background_child_holding_the_pipes_does_not_block(tmp_path: Path) -> None:
    start = time.monotonic()
    try:
        run_hooks("prestart", (sh(f"sleep 20 & echo $! > {tmp_path}/bg; echo started"),), STATE)
        assert time.monotonic() - start < 10
    finally:
        os.kill(int((tmp_path / "bg").read_text()), signal.SIGKILL)  # the orphan this test made


def test_hooks_get_no_fds_but_stdio(tmp_path: Path) -> None:
    r, w = os.pipe()
    leaked = os.dup2(w, 213, inheritable=True)
    try:
        run_hooks("prestart", (sh(f"ls /proc/$$/fd > {tmp_path}/fds"),), STATE)
    finally:
        os.close(leaked)
        os.close(r)
        os.close(w)
    assert sorted(int(x) for x in (tmp_path / "fds").read_text().split()) in ([0, 1, 2], [0, 1, 2, 3])


def test_run_hooks_imports_nothing_when_called() -> None:
    """The init calls run_hooks after pivot_root, where no module can be imported: prove it needs none."""
    code = f"""
import sys
from pyrunc.runtime.hooks import run_hooks, state_for_hooks
from pyrunc.spec.model import Hook
before = set(sys.modules)
sys.meta_path[:] = []
sys.path_importer_cache.clear()
state = state_for_hooks("c1", "created", 1, "/b", {{"a": "b"}})
run_hooks("startContainer", (Hook(path={BUSYBOX!r}, args=("sh", "-c", "cat >/dev/null; exit 0"), timeout=5),), state)
try:
    run_hooks("startContainer", (Hook(path={BUSYBOX!r}, args=("sh", "-c", "echo bad >&2; exit 4")),), state)
except Exception as e:
    print(type(e).__name__, e)
try:
    run_hooks("startContainer", (Hook(path={BUSYBOX!r}, args=("sleep", "5"), timeout=1),), state)
except Exception as e:
    print(type(e).__name__, e)
print("new modules:", sorted(set(sys.modules) - before))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr
    assert "HookError error running startContainer hook #0:" in p.stdout and "exit status 4: bad" in p.stdout, p.stdout
    assert "timed out after 1s" in p.stdout
    assert p.stdout.strip().endswith("new modules: []"), p.stdout
