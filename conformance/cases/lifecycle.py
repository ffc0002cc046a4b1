"""runtime.md: state, lifecycle and the create/start/kill/delete operations (plus runc's run/list)."""

from __future__ import annotations

import json
import os
import time

from conformance import hostinfo
from conformance.harness import MUST, RUNC, Ctx, case

# A process that reports it started and exits cleanly on SIGTERM (pid 1 only receives signals it handles).
TERM_AWARE = "trap 'echo got-TERM; exit 0' TERM; echo started; while :; do sleep 0.1; done"


@case("lifecycle.create_start_kill_delete", MUST, "runtime.md#lifecycle")
def create_start_kill_delete(t: Ctx) -> None:
    """create -> created (pid, pid-file) -> start -> running -> kill TERM -> stopped -> delete -> gone."""
    b = t.bundle(TERM_AWARE)
    t.create(b)
    pid = t.pid_from_file(b.cid)
    st = t.state(b.cid)
    t.expect_eq(st.get("status"), "created", "status after create")
    t.expect_eq(st.get("pid"), pid, "state pid vs --pid-file")
    t.expect(hostinfo.alive(pid), f"container process {pid} is not alive after create")
    time.sleep(0.2)
    t.expect("started" not in t.output(b.cid), "process.args ran before start")
    t.start(b.cid)
    t.wait_output(b.cid, "started")
    st = t.state(b.cid)
    t.expect_eq(st.get("status"), "running", "status after start")
    t.expect_eq(st.get("pid"), pid, "pid after start")
    t.kill(b.cid, "TERM")
    t.wait_output(b.cid, "got-TERM")
    t.wait_status(b.cid, "stopped")
    t.delete(b.cid)
    t.expect(not hostinfo.alive(pid), "process still alive after delete")
    t.expect_gone(b.cid, b.cgroups_path)


@case("lifecycle.state_fields", MUST, "runtime.md#state")
def state_fields(t: Ctx) -> None:
    """state JSON has ociVersion, id, status, pid, bundle (absolute) and the config's annotations."""
    b = t.bundle()
    b.config["annotations"] = {"org.conformance.key": "value", "org.conformance.other": "2"}
    t.create(b)
    st = t.state(b.cid)
    for key in ("ociVersion", "id", "status", "pid", "bundle"):
        t.expect(key in st, f"state lacks {key!r}", json.dumps(st, indent=1))
    t.expect(isinstance(st["ociVersion"], str) and st["ociVersion"], "ociVersion is not a non-empty string")
    t.expect_eq(st["id"], b.cid, "id")
    t.expect(isinstance(st["pid"], int) and st["pid"] > 0, f"pid {st['pid']!r} is not a positive int")
    t.expect(os.path.isabs(st["bundle"]), f"bundle {st['bundle']!r} is not absolute")
    t.expect(os.path.samefile(st["bundle"], b.path), f"bundle {st['bundle']!r} is not {b.path}")
    t.expect_eq(st.get("annotations"), b.config["annotations"], "annotations")


@case("lifecycle.process_exit_stopped", MUST, "runtime.md#state")
def process_exit_stopped(t: Ctx) -> None:
    """When the container process exits by itself the status becomes stopped; delete then works."""
    b = t.bundle("echo bye")
    t.create(b)
    t.start(b.cid)
    t.wait_output(b.cid, "bye")
    t.wait_status(b.cid, "stopped")
    t.delete(b.cid)
    t.expect_gone(b.cid, b.cgroups_path)


@case("lifecycle.config_frozen_at_create", MUST, "runtime.md#create")
def config_frozen_at_create(t: Ctx) -> None:
    """Changes to config.json after create have no effect on the container."""
    b = t.bundle("echo original-args")
    t.create(b)
    b.process["args"] = ["sh", "-c", "echo modified-args"]
    b.write()
    t.start(b.cid)
    out = t.wait_output(b.cid, "-args")
    t.expect("original-args" in out and "modified-args" not in out, "start used the edited config.json", out)


