"""config-linux.md#masked-paths and #readonly-paths."""

from __future__ import annotations

from conformance import hostinfo
from conformance.harness import MUST, Ctx, case


@case("paths.masked", MUST, "config-linux.md#masked-paths")
def masked(t: Ctx) -> None:
    """maskedPaths cannot be read: masked files read empty, masked dirs list empty."""
    b = t.bundle(
        "echo kcore=$(head -c 16 /proc/kcore 2>/dev/null | wc -c); cat /etc/conf-secret; "
        "echo dir=$(ls /conf-secret-dir | wc -l); echo done"
    )
    (b.rootfs / "etc/conf-secret").write_text("SECRET-FILE\n")
    (b.rootfs / "conf-secret-dir").mkdir()
    (b.rootfs / "conf-secret-dir/inner").write_text("SECRET-DIR\n")
    b.linux["maskedPaths"] = [*b.linux["maskedPaths"], "/etc/conf-secret", "/conf-secret-dir"]
    proc = t.run(b)
    t.expect_in("kcore=0", proc.out, "bytes read from masked /proc/kcore")
    t.expect("SECRET-FILE" not in proc.out, "masked file is readable", proc.out)
    t.expect_in("dir=0", proc.out, "entries in the masked directory")
    t.expect((b.rootfs / "etc/conf-secret").read_text() == "SECRET-FILE\n", "masking changed the host file")


@case("paths.readonly", MUST, "config-linux.md#readonly-paths")
def readonly(t: Ctx) -> None:
    """readonlyPaths are read-only (EROFS even for root) but still readable; /proc/sys is mounted ro."""
    b = t.bundle(
        "cat /conf-ro/keep; touch /conf-ro/new 2>&1; (echo x > /conf-ro/keep) 2>&1; "
        "touch /conf-rw 2>&1 && echo rw-ok; cat /proc/self/mountinfo"
    )
    (b.rootfs / "conf-ro").mkdir()
    (b.rootfs / "conf-ro/keep").write_text("keep-me\n")
    b.linux["readonlyPaths"] = [*b.linux["readonlyPaths"], "/conf-ro"]
    proc = t.run(b, ok=None)
    t.expect_in("keep-me", proc.out, "read of a readonly path")
    t.expect_in("Read-only file system", proc.out, "write to a readonly path")
    t.expect_in("rw-ok", proc.out, "control: write outside the readonly paths")
    t.expect((b.rootfs / "conf-ro/keep").read_text() == "keep-me\n", "file under a readonly path was changed")
    t.expect(not (b.rootfs / "conf-ro/new").exists(), "file created under a readonly path")
    ms = hostinfo.parse_mountinfo(proc.out)
    for path in ("/conf-ro", "/proc/sys"):
        m = hostinfo.top_mount(ms, path)
        t.expect(m is not None and "ro" in m.options, f"{path} is not a ro mount", proc.out)
