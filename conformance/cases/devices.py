"""config-linux.md#devices, default devices, /dev symlinks and the device allowlist."""

from __future__ import annotations

from conformance.harness import MUST, Bundle, Ctx, case

DEFAULTS = {"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9", "tty": "5:0"}


def _stat_lines(out: str) -> dict[str, list[str]]:
    """`stat -c '%n|...'` lines keyed by name."""
    res = {}
    for line in out.splitlines():
        if "|" in line:
            name, *rest = line.split("|")
            res[name] = rest
    return res


def _majmin(hex_major: str, hex_minor: str) -> str:
    return f"{int(hex_major, 16)}:{int(hex_minor, 16)}"


@case("dev.defaults", MUST, "config-linux.md#default-devices")
def defaults(t: Ctx) -> None:
    """/dev/null, zero, full, random, urandom, tty exist as char devices with the right major:minor."""
    names = " ".join(f"/dev/{d}" for d in DEFAULTS)
    out = t.sh(f"stat -c '%n|%F|%t|%T' {names}", rc=None)
    got = _stat_lines(out)
    for dev, want in DEFAULTS.items():
        entry = got.get(f"/dev/{dev}")
        t.expect(entry is not None, f"/dev/{dev} is missing", out)
        assert entry is not None
        t.expect_eq(entry[0], "character special file", f"type of /dev/{dev}")
        t.expect_eq(_majmin(entry[1], entry[2]), want, f"major:minor of /dev/{dev}")


@case("dev.defaults_usable", MUST, "config-linux.md#default-devices")
def defaults_usable(t: Ctx) -> None:
    """The default devices work: read zero/urandom/random, write null, full gives ENOSPC, tty is not EPERM."""
    out = t.sh(
        "head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok; "
        "echo x 2>&1 > /dev/full; echo full-done; "
        "echo urandom=$(head -c 16 /dev/urandom | wc -c); echo random=$(head -c 8 /dev/random | wc -c); "
        "(: < /dev/tty) 2>&1; echo tty-done",
        rc=None,
    )
    t.expect_eq(out.split("\n", 1)[0].split(), ["00", "00", "00", "00"], "bytes from /dev/zero")
    t.expect_in("null-ok", out, "write to /dev/null")
    t.expect_in("No space left on device", out, "write to /dev/full")
    t.expect_in("urandom=16", out, "read from /dev/urandom")
    t.expect_in("random=8", out, "read from /dev/random")
    t.expect("Operation not permitted" not in out, "a default device is denied by the device cgroup", out)


@case("dev.linux_devices", MUST, "config-linux.md#devices")
def linux_devices(t: Ctx) -> None:
    """linux.devices entries (char, fifo, outside /dev) exist with the requested type, mode, owner and are usable."""

    def edit(b: Bundle) -> None:
        b.linux["devices"] = [
            {
                "path": "/dev/conf-null",
                "type": "c",
                "major": 1,
                "minor": 3,
                "fileMode": 0o666,
                "uid": 1000,
                "gid": 1000,
            },
            {"path": "/conf/devs/zero2", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 0, "gid": 0},
            {"path": "/dev/conf-fifo", "type": "p", "fileMode": 0o600, "uid": 0, "gid": 0},
        ]

    out = t.sh(
        "stat -c '%n|%F|%a|%u|%g|%t|%T' /dev/conf-null /conf/devs/zero2 /dev/conf-fifo; "
        "echo x > /dev/conf-null && echo null-ok; echo zero2=$(head -c 3 /conf/devs/zero2 | wc -c)",
        edit,
        rc=None,
    )
    got = _stat_lines(out)
    want = {
        "/dev/conf-null": ("character special file", "666", "1000", "1000", "1:3"),
        "/conf/devs/zero2": ("character special file", "640", "0", "0", "1:5"),
        "/dev/conf-fifo": ("fifo", "600", "0", "0", None),
    }
    for path, (ftype, mode, uid, gid, mm) in want.items():
        entry = got.get(path)
        t.expect(entry is not None, f"{path} is missing", out)
        assert entry is not None
        t.expect_eq(entry[0], ftype, f"type of {path}")
        t.expect_eq((entry[1], entry[2], entry[3]), (mode, uid, gid), f"mode/uid/gid of {path}")
        if mm:
            t.expect_eq(_majmin(entry[4], entry[5]), mm, f"major:minor of {path}")
    t.expect_in("null-ok", out, "write to /dev/conf-null")
    t.expect_in("zero2=3", out, "read from /conf/devs/zero2")


@case("dev.symlinks", MUST, "runtime-linux.md#dev-symbolic-links")
def symlinks(t: Ctx) -> None:
    """/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr link to /proc/self/fd[/0,1,2]."""
    out = t.sh('for l in fd stdin stdout stderr; do echo "$l=$(readlink /dev/$l)"; done')
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        t.expect_in(f"{name}={target}\n", out, f"/dev/{name} link")


@case("dev.ptmx", MUST, "config-linux.md#default-devices (/dev/ptmx)")
def ptmx(t: Ctx) -> None:
    """/dev/ptmx is the container's /dev/pts/ptmx (bind mount or symlink)."""
    out = t.sh("stat -L -c '%d:%i' /dev/ptmx /dev/pts/ptmx", rc=None)
    ids = out.split()
    t.expect(len(ids) == 2 and ids[0] == ids[1], "/dev/ptmx is not /dev/pts/ptmx", out)


@case("dev.allowlist_denies", MUST, "config-linux.md#allowed-device-list")
def allowlist_denies(t: Ctx) -> None:
    """With a deny-all device rule, a device not allowed (1:1, created with CAP_MKNOD) cannot be used."""

    def edit(b: Bundle) -> None:
        b.add_caps("CAP_MKNOD")

    out = t.sh(
        "mknod /tmp/ctl c 1 3 && head -c 1 /tmp/ctl; echo ctl=$?; "
        "mknod /tmp/mem c 1 1 2>&1; head -c 1 /tmp/mem 2>&1 >/dev/null; echo mem=$?",
        edit,
        rc=None,
    )
    t.expect_in("ctl=0", out, "control: mknod+read of an allowed device (1:3)")
    t.expect_in("Operation not permitted", out, "access to a denied device (1:1)")
    t.expect("mem=0" not in out, "a denied device (1:1) could be read", out)