@case("lifecycle.create_duplicate_id", MUST, "runtime.md#create")
def create_duplicate_id(t: Ctx) -> None:
    """A second create with the same id fails and leaves the first container untouched."""
    b = t.bundle()
    t.create(b)
    pid = t.pid_from_file(b.cid)
    b2 = t.bundle(name="second")
    b2.write()
    t.rt("create", "--bundle", str(b2.path), b.cid, ok=False)
    st = t.state(b.cid)
    t.expect_eq((st.get("status"), st.get("pid")), ("created", pid), "first container after duplicate create")
    t.expect_eq(os.path.realpath(st.get("bundle", "")), os.path.realpath(b.path), "bundle of first container")


@case("lifecycle.start_not_created", MUST, "runtime.md#start")
def start_not_created(t: Ctx) -> None:
    """start on a running container fails and does not run the program again."""
    b = t.bundle("echo run-once; sleep 1000")
    t.create(b)
    t.start(b.cid)
    t.wait_output(b.cid, "run-once")
    pid = t.state(b.cid)["pid"]
    t.start(b.cid, ok=False)
    time.sleep(0.2)
    t.expect_eq(t.output(b.cid).count("run-once"), 1, "times the program ran")
    st = t.state(b.cid)
    t.expect_eq((st.get("status"), st.get("pid")), ("running", pid), "state after the second start")


@case("lifecycle.kill_not_running", MUST, "runtime.md#kill")
def kill_not_running(t: Ctx) -> None:
    """kill on a stopped container generates an error and leaves it stopped."""
    b = t.bundle("true")
    t.create(b)
    t.start(b.cid)
    t.wait_status(b.cid, "stopped")
    t.kill(b.cid, "KILL", ok=False)
    t.expect_eq(t.state(b.cid).get("status"), "stopped", "status after kill of a stopped container")


@case("lifecycle.delete_running", MUST, "runtime.md#delete")
def delete_running(t: Ctx) -> None:
    """delete without --force on a running container fails; --force kills and removes it."""
    b = t.bundle()
    t.create(b)
    t.start(b.cid)
    pid = t.state(b.cid)["pid"]
    t.delete(b.cid, ok=False)
    st = t.state(b.cid)
    t.expect_eq((st.get("status"), st.get("pid")), ("running", pid), "state after refused delete")
    t.expect(hostinfo.alive(pid), "refused delete killed the process")
    t.delete(b.cid, force=True)
    t.wait_for(lambda: not hostinfo.alive(pid), f"pid {pid} to die after delete --force")
    t.expect_gone(b.cid, b.cgroups_path)


@case("lifecycle.delete_created", MUST, "runtime.md#delete")
def delete_created(t: Ctx) -> None:
    """delete without --force on a created (not stopped) container MUST fail and have no effect."""
    b = t.bundle("echo should-not-run")
    t.create(b)
    pid = t.pid_from_file(b.cid)
    t.delete(b.cid, ok=False)
    st = t.state(b.cid)
    t.expect_eq((st.get("status"), st.get("pid")), ("created", pid), "state after refused delete")


@case("lifecycle.delete_force_unknown", RUNC, "CLIENTS.md 4.3 (containerd/podman teardown)")
def delete_force_unknown(t: Ctx) -> None:
    """delete --force of an id that never existed exits 0."""
    cid = t.new_cid("ghost")
    t.root.mkdir(exist_ok=True)
    t.delete(cid, force=True)


@case("lifecycle.state_unknown", RUNC, "runtime.md#query-state; runc wording")
def state_unknown(t: Ctx) -> None:
    """state of an unknown id fails, saying the container "does not exist" (clients match that text)."""
    cid = t.new_cid("ghost")
    t.root.mkdir(exist_ok=True)
    proc = t.rt("state", cid, ok=False)
    t.expect_in("does not exist", proc.err, "stderr of state on an unknown id")


