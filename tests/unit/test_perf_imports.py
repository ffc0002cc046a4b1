"""The hot commands' import discipline and the shortcuts that keep them fast, each checked against the slow way.

containerd runs `state`, `kill`, `start` and `delete` for every container (and `list` is a hot command too); the
target of state/kill/list is 1.3x a bare `python -I -S` start (bench/run.py measures it: speed is never asserted
here). What these tests hold is what makes that possible:
- run as the launcher runs them (`python -I -S`, pyrunc on sys.path), they import no heavy module (`start` and
  `delete` only the lock's `fcntl`, `select` to wait for the init, and the cgroup package, never a manager);
- the runtime side of create, run, start, exec and delete (everything but the command line and the config) imports
  none of the heavy modules, nor the modules only some configs need;
- the shortcuts give the results of what they replace: pyrunc.quickjson == json, kill's signal_number ==
  parse_signal, pyrunc.cli.main.parse_plain == the command's argparse parser;
- the launcher written by pyrunc.launcher runs pyrunc, with its quick exit, and the same output and exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc import quickjson
from pyrunc.cli import main as cli_main
from pyrunc.cli.commands import delete as delete_cmd
from pyrunc.cli.commands import kill as kill_cmd
from pyrunc.cli.commands import list as list_cmd
from pyrunc.cli.commands import state as state_cmd
from pyrunc.errors import UsageError
from pyrunc.process.signals import _table, parse_signal
from pyrunc.runtime import state
from tests.unit.cli_oracle import argparse_result, check_plain_agrees

REPO = Path(__file__).resolve().parents[2]

# Never on the success path of state/kill/list/delete: each costs from 1 ms (os) to 10 ms (argparse, typing).
HEAVY = (
    "os", "json", "re", "argparse", "typing", "signal", "enum", "logging", "importlib", "contextlib", "dataclasses",
    "collections", "functools", "shutil", "subprocess", "ctypes", "inspect", "pathlib", "__future__", "fcntl",
    "select", "jsonschema", "pyrunc.errors", "pyrunc.spec", "pyrunc.process", "pyrunc.rootfs", "pyrunc.security",
    "pyrunc.cgroups", "pyrunc.linux",
)


@pytest.fixture
def live_root(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A state root with containers c0..c2 whose "init" is a sleeping process of ours (running, no cgroup)."""
    root = str(tmp_path / "root")
    p = subprocess.Popen(["sleep", "60"])
    try:
        for i in range(3):
            cid = f"c{i}"
            state.reserve(root, cid)
            config = {"ociVersion": "1.3.0", "linux": {"namespaces": [{"type": "pid"}]}}
            state.save(root, state.State(id=cid, bundle=f"/b/{cid}", rootfs="/r", pid=p.pid,
                                         pid_start=state.pid_start_time(p.pid), status_hint="running",
                                         annotations={"a": "b"} if i == 1 else None, config=config))
        yield root, p.pid
    finally:
        p.kill()
        p.wait()


def _modules_after(args: list[str]) -> tuple[list[str], str]:
    """Run `main(args)` in `python -I -S` as the launcher does; (every module imported, stdout)."""
    code = (
        "import sys; sys.path.append(sys.argv[1]); from pyrunc.cli.main import main; "
        "rc = main(sys.argv[2:]); print('MODULES:' + ','.join(sorted(sys.modules))); sys.exit(rc)"
    )
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO), *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out, _, mods = p.stdout.rpartition("MODULES:")
    return mods.strip().split(","), out


