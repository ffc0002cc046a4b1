"""config-linux.md#sysctl: namespaced kernel parameters set for the container only."""

from __future__ import annotations

from pathlib import Path

from conformance.harness import MUST, Bundle, Ctx, case

VALUES = {"kernel.shmmax": "68719476736", "kernel.msgmax": "16384", "net.ipv4.ip_forward": "1"}


def _host(key: str) -> str:
    return Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()


@case("sysctl.namespaced", MUST, "config-linux.md#sysctl")
def namespaced(t: Ctx) -> None:
    """IPC and network sysctls take the configured values inside; the host values stay as they were."""
    before = {k: _host(k) for k in VALUES}

    def edit(b: Bundle) -> None:
        b.linux["sysctl"] = dict(VALUES)

    script = "; ".join(f"echo {k}=$(cat /proc/sys/{k.replace('.', '/')})" for k in VALUES)
    out = t.sh(script, edit)
    for k, v in VALUES.items():
        t.expect_in(f"{k}={v}\n", out, f"{k} inside")
    t.expect_eq({k: _host(k) for k in VALUES}, before, "host sysctl values")