@case("lifecycle.kill_signal_names", RUNC, "runtime.md#kill; runc kill signal parsing")
def kill_signal_names(t: Ctx) -> None:
    """kill delivers the named signal; USR1, SIGUSR2 and 1 (HUP) forms are all accepted."""
    b = t.bundle('for s in USR1 USR2 HUP; do trap "echo got-$s" $s; done; echo ready; while :; do sleep 0.1; done')
    t.create(b)
    t.start(b.cid)
    t.wait_output(b.cid, "ready")
    for sig, name in (("USR1", "USR1"), ("SIGUSR2", "USR2"), ("1", "HUP")):
        t.kill(b.cid, sig)
        t.wait_output(b.cid, f"got-{name}")


@case("lifecycle.kill_sigkill_forms", RUNC, "runtime-tools kill; containerd sends numbers")
def kill_sigkill_forms(t: Ctx) -> None:
    """kill with KILL, SIGKILL and 9 each stops a running container."""
    for i, sig in enumerate(("KILL", "SIGKILL", "9")):
        b = t.bundle(name=f"k{i}")
        t.create(b)
        t.start(b.cid)
        pid = t.state(b.cid)["pid"]
        t.kill(b.cid, sig)
        t.wait_status(b.cid, "stopped")
        t.expect(not hostinfo.alive(pid), f"pid {pid} alive after kill {sig}")


@case("lifecycle.run_exit_status", RUNC, "runc run (foreground)")
def run_exit_status(t: Ctx) -> None:
    """run in the foreground passes stdout through and exits with the container's status."""
    b = t.bundle("echo from-container; exit 42")
    proc = t.run(b, ok=None)
    t.expect_eq(proc.rc, 42, "exit status of run")
    t.expect_in("from-container", proc.out, "stdout of run")


@case("lifecycle.run_detach", RUNC, "runc run --detach")
def run_detach(t: Ctx) -> None:
    """run -d returns while the container keeps running; pid-file and state agree."""
    b = t.bundle("echo detached-ok; sleep 1000")
    t0 = time.monotonic()
    t.run(b, detach=True)
    t.expect(time.monotonic() - t0 < 10, "run -d did not return promptly")
    pid = t.pid_from_file(b.cid)
    st = t.state(b.cid)
    t.expect_eq((st.get("status"), st.get("pid")), ("running", pid), "state after run -d")
    t.wait_output(b.cid, "detached-ok")


@case("lifecycle.id_reuse", RUNC, "runtime.md#delete (ID MAY be reused); podman/docker restart")
def id_reuse(t: Ctx) -> None:
    """After delete, the same id can be created and run again."""
    b = t.bundle("echo round-$ROUND")
    for n in ("1", "2"):
        b.process["env"] = [*b.process["env"][:2], f"ROUND={n}"]
        proc = t.run(b)
        t.expect_in(f"round-{n}", proc.out, f"output of run #{n}")
        t.wait_for(lambda: t.rt("state", b.cid, ok=None).rc != 0, "container to be removed after run")


@case("lifecycle.list", RUNC, "runc list")
def list_containers(t: Ctx) -> None:
    """list --format json shows the container with its status; list -q prints its id."""
    b = t.bundle()
    t.create(b)
    proc = t.rt("list", "--format", "json")
    try:
        items = json.loads(proc.out)
    except json.JSONDecodeError:
        t.fail("list --format json did not print JSON")
    mine = [i for i in items or [] if i.get("id") == b.cid]
    t.expect(len(mine) == 1, f"{b.cid} not listed once", proc.out)
    t.expect_eq(mine[0].get("status"), "created", "listed status")
    t.expect_eq(mine[0].get("pid"), t.pid_from_file(b.cid), "listed pid")
    quiet = t.rt("list", "-q")
    t.expect_eq(quiet.out.split(), [b.cid], "list -q output")
