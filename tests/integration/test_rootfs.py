"""pyrunc.rootfs against the real kernel: mounts, options, /dev, masked/readonly paths, sysctl, console, pivot.

Each test runs the rootfs steps in a fresh mount+pid namespace through `rootfs_harness` (no pyrunc CLI needed),
then a shell in the container prints what it sees. Security tests plant hostile content in the rootfs (symlinks
to host directories, into /proc, a fake /dev/null) and check both the refusal and that the host is untouched.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import base_config
from rootfs_harness import ERROR_STATUS, fix_busybox_links, mountinfo_of, run_rootfs

from pyrunc.rootfs import idmap
from pyrunc.spec.model import IDMapping

pytestmark = pytest.mark.root


def host_mountpoints(under: Path) -> list[str]:
    """The host's mount points under `under` (other tests may mount elsewhere on the host meanwhile)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted(p for p in points if p == str(under) or p.startswith(f"{under}/"))


@pytest.fixture(autouse=True)
def host_mounts_unchanged(tmp_path: Path) -> Iterator[None]:
    """Whatever a test does, no mount may appear on the host under the test's directory (rootfs, host dirs)."""
    before = host_mountpoints(tmp_path)
    yield
    assert host_mountpoints(tmp_path) == before


@pytest.fixture
def rootfs(private_rootfs: Path) -> Path:
    fix_busybox_links(private_rootfs)
    return private_rootfs