@pytest.mark.parametrize(
    "args",
    [["state", "c1"], ["kill", "c0", "CONT"], ["kill", "c0", "18"], ["kill", "--all", "c0", "SIGCONT"], ["list"],
     ["list", "--format", "json"], ["list", "-q"]],
    ids=lambda a: " ".join(a),
)
def test_hot_commands_import_nothing_heavy(args: list[str], live_root: tuple[str, int]) -> None:
    root, _ = live_root
    modules, out = _modules_after(["--root", root, "--log", os.devnull, "--log-format", "json", *args])
    heavy = [m for m in modules if m in HEAVY or m.startswith(tuple(h + "." for h in HEAVY))]
    assert heavy == [], f"{' '.join(args)} imported {heavy}"
    if args[0] == "state":
        assert json.loads(out)["status"] == "running"


# `start` and `delete` also need the lock (fcntl), a wait for the init (select: start's exec.fifo, delete --force's
# pidfd) and the cgroup package (its rmdir of an empty cgroup, pyrunc.cgroups.remove_if_empty), never a manager.
LIFECYCLE_NEEDS = ("fcntl", "select", "pyrunc.cgroups")


def _lifecycle_heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if (m in HEAVY and m not in LIFECYCLE_NEEDS)
            or m.startswith(tuple(h + "." for h in HEAVY))]


