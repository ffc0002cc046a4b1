"""config.md#posix-platform-hooks and runtime.md#lifecycle: hook order, state on stdin, failures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from conformance import hostinfo
from conformance.harness import LEAK_MARKER, MUST, Bundle, Ctx, case

RECORD = """#!/bin/sh
# $1: hook name, $2: output dir. Keeps the state JSON from stdin and appends to the order log.
cat > "$2/$1.json"
echo "$1" >> "$2/order"
"""

# Runs inside the container (startContainer): only exists in the rootfs, so it proves where the path resolves.
IN_CONTAINER = """#!/bin/sh
cat > /conf-hooks/startContainer.json
echo startContainer >> /conf-hooks/order
"""

CREATE_HOOKS = ("prestart", "createRuntime", "createContainer")


def _recording_bundle(t: Ctx, script: str) -> tuple[Bundle, Path]:
    out = t.host_dir("hooks-out")
    recorder = t.workdir / "record-hook.sh"
    recorder.write_text(RECORD)
    b = t.bundle(script)
    b.add_mount("/conf-hooks", "bind", str(out), ["rbind", "rw"])
    inner = b.rootfs / "conf/start-hook"
    inner.parent.mkdir(parents=True)
    inner.write_text(IN_CONTAINER)
    inner.chmod(0o755)

    def host_hook(name: str) -> dict[str, Any]:
        return {"path": "/bin/sh", "args": ["sh", str(recorder), name, str(out)]}

    b.config["hooks"] = {
        "prestart": [host_hook("prestart")],
        "createRuntime": [host_hook("createRuntime")],
        "createContainer": [host_hook("createContainer")],
        "startContainer": [{"path": "/conf/start-hook", "args": ["start-hook"]}],
        "poststart": [host_hook("poststart")],
        "poststop": [host_hook("poststop")],
    }
    return b, out


def _order(out: Path) -> list[str]:
    try:
        return (out / "order").read_text().split()
    except FileNotFoundError:
        return []


def _hook_state(t: Ctx, out: Path, name: str) -> dict[str, Any]:
    path = out / f"{name}.json"
    t.expect(path.exists(), f"{name} hook did not run (no state captured)")
    text = path.read_text()
    try:
        st = json.loads(text)
    except json.JSONDecodeError:
        t.fail(f"{name} hook got no valid state JSON on stdin", detail=text[:500])
    t.expect(isinstance(st, dict), f"{name} hook state is not an object")
    return st


def _full_lifecycle(t: Ctx) -> tuple[Bundle, Path, int, dict[str, list[str]]]:
    """create, start, kill, delete with every hook recording; returns the order log seen after each step."""
    b, out = _recording_bundle(t, "echo process >> /conf-hooks/order; echo user-process-ran; sleep 1000")
    seen: dict[str, list[str]] = {}
    t.create(b)
    pid = t.pid_from_file(b.cid)
    seen["create"] = _order(out)
    t.start(b.cid)
    seen["start"] = _order(out)
    t.wait_output(b.cid, "user-process-ran")
    t.kill(b.cid, "KILL")
    t.wait_status(b.cid, "stopped")
    seen["stopped"] = _order(out)
    t.delete(b.cid)
    seen["delete"] = _order(out)
    return b, out, pid, seen


@case("hooks.create_order", MUST, "runtime.md#lifecycle (steps 2-5); config.md#prestart")
def create_order(t: Ctx) -> None:
    """create runs exactly prestart, createRuntime, createContainer (in that order) and not the process."""
    *_, seen = _full_lifecycle(t)
    t.expect_eq(seen["create"], list(CREATE_HOOKS), "hooks run by create")


@case("hooks.start_order", MUST, "runtime.md#lifecycle (steps 7-9)")
def start_order(t: Ctx) -> None:
    """startContainer runs before the process; poststart after it, and before start returns."""
    *_, seen = _full_lifecycle(t)
    after = seen["start"]
    t.expect("startContainer" in after and "poststart" in after, f"hooks run by the time start returned: {after}")
    final = seen["delete"]
    t.expect(final.index("startContainer") < final.index("process"), f"startContainer ran after the process: {final}")
    t.expect(
        final.index("startContainer") < final.index("poststart"),
        f"poststart ran before startContainer (so before the process was executed): {final}",
    )


@case("hooks.poststop_on_delete", MUST, "runtime.md#lifecycle (step 13)")
def poststop_on_delete(t: Ctx) -> None:
    """poststop runs once, during delete (not when the process exits), as the last hook."""
    *_, seen = _full_lifecycle(t)
    t.expect("poststop" not in seen["stopped"], f"poststop ran before delete: {seen['stopped']}")
    final = seen["delete"]
    t.expect(final[-1:] == ["poststop"] and final.count("poststop") == 1, f"poststop not last/once: {final}")


@case("hooks.state_stdin", MUST, "config.md#posix-platform-hooks (state on stdin); runtime.md#state")
def state_stdin(t: Ctx) -> None:
    """Every hook gets the state JSON on stdin: id, ociVersion, bundle; host pid for runtime-namespace hooks."""
    b, out, pid, _ = _full_lifecycle(t)
    statuses = {}
    for name in (*CREATE_HOOKS, "startContainer", "poststart", "poststop"):
        st = _hook_state(t, out, name)
        t.expect_eq(st.get("id"), b.cid, f"id in the {name} state")
        t.expect(st.get("ociVersion"), f"no ociVersion in the {name} state")
        t.expect(
            isinstance(st.get("bundle"), str) and os.path.samefile(st["bundle"], b.path),
            f"bundle in the {name} state: {st.get('bundle')!r}",
        )
        statuses[name] = st.get("status")
    for name in ("prestart", "createRuntime", "poststart"):
        t.expect_eq(_hook_state(t, out, name).get("pid"), pid, f"pid (runtime namespace) in the {name} state")
    t.expect_eq(statuses["poststop"], "stopped", "status in the poststop state")
    t.note("statuses seen: " + ", ".join(f"{k}={v}" for k, v in statuses.items()))


@case("hooks.pid_in_container_namespace", MUST, "runtime.md#state (pid for hooks in the container namespace)")
def pid_in_container_namespace(t: Ctx) -> None:
    """Hooks executed in the container namespace (startContainer) get the pid as seen by the container (1)."""
    b, out = _recording_bundle(t, "sleep 1000")
    t.create(b)
    t.start(b.cid)
    t.expect_eq(_hook_state(t, out, "startContainer").get("pid"), 1, "pid in the startContainer state")


@case("hooks.args_env", MUST, "config.md#posix-platform-hooks (path, args, env)")
def args_env(t: Ctx) -> None:
    """A hook gets args (args[0] included) and exactly its env, not the runtime's environment."""
    out = t.host_dir("hooks-out")
    b = t.bundle("true")
    script = f'echo "$0|$HOOKVAR|$PATH" > {out}/args; /usr/bin/env > {out}/env; /bin/cat > /dev/null'
    b.config["hooks"] = {
        "createRuntime": [
            {"path": "/bin/sh", "args": ["conf-argv0", "-c", script], "env": ["HOOKVAR=hook-value", "PATH=/conf/hp"]},
        ]
    }
    t.create(b)
    t.expect((out / "args").exists(), "createRuntime hook did not run")
    t.expect_eq((out / "args").read_text().strip(), "conf-argv0|hook-value|/conf/hp", "argv[0]|$HOOKVAR|$PATH")
    env = (out / "env").read_text()
    t.expect(LEAK_MARKER not in env, "the runtime's environment leaked into the hook", env)