@pytest.fixture
def cfg(rootfs: Path) -> dict[str, Any]:
    c = base_config(str(rootfs))
    c["root"]["readonly"] = False
    return c


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory the container must never touch."""
    d = tmp_path / "host-dir"
    d.mkdir()
    (d / "ptmx").write_text("host file")
    return d


def run(cfg: dict[str, Any], tmp_path: Path, script: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    p = run_rootfs(cfg, tmp_path / "bundle", script, **kw)
    if p.returncode not in (0, ERROR_STATUS):
        raise AssertionError(f"harness exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def ok(cfg: dict[str, Any], tmp_path: Path, script: str, **kw: Any) -> str:
    p = run(cfg, tmp_path, script, **kw)
    assert p.returncode == 0, p.stderr
    return p.stdout


def fails(cfg: dict[str, Any], tmp_path: Path, **kw: Any) -> str:
    p = run(cfg, tmp_path, "echo SHOULD-NOT-RUN", **kw)
    assert p.returncode == ERROR_STATUS, (p.stdout, p.stderr)
    assert "SHOULD-NOT-RUN" not in p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("HARNESS-ERROR: ")]
    assert len(lines) == 1, p.stderr
    return lines[0].removeprefix("HARNESS-ERROR: ")


def add_mount(cfg: dict[str, Any], dest: str, typ: str, source: str, options: list[str]) -> int:
    cfg["mounts"].append({"destination": dest, "type": typ, "source": source, "options": options})
    return len(cfg["mounts"]) - 1


# --------------------------------------------------------------------------------------------- the base config
def test_base_config_mounts_devices_and_paths(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["root"]["readonly"] = True
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; echo ===; ls -l /dev; echo ===; "
                            "echo x > /proc/sys/kernel/domainname && echo SYS-RW; touch /newfile && echo ROOT-RW; "
                            "cat /proc/kcore 2>/dev/null | wc -c; cat /proc/timer_list | wc -c; ls /proc/acpi | wc -l; "
                            "ls /sys/fs/cgroup")
    mounts_txt, dev, rest = out.split("===\n")
    mi = mountinfo_of(mounts_txt)
    assert mi["/"][0].startswith("ro")                                         # root.readonly
    assert mi["/proc"][1] == "proc"
    assert mi["/dev"][1] == "tmpfs" and "mode=755" in mi["/dev"][2] and "size=65536k" in mi["/dev"][2]
    assert "nosuid" in mi["/dev"][0] and "relatime" not in mi["/dev"][0]        # strictatime
    assert mi["/dev/pts"][1] == "devpts" and "ptmxmode=666" in mi["/dev/pts"][2]
    assert set(mi["/dev/shm"][0].split(",")) >= {"rw", "nosuid", "nodev", "noexec"}
    assert mi["/dev/mqueue"][1] == "mqueue"
    assert mi["/sys"][1] == "sysfs" and mi["/sys"][0].startswith("ro")
    assert mi["/sys/fs/cgroup"][1] in ("tmpfs", "cgroup2")
    for path in ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"):
        if os.path.exists(path):  # this kernel may lack some (missing paths are skipped, as runc)
            assert mi[path][0].startswith("ro"), path                          # readonlyPaths
    assert mi["/proc/acpi"][1] == "tmpfs" and mi["/proc/acpi"][0].startswith("ro")  # masked dir
    assert mi["/proc/timer_list"][1] == "tmpfs"                               # masked file: /dev/null of /dev
    assert mi["/sys/firmware"][0].startswith("ro")
    for name, major_minor in (("null", "1,   3"), ("zero", "1,   5"), ("full", "1,   7"), ("random", "1,   8"),
                              ("urandom", "1,   9"), ("tty", "5,   0")):
        line = next(ln for ln in dev.splitlines() if ln.endswith(f" {name}"))
        assert line.startswith("crw-rw-rw-") and major_minor in line, line
    assert "ptmx -> pts/ptmx" in dev
    assert "fd -> /proc/self/fd" in dev and "stdin -> /proc/self/fd/0" in dev and "stderr -> /proc/self/fd/2" in dev
    assert "SYS-RW" not in rest and "ROOT-RW" not in rest
    assert rest.splitlines()[:3] == ["0", "0", "0"]


def test_root_writable_when_not_readonly(cfg: dict[str, Any], tmp_path: Path, rootfs: Path) -> None:
    out = ok(cfg, tmp_path, "touch /newfile && echo ROOT-RW")
    assert "ROOT-RW" in out
    assert (rootfs / "newfile").exists()


def test_cgroup_v1_binds_only_the_own_cgroup_read_only(cfg: dict[str, Any], tmp_path: Path) -> None:
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo")
    mi = mountinfo_of(out)
    binds = {mp: v for mp, v in mi.items() if mp.startswith("/sys/fs/cgroup/")}
    if mi["/sys/fs/cgroup"][1] == "cgroup2":
        pytest.skip("host is cgroup v2 only")
    assert binds, out
    for mp, (opts, fstype, _) in binds.items():
        assert fstype == "cgroup" and opts.startswith("ro"), mp
    with open("/proc/self/cgroup") as f:
        own = {c: p for line in f for _, cs, p in [line.strip().split(":", 2)] for c in cs.split(",")}
    memory = next((line for line in out.splitlines() if line.split()[4] == "/sys/fs/cgroup/memory"), None)
    if memory and "memory" in own:
        assert memory.split()[3] == own["memory"]   # the root of the bind is our own cgroup, not the host's


def test_cgroup_namespace_mounts_real_hierarchies(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo")
    mi = mountinfo_of(out)
    if mi["/sys/fs/cgroup"][1] == "cgroup2":
        pytest.skip("host is cgroup v2 only")
    lines = [ln.split() for ln in out.splitlines() if ln.split()[4].startswith("/sys/fs/cgroup/")]
    assert lines and all(ln[3] == "/" for ln in lines if ln[-3] == "cgroup")   # each at the namespace root
    assert all(ln[5].startswith("ro") for ln in lines if ln[-3] == "cgroup")


@pytest.mark.parametrize("userns", [False, True])
def test_cgroup_v2_path(cfg: dict[str, Any], tmp_path: Path, userns: bool) -> None:
    """cgroup2 mount; in a user namespace without a cgroup namespace the kernel refuses it: a bind instead."""
    if userns:
        cfg = userns_cfg(cfg)
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo", cgroup2=True, userns=userns)
    mi = mountinfo_of(out)
    assert mi["/sys/fs/cgroup"][0].startswith("ro")
    assert mi["/sys/fs/cgroup"][1] == ("tmpfs" if userns else "cgroup2")  # the bind shows the host's fs type


# --------------------------------------------------------------------------------------------- mount options
def test_tmpfs_options_in_mountinfo(cfg: dict[str, Any], tmp_path: Path) -> None:
    add_mount(cfg, "/data", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "noatime", "size=1m", "mode=0710"])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; stat -c %a /data")
    mi = mountinfo_of(out)
    assert set(mi["/data"][0].split(",")) == {"rw", "nosuid", "nodev", "noexec", "noatime"}
    assert "size=1024k" in mi["/data"][2] and "mode=710" in mi["/data"][2]
    assert out.splitlines()[-1] == "710"


def test_tmpfs_takes_the_mode_of_the_directory_it_covers(cfg: dict[str, Any], tmp_path: Path,
                                                         rootfs: Path) -> None:
    (rootfs / "covered").mkdir(mode=0o700)
    os.chmod(rootfs / "covered", 0o750)
    add_mount(cfg, "/covered", "tmpfs", "tmpfs", [])
    assert ok(cfg, tmp_path, "stat -c %a /covered").strip() == "750"


def test_read_only_tmpfs_still_takes_later_mountpoints(cfg: dict[str, Any], tmp_path: Path) -> None:
    add_mount(cfg, "/ro", "tmpfs", "tmpfs", ["ro"])
    add_mount(cfg, "/ro/sub/dir", "tmpfs", "tmpfs", ["size=4k"])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; touch /ro/x 2>/dev/null || echo RO-OK; "
                            "touch /ro/sub/dir/x && echo SUB-RW")
    mi = mountinfo_of(out)
    assert mi["/ro"][0].startswith("ro") and mi["/ro/sub/dir"][0].startswith("rw")
    assert "RO-OK" in out and "SUB-RW" in out


def test_tmpcopyup_copies_the_covered_directory(cfg: dict[str, Any], tmp_path: Path) -> None:
    add_mount(cfg, "/etc", "tmpfs", "tmpfs", ["tmpcopyup", "nosuid", "size=1m"])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; cat /etc/hostname; ls -ln /etc/passwd; "
                            "echo new > /etc/hostname; cat /etc/hostname")
    mi = mountinfo_of(out)
    assert mi["/etc"][1] == "tmpfs" and "nosuid" in mi["/etc"][0]
    assert "busybox\n" in out and "new\n" in out
    assert " 0        0 " in next(ln for ln in out.splitlines() if ln.endswith("/etc/passwd"))


def test_file_bind_mount_read_only(cfg: dict[str, Any], tmp_path: Path, rootfs: Path) -> None:
    src = tmp_path / "hostfile"
    src.write_text("from the host\n")
    add_mount(cfg, "/etc/injected", "bind", str(src), ["bind", "ro", "nosuid"])
    out = ok(cfg, tmp_path, "cat /etc/injected; cat /proc/self/mountinfo; "
                            "echo x > /etc/injected 2>/dev/null || echo RO-OK")
    assert out.startswith("from the host\n")
    mi = mountinfo_of(out)
    assert set(mi["/etc/injected"][0].split(",")) >= {"ro", "nosuid"}
    assert "RO-OK" in out
    assert (rootfs / "etc" / "injected").is_file()                  # mountpoint created as a file
    assert src.read_text() == "from the host\n"


def test_relative_bind_source_is_relative_to_the_bundle(cfg: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "bundle" / "shared").mkdir(parents=True)
    (tmp_path / "bundle" / "shared" / "f").write_text("bundle content")
    add_mount(cfg, "/mnt/shared", "none", "shared", ["rbind", "rw"])
    assert "bundle content" in ok(cfg, tmp_path, "cat /mnt/shared/f")


def test_rbind_rro_makes_submounts_read_only(cfg: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "tree"
    src.mkdir()
    add_mount(cfg, "/tree", "bind", str(src), ["rbind", "rro"])
    add_mount(cfg, "/tree2", "bind", str(src), ["rbind", "rprivate", "nodev", "relatime"])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; touch /tree/x 2>/dev/null || echo RO-OK")
    mi = mountinfo_of(out)
    assert mi["/tree"][0].startswith("ro") and "RO-OK" in out
    assert set(mi["/tree2"][0].split(",")) == {"rw", "nodev", "relatime"}


def test_propagation_option_and_rootfs_propagation(cfg: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "vol"
    src.mkdir()
    add_mount(cfg, "/vol", "bind", str(src), ["rbind", "rshared"])
    cfg["linux"]["rootfsPropagation"] = "shared"
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo")
    lines = {ln.split()[4]: ln for ln in out.splitlines()}
    assert "shared:" in lines["/vol"]
    assert "shared:" in lines["/"]


def test_default_propagation_never_leaks_to_a_shared_host_mount(cfg: dict[str, Any], tmp_path: Path,
                                                                 busybox_rootfs: Path) -> None:
    """The rootfs lives on a *shared* host mount: without "/" made rslave every container mount would
    propagate back to the host's mount table (the autouse fixture checks it did not)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(shared)], check=True)
        rootfs = shared / "rootfs"
        subprocess.run(["cp", "-a", str(busybox_rootfs), str(rootfs)], check=True)
        fix_busybox_links(rootfs)
        before = host_mountpoints(shared)
        c = base_config(str(rootfs))
        add_mount(c, "/data", "tmpfs", "tmpfs", [])
        ok(c, tmp_path, "true")
        assert host_mountpoints(shared) == before == [str(shared)]
    finally:
        subprocess.run(["umount", "-l", str(shared)], check=True)


