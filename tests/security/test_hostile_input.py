"""Hostile input: generated configs and command lines (hypothesis), and a table of known-nasty cases.

Whatever the input, pyrunc must (GUIDE "Clear on bad input"):
- never crash: no Python traceback, no "internal error" (exit 2 is the CLI's bug path);
- fail with exit 1 and exactly one line on stderr that says where the problem is (config.json + pointer, the flag,
  the id, the bundle);
- leave nothing behind: no <root>/<id>, no cgroup, no process, no mount.
A generated config that happens to be valid creates a real container: it is then deleted and the same "nothing
left" check applies.

pyrunc only: the point is pyrunc's own input handling (runc's messages differ).
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import base_config
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from .hostprobe import cgroup_dirs, mounts_mentioning, processes
from .runtimes import SESSION, Runtime, copy_rootfs, uniq

pytestmark = pytest.mark.root

# CI: a few dozen examples per property, the same ones every run (derandomized); elsewhere new ones each run.
# PYRUNC_FUZZ_EXAMPLES=500 for a long run.
EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("CI") == "true",
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], database=None)

# What a good error names: the config file and pointer, the bundle, a flag, the id, the offending token quoted.
WHERE = re.compile(r"config\.json|\(config: /|bundle|-\w|container|argument|state root|/|'[^']*'")


@pytest.fixture(scope="module")
def fuzz_world(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One rootfs and state root for a whole module of generated cases (they are many and each must be cheap)."""
    top = tmp_path_factory.mktemp("hostile")
    rt = Runtime("pyrunc", [sys.executable, "-m", "pyrunc"], top / "state")
    world = {"top": top, "rootfs": copy_rootfs(busybox_rootfs, top / "rootfs"), "rt": rt, "n": 0,
             "mounts": mounts_mentioning(str(top))}
    yield world
    rt.cleanup()


def new_bundle(world: dict[str, Any], data: bytes) -> Path:
    world["n"] += 1
    b = world["top"] / f"b{world['n']}"
    b.mkdir()
    (b / "config.json").write_bytes(data)
    return b


def check_outcome(world: dict[str, Any], p: subprocess.CompletedProcess, cid: str | None, what: str,
                  codes: tuple[int, ...] = (1,)) -> None:
    """The rules of the module docstring, for one invocation. `codes`: the failure exit statuses allowed."""
    rt: Runtime = world["rt"]
    out = p.stdout + p.stderr
    assert "Traceback" not in out, f"{what}: traceback:\n{out}"
    assert "internal error" not in p.stderr, f"{what}: {p.stderr}"
    if p.returncode != 0:
        assert p.returncode in codes, f"{what}: exit {p.returncode}: {p.stderr}"
        # One error line; warnings (`--criu is ignored`, ...) may come before it.
        lines = [line for line in p.stderr.splitlines() if line.strip() and "level=warning" not in line]
        assert len(lines) == 1, f"{what}: expected one error line, got {lines}"
        assert WHERE.search(lines[0]), f"{what}: the error does not say where: {lines[0]}"
    if cid is not None:
        if p.returncode == 0:  # a valid config: a real container, which must delete cleanly
            d = rt.delete(cid)
            assert d.returncode == 0, f"{what}: delete --force: {d.stderr}"
        assert not (rt.root / cid).exists(), f"{what}: state dir {rt.root / cid} left behind"
        assert not cgroup_dirs(cid), f"{what}: cgroups left: {cgroup_dirs(cid)}"
        assert not processes(cid), f"{what}: processes left: {processes(cid)}"
    assert mounts_mentioning(str(world["top"])) == world["mounts"], f"{what}: host mounts changed"


# --------------------------------------------------------------------------------------------- generated configs
PATHY = ["", "/", ".", "..", "../../../../../etc", "/proc/self/fd/3", "/proc", "/sys", "/dev/null", "rootfs",
         "a\x00b", "\udcff", "x" * 5000, "/" * 300, "tmpfs", "bind", "rbind", "ro", "CAP_SYS_ADMIN", "cap_kill",
         "RLIMIT_NOFILE", "user", "pid", "mount", "SCMP_ACT_ALLOW", "\u202e", "🙂", "-1", "0x10", "1e400"]

