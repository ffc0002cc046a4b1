"""config-linux.md#control-groups: limits land in the container's cgroup files; runc's pause/resume/ps/update."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conformance import hostinfo
from conformance.harness import MUST, RUNC, Bundle, Ctx, case

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio")


def _cg(t: Ctx, pid: int, controller: str) -> tuple[Path, str]:
    found = hostinfo.cgroup_dir(pid, controller)
    if found is None:
        t.skip(f"no {controller} cgroup controller on this host")
    assert found is not None
    path, kind = found
    t.expect(path.is_dir(), f"{controller} cgroup dir {path} of pid {pid} does not exist")
    return path, kind


def _read(path: Path) -> str:
    return path.read_text().strip()


def _created(t: Ctx, edit: dict) -> tuple[Bundle, int]:
    b = t.bundle()
    b.linux["resources"].update(edit)
    t.create(b)
    return b, t.pid_from_file(b.cid)


@case("cgroups.memory", MUST, "config-linux.md#memory")
def memory(t: Ctx) -> None:
    """memory.limit and memory.reservation are written to the container's memory cgroup."""
    limit, reservation = 64 << 20, 32 << 20
    _, pid = _created(t, {"memory": {"limit": limit, "reservation": reservation}})
    d, kind = _cg(t, pid, "memory")
    if kind == "v1":
        t.expect_eq(_read(d / "memory.limit_in_bytes"), str(limit), "memory.limit_in_bytes")
        t.expect_eq(_read(d / "memory.soft_limit_in_bytes"), str(reservation), "memory.soft_limit_in_bytes")
    else:
        t.expect_eq(_read(d / "memory.max"), str(limit), "memory.max")
        t.expect_eq(_read(d / "memory.low"), str(reservation), "memory.low")


@case("cgroups.pids", MUST, "config-linux.md#pids")
def pids(t: Ctx) -> None:
    """pids.limit is written to pids.max and enforced: the container cannot fork past it."""
    b = t.bundle("i=0; while [ $i -lt 30 ]; do sleep 3 & i=$((i+1)); done 2>&1; echo forked-all")
    b.linux["resources"]["pids"] = {"limit": 10}
    t.create(b)
    pid = t.pid_from_file(b.cid)
    d, _ = _cg(t, pid, "pids")
    t.expect_eq(_read(d / "pids.max"), "10", "pids.max")
    t.start(b.cid)
    # busybox sh gives up (exits) at the first failed fork.
    t.wait_status(b.cid, "stopped", timeout=8)
    out = t.output(b.cid) + t.stderr_path(b.cid).read_text()
    t.expect("forked-all" not in out, "forking 30 processes under pids.limit=10 worked", out)
    t.expect("can't fork" in out or "Resource temporarily unavailable" in out, "no fork failure reported", out)