def test_id_mapped_bind_mount(cfg: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "owned"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 0, 0)
    i = add_mount(cfg, "/owned", "bind", str(src), ["bind", "idmap"])
    # As in runc: each mapping is written to the mount's user namespace as "containerID hostID size", so a file
    # stored with id 0 shows up as id 1000 (what a user namespace mapping 0 -> 1000 would call its root).
    cfg["mounts"][i]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    cfg["mounts"][i]["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 1}]
    out = ok(cfg, tmp_path, "stat -c '%u:%g' /owned/f; grep ' /owned ' /proc/self/mountinfo")
    assert out.splitlines()[0] == "1000:2000"
    assert "idmapped" in out
    assert os.stat(src / "f").st_uid == 0


# --------------------------------------------------------------------------------------------- bad input
def test_missing_bind_source_names_the_mount(cfg: dict[str, Any], tmp_path: Path) -> None:
    i = add_mount(cfg, "/data", "bind", "/nonexistent/source", ["rbind"])
    msg = fails(cfg, tmp_path)
    assert msg.startswith("mount bind /nonexistent/source on /data: No such file or directory")
    assert msg.endswith(f"(config: /mounts/{i})")


def test_unknown_fs_type_names_the_mount(cfg: dict[str, Any], tmp_path: Path) -> None:
    i = add_mount(cfg, "/data", "nosuchfs", "none", [])
    msg = fails(cfg, tmp_path)
    assert msg.startswith("mount nosuchfs on /data: No such device") and msg.endswith(f"(config: /mounts/{i})")


def test_device_that_cannot_be_created_names_the_device(cfg: dict[str, Any], tmp_path: Path,
                                                         rootfs: Path) -> None:
    cfg["linux"]["devices"] = [{"path": "/dev/null/sub", "type": "c", "major": 1, "minor": 3}]
    msg = fails(cfg, tmp_path)
    assert msg.startswith("create device /dev/null/sub:") and msg.endswith("(config: /linux/devices/0)")


def test_bad_sysctl_names_the_key(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["linux"]["sysctl"] = {"kernel.shmmax": "4096", "kernel.no_such_knob": "1"}
    msg = fails(cfg, tmp_path)
    assert "kernel.no_such_knob" in msg and msg.endswith("(config: /linux/sysctl/kernel.no_such_knob)")


# --------------------------------------------------------------------------------------------- /dev and devices
def test_linux_devices(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1000, "gid": 100},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o666},
        {"path": "/dev/loop-test", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660},
        {"path": "/dev/fifo", "type": "p", "fileMode": 0o640},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640},
    ]
    out = ok(cfg, tmp_path, "ls -ln /dev /dev/net")
    line = {ln.split()[-1]: ln for ln in out.splitlines() if ln and not ln.endswith(":")}
    assert line["fuse"].split()[:3] == ["crw-------", "1", "1000"] and line["fuse"].split()[3] == "100"
    assert "10, 229" in line["fuse"]
    assert line["tun"].startswith("crw-rw-rw-") and "10, 200" in line["tun"]
    assert line["loop-test"].startswith("brw-rw----")
    assert line["fifo"].startswith("prw-r-----")
    assert line["null"].startswith("crw-r-----")                       # the config's /dev/null wins