json_leaf = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(PATHY),
    st.text(max_size=20),
)
json_value = st.recursive(json_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)), max_leaves=10)


def pointers(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from pointers(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from pointers(v, (*prefix, i))


@st.composite
def mutated_config(draw: st.DrawFn, rootfs: str) -> tuple[dict[str, Any], str]:
    cfg = base_config(rootfs, ["/bin/true"])
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in pointers(cfg) if p]))
        parent = cfg
        try:
            for k in path[:-1]:
                parent = parent[k]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
            if action == "delete":
                if isinstance(parent, dict):
                    del parent[key]
                else:
                    parent.pop(key)
            elif action == "add" and isinstance(parent[key], dict):
                parent[key][draw(st.text(min_size=1, max_size=10))] = draw(json_value)
            else:
                parent[key] = draw(json_value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
        edits.append(f"{action} /{'/'.join(map(str, path))}")
    return cfg, "; ".join(edits)


@FUZZ
@given(data=st.data())
def test_generated_configs_fail_cleanly_or_run(fuzz_world: dict[str, Any], data: st.DataObject) -> None:
    cfg, edits = data.draw(mutated_config(str(fuzz_world["rootfs"])))
    # A root.path of "/" would make the host's root the container's: harmless in its own mount namespace, but
    # not what this test is about (and slow).
    root = cfg.get("root")
    assume(not (isinstance(root, dict) and root.get("path") in ("/", "//", "/" * 300)))
    cid = uniq("fz")
    b = new_bundle(fuzz_world, json.dumps(cfg).encode())
    p = fuzz_world["rt"].create(b, cid, timeout=60)
    check_outcome(fuzz_world, p, cid, f"config [{edits}]")


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(raw=st.one_of(st.binary(max_size=300),
                     st.builds(lambda a, b, c: a + b + c, st.just(b'{"ociVersion": "1.3.0", "process": '),
                               st.binary(max_size=50), st.just(b"}"))))
def test_generated_bytes_fail_cleanly(fuzz_world: dict[str, Any], raw: bytes) -> None:
    cid = uniq("fb")
    p = fuzz_world["rt"].create(new_bundle(fuzz_world, raw), cid, timeout=60)
    assert p.returncode != 0
    check_outcome(fuzz_world, p, cid, f"config bytes {raw[:80]!r}")


# --------------------------------------------------------------------------------------------- generated CLIs
VERBS = ["create", "start", "run", "state", "kill", "delete", "list", "ls", "ps", "pause", "resume", "update",
         "events", "exec", "features", "spec", "validate", "help", "bogus", ""]
FLAGS = ["-b", "--bundle", "--force", "-f", "--all", "-a", "--format", "json", "table", "--pid-file",
         "--console-socket", "--preserve-fds", "--no-pivot", "--no-new-keyring", "-d", "--detach", "--keep",
         "--stats", "--interval", "--memory", "--cpu-shares", "-r", "-", "--signal", "KILL", "TERM", "9", "0",
         "-1", "SIGRTMAX+1", "--tty", "-t", "--cwd", "--env", "-e", "--user", "-u", "--cap", "CAP_SYS_ADMIN",
         "--process", "-p", "--", "--systemd-cgroup", "--rootless", "true", "--help", "-h", "--version",
         "-v", "--log-format", "xml", "--criu", "--bogus", "-x", "=", "--format=json", "--debug=maybe",
         "--preserve-fds=99999999999999999999"]
IDS = ["c1", "../escape", "a/b", ".", "..", "/etc", "x" * 300, "-rf", "id with space", "ü", "a\nb", "$(id)",
       "*", "", "c:1", "...", "a..b"]
SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_=.:", max_size=12).filter(
    lambda s: ".." not in s)


@FUZZ
@given(argv=st.lists(st.one_of(st.sampled_from(VERBS), st.sampled_from(FLAGS), st.sampled_from(IDS), SAFE_TEXT),
                     max_size=7))
