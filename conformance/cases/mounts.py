"""config.md#mounts and the default filesystems of config-linux.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from conformance import hostinfo
from conformance.harness import MUST, RUNC, SHOULD, Bundle, Ctx, case

MOUNTINFO = "cat /proc/self/mountinfo"


def _mounts(out: str) -> list[hostinfo.MountEntry]:
    return hostinfo.parse_mountinfo(out)


@case("mounts.tmpfs_options", MUST, "config.md#mounts; Linux mount options")
def tmpfs_options(t: Ctx) -> None:
    """A tmpfs with nosuid,nodev,noexec,mode=1750,size=1m shows those options and mode (dest created)."""

    def edit(b: Bundle) -> None:
        b.add_mount("/conf/tmpfs", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "mode=1750", "size=1m"])

    out = t.sh(f"stat -c 'mode=%a' /conf/tmpfs; {MOUNTINFO}", edit)
    t.expect_in("mode=1750", out, "mode of the tmpfs root")
    m = hostinfo.top_mount(_mounts(out), "/conf/tmpfs")
    t.expect(m is not None and m.fstype == "tmpfs", "no tmpfs at /conf/tmpfs", out)
    assert m is not None
    for opt in ("nosuid", "nodev", "noexec"):
        t.expect(opt in m.options, f"{opt} missing from the mount options {m.options}")
    t.expect("size=1024k" in m.super_options, f"size=1m not applied: {m.super_options}")


@case("mounts.bind_ro", MUST, "config.md#mounts (bind, ro)")
def bind_ro(t: Ctx) -> None:
    """A read-only bind mount shows the host files and refuses writes."""
    src = t.host_dir("data-ro")
    (src / "hello").write_text("from-host\n")

    def edit(b: Bundle) -> None:
        b.add_mount("/conf/ro", "bind", str(src), ["bind", "ro"])

    out = t.sh("cat /conf/ro/hello; (echo x > /conf/ro/hello) 2>&1; touch /conf/ro/new 2>&1; echo end", edit)
    t.expect_in("from-host", out, "bind-mounted file content")
    t.expect_in("Read-only file system", out, "write into a ro bind")
    t.expect_eq((src / "hello").read_text(), "from-host\n", "host file after the container tried to write")
    t.expect(not (src / "new").exists(), "a file was created through the ro bind")


@case("mounts.bind_rw", MUST, "config.md#mounts (bind)")
def bind_rw(t: Ctx) -> None:
    """A read-write bind mount: files written inside appear in the host directory."""
    src = t.host_dir("data-rw")

    def edit(b: Bundle) -> None:
        b.add_mount("/conf/rw", "none", str(src), ["rbind", "rw"])

    t.sh("echo from-container > /conf/rw/out", edit)
    t.expect(
        (src / "out").exists() and (src / "out").read_text() == "from-container\n",
        "file written inside is missing in the host dir",
    )


@case("mounts.bind_file", MUST, "config.md#mounts (bind of a file)")
def bind_file(t: Ctx) -> None:
    """A file can be bind-mounted onto a path that does not exist yet in the rootfs."""
    src = t.host_dir("files") / "conf.txt"
    src.write_text("file-content-42\n")

    def edit(b: Bundle) -> None:
        b.add_mount("/etc/conf/conf.txt", "bind", str(src), ["bind", "ro"])

    out = t.sh("cat /etc/conf/conf.txt; test -f /etc/conf/conf.txt && echo is-file", edit)
    t.expect_in("file-content-42", out, "content of the bind-mounted file")
    t.expect_in("is-file", out, "type of the mount point")


@case("mounts.bind_relative_source", MUST, "config.md#mounts (source relative to the bundle)")
def bind_relative_source(t: Ctx) -> None:
    """A bind source given as a relative path is taken relative to the bundle directory."""
    b = t.bundle("cat /conf/rel/token")
    (b.path / "reldata").mkdir()
    (b.path / "reldata/token").write_text("relative-ok\n")
    b.add_mount("/conf/rel", "bind", "reldata", ["bind"])
    proc = t.run(b, ok=None)
    t.expect_eq(proc.rc, 0, "container exit status")
    t.expect_in("relative-ok", proc.out, "file from the relative bind source")


@case("mounts.order", MUST, "config.md#mounts (listed order)")
def order(t: Ctx) -> None:
    """Mounts are made in the listed order: the later of two tmpfs on one path is the visible one."""

    def edit(b: Bundle) -> None:
        b.add_mount("/conf/o", "tmpfs", "first", ["size=1m"])
        b.add_mount("/conf/o", "tmpfs", "second", ["size=2m"])
        b.add_mount("/conf/o/sub", "tmpfs", "third", ["size=3m"])

    out = t.sh(MOUNTINFO, edit)
    ms = _mounts(out)
    top = hostinfo.top_mount(ms, "/conf/o")
    t.expect(top is not None and top.source == "second", "the second tmpfs is not on top at /conf/o", out)
    sub = hostinfo.top_mount(ms, "/conf/o/sub")
    t.expect(
        sub is not None and top is not None and sub.parent_id == top.mount_id,
        "/conf/o/sub is not mounted on the second tmpfs",
        out,
    )


@case("mounts.relative_destination", MUST, "config.md#mounts (relative destination is relative to /)")
def relative_destination(t: Ctx) -> None:
    """A (deprecated) relative destination is interpreted relative to "/"."""

    def edit(b: Bundle) -> None:
        b.add_mount("conf-rel", "tmpfs", "reltmp", ["size=1m"])

    out = t.sh(MOUNTINFO, edit)
    m = hostinfo.top_mount(_mounts(out), "/conf-rel")
    t.expect(m is not None and m.fstype == "tmpfs", "no tmpfs at /conf-rel", out)


@case("mounts.default_filesystems", SHOULD, "config-linux.md#default-filesystems")
def default_filesystems(t: Ctx) -> None:
    """/proc, /sys, /dev/pts, /dev/shm (and /dev/mqueue) are proc, sysfs, devpts, tmpfs, mqueue."""
    out = t.sh(MOUNTINFO)
    ms = _mounts(out)
    for path, fstype in (
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
    ):
        m = hostinfo.top_mount(ms, path)
        t.expect(m is not None and m.fstype == fstype, f"{path} is not {fstype}", out)
    pts = hostinfo.top_mount(ms, "/dev/pts")
    assert pts is not None
    t.expect(
        "ptmxmode=666" in pts.super_options and "gid=5" in pts.super_options,
        f"devpts options not applied: {pts.super_options}",
    )


@case("mounts.sysfs_ro", MUST, "config.md#mounts (ro)")
def sysfs_ro(t: Ctx) -> None:
    """sysfs mounted with ro is read-only inside."""
    out = t.sh(f"(echo 1 > /sys/kernel/profiling) 2>&1; {MOUNTINFO}")
    m = hostinfo.top_mount(_mounts(out), "/sys")
    t.expect(m is not None and "ro" in m.options, "/sys is not mounted ro", out)
    t.expect_in("Read-only file system", out, "write to sysfs")


@case("mounts.cgroup", RUNC, "runc/crun `cgroup` mount type")
def cgroup_mount(t: Ctx) -> None:
    """A `cgroup` mount at /sys/fs/cgroup is read-only and shows the container's own limits."""

    def edit(b: Bundle) -> None:
        b.linux["resources"]["pids"] = {"limit": 77}

    mode = hostinfo.cgroup_mode()
    pids_dir = "/sys/fs/cgroup" if mode == "v2" else "/sys/fs/cgroup/pids"
    out = t.sh(f"cat {pids_dir}/pids.max; mkdir {pids_dir}/conf-sub 2>&1; {MOUNTINFO}", edit)
    t.expect_eq(out.split("\n", 1)[0], "77", "pids.max seen through the cgroup mount")
    t.expect_in("Read-only file system", out, "mkdir in the cgroup mount")
    ms = _mounts(out)
    want = "cgroup2" if mode == "v2" else "cgroup"
    cg = [m for m in ms if m.mountpoint.startswith("/sys/fs/cgroup") and m.fstype == want]
    t.expect(cg, f"no {want} filesystem under /sys/fs/cgroup", out)
    rw = [m.mountpoint for m in cg if "ro" not in m.options]
    t.expect(not rw, f"cgroup mounts not read-only: {rw}", out)