def _failing_create_hook_case(kind: str) -> None:
    def check(t: Ctx) -> None:
        out = t.host_dir("hooks-out")
        b = t.bundle(f"echo process-ran > {out}/process")
        b.add_mount(str(out), "bind", str(out), ["rbind"])
        b.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 3"]}]}
        t.create(b, ok=False)
        t.expect_gone(b.cid, b.cgroups_path)
        t.expect(not (out / "process").exists(), "the process ran although a hook failed")

    check.__doc__ = f"A failing {kind} hook makes create fail and leaves no container behind."
    case(f"hooks.{kind}_fails", MUST, "runtime.md#lifecycle (steps 3-5)")(check)


for _kind in CREATE_HOOKS:
    _failing_create_hook_case(_kind)


@case("hooks.startContainer_fails", MUST, "runtime.md#lifecycle (step 7)")
def start_container_fails(t: Ctx) -> None:
    """A failing startContainer hook makes start fail and the process never runs."""
    b = t.bundle("echo process-ran")
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    t.create(b)
    proc = t.start(b.cid, ok=None)
    time.sleep(0.3)
    t.expect("process-ran" not in t.output(b.cid), "the process ran although startContainer failed")
    t.expect(proc.rc != 0, "start exited 0 although a startContainer hook failed")


@case("hooks.poststart_fails", MUST, "runtime.md#lifecycle (step 9)")
def poststart_fails(t: Ctx) -> None:
    """A failing poststart hook makes start report an error and the container is stopped."""
    b = t.bundle("sleep 1000")
    b.config["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 3"]}]}
    proc = t.create(b, ok=None)
    if proc.rc != 0:
        t.fail("create failed: the poststart hook must only run once start has executed the process")
    pid = t.pid_from_file(b.cid)
    t.start(b.cid, ok=False)
    t.wait_for(lambda: not hostinfo.alive(pid), "the container process to be stopped")


@case("hooks.poststop_fails", MUST, "runtime.md#lifecycle (step 13)")
def poststop_fails(t: Ctx) -> None:
    """A failing poststop hook is only a warning: delete succeeds, later poststop hooks still run."""
    out = t.host_dir("hooks-out")
    b = t.bundle("true")
    b.config["hooks"] = {
        "poststop": [
            {"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 3"]},
            {"path": "/bin/sh", "args": ["sh", "-c", f"cat >/dev/null; echo ran > {out}/second"]},
        ]
    }
    t.create(b)
    t.start(b.cid)
    t.wait_status(b.cid, "stopped")
    t.delete(b.cid)
    t.expect((out / "second").exists(), "the poststop hook after the failing one did not run")
    t.expect_gone(b.cid, b.cgroups_path)


@case("hooks.timeout", MUST, "config.md#posix-platform-hooks (timeout)")
def timeout(t: Ctx) -> None:
    """A hook exceeding its timeout is aborted and create fails well before the hook would end."""
    b = t.bundle("true")
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 20"], "timeout": 1}]}
    t0 = time.monotonic()
    t.create(b, ok=False)
    t.expect(time.monotonic() - t0 < 10, f"create took {time.monotonic() - t0:.1f}s with a 1s hook timeout")
    t.expect_gone(b.cid, b.cgroups_path)
