"""CVE-2024-21626 ("Leaky Vessels"): a host file descriptor reaching the container, used as its working directory.

runc leaked a directory fd of the host's /sys/fs/cgroup into `runc init`; `process.cwd = /proc/self/fd/7` then
started the container with a host cwd, and `..` walked the host. Two sources of such fds are attacked here: the
runtime's own (whatever its init holds while it sets up), and the caller's (fds a careless caller lets the runtime
inherit, as containerd once did). The container checks where its cwd is by climbing `..` and comparing the
result with its own root, and tries to write through every fd it can see.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .hostprobe import tree_digest
from .runtimes import Runtime, uniq

pytestmark = pytest.mark.root

# Prints INSIDE when climbing `..` from the cwd ends at the container's root, ESCAPED otherwise; then tries to
# create a file in the cwd and through every fd the process has.
WHERE_AM_I = r"""
r=$(stat -c %d:%i /)
cwd=$(pwd -P 2>&1)
touch ./pwned-cwd 2>/dev/null && echo WROTE-CWD
i=0; while [ $i -lt 64 ]; do cd .. 2>/dev/null; i=$((i+1)); done
t=$(stat -c %d:%i .)
if [ "$r" = "$t" ]; then echo "INSIDE $cwd"; else echo "ESCAPED $cwd"; fi
for f in /proc/self/fd/*; do
  n=${f##*/}
  [ "$n" -le 2 ] && continue
  touch "$f/pwned-fd" 2>/dev/null && echo "WROTE-FD $n"
done
exit 0
"""


def leaky_preexec(fd: int, numbers: range):  # type: ignore[no-untyped-def]
    """In the runtime's child before exec: the host directory `fd` at each of `numbers`, inheritable."""
    def preexec() -> None:
        for n in numbers:
            if n != fd:
                os.dup2(fd, n, inheritable=True)
        os.set_inheritable(fd, True)

    return preexec


@pytest.mark.parametrize("n", range(3, 13))
def test_cve_2024_21626_cwd_through_a_runtime_fd(rt: Runtime, host_dir: Path, bundle: Any, n: int) -> None:
    """CVE-2024-21626 attack 1: `process.cwd` names one of the runtime init's own fds. The runtime must refuse, or
    the process must start with a cwd inside its root; nothing is written outside."""
    before = tree_digest(host_dir)

    def edit(c: dict[str, Any]) -> None:
        c["process"]["cwd"] = f"/proc/self/fd/{n}"
        c["root"]["readonly"] = False

    p = rt.run(bundle(["sh", "-c", WHERE_AM_I], edit), uniq(f"c21626-{n}"))
    if p.returncode == 0:
        assert "ESCAPED" not in p.stdout and "WROTE-FD" not in p.stdout, p.stdout
    assert tree_digest(host_dir) == before


def test_cve_2024_21626_fds_leaked_by_the_caller(rt: Runtime, host_dir: Path, bundle: Any) -> None:
    """The caller leaks a host directory fd as 3..20 (not --preserve-fds): none reaches the container, neither as
    its cwd nor as an open fd it could write through."""
    before = tree_digest(host_dir)
    fd = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for n in (3, 5, 9, 20):
            def edit(c: dict[str, Any], n: int = n) -> None:
                c["process"]["cwd"] = f"/proc/self/fd/{n}"
                c["root"]["readonly"] = False

            b = bundle(["sh", "-c", WHERE_AM_I], edit)
            p = rt.run(b, uniq(f"c21626c-{n}"), preexec_fn=leaky_preexec(fd, range(3, 21)), close_fds=False)
            if p.returncode == 0:
                assert "ESCAPED" not in p.stdout and "WROTE" not in p.stdout, p.stdout
            # And with an ordinary cwd: the leaked fds must not be open in the container.
            p = rt.run(bundle(["sh", "-c", WHERE_AM_I]), uniq("c21626o"), preexec_fn=leaky_preexec(fd, range(3, 21)),
                       close_fds=False)
            assert p.returncode == 0, p.stderr
            assert "INSIDE" in p.stdout and "WROTE" not in p.stdout, p.stdout
    finally:
        os.close(fd)
    assert tree_digest(host_dir) == before


def test_cve_2024_21626_no_runtime_fd_in_the_container(rt: Runtime, bundle: Any) -> None:
    """SECURITY rule 4: the container's process starts with exactly stdio open (no runtime fd of any kind)."""
    p = rt.run(bundle(["sh", "-c", "ls /proc/self/fd/"]), uniq("c21626f"))
    assert p.returncode == 0, p.stderr
    # `ls` itself holds one fd for the directory it lists (3).
    assert sorted(int(x) for x in p.stdout.split()) in ([0, 1, 2], [0, 1, 2, 3]), p.stdout


def test_cve_2024_21626_exec_cwd_through_a_leaked_fd(rt: Runtime, host_dir: Path, bundle: Any) -> None:
    """CVE-2024-21626 attack 2: `exec --cwd /proc/self/fd/N` into a running container."""
    b = bundle(["sleep", "30"])
    cid = uniq("c21626e")
    p = rt.run(b, cid, "-d")
    assert p.returncode == 0, p.stderr
    probe = rt("exec", cid, "true", timeout=30)
    if probe.returncode != 0 and ("exec" in probe.stderr and ("No module" in probe.stderr or "internal" in
                                                               probe.stderr)):
        pytest.skip(f"{rt.name} has no working exec yet: {probe.stderr.strip()}")
    before = tree_digest(host_dir)
    for n in range(3, 13):
        p = rt("exec", "--cwd", f"/proc/self/fd/{n}", cid, "sh", "-c", WHERE_AM_I, timeout=30)
        if p.returncode == 0:
            assert "ESCAPED" not in p.stdout and "WROTE-FD" not in p.stdout, (n, p.stdout)
    assert tree_digest(host_dir) == before
