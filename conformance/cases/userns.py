"""config-linux.md#user-namespace-mappings: uid/gid maps seen inside and the host ids behind them."""

from __future__ import annotations

import os

from conformance import hostinfo
from conformance.cases.namespaces import add_userns
from conformance.harness import MUST, Ctx, case


@case("userns.mappings", MUST, "config-linux.md#user-namespace-mappings")
def mappings(t: Ctx) -> None:
    """uid_map/gid_map hold the mappings; root inside is uid 100000 on the host (process and new files)."""
    b = t.bundle("cat /proc/self/uid_map /proc/self/gid_map; id; touch /tmp/made-inside; echo done")
    add_userns(b)
    t.create(b)
    pid = t.pid_from_file(b.cid)
    t.start(b.cid)
    out = t.wait_output(b.cid, "done")
    maps = [line.split() for line in out.splitlines() if len(line.split()) == 3]
    t.expect_eq(maps[:2], [["0", "100000", "65536"], ["0", "100000", "65536"]], "uid_map and gid_map")
    t.expect_in("uid=0(root) gid=0(root)", out, "`id` inside")
    made = b.rootfs / "tmp/made-inside"
    t.expect(made.exists(), "file written inside is missing on the host", out)
    st = os.stat(made)
    t.expect_eq((st.st_uid, st.st_gid), (100000, 100000), "host owner of a file the container created")
    if hostinfo.alive(pid):
        uids = hostinfo.proc_status(pid)["Uid"].split()
        t.expect_eq(uids[0], "100000", "host uid of the container process")
