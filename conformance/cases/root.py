"""config.md#root and config-linux.md#rootfs-mount-propagation."""

from __future__ import annotations

import os
import subprocess

from conformance import hostinfo
from conformance.harness import MUST, Bundle, Ctx, case

# Waits (up to ~5s) for a file the host creates after start; then reports what it found.
WAIT_PROBE = (
    "i=0; while [ ! -e /mnt/probe/marker ] && [ $i -lt 60 ]; do sleep 0.05; i=$((i+1)); done; "
    "if [ -e /mnt/probe/marker ]; then echo probe=seen; else echo probe=absent; fi; "
    "cat /proc/self/mountinfo; echo done"
)


@case("root.readonly", MUST, "config.md#root (readonly)")
def readonly(t: Ctx) -> None:
    """root.readonly=true: writing anywhere on the root fails with EROFS; / is mounted ro."""

    def edit(b: Bundle) -> None:
        b.config["root"]["readonly"] = True

    out = t.sh("touch /newfile 2>&1; cat /proc/self/mountinfo", edit)
    t.expect_in("Read-only file system", out, "error from touch on a read-only root")
    root = hostinfo.top_mount(hostinfo.parse_mountinfo(out), "/")
    t.expect(root is not None and "ro" in root.options, "/ is not mounted ro", out)


@case("root.writable", MUST, "config.md#root (readonly defaults to false)")
def writable(t: Ctx) -> None:
    """Without readonly the root is writable and writes land in the bundle's rootfs directory."""
    b = t.bundle("echo written > /etc/from-container && echo ok")
    b.config["root"].pop("readonly", None)
    proc = t.run(b)
    t.expect_in("ok", proc.out, "container output")
    path = b.rootfs / "etc/from-container"
    t.expect(path.exists() and path.read_text() == "written\n", f"{path} not written on the host")


def _shared_rootfs(t: Ctx, b: Bundle) -> None:
    """Make the rootfs a shared mount (bind onto itself) so propagation settings have something to act on."""
    (b.rootfs / "mnt/probe").mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(b.rootfs), str(b.rootfs)], check=True)
    subprocess.run(["mount", "--make-shared", str(b.rootfs)], check=True)


def _host_mounts_probe(t: Ctx, b: Bundle) -> None:
    probe = b.rootfs / "mnt/probe"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "probe", str(probe)], check=True)
    (probe / "marker").write_text("from host\n")


@case("root.propagation_slave", MUST, "config-linux.md#rootfs-mount-propagation")
def propagation_slave(t: Ctx) -> None:
    """rootfsPropagation=slave: a mount made on the host under the rootfs after start appears inside."""
    b = t.bundle(WAIT_PROBE)
    b.linux["rootfsPropagation"] = "slave"
    _shared_rootfs(t, b)
    t.create(b)
    t.start(b.cid)
    _host_mounts_probe(t, b)
    out = t.wait_output(b.cid, "done", timeout=8)
    t.expect_in("probe=seen", out, "host mount propagated into the container")
    root = hostinfo.top_mount(hostinfo.parse_mountinfo(out), "/")
    t.expect(
        root is not None and any(o.startswith("master:") for o in root.optional),
        "/ in the container is not a slave mount",
        out,
    )


@case("root.propagation_private", MUST, "config-linux.md#rootfs-mount-propagation")
def propagation_private(t: Ctx) -> None:
    """rootfsPropagation=private: a mount made on the host under the rootfs does not appear inside."""
    b = t.bundle(WAIT_PROBE.replace("-lt 60", "-lt 20"))
    b.linux["rootfsPropagation"] = "private"
    _shared_rootfs(t, b)
    t.create(b)
    t.start(b.cid)
    _host_mounts_probe(t, b)
    out = t.wait_output(b.cid, "done", timeout=8)
    t.expect_in("probe=absent", out, "host mount must not propagate into a private rootfs")
    root = hostinfo.top_mount(hostinfo.parse_mountinfo(out), "/")
    t.expect(
        root is not None and not any(o.startswith(("master:", "shared:")) for o in root.optional),
        "/ in the container still takes part in propagation",
        out,
    )


@case("root.container_mounts_stay_inside", MUST, "config-linux.md#rootfs-mount-propagation (slave)")
def container_mounts_stay_inside(t: Ctx) -> None:
    """With a slave rootfs, a mount made inside the container does not propagate back to the host."""
    b = t.bundle("mount -t tmpfs inner /mnt/probe && echo inner > /mnt/probe/inner && echo mounted")
    b.add_caps("CAP_SYS_ADMIN")
    b.linux["rootfsPropagation"] = "slave"
    _shared_rootfs(t, b)
    proc = t.run(b)
    t.expect_in("mounted", proc.out, "container output")
    probe = b.rootfs / "mnt/probe"
    t.expect(
        not os.path.ismount(probe) and not (probe / "inner").exists(),
        "a mount made inside the container appeared on the host",
    )