@pytest.fixture
def created_root(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A state root with container s0 `created`: its "init" is a shell that writes the start byte to exec.fifo once
    `start` opens it, then execs sleep (the write end closes at execve, as the real init's does)."""
    from pyrunc.runtime import execfifo

    root = str(tmp_path / "root")
    state.reserve(root, "s0")
    fifo = execfifo.create(state.container_dir(root, "s0"))
    p = subprocess.Popen(["sh", "-c", 'printf 0 > "$0"; exec sleep 60', fifo])
    try:
        state.save(root, state.State(id="s0", bundle="/b/s0", rootfs="/r", pid=p.pid,
                                     pid_start=state.pid_start_time(p.pid), status_hint="created",
                                     config={"ociVersion": "1.3.0", "hooks": {"poststop": []}}))
        yield root, p
    finally:
        p.kill()
        p.wait()


def test_start_and_delete_import_nothing_heavy(created_root: tuple[str, subprocess.Popen[bytes]]) -> None:
    root, p = created_root
    modules, _ = _modules_after(["--root", root, "start", "s0"])
    assert _lifecycle_heavy(modules) == [], f"start imported {_lifecycle_heavy(modules)}"
    assert state.status(root, state.load(root, "s0")) == "running"
    modules, _ = _modules_after(["--root", root, "delete", "--force", "s0"])
    assert _lifecycle_heavy(modules) == [], f"delete --force imported {_lifecycle_heavy(modules)}"
    assert p.wait(timeout=10) == -9 and not os.path.exists(state.container_dir(root, "s0"))


def test_delete_of_a_stopped_container_is_hot(live_root: tuple[str, int]) -> None:
    root, pid = live_root
    st = state.load(root, "c2")
    st.pid_start += 1  # the pid now names another process: c2 is stopped
    state.save(root, st)
    modules, _ = _modules_after(["--root", root, "delete", "c2"])
    assert _lifecycle_heavy(modules) == [], f"delete imported {_lifecycle_heavy(modules)}"
    assert not os.path.exists(state.container_dir(root, "c2"))
    os.kill(pid, 0)  # the process the stale state named was left alone


@pytest.mark.root
def test_start_and_delete_of_real_containers_are_hot(make_bundle: Any, tmp_path: Path) -> None:
    """With a real container (a private pid namespace, a real cgroup): `start`, `delete` of the stopped container
    (its cgroup removed by rmdir alone) and `delete --force` of a running one (SIGKILL to the pid namespace's
    init) import no manager, no `os`, no pyrunc.errors."""
    root = str(tmp_path / "root")
    bundle = str(make_bundle(args=["/bin/sleep", "60"]))
    ids = [f"hot{os.getpid()}-{n}" for n in range(2)]

    def pyrunc(*args: str) -> None:
        with open(tmp_path / "err", "w+") as err:  # files, not pipes: a created init keeps create's stdio
            p = subprocess.run([sys.executable, "-m", "pyrunc", "--root", root, *args], cwd=REPO, stderr=err,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)
            err.seek(0)
            assert p.returncode == 0, f"{args}: {err.read()}"

    try:
        for cid in ids:
            pyrunc("create", "--bundle", bundle, cid)
            modules, _ = _modules_after(["--root", root, "start", cid])
            assert _lifecycle_heavy(modules) == [], f"start imported {_lifecycle_heavy(modules)}"
        pyrunc("kill", ids[0], "KILL")
        st = state.load(root, ids[0])
        deadline = time.monotonic() + 10
        while state.init_alive(st) and time.monotonic() < deadline:
            time.sleep(0.02)
        for args in (["delete", ids[0]], ["delete", "--force", ids[1]]):
            modules, _ = _modules_after(["--root", root, *args])
            assert _lifecycle_heavy(modules) == [], f"{' '.join(args)} imported {_lifecycle_heavy(modules)}"
        assert os.listdir(root) == []
    finally:
        for cid in ids:
            subprocess.run([sys.executable, "-m", "pyrunc", "--root", root, "delete", "--force", cid], cwd=REPO,
                           capture_output=True, timeout=60)


def test_kill_sigkill_of_a_pidns_init_is_hot_too(live_root: tuple[str, int]) -> None:
    """SIGKILL asks /proc whether the init is pid 1 of its namespace, not the (big) config."""
    root, pid = live_root
    modules, _ = _modules_after(["--root", root, "kill", "c0", "KILL"])
    assert "pyrunc.errors" not in modules and "json" not in modules
    assert not [m for m in modules if m.startswith("pyrunc.cgroups")]  # no cgroup: the init was signalled
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # it got the SIGKILL (reaped by the fixture)


# ------------------------------------------------------------------------- create, run, exec: the runtime side

# Never imported by the runtime side of create/run/start/exec/delete (bench/README.md "create, run, exec"): each
# costs 1 to 10 ms, or pulls in modules that do (dataclasses: inspect, ast, dis; logging: traceback, threading;
# ctypes: its __init__ defines every C type, pyrunc.linux.cabi only the few it uses).
RUNTIME_HEAVY = (
    "dataclasses", "typing", "logging", "inspect", "ast", "socket", "signal", "shutil", "json", "re", "enum",
    "ctypes", "platform", "subprocess", "tempfile", "threading", "__future__", "contextlib", "importlib",
    "selectors", "termios", "tty",
)
# Imported only for the configs that use them (a terminal, hooks, seccomp, sysctls, tmpcopyup, id mappings).
CONFIG_ONLY = (
    "pyrunc.linux.pty", "pyrunc.runtime.hooks", "pyrunc.security.seccomp", "pyrunc.linux.libseccomp",
    "pyrunc.rootfs.sysctl", "pyrunc.rootfs.copyup", "pyrunc.rootfs.idmap", "pyrunc.process.idmap",
)
# Not checked here: the command line and the config (argparse, schema validation), and pyrunc.errors (it still has
# `from __future__ import annotations`).
FRONT = ("pyrunc.cli", "pyrunc.spec", "pyrunc.errors")

_RECORD_IMPORTS = r"""
import builtins, sys
edges = {}
real_import = builtins.__import__

def record(name, globals=None, locals=None, fromlist=(), level=0):
    module = real_import(name, globals, locals, fromlist, level)
    g = globals or {}
    if level:
        base = g.get("__package__") or ""
        base = base.rsplit(".", level - 1)[0] if level > 1 else base
        name = f"{base}.{name}" if name else base
    got = edges.setdefault(g.get("__name__", "?"), set())
    got.add(name)
    got.update(f"{name}.{item}" for item in fromlist or () if f"{name}.{item}" in sys.modules)
    return module

builtins.__import__ = record
sys.path.append(sys.argv[1])
from pyrunc.cli.main import main
rc = main(sys.argv[3:])
with open(sys.argv[2], "w") as f:
    f.writelines(f"{k} {' '.join(sorted(v))}\n" for k, v in edges.items())
sys.exit(rc)
"""


def _runtime_side_imports(args: list[str], tmp_path: Path) -> set[str]:
    """Run `main(args)` in `python -I -S` as the launcher does, recording every import statement executed (not only
    the first import of a module); return what the runtime side (every pyrunc module but FRONT's) imports, directly
    or through the modules it imports."""
    graph = tmp_path / "imports.txt"
    with open(tmp_path / "stderr.txt", "w+") as err:  # files, not pipes: a created init keeps create's stdio
        p = subprocess.run([sys.executable, "-I", "-S", "-c", _RECORD_IMPORTS, str(REPO), str(graph), *args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        err.seek(0)
        assert p.returncode == 0, f"{' '.join(args)}: {err.read()}"
    edges: dict[str, list[str]] = {}
    for line in graph.read_text().splitlines():
        importer, *names = line.split()
        edges[importer] = names
    todo = [m for m in edges if m.startswith("pyrunc.") and not m.startswith(FRONT)]
    needed = set(todo)
    while todo:
        for name in edges.get(todo.pop(), ()):
            parts = name.split(".")
            for n in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):  # a.b.c imports a and a.b too
                if n not in needed and not n.startswith(FRONT):
                    needed.add(n)
                    todo.append(n)
    return needed


@pytest.mark.root
def test_create_run_exec_runtime_side_imports_nothing_heavy(make_bundle: Any, tmp_path: Path) -> None:
    """The whole life of a container: run in the foreground, then create, start, exec, delete --force."""
    root = str(tmp_path / "root")
    cid = f"perf{os.getpid()}"
    lines = [
        ["run", "--bundle", str(make_bundle()), f"{cid}-run"],
        ["create", "--bundle", str(make_bundle(args=["/bin/sleep", "60"])), cid],
        ["start", cid],
        ["exec", cid, "/bin/true"],
        ["delete", "--force", cid],
    ]
    unwanted = (*RUNTIME_HEAVY, *CONFIG_ONLY)
    try:
        for args in lines:
            needed = _runtime_side_imports(["--root", root, *args], tmp_path)
            heavy = sorted(m for m in needed if any(m == u or m.startswith(f"{u}.") for u in unwanted))
            assert heavy == [], f"{args[0]}: the runtime side imported {heavy}"
    finally:
        subprocess.run([sys.executable, "-m", "pyrunc", "--root", root, "delete", "--force", cid], cwd=REPO,
                       capture_output=True, timeout=60)


# ------------------------------------------------------------------------------------------ quickjson == json

DOCS = [
    {},
    [],
    {"ociVersion": "1.3.0", "id": "x", "pid": 42, "status": "running", "annotations": {"k": "v", "é": "\u2028"}},
    {"nested": {"a": [1, 2, {"b": None, "c": True, "d": False}], "e": []}, "f": -0, "g": 10**20, "h": 1.5},
    ["\x00\x1f\"\\/", "日本語", "\ud800", ""],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("doc", DOCS)
def test_quickjson_is_json(doc: object) -> None:
    for kw in ({}, {"separators": (",", ":")}, {"indent": 2}, {"indent": 4}):
        assert quickjson.dumps(doc, **kw) == json.dumps(doc, **kw)  # type: ignore[arg-type]
    text = json.dumps(doc)
    assert quickjson.loads(text) == json.loads(text)
    assert quickjson.loads(text.encode()) == json.loads(text)
    assert quickjson.loads(f" \n\t{text}\r\n ") == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_quickjson_is_json_generated(doc: object) -> None:
    assert quickjson.dumps(doc) == json.dumps(doc)
    assert quickjson.dumps(doc, indent=2) == json.dumps(doc, indent=2)
    assert quickjson.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize("bad", ["", " ", "{", "{}x", "[1,]", "nan", "{'a': 1}", '"\x01"', "[] []"])
def test_quickjson_refuses_what_json_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        quickjson.loads(bad)


def test_quickjson_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        quickjson.dumps({"x": object()})
    with pytest.raises(TypeError):
        quickjson.dumps({"x": object()}, indent=2)


# ------------------------------------------------------------------------------- signal_number == parse_signal


def _spellings() -> list[str]:
    names = []
    for name in _table():
        names += [name, f"SIG{name}", name.lower(), f"sig{name.lower()}", f" {name} "]
    return names + [str(n) for n in range(0, 70)] + ["-9", "+9", "09", "SIG_DFL", "_DFL", "DFL", "SIG", "", "FOO",
                                                     "SIGSIGKILL", "RTMIN+1", "rtmax-2", "RTMIN+99", "٣", "²", "1e3"]


@pytest.mark.parametrize("raw", _spellings())
def test_kill_signal_number_agrees_with_parse_signal(raw: str) -> None:
    try:
        expected: int | type[Exception] = parse_signal(raw)
    except UsageError:
        expected = UsageError
    except ValueError:
        expected = ValueError
    if isinstance(expected, int):
        assert kill_cmd.signal_number(raw) == expected
    else:
        with pytest.raises(expected):
            kill_cmd.signal_number(raw)


# --------------------------------------------------------------------------------- parse_plain == argparse

LINES = {
    state_cmd: [["x"], ["a-b.c_d+e"], [], ["x", "y"], ["--help"], ["-h"], ["--", "x"], ["-"], ["-x"], ["", ]],
    kill_cmd: [["x"], ["x", "KILL"], ["x", "9"], ["--all", "x"], ["x", "-a", "TERM"], ["-a", "x", "--all"],
               ["x", "-9"], ["--all=true", "x"], ["x", "1", "2"], [], ["-ax"], ["--al", "x"]],
    delete_cmd: [["x"], ["--force", "x"], ["x", "-f"], ["-f"], ["--force=1", "x"], ["-fx"], ["x", "y"]],
    list_cmd: [[], ["-q"], ["--quiet"], ["--format", "json"], ["--format=table"], ["-f", "json"], ["-f=json"],
               ["-fjson"], ["--format", "xml"], ["--format"], ["-q", "--format", "json", "-q"], ["x"],
               ["--format", "json", "--format", "table"], ["--format", "-q"], ["--fo", "json"]],
}




@pytest.mark.parametrize(("module", "argv"), [(m, a) for m, lines in LINES.items() for a in lines],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v.__name__.rsplit(".", 1)[-1])
def test_parse_plain_agrees_with_argparse(module: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    check_plain_agrees(module, argv)
    capsys.readouterr()  # argparse's --help output


# What `create` could declare (pyrunc/cli/commands/create.py is not on the floor-relative targets yet, but the
# parse_plain features it needs, value options and int conversion, are checked here against its real parser).
CREATE_PLAIN = {
    "positionals": (("container_id", None),),
    "required": 1,
    "flags": {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"},
    "options": {o: (d, None) for o, d in (("--bundle", "bundle"), ("-b", "bundle"), ("--console-socket",
                "console_socket"), ("--pidfd-socket", "pidfd_socket"), ("--pid-file", "pid_file"),
                ("--preserve-fds", "preserve_fds"))},
    "defaults": {"bundle": ".", "console_socket": None, "pidfd_socket": None, "pid_file": None, "preserve_fds": 0},
    "types": {"preserve_fds": int},
}
CREATE_LINES = [["x"], ["-b", "/b", "x"], ["--bundle=/b", "x"], ["x", "--bundle", "/b"], ["--pid-file", "/p", "-b",
                "/b", "--console-socket", "/s", "x"], ["--preserve-fds", "2", "x"], ["--preserve-fds", "two", "x"],
                ["--preserve-fds", "-1", "x"], ["--bundle", "-x", "x"], ["--bundle=-x", "x"], ["--no-pivot", "x"],
                ["--no-pivot=1", "x"], ["-b"], ["x", "y"], ["--bundle", "/b"], ["-bx", "y"], ["--help"]]


@pytest.mark.parametrize("argv", CREATE_LINES, ids=" ".join)
def test_parse_plain_value_options_agree_with_argparse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from pyrunc.cli.commands import create as create_cmd

    plain = cli_main.parse_plain(argv, **CREATE_PLAIN)  # type: ignore[arg-type]
    expected = argparse_result(create_cmd, argv)
    capsys.readouterr()
    if plain is not None:
        assert isinstance(expected, dict), f"plain parsed {argv} that argparse refuses ({expected})"
        assert vars(plain) == expected


def test_parse_plain_takes_the_usual_lines() -> None:
    """The command lines containerd, podman and runtime-tools send never need argparse."""
    assert cli_main.parse_plain(["x"], **state_cmd.PLAIN) is not None
    assert cli_main.parse_plain(["x", "9"], **kill_cmd.PLAIN) is not None
    assert cli_main.parse_plain(["--all", "x", "KILL"], **kill_cmd.PLAIN) is not None
    assert cli_main.parse_plain(["--force", "x"], **delete_cmd.PLAIN) is not None
    assert cli_main.parse_plain(["--format", "json"], **list_cmd.PLAIN) is not None


# ----------------------------------------------------------------------------------------------- launcher


@pytest.fixture
def launcher(tmp_path: Path) -> str:
    path = tmp_path / "pyrunc"
    from pyrunc import launcher as launcher_mod

    launcher_mod.write(str(path))
    text = path.read_text()
    assert text.startswith(f"#!{sys.executable} -ISOO\n")
    assert os.access(path, os.X_OK)
    return str(path)


def test_launcher_runs_pyrunc(launcher: str, live_root: tuple[str, int]) -> None:
    root, pid = live_root
    env = dict(os.environ, PYTHONPATH="/nonexistent")  # -I: the environment cannot change what runs
    p = subprocess.run([launcher, "--root", root, "state", "c1"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["pid"] == pid and doc["annotations"] == {"a": "b"} and doc["status"] == "running"
    p = subprocess.run([launcher, "--root", root, "list", "--format", "json"], capture_output=True, text=True,
                       timeout=60)
    assert [c["id"] for c in json.loads(p.stdout)] == ["c0", "c1", "c2"]
    p = subprocess.run([launcher, "--root", root, "state", "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "container does not exist" in p.stderr
    p = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("pyrunc version ")
    p = subprocess.run([launcher, "state", "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "container-id" in p.stdout


def test_launcher_quick_exit_flushes_big_output(launcher: str, tmp_path: Path) -> None:
    """`list` of many containers into a pipe: every line arrives although the process ends with _exit."""
    root = str(tmp_path / "many")
    for i in range(300):
        state.reserve(root, f"c{i:03d}")
        state.save(root, state.State(id=f"c{i:03d}", bundle="/b" * 40, pid=0, status_hint="stopped"))
    p = subprocess.run([launcher, "--root", root, "list"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    assert len(p.stdout.splitlines()) == 301


def test_launcher_broken_pipe(launcher: str, live_root: tuple[str, int]) -> None:
    root, _ = live_root
    p = subprocess.Popen([launcher, "--root", root, "state", "c0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.close()
    p.wait(timeout=60)
    assert p.returncode in (0, 1, 120)  # like runc: no traceback
    assert p.stderr is not None and "Traceback" not in p.stderr.read().decode()


_LOGGING_HANDLER = """
import logging
class H(logging.Handler):
    def emit(self, record): pass
    def close(self):
        sys.stdout.write("+closed")
        super().close()
logging.getLogger().addHandler(H())
"""


@pytest.mark.parametrize(("setup", "quick", "out"), [
    ("", True, "out"),
    (_LOGGING_HANDLER, True, "out+closed"),  # logging's own exit hook alone: run (handlers closed), then _exit
    ("import atexit; atexit.register(lambda: sys.stdout.write('+hook'))", False, "out+finalized+hook"),
    (_LOGGING_HANDLER + "import atexit; atexit.register(lambda: sys.stdout.write('+hook'))", False,
     "out+finalized+hook+closed"),
    ("import threading, time; threading.Thread(target=time.sleep, args=(0.3,)).start()", False, "out+finalized"),
])
def test_quick_exit_only_without_exit_work(setup: str, quick: bool, out: str) -> None:
    """cli.main._exit_now: _exit with the code and flushed output, unless exit work is registered (then the
    interpreter ends as usual and runs it); logging's shutdown hook, when it is the only one, is run first."""
    script = f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{setup}\nfrom pyrunc.cli import main as m\n" \
             "sys.stdout.write('out')\nm._exit_now(7)\nsys.stdout.write('+finalized')\n"
    p = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.stderr == ""
    assert (p.returncode, p.stdout) == ((7, out) if quick else (0, out))
@pytest.mark.parametrize("register", [False, True])
def test_quick_exit_leaves_exit_work_to_the_interpreter(tmp_path: Path, register: bool) -> None:
    """A quick-exit command ends with `_exit` (nothing after main() runs, stdout still flushed), unless exit work
    was registered through `atexit`: then main() returns and the interpreter runs it."""
    code = (
        "import sys; sys.path.append(sys.argv[1])\n"
        + ("import atexit; atexit.register(lambda: print('exit work ran'))\n" if register else "")
        + "from pyrunc.cli.main import main\n"
        "code = main(['--root', sys.argv[2], 'list', '-q'], quick_exit=True)\n"
        "print('main returned')\n"
        "sys.exit(code)\n"
    )
    (tmp_path / "root").mkdir()
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO), str(tmp_path / "root")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("main returned\nexit work ran\n" if register else "")


# Malformed JSON of every kind the C scanner reports (a missing value, a truncated object, an unterminated string,
# a missing ':' or ',', a bad escape, a control character, extra data).
MALFORMED = ['', '{', '{"a": 1, ', '{"a" 1}', '{"a": 1 "b": 2}', '["x', '"\\q"', '"a\x01"', '[1,]', '{"a": 1}}',
             '{"a": tru}', '[1 2]', '{"a": [1, {"b": ']


def test_malformed_json_raises_value_error_without_json_imported() -> None:
    """Without `json` imported (the hot paths), the `_json` scanner cannot raise json.JSONDecodeError and used to
    leave a SystemError ("internal error" from state, list, delete and create): quickjson.loads and the config
    loader must turn every malformed document into their own errors, in a `python -I -S` that never imported json."""
    code = (
        "import sys\nsys.path.insert(0, sys.argv[1])\n"
        "from pyrunc import quickjson\nfrom pyrunc.spec.load import parse_json\nfrom pyrunc.errors import SpecError\n"
        "docs = eval(sys.argv[2])\nout = []\n"
        "for d in docs:\n"
        "    assert 'json' not in sys.modules and 'json.decoder' not in sys.modules\n"
        "    try:\n        quickjson.loads(d)\n        out.append('parsed')\n"
        "    except ValueError:\n        out.append('ValueError')\n"
        "for d in docs:\n"
        "    try:\n        parse_json(d.encode(), 'config.json')\n        out.append('parsed')\n"
        "    except SpecError as e:\n"
        "        out.append('SpecError' if str(e).startswith('config.json: ') else str(e))\n"
        "print(' '.join(out))\n"
    )
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO), repr(MALFORMED)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["ValueError"] * len(MALFORMED) + ["SpecError"] * len(MALFORMED)
