"""runc exec: a new process inside a running container (namespaces, cgroup, process.json, -d)."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import hostinfo
from conformance.harness import RUNC, Bundle, Ctx, case

NS = ("pid", "net", "ipc", "uts", "mnt")


def _running(t: Ctx) -> tuple[Bundle, int]:
    b = t.bundle()
    t.create(b)
    t.start(b.cid)
    return b, t.pid_from_file(b.cid)


@case("exec.namespaces", RUNC, "runc exec")
def namespaces(t: Ctx) -> None:
    """An exec'd process is in the container's namespaces (inodes match the init's from the host)."""
    b, pid = _running(t)
    proc = t.rt("exec", b.cid, "sh", "-c", " ".join(f"readlink /proc/self/ns/{n};" for n in NS))
    got = proc.out.split()
    want = [f"{n}:[{hostinfo.ns_inode(pid, n)}]" for n in NS]
    t.expect_eq(got, want, "namespaces of the exec'd process")


@case("exec.exit_status", RUNC, "runc exec")
def exit_status(t: Ctx) -> None:
    """exec passes stdout through and exits with the process's status."""
    b, _ = _running(t)
    proc = t.rt("exec", b.cid, "sh", "-c", "echo exec-out; exit 7", ok=None)
    t.expect_eq(proc.rc, 7, "exit status of exec")
    t.expect_in("exec-out", proc.out, "stdout of exec")


@case("exec.process_json", RUNC, "runc exec --process (containerd, conmon)")
def process_json(t: Ctx) -> None:
    """exec --process FILE applies args, env, cwd and user from the process JSON."""
    b, _ = _running(t)
    spec = {
        "terminal": False,
        "user": {"uid": 1000, "gid": 1000},
        "cwd": "/tmp",
        "env": ["PATH=/bin:/usr/bin", "CONF_X=exec-env"],
        "args": ["sh", "-c", "id -u; id -g; pwd; echo $CONF_X"],
    }
    pfile = t.workdir / "process.json"
    pfile.write_text(json.dumps(spec))
    proc = t.rt("exec", "--process", str(pfile), b.cid)
    t.expect_eq(proc.out.split(), ["1000", "1000", "/tmp", "exec-env"], "uid, gid, cwd, env in the exec'd process")


@case("exec.detach_pid_file", RUNC, "runc exec --detach --pid-file (containerd, conmon)")
def detach_pid_file(t: Ctx) -> None:
    """exec -d --pid-file returns at once; the pid file names a live process in the container's cgroup and pidns."""
    b, pid = _running(t)
    pfile = t.workdir / "exec.pid"
    t.rt("exec", "--detach", "--pid-file", str(pfile), b.cid, "sleep", "1000")
    text = pfile.read_text().strip() if pfile.exists() else ""
    t.expect(text.isdigit(), f"exec pid file holds {text!r}")
    epid = int(text)
    t.known_pids[epid] = hostinfo.start_time(epid)
    t.expect(hostinfo.alive(epid), f"exec'd pid {epid} is not running")
    t.expect_eq(hostinfo.ns_inode(epid, "pid"), hostinfo.ns_inode(pid, "pid"), "pid namespace of the exec'd process")
    cg_init = hostinfo.cgroup_dir(pid, "memory") or hostinfo.cgroup_dir(pid, "pids")
    cg_exec = hostinfo.cgroup_dir(epid, "memory") or hostinfo.cgroup_dir(epid, "pids")
    t.expect_eq(cg_exec, cg_init, "cgroup of the exec'd process")

    def cmdline() -> list[bytes]:
        return Path(f"/proc/{epid}/cmdline").read_bytes().split(b"\0")[:2]

    t.wait_for(lambda: cmdline() == [b"sleep", b"1000"], f"pid {epid} to be `sleep 1000` (it is {cmdline()})")


@case("exec.not_running", RUNC, "runc exec on a stopped container")
def not_running(t: Ctx) -> None:
    """exec into a stopped container fails (after a control exec into it while running succeeded)."""
    b, _ = _running(t)
    t.rt("exec", b.cid, "true")
    t.kill(b.cid, "KILL")
    t.wait_status(b.cid, "stopped")
    t.rt("exec", b.cid, "true", ok=False)