def test_dev_of_the_image_when_no_dev_mount(cfg: dict[str, Any], tmp_path: Path, rootfs: Path) -> None:
    cfg["mounts"] = [m for m in cfg["mounts"] if not m["destination"].startswith("/dev")]
    (rootfs / "dev" / "ptmx").write_text("image file")
    out = ok(cfg, tmp_path, "ls -l /dev")
    assert "ptmx -> pts/ptmx" in out
    assert os.readlink(rootfs / "dev" / "ptmx") == "pts/ptmx"
    assert os.major((rootfs / "dev" / "null").stat().st_rdev) == 1


def test_dev_bind_mount_is_not_populated(cfg: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "devdir"
    src.mkdir()
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # maskedPaths need a /dev/null
    cfg["mounts"] = [m for m in cfg["mounts"] if not m["destination"].startswith("/dev")]
    add_mount(cfg, "/dev", "bind", str(src), ["rbind"])
    ok(cfg, tmp_path, "true")
    assert os.listdir(src) == ["null"]


def test_console(cfg: dict[str, Any], tmp_path: Path) -> None:
    out = ok(cfg, tmp_path, "ls -l /dev/console; grep ' /dev/console ' /proc/self/mountinfo", console=True)
    assert out.startswith("crw") and "136," in out.splitlines()[0]
    assert " devpts " in out


def test_console_refuses_a_symlink_at_dev_console(cfg: dict[str, Any], tmp_path: Path, rootfs: Path,
                                                  outside: Path) -> None:
    """The /dev/console variant of CVE-2025-52565: an existing symlink there is never followed."""
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] not in ("/dev",)]
    os.symlink("/etc/hostname", rootfs / "dev" / "console")
    msg = fails(cfg, tmp_path, console=True)
    assert msg.startswith("mount the console on /dev/console") and "symlink" in msg
    assert (rootfs / "etc" / "hostname").read_text() == "busybox\n"


