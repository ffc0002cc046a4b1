"""CVE-2019-5736 and CVE-2016-9962: the container must never reach the runtime's own executable or its init.

The runtime under test runs from a *copy* of its executable (the Python interpreter for pyrunc, the runc binary
for runc), so a successful attack overwrites a scratch file, and the test can see it did.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import userns
from .hostprobe import file_digest, read_text, wait_until
from .runtimes import SRC, Runtime, uniq

pytestmark = pytest.mark.root


def runtime_from_copy(rt: Runtime, world: Path) -> tuple[Runtime, Path]:
    """The same runtime, started from a copy of its executable in `world`."""
    bindir = world / "exe"
    bindir.mkdir()
    if rt.is_pyrunc:
        exe = bindir / "python3"
        shutil.copy2(os.path.realpath(sys.executable), exe)
        path = os.pathsep.join([str(SRC), *site.getsitepackages()])
        return Runtime(rt.name, [str(exe), "-m", "pyrunc"], rt.root, env={"PYTHONPATH": path}), exe
    exe = bindir / "runtime"
    shutil.copy2(shutil.which(rt.cmd[0]) or rt.cmd[0], exe)
    return Runtime(rt.name, [str(exe), *rt.cmd[1:]], rt.root), exe


def install_host_interpreter(rootfs: Path, exe: Path) -> None:
    """What a hostile image ships so that the *host's* interpreter can start inside it: the shared libraries at the
    host's paths (the binary's RUNPATH is absolute) and the `encodings` package. The attacker knows the host's
    distribution; here we simply copy from the host."""
    out = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        parts = line.split()
        lib = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if lib.startswith("/"):
            dest = rootfs / lib.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(lib), dest)
    encodings = Path(os.path.dirname(os.__file__)) / "encodings"
    shutil.copytree(encodings, rootfs / "pyhome" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
                    / "encodings")


# The container's entrypoint. If the runtime executes it, the kernel runs "/proc/self/exe -S /entry": the runtime's
# own executable. For pyrunc that is the host's Python, which then runs the rest of this file as the container's
# pid 1: it keeps an O_PATH fd on /proc/self/exe (the host file), becomes busybox sh so the file is no longer
# executing anywhere, and tries to open that fd for writing again and again (the published exploit's steps).
ENTRY = """#!/proc/self/exe -S
import os
fd = os.open("/proc/self/exe", os.O_PATH)
os.set_inheritable(fd, True)
loop = ("i=0; while [ $i -lt 60 ]; do "
        "if (echo PWNED > /proc/self/fd/%d) 2>/dev/null; then echo OVERWROTE-RUNTIME; exit 0; fi; "
        "i=$((i+1)); sleep 0.1; done; echo GAVE-UP" % fd)