def test_generated_command_lines_fail_cleanly(fuzz_world: dict[str, Any], argv: list[str]) -> None:
    """Only tokens that cannot name a host path outside the scratch dir (cwd) are generated: no --root, --log or
    absolute paths (a `spec -b /` would write /config.json on the host, correctly). No bare --debug either: it
    adds the traceback of the error on purpose."""
    rt: Runtime = fuzz_world["rt"]
    scratch = fuzz_world["top"] / "cwd"
    scratch.mkdir(exist_ok=True)
    p = rt(*argv, cwd=str(scratch), timeout=30, files=True)
    # runc's `exec` fails with 255 ("exec failed: ..."), which clients expect; everything else with 1.
    check_outcome(fuzz_world, p, None, f"argv {argv}", codes=(1, 255) if "exec" in argv else (1,))
    left = [e for e in os.listdir(rt.root)] if rt.root.exists() else []
    assert not left, f"argv {argv} left {left} in the state root"


# --------------------------------------------------------------------------------------------- the table
@pytest.fixture
def hostile(fuzz_world: dict[str, Any]) -> dict[str, Any]:
    return fuzz_world


def valid_config(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    cfg = base_config(str(world["rootfs"]), ["/bin/true"])
    cfg.update(changes)
    return cfg


BAD_IDS = ["../escape", "..", ".", "a/b", "/abs", "x" * 256, "", "-rf", "a b", "a\nb", "ü", "$(touch x)", "a\\b",
           "con\x01trol"]


@pytest.mark.parametrize("cid", BAD_IDS, ids=lambda s: repr(s)[:20])
def test_container_ids_with_path_tricks(hostile: dict[str, Any], cid: str) -> None:
    rt: Runtime = hostile["rt"]
    b = new_bundle(hostile, json.dumps(valid_config(hostile)).encode())
    outside = set(os.listdir(rt.root.parent))
    p = rt.create(b, cid)
    assert p.returncode == 1 and "container" in p.stderr, p.stderr
    check_outcome(hostile, p, None, f"id {cid!r}")
    assert set(os.listdir(rt.root.parent)) == outside
    assert not rt.root.exists() or not os.listdir(rt.root)


def test_container_id_with_non_utf8_bytes(hostile: dict[str, Any]) -> None:
    rt: Runtime = hostile["rt"]
    b = new_bundle(hostile, json.dumps(valid_config(hostile)).encode())
    argv = [os.fsencode(a) for a in rt.cmd] + [b"--root", os.fsencode(rt.root), b"create", b"-b", os.fsencode(b),
                                               b"bad\xff\xfeid"]
    p = subprocess.run(argv, capture_output=True, timeout=60, env=rt.env, stdin=subprocess.DEVNULL)
    res = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(errors="replace"),
                                      p.stderr.decode(errors="replace"))
    assert res.returncode == 1
    check_outcome(hostile, res, None, "non-UTF-8 id")
    assert not rt.root.exists() or not os.listdir(rt.root)


def test_huge_config_10mb(hostile: dict[str, Any]) -> None:
    """A 10 MB config (a huge environment) is accepted or refused in one line, in bounded time and memory."""
    cfg = valid_config(hostile)
    cfg["process"]["env"] += [f"V{i}={'x' * 1000}" for i in range(10_000)]
    data = json.dumps(cfg).encode()
    assert len(data) > 10_000_000
    cid = uniq("huge")
    p = hostile["rt"].create(new_bundle(hostile, data), cid, timeout=120)
    check_outcome(hostile, p, cid, "10 MB config")


def test_config_over_the_size_limit(hostile: dict[str, Any]) -> None:
    cfg = valid_config(hostile, annotations={"big": "x" * (40 << 20)})
    cid = uniq("toobig")
    p = hostile["rt"].create(new_bundle(hostile, json.dumps(cfg).encode()), cid, timeout=120)
    assert p.returncode == 1
    check_outcome(hostile, p, cid, "40 MB config")