# --------------------------------------------------------------------------------------------- security
def test_symlink_destination_to_a_host_dir_creates_nothing_on_the_host(cfg: dict[str, Any], tmp_path: Path,
                                                                        rootfs: Path, outside: Path) -> None:
    """CVE-2021-30465 / CVE-2024-45310: the destination runs through a symlink to a host directory (dangling in
    the rootfs, absolute or climbing with ../). It is followed inside the rootfs, as runc does: the missing
    directories are made at <rootfs>/<host path> and the mount lands there; the host directory gets nothing."""
    os.symlink(str(outside), rootfs / "evil")
    os.symlink("../../../../../../../../../../" + str(outside).lstrip("/"), rootfs / "evil-rel")
    add_mount(cfg, "/evil/sub", "tmpfs", "tmpfs", [])
    add_mount(cfg, "/evil-rel/sub2", "tmpfs", "tmpfs", [])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo")
    assert {f"{outside}/sub", f"{outside}/sub2"} <= set(mountinfo_of(out))
    inner = rootfs / str(outside).lstrip("/")
    assert (inner / "sub").is_dir() and (inner / "sub2").is_dir()
    assert sorted(os.listdir(outside)) == ["ptmx"]


def test_symlink_destination_inside_the_rootfs_is_followed_inside(cfg: dict[str, Any], tmp_path: Path,
                                                                   rootfs: Path) -> None:
    os.symlink("/var", rootfs / "link-to-var")
    add_mount(cfg, "/link-to-var/cache", "tmpfs", "tmpfs", [])
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo")
    assert "/var/cache" in mountinfo_of(out)


