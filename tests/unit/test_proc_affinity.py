"""pyrunc.linux.proc.reset_cpu_affinity: one ready-made mask gives back every CPU the process may use."""

import os

from pyrunc.linux import proc


def test_reset_cpu_affinity_undoes_a_pinning() -> None:
    allowed = os.sched_getaffinity(0)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child: the test process keeps its own affinity whatever happens
        try:
            os.close(r)
            os.sched_setaffinity(0, {min(allowed)})
            err = proc.reset_cpu_affinity()
            os.write(w, repr((err, sorted(os.sched_getaffinity(0)))).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        got = f.read().decode()
    os.waitpid(pid, 0)
    assert got == repr((None, sorted(allowed)))
