"""Mount destinations that are symlinks inside the rootfs, with real containers (`pyrunc run`).

Docker bind-mounts /etc/hosts, /etc/resolv.conf and /etc/hostname onto images where those are symlinks, often
dangling ones (`/etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf`). runc resolves the destination inside
the rootfs (SecureJoin: an absolute target restarts at the rootfs, `..` stops there), creates what is missing there
and mounts onto it; so does pyrunc, through fds (CVE-2021-30465, CVE-2024-45310). procfs and sysfs are the
exception: never on a symlink (runc's "must be mounted on ordinary directory", CVE-2019-19921).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import uniq

pytestmark = pytest.mark.root


def add_bind(cfg: dict[str, Any], src: Path, dest: str, *options: str) -> None:
    cfg["mounts"].append({"destination": dest, "type": "bind", "source": str(src),
                          "options": ["rbind", *options]})


def run_ok(runtime: Any, make_bundle: Any, rootfs: Path, script: str, edit: Any) -> str:
    bundle = make_bundle(edit=edit, args=["sh", "-c", script], rootfs=rootfs)
    p = runtime("run", "-b", str(bundle), uniq("c-mdest"))
    assert p.returncode == 0, p.stderr
    return p.stdout


def mountpoints(out: str) -> set[str]:
    """Mount points from a /proc/self/mountinfo dump mixed into `out`."""
    return {f[4] for f in (line.split() for line in out.splitlines()) if len(f) > 9 and " - " in " ".join(f)}


@pytest.fixture
def host_files(tmp_path: Path) -> Path:
    d = tmp_path / "host-files"
    d.mkdir()
    (d / "hosts").write_text("10.0.0.1 from-host\n")
    (d / "resolv.conf").write_text("nameserver 10.0.0.53\n")
    (d / "hostname").write_text("from-host\n")
    (d / "dir").mkdir()
    (d / "dir" / "inside").write_text("dir content\n")
    return d


def test_bind_onto_dangling_symlinks_lands_inside_the_rootfs(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                             host_files: Path) -> None:
    """Absolute, relative (`../run/...`) and through-a-dangling-component symlinks, for files and a directory:
    the target is created inside the rootfs (files 0644 and empty, directories 0755) and mounted on."""
    r = private_rootfs
    for name in ("hosts", "resolv.conf", "hostname"):
        (r / "etc" / name).unlink(missing_ok=True)
    shutil.rmtree(r / "run")
    os.symlink("/run/hosts", r / "etc" / "hosts")
    os.symlink("../run/sub/resolv.conf", r / "etc" / "resolv.conf")
    os.symlink("/tmp/foo/bar", r / "jump")
    os.symlink("/jump/baz/hostname", r / "etc" / "hostname")
    os.symlink("/srv/data", r / "data")

    def edit(c: dict[str, Any]) -> None:
        c["root"]["readonly"] = False
        add_bind(c, host_files / "hosts", "/etc/hosts", "ro")
        add_bind(c, host_files / "resolv.conf", "/etc/resolv.conf", "ro")
        add_bind(c, host_files / "hostname", "/etc/hostname", "ro")
        add_bind(c, host_files / "dir", "/data")

    out = run_ok(runtime, make_bundle, r, "cat /etc/hosts /etc/resolv.conf /etc/hostname /data/inside; "
                 "cat /proc/self/mountinfo", edit)
    assert out.startswith("10.0.0.1 from-host\nnameserver 10.0.0.53\nfrom-host\ndir content\n")
    points = mountpoints(out)
    assert {"/run/hosts", "/run/sub/resolv.conf", "/tmp/foo/bar/baz/hostname", "/srv/data"} <= points
    assert not {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/data"} & points
    # The image keeps its symlinks; the mountpoints were made where they lead.
    assert os.readlink(r / "etc" / "hosts") == "/run/hosts"
    for made in ("run/hosts", "run/sub/resolv.conf", "tmp/foo/bar/baz/hostname"):
        st = os.lstat(r / made)
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and stat.S_IMODE(st.st_mode) == 0o644, made
    assert stat.S_ISDIR(os.lstat(r / "srv" / "data").st_mode)


def test_bind_onto_existing_symlinks(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                     host_files: Path) -> None:
    r = private_rootfs
    (r / "etc" / "hosts").unlink(missing_ok=True)
    (r / "run" / "hosts").write_text("image file\n")
    os.symlink("../run/hosts", r / "etc" / "hosts")
    (r / "var" / "real-dir").mkdir()
    os.symlink("real-dir", r / "var" / "link-dir")

    def edit(c: dict[str, Any]) -> None:
        add_bind(c, host_files / "hosts", "/etc/hosts", "ro")
        add_bind(c, host_files / "dir", "/var/link-dir")

    out = run_ok(runtime, make_bundle, r, "cat /etc/hosts /var/real-dir/inside; cat /proc/self/mountinfo", edit)
    assert out.startswith("10.0.0.1 from-host\ndir content\n")
    assert {"/run/hosts", "/var/real-dir"} <= mountpoints(out)
    assert (r / "run" / "hosts").read_text() == "image file\n"


def test_dangling_symlink_out_of_the_rootfs_is_confined(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                        host_files: Path, tmp_path: Path) -> None:
    """CVE-2021-30465 / CVE-2024-45310: a dangling symlink naming a host path (absolute, or `../` enough times to
    climb out) is resolved inside the rootfs: the mountpoint is made at <rootfs>/<that path>, the host path gets
    nothing."""
    r = private_rootfs
    victim = tmp_path / "victim"
    victim.mkdir()
    (r / "etc" / "hosts").unlink(missing_ok=True)
    os.symlink(str(victim / "hosts"), r / "etc" / "hosts")
    os.symlink("../" * 20 + str(victim / "datadir").lstrip("/"), r / "etc" / "data")

    def edit(c: dict[str, Any]) -> None:
        c["root"]["readonly"] = False
        add_bind(c, host_files / "hosts", "/etc/hosts", "ro")
        add_bind(c, host_files / "dir", "/etc/data")

    out = run_ok(runtime, make_bundle, r, "cat /etc/hosts /etc/data/inside; cat /proc/self/mountinfo", edit)
    assert out.startswith("10.0.0.1 from-host\ndir content\n")
    assert {str(victim / "hosts"), str(victim / "datadir")} <= mountpoints(out)
    assert os.listdir(victim) == []
    inner = r / str(victim).lstrip("/")
    assert (inner / "hosts").is_file() and (inner / "datadir").is_dir()


def test_dangling_symlink_into_proc_is_refused(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                               host_files: Path) -> None:
    """CVE-2025-52881: following a dangling symlink must not put a mount into /proc either."""
    r = private_rootfs
    (r / "etc" / "hosts").unlink(missing_ok=True)
    os.symlink("/proc/sys/kernel/pyrunc-nonexistent", r / "etc" / "hosts")

    def edit(c: dict[str, Any]) -> None:
        add_bind(c, host_files / "hosts", "/etc/hosts", "ro")

    bundle = make_bundle(edit=edit, args=["true"], rootfs=r)
    p = runtime("run", "-b", str(bundle), uniq("c-mdest"))
    assert p.returncode != 0
    assert "/etc/hosts" in p.stderr and f"(config: /mounts/{7})" in p.stderr, p.stderr


@pytest.mark.parametrize("which", ["proc", "sys"])
def test_proc_or_sys_symlink_is_refused_with_runc_wording(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                          which: str) -> None:
    """runc's mounts.bats "[/proc is a symlink]" and mask.bats "[prohibit symlink /proc]"/"[.. /sys]": the
    error says `must be mounted on ordinary directory` (CVE-2019-19921, CVE-2023-27561)."""
    r = private_rootfs
    shutil.rmtree(r / which)
    (r / f"bad-{which}").mkdir()
    os.symlink(f"/bad-{which}", r / which)
    bundle = make_bundle(args=["true"], rootfs=r)
    p = runtime("run", "-b", str(bundle), uniq("c-mdest"))
    assert p.returncode == 1
    kind = "proc" if which == "proc" else "sysfs"
    assert f'filesystem \\"{kind}\\" must be mounted on ordinary directory' in p.stderr, p.stderr  # logfmt
    assert os.listdir(r / f"bad-{which}") == []


def test_destination_given_as_a_host_path_inside_the_rootfs(runtime: Any, make_bundle: Any, private_rootfs: Path,
                                                            host_files: Path) -> None:
    """runc's mounts.bats "[mount order, container bind-mount source]": a destination spelt `<rootfs>/x` means the
    container's /x (runc strips the rootfs prefix lexically), and a bind source inside the rootfs sees the mounts
    made before it."""
    r = private_rootfs
    (r / "mnt").mkdir(exist_ok=True)
    (r / "final").mkdir()

    def edit(c: dict[str, Any]) -> None:
        add_bind(c, host_files / "dir", "/mnt")
        add_bind(c, r / "mnt", f"{r}/final")
        add_bind(c, host_files / "hosts", f"{r}/../{r.name}/etc/hosts", "ro")

    out = run_ok(runtime, make_bundle, r, "cat /final/inside /etc/hosts; cat /proc/self/mountinfo", edit)
    assert out.startswith("dir content\n10.0.0.1 from-host\n")
    assert {"/mnt", "/final", "/etc/hosts"} <= mountpoints(out)
    assert not (r / str(r).lstrip("/")).exists()