def test_proc_symlink_is_refused(cfg: dict[str, Any], tmp_path: Path, rootfs: Path, outside: Path) -> None:
    """CVE-2019-19921 / CVE-2023-27561 / CVE-2023-28642: /proc is a symlink."""
    os.rmdir(rootfs / "proc")
    os.symlink(str(outside), rootfs / "proc")
    msg = fails(cfg, tmp_path)
    assert msg.startswith("mount proc on /proc") and "symlink" in msg and msg.endswith("(config: /mounts/0)")
    os.unlink(rootfs / "proc")
    (rootfs / "fakeproc").mkdir()
    os.symlink("/fakeproc", rootfs / "proc")
    assert "symlink" in fails(cfg, tmp_path)
    assert os.listdir(rootfs / "fakeproc") == [] and sorted(os.listdir(outside)) == ["ptmx"]


def test_sys_symlink_is_refused(cfg: dict[str, Any], tmp_path: Path, rootfs: Path) -> None:
    shutil.rmtree(rootfs / "sys")
    (rootfs / "fakesys").mkdir()
    os.symlink("/fakesys", rootfs / "sys")
    assert "symlink" in fails(cfg, tmp_path)


def test_destination_through_a_symlink_into_proc_is_refused(cfg: dict[str, Any], tmp_path: Path,
                                                            rootfs: Path) -> None:
    """CVE-2025-52881: a mount destination that is a symlink into /proc would cover procfs files."""
    os.symlink("/proc/sys/kernel", rootfs / "innocent")
    i = add_mount(cfg, "/innocent", "tmpfs", "tmpfs", [])
    msg = fails(cfg, tmp_path)
    assert "inside /proc" in msg and msg.endswith(f"(config: /mounts/{i})")
    cfg["mounts"][-1].update(destination="/proc/self/attr", type="bind", source=str(tmp_path),
                             options=["bind"])
    assert "inside /proc" in fails(cfg, tmp_path)


def test_non_procfs_on_proc_is_refused(cfg: dict[str, Any], tmp_path: Path) -> None:
    """CVE-2019-16884: a tmpfs (e.g. a VOLUME /proc) over /proc."""
    i = add_mount(cfg, "/proc", "tmpfs", "tmpfs", [])
    msg = fails(cfg, tmp_path)
    assert "only a procfs" in msg and msg.endswith(f"(config: /mounts/{i})")


def test_allowed_proc_file_overmount(cfg: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "fake-uptime"
    src.write_text("1.00 1.00\n")
    add_mount(cfg, "/proc/uptime", "bind", str(src), ["bind", "ro"])
    assert ok(cfg, tmp_path, "cat /proc/uptime") == "1.00 1.00\n"


def test_dev_symlink_to_a_host_dir_touches_nothing_there(cfg: dict[str, Any], tmp_path: Path, rootfs: Path,
                                                          outside: Path) -> None:
    """CVE-2026-41579: no /dev mount and /dev a symlink to a host directory."""
    cfg["mounts"] = [m for m in cfg["mounts"] if not m["destination"].startswith("/dev")]
    os.rmdir(rootfs / "dev")
    os.symlink(str(outside), rootfs / "dev")
    p = run(cfg, tmp_path, "true")
    assert p.returncode == ERROR_STATUS
    assert sorted(os.listdir(outside)) == ["ptmx"] and (outside / "ptmx").read_text() == "host file"
    # A /dev symlink that stays inside the rootfs is simply followed there.
    os.unlink(rootfs / "dev")
    (rootfs / "realdev").mkdir()
    os.symlink("/realdev", rootfs / "dev")
    ok(cfg, tmp_path, "test -c /dev/null")
    assert os.readlink(rootfs / "realdev" / "ptmx") == "pts/ptmx"
    assert sorted(os.listdir(outside)) == ["ptmx"]


def test_masking_refuses_a_dev_null_symlink(cfg: dict[str, Any], tmp_path: Path, rootfs: Path) -> None:
    """CVE-2025-31133: /dev/null (no /dev tmpfs) is a symlink to a procfs file; masking must not bind it."""
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]
    os.symlink("/proc/sys/kernel/core_pattern", rootfs / "dev" / "null")
    msg = fails(cfg, tmp_path)
    assert "CVE-2025-31133" in msg and "(config: /linux/maskedPaths/" in msg