@pytest.mark.parametrize("where", ["top", "annotations", "args"])
def test_deep_nesting(hostile: dict[str, Any], where: str) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    if where == "top":
        text = deep
    else:
        cfg = valid_config(hostile)
        marker = "__DEEP__"
        if where == "annotations":
            cfg["annotations"] = {"a": marker}
        else:
            cfg["process"]["args"] = [marker]
        text = json.dumps(cfg).replace(f'"{marker}"', deep)
    cid = uniq("deep")
    p = hostile["rt"].create(new_bundle(hostile, text.encode()), cid)
    assert p.returncode == 1
    check_outcome(hostile, p, cid, f"deep nesting in {where}")


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"ociVersion": "1.3.0\xc3\x28"}', b"\xef\xbb\xbf{}",
                                 b'{"ociVersion": "\\ud800"}', b"\x00" * 10, b"{" + b'"a":1,' * 100000 + b'"a":1}'],
                         ids=["bom16", "bad-utf8", "bom8", "lone-surrogate", "nuls", "dup-keys"])
def test_non_utf8_and_odd_bytes(hostile: dict[str, Any], raw: bytes) -> None:
    cid = uniq("bytes")
    p = hostile["rt"].create(new_bundle(hostile, raw), cid)
    assert p.returncode == 1
    check_outcome(hostile, p, cid, f"bytes {raw[:20]!r}")


def test_bundle_path_with_non_utf8_bytes(hostile: dict[str, Any]) -> None:
    rt: Runtime = hostile["rt"]
    b = os.fsencode(hostile["top"]) + b"/bundle-\xff\xfe"
    os.mkdir(b)
    with open(b + b"/config.json", "wb") as f:
        f.write(json.dumps(valid_config(hostile)).encode())
    cid = uniq("nonutf8b")
    argv = [os.fsencode(a) for a in rt.cmd] + [b"--root", os.fsencode(rt.root), b"create", b"-b", b, cid.encode()]
    with open(os.fsencode(hostile["top"]) + b"/out", "wb+") as out, open(os.fsencode(hostile["top"]) + b"/err",
                                                                         "wb+") as err:
        p = subprocess.run(argv, stdout=out, stderr=err, timeout=60, env=rt.env, stdin=subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        res = subprocess.CompletedProcess(argv, p.returncode, out.read().decode(errors="replace"),
                                          err.read().decode(errors="replace"))
    rt.ids.add(cid)
    check_outcome(hostile, res, cid, "bundle path with non-UTF-8 bytes")


@pytest.mark.parametrize("kind", ["dir-symlink", "config-to-dev-zero", "config-to-fifo", "config-to-dir",
                                  "config-to-passwd", "config-dangling", "bundle-loop", "rootfs-loop",
                                  "rootfs-to-file"])
def test_symlinked_bundles(hostile: dict[str, Any], kind: str) -> None:
    top: Path = hostile["top"]
    hostile["n"] += 1
    real = top / f"real{hostile['n']}"
    real.mkdir()
    cfg = valid_config(hostile)
    b = top / f"link{hostile['n']}"
    (real / "config.json").write_text(json.dumps(cfg))
    if kind == "dir-symlink":
        b.symlink_to(real)
    elif kind == "bundle-loop":
        b.symlink_to(b)
    else:
        b = real
        cj = real / "config.json"
        cj.unlink()
        if kind == "config-to-dev-zero":
            cj.symlink_to("/dev/zero")
        elif kind == "config-to-fifo":
            os.mkfifo(real / "fifo")
            cj.symlink_to(real / "fifo")
        elif kind == "config-to-dir":
            cj.symlink_to("/etc")
        elif kind == "config-to-passwd":
            cj.symlink_to("/etc/passwd")
        elif kind == "config-dangling":
            cj.symlink_to(real / "nonexistent")
        else:
            loop = real / "rootfs"
            if kind == "rootfs-loop":
                loop.symlink_to(loop)
            else:
                loop.write_text("not a dir")
            cfg["root"]["path"] = "rootfs"
            cj.write_text(json.dumps(cfg))
    cid = uniq(f"sym-{kind}")
    p = hostile["rt"].create(b, cid, timeout=30)
    if kind != "dir-symlink":
        assert p.returncode == 1, p.stderr
    check_outcome(hostile, p, cid, kind)


def test_session_marker_in_ids() -> None:
    """The probes above look for leftovers by id: every id carries the session marker."""
    assert SESSION in uniq("x")
