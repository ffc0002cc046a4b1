"""config.md#hostname and #domainname (UTS namespace)."""

from __future__ import annotations

import socket

from conformance.harness import MUST, Bundle, Ctx, case


@case("uts.hostname", MUST, "config.md#hostname")
def hostname(t: Ctx) -> None:
    """hostname is set in the container's UTS namespace and the host's is unchanged."""
    before = socket.gethostname()

    def edit(b: Bundle) -> None:
        b.config["hostname"] = "conf-host-1"

    out = t.sh("hostname; cat /proc/sys/kernel/hostname", edit)
    t.expect_eq(out.split(), ["conf-host-1", "conf-host-1"], "hostname inside")
    t.expect_eq(socket.gethostname(), before, "host hostname")


@case("uts.domainname", MUST, "config.md#domainname")
def domainname(t: Ctx) -> None:
    """domainname is set in the container's UTS namespace."""

    def edit(b: Bundle) -> None:
        b.config["domainname"] = "conf.example"

    out = t.sh("cat /proc/sys/kernel/domainname", edit)
    t.expect_eq(out.strip(), "conf.example", "domainname inside")