def test_sysctl(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["linux"]["sysctl"] = {"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1"}
    out = ok(cfg, tmp_path, "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward")
    assert out.split() == ["123456789", "1"]


def test_sysctl_refused_when_proc_is_not_procfs(cfg: dict[str, Any], tmp_path: Path) -> None:
    """CVE-2025-52881: sysctls are only written through a real procfs (no /proc mount: the image's dir)."""
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    cfg["linux"]["maskedPaths"] = cfg["linux"]["readonlyPaths"] = []
    cfg["linux"]["sysctl"] = {"kernel.shmmax": "1"}
    msg = fails(cfg, tmp_path)
    assert "not the root of a procfs" in msg and msg.endswith("(config: /linux/sysctl)")


def test_no_pivot(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg["root"]["readonly"] = True
    out = ok(cfg, tmp_path, "cat /etc/hostname; cat /proc/self/mountinfo; touch /x 2>/dev/null || echo RO-OK",
             no_pivot=True)
    assert out.startswith("busybox\n") and "RO-OK" in out
    mi = mountinfo_of(out)
    assert mi["/proc"][1] == "proc" and mi["/"][0].startswith("ro") and mi["/dev"][1] == "tmpfs"


# --------------------------------------------------------------------------------------------- user namespace
def userns_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    """Only root is mapped (unshare --map-root-user): devpts cannot take gid=5."""
    for m in cfg["mounts"]:
        if m["type"] == "devpts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
    return cfg


def test_user_namespace_bind_mounts_devices(cfg: dict[str, Any], tmp_path: Path) -> None:
    cfg = userns_cfg(cfg)
    cfg["root"]["readonly"] = True
    out = ok(cfg, tmp_path, "cat /proc/self/mountinfo; head -c 4 /dev/zero | wc -c; "
                            "touch /x 2>/dev/null || echo RO-OK", userns=True)
    mi = mountinfo_of(out)
    for dev in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"):
        assert dev in mi, dev                    # mknod is refused in a user namespace: a bind of the host node
    assert mi["/"][0].startswith("ro") and "RO-OK" in out and "\n4\n" in out


@pytest.fixture
def nosuid_host_mount(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "locked"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,nodev,size=64k", "tmpfs", str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=True)


def test_user_namespace_keeps_locked_flags(cfg: dict[str, Any], tmp_path: Path, nosuid_host_mount: Path) -> None:
    """A bind of a nosuid,nodev mount from a user namespace: those flags are locked; asking for other flags
    keeps them, explicitly clearing one is an error naming it (runc's behaviour)."""
    cfg = userns_cfg(cfg)
    i = add_mount(cfg, "/locked", "bind", str(nosuid_host_mount), ["bind", "noexec"])
    out = ok(cfg, tmp_path, "grep ' /locked ' /proc/self/mountinfo", userns=True)
    assert set(out.split()[5].split(",")) >= {"nosuid", "nodev", "noexec"}
    cfg["mounts"][i]["options"] = ["bind", "suid"]
    p = run(cfg, tmp_path, "true", userns=True)
    assert p.returncode == ERROR_STATUS
    assert "cannot clear locked flags MS_NOSUID" in p.stderr and f"(config: /mounts/{i})" in p.stderr


def test_id_mapped_mount_made_host_side_for_a_user_namespace(cfg: dict[str, Any], tmp_path: Path) -> None:
    """In a user namespace the init cannot id-map a host file system: the runtime makes the tree host-side and
    hands the fd over (mount_fds); without it the error says so."""
    cfg = userns_cfg(cfg)
    src = tmp_path / "owned"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 1000, 1000)
    i = add_mount(cfg, "/owned", "bind", str(src), ["bind", "idmap"])
    maps = [{"containerID": 1000, "hostID": 0, "size": 1}]
    cfg["mounts"][i]["uidMappings"] = cfg["mounts"][i]["gidMappings"] = maps
    p = run(cfg, tmp_path, "true", userns=True)
    assert p.returncode == ERROR_STATUS and "host-side" in p.stderr
    mapping = (IDMapping(1000, 0, 1),)
    tree = idmap.idmapped_tree(str(src), mapping, mapping, recursive=False)
    try:
        out = ok(cfg, tmp_path, "stat -c '%u:%g' /owned/f", userns=True, mount_fds={i: tree})
    finally:
        os.close(tree)
    assert out.strip() == "0:0"