@case("mounts.symlink_destination_in_rootfs", RUNC, "SECURITY: mount targets resolve inside the rootfs")
def symlink_destination_in_rootfs(t: Ctx) -> None:
    """A destination that is a symlink to an absolute path is resolved inside the rootfs, not on the host."""
    host_target = Path(tempfile.mkdtemp(prefix="conformance-symlink-target-", dir="/tmp"))
    try:
        (host_target / "sentinel").write_text("host\n")
        b = t.bundle(f"ls {host_target}; echo inside > /conf/evil/written; {MOUNTINFO}")
        (b.rootfs / "conf").mkdir()
        os.symlink(str(host_target), b.rootfs / "conf/evil")
        # The same path also exists inside the rootfs (empty): that is where the mount belongs.
        (b.rootfs / str(host_target).lstrip("/")).mkdir(parents=True)
        b.add_mount("/conf/evil", "tmpfs", "escape", ["size=1m"])
        proc = t.run(b, ok=None)
        t.expect_eq(sorted(p.name for p in host_target.iterdir()), ["sentinel"], "host dir contents after the run")
        t.expect(not os.path.ismount(host_target), "the tmpfs was mounted on the host path")
        t.expect_eq(proc.rc, 0, "container exit status")
        m = hostinfo.top_mount(_mounts(proc.out), str(host_target))
        t.expect(m is not None and m.source == "escape", f"no tmpfs at {host_target} inside the container", proc.out)
        t.expect("sentinel" not in proc.out, "the host directory is visible inside the container", proc.out)
    finally:
        if os.path.ismount(host_target):
            subprocess.run(["umount", "-l", str(host_target)], capture_output=True)
        shutil.rmtree(host_target, ignore_errors=True)


@case("mounts.dangling_symlink_destination", RUNC, "runc: mount destinations follow symlinks inside the rootfs")
def dangling_symlink_destination(t: Ctx) -> None:
    """A bind destination that is a dangling symlink (/etc/hosts -> ../run/cf/hosts, as in images Docker binds
    /etc/hosts onto) gets its target created inside the rootfs and mounted on; the image's symlink stays."""
    src = t.host_dir("src") / "hosts"
    src.write_text("10.9.8.7 conformance\n")
    b = t.bundle(f"cat /etc/hosts; {MOUNTINFO}")
    hosts = b.rootfs / "etc/hosts"
    if hosts.exists() or hosts.is_symlink():
        hosts.unlink()
    os.symlink("../run/cf/hosts", hosts)
    b.add_mount("/etc/hosts", "bind", str(src), ["bind", "ro"])
    proc = t.run(b, ok=None)
    t.expect_eq(proc.rc, 0, "container exit status")
    t.expect_in("10.9.8.7 conformance", proc.out, "the bound file through the symlink")
    t.expect(hostinfo.top_mount(_mounts(proc.out), "/run/cf/hosts") is not None, "no mount at /run/cf/hosts",
             proc.out)
    t.expect(os.path.islink(hosts) and (b.rootfs / "run/cf/hosts").is_file(),
             "the target was not created in the rootfs (or the symlink was replaced)")