os.execv("/bin/sh", ["sh", "-c", loop])
"""


@pytest.mark.parametrize("how", ["shebang", "symlink"])
def test_cve_2019_5736_entrypoint_cannot_overwrite_runtime_binary(rt: Runtime, world: Path, rootfs: Path,
                                                                  bundle: Any, how: str) -> None:
    """CVE-2019-5736: an entrypoint `#!/proc/self/exe` (or a symlink to /proc/self/exe) makes execve run the
    runtime's own binary as the container process; from there it reopens that host file for writing once the
    runtime has exited. The runtime must refuse, or run something that is not its host file (runc 1.1.5 runs a
    sealed memfd copy of itself)."""
    attack_rt, exe = runtime_from_copy(rt, world)
    before = file_digest(exe)
    install_host_interpreter(rootfs, exe)
    (rootfs / "payload").write_text(ENTRY)
    (rootfs / "payload").chmod(0o755)
    if how == "shebang":
        args = ["/payload"]
    else:
        (rootfs / "entry").symlink_to("/proc/self/exe")
        args = ["/entry", "-S", "/payload"]

    def edit(c: dict[str, Any]) -> None:
        c["process"]["env"].append("PYTHONHOME=/pyhome")

    b = bundle(args, edit)
    cid = uniq("c5736")
    p = attack_rt.run(b, cid, "-d")
    if p.returncode == 0:
        # Let the container try for a while after the runtime has exited (rt, the original, reads the state:
        # the copy may be gone).
        wait_until(lambda: (rt.state(cid) or {}).get("status") in (None, "stopped"), timeout=10)
    rt.ids.add(cid)
    assert file_digest(exe) == before, "the container overwrote the runtime's executable (CVE-2019-5736)"


# ------------------------------------------------------------------------------------------------ the parked init
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
]

# Runs in the attacker container: every process of the pid namespace that is not ours is probed, as a sibling
# container process would probe a runtime init joining its namespaces (runc exec in the original CVEs).
PROBE = r"""
end=$(( $(date +%s) + 15 ))
while [ $(date +%s) -lt $end ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    [ "$p" = $$ ] && continue
    comm=$(cat $d/comm 2>/dev/null) || continue
    case "$comm" in *INIT*|*init*) ;; *) continue ;; esac
    env=DENIED; cat $d/environ >/dev/null 2>&1 && env=READ
    exe=DENIED; cat $d/exe >/dev/null 2>&1 && exe=READ
    fds=DENIED; ls $d/fd >/dev/null 2>&1 && fds=READ
    root=DENIED; ls $d/root/ >/dev/null 2>&1 && root=READ
    echo "PROBED $comm environ=$env exe=$exe fd=$fds root=$root"
    # Stay: this shell is pid 1 of the namespace the victim joined; its exit would SIGKILL the victim's init
    # while `create` may still be setting it up (the test then saw "init process killed by SIGKILL").
    sleep 30
    exit 0
  done
  sleep 0.05
done
echo NOTHING-TO-PROBE
"""


def test_cve_2016_9962_parked_init_is_not_reachable_from_a_sibling(rt: Runtime, world: Path, rootfs: Path,
                                                                  bundle: Any) -> None:
    """CVE-2016-9962 / CVE-2019-5736: while the runtime's init is inside the container's namespaces and not yet
    exec'd, a process sharing its user and pid namespaces (root there, all capabilities) must not read its
    memory-derived /proc files: environ, exe (the host binary), fd (host fds), root (the host's /)."""
    os.chmod(world, 0o755)

    def attacker(c: dict[str, Any]) -> None:
        userns(c)
        c["process"]["capabilities"] = {k: ALL_CAPS for k in ("bounding", "effective", "permitted")}
        c["process"]["noNewPrivileges"] = False

    a = bundle(["sh", "-c", PROBE], attacker)
    a_id = uniq("c9962a")
    out = world / "probe.out"
    with open(out, "w") as f:
        p = rt("run", "-d", "-b", str(a), a_id, stdout=f, stderr=subprocess.STDOUT, timeout=60)
    rt.ids.add(a_id)
    try:
        assert p.returncode == 0, read_text(out)
        a_pid = rt.state(a_id)["pid"]  # type: ignore[index]

        def victim(c: dict[str, Any]) -> None:
            userns(c)  # the mappings of the namespace joined (runc wants them restated)
            c["linux"]["namespaces"] = [
                {"type": "user", "path": f"/proc/{a_pid}/ns/user"},
                {"type": "pid", "path": f"/proc/{a_pid}/ns/pid"},
                {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"},
            ]
            c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys/fs/cgroup", "/sys")]

        b = bundle(["sleep", "30"], victim)
        b_id = uniq("c9962b")
        pc = rt.create(b, b_id)
        assert pc.returncode == 0, pc.stderr
        assert wait_until(lambda: "PROBED" in read_text(out) or "NOTHING" in read_text(out), timeout=20)
        time.sleep(0.2)
    finally:
        rt.cleanup()
    result = read_text(out)
    assert "PROBED" in result, result
    assert "READ" not in result, f"a container process could read the runtime init's /proc files: {result}"