@case("cgroups.cpu", MUST, "config-linux.md#cpu")
def cpu(t: Ctx) -> None:
    """cpu.shares, quota and period are written to the container's cpu cgroup (cpu.weight/cpu.max on v2)."""
    _, pid = _created(t, {"cpu": {"shares": 512, "quota": 50000, "period": 100000}})
    d, kind = _cg(t, pid, "cpu")
    if kind == "v1":
        t.expect_eq(_read(d / "cpu.shares"), "512", "cpu.shares")
        t.expect_eq(_read(d / "cpu.cfs_quota_us"), "50000", "cpu.cfs_quota_us")
        t.expect_eq(_read(d / "cpu.cfs_period_us"), "100000", "cpu.cfs_period_us")
    else:
        t.expect_eq(_read(d / "cpu.max"), "50000 100000", "cpu.max")
        t.expect_eq(_read(d / "cpu.weight"), str(1 + ((512 - 2) * 9999) // 262142), "cpu.weight from shares")


@case("cgroups.cpuset", MUST, "config-linux.md#cpu (cpus, mems)")
def cpuset(t: Ctx) -> None:
    """cpu.cpus and cpu.mems are written to the cpuset cgroup and restrict the process's affinity."""
    b = t.bundle("grep Cpus_allowed_list /proc/self/status")
    b.linux["resources"]["cpu"] = {"cpus": "0", "mems": "0"}
    t.create(b)
    pid = t.pid_from_file(b.cid)
    d, _ = _cg(t, pid, "cpuset")
    t.expect_eq(_read(d / "cpuset.cpus"), "0", "cpuset.cpus")
    t.expect_eq(_read(d / "cpuset.mems"), "0", "cpuset.mems")
    t.start(b.cid)
    out = t.wait_output(b.cid, "Cpus_allowed_list")
    t.expect_eq(out.split()[-1], "0", "Cpus_allowed_list inside")


@case("cgroups.path_and_cleanup", MUST, "config-linux.md#cgroups-path; runtime.md#delete")
def path_and_cleanup(t: Ctx) -> None:
    """An absolute cgroupsPath is used in every hierarchy; delete removes the container's cgroups."""
    b = t.bundle()
    nested = f"/conformance-{b.cid}-parent/{b.cid}"
    b.linux["cgroupsPath"] = nested
    t.cgroup_paths.append(f"/conformance-{b.cid}-parent")
    t.create(b)
    pid = t.pid_from_file(b.cid)
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    checked = 0
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if any(c in V1_CONTROLLERS for c in ctrls.split(",")) or (ctrls == "" and hostinfo.cgroup_mode() == "v2"):
            t.expect_eq(path, nested, f"cgroup path for {ctrls or 'unified'}")
            checked += 1
    t.expect(checked, "no cgroup controller lines checked", "\n".join(lines))
    t.kill(b.cid, "KILL")
    t.wait_status(b.cid, "stopped")
    t.delete(b.cid)
    left = [str(p) for p in hostinfo.cgroup_dirs_for_path(nested) if p.exists()]
    t.expect(not left, f"cgroup dirs left after delete: {left}")


@case("cgroups.pause_resume", RUNC, "runc pause/resume (freezer)")
def pause_resume(t: Ctx) -> None:
    """pause freezes every process (state paused, freezer FROZEN, no progress); resume thaws it."""
    b = t.bundle("i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done")
    t.create(b)
    pid = t.pid_from_file(b.cid)
    t.start(b.cid)
    t.wait_output(b.cid, "3\n")
    t.rt("pause", b.cid)
    t.expect_eq(t.state(b.cid).get("status"), "paused", "status after pause")
    found = hostinfo.cgroup_dir(pid, "freezer")
    if found:
        t.expect_eq(_read(found[0] / "freezer.state"), "FROZEN", "freezer.state")
    else:
        d, _ = _cg(t, pid, "<v2>")
        t.expect_eq(_read(d / "cgroup.freeze"), "1", "cgroup.freeze")
    before = len(t.output(b.cid))
    time.sleep(0.3)
    t.expect_eq(len(t.output(b.cid)), before, "output size while paused")
    t.rt("resume", b.cid)
    t.expect_eq(t.state(b.cid).get("status"), "running", "status after resume")
    t.wait_for(lambda: len(t.output(b.cid)) > before, "output to grow after resume")


@case("cgroups.ps_json", RUNC, "runc ps --format json (containerd task ps)")
def ps_json(t: Ctx) -> None:
    """ps --format json prints a JSON array with the host pids of every container process."""
    b = t.bundle("sleep 1000 & sleep 1000 & echo forked; wait")
    t.create(b)
    pid = t.pid_from_file(b.cid)
    t.start(b.cid)
    t.wait_output(b.cid, "forked")
    t.wait_for(lambda: len(hostinfo.children(pid)) >= 2, "the two sleeps to start")
    proc = t.rt("ps", "--format", "json", b.cid)
    try:
        pids = json.loads(proc.out)
    except json.JSONDecodeError:
        t.fail("ps --format json did not print JSON")
    t.expect(isinstance(pids, list) and all(isinstance(p, int) for p in pids), f"not a list of ints: {proc.out}")
    want = {pid, *hostinfo.children(pid)}
    t.expect_eq(sorted(set(pids)), sorted(want), "pids listed")


@case("cgroups.update", RUNC, "runc update --resources (docker: stdin, podman: file)")
def update(t: Ctx) -> None:
    """update --resources - (stdin) and --resources=FILE rewrite the limits of a running container."""
    b, pid = _created(t, {"memory": {"limit": 64 << 20}, "pids": {"limit": 100}})
    t.start(b.cid)
    mem, kind = _cg(t, pid, "memory")
    pids_dir, _ = _cg(t, pid, "pids")
    mem_file = "memory.limit_in_bytes" if kind == "v1" else "memory.max"
    t.rt("update", "--resources", "-", b.cid, stdin=json.dumps({"memory": {"limit": 128 << 20}, "pids": {"limit": 50}}))
    t.expect_eq(_read(mem / mem_file), str(128 << 20), f"{mem_file} after update from stdin")
    t.expect_eq(_read(pids_dir / "pids.max"), "50", "pids.max after update from stdin")
    res = t.workdir / "resources.json"
    res.write_text(json.dumps({"pids": {"limit": 42}}))
    t.rt("update", f"--resources={res}", b.cid)
    t.expect_eq(_read(pids_dir / "pids.max"), "42", "pids.max after update from a file")
