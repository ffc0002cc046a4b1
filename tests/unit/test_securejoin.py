"""fd-based resolution inside a root (pyrunc.rootfs.securejoin): RESOLVE_IN_ROOT semantics, on tmp_path trees.

Every test runs twice: with openat2(RESOLVE_IN_ROOT) and with the per-component O_NOFOLLOW fallback walk. No root
needed: nothing here mounts.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrunc.errors import SyscallError
from pyrunc.linux import fs as linuxfs
from pyrunc.rootfs import securejoin


@pytest.fixture(params=["openat2", "fallback"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "openat2" and not linuxfs.openat2_available():
        pytest.skip("kernel without openat2")
    securejoin.use_openat2 = request.param == "openat2"
    yield request.param
    securejoin.use_openat2 = None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with dirs, files and hostile symlinks; outside/ is the "host" next to it."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "marker").write_text("inside")
    (root / "file").write_text("f")
    outside.mkdir()
    (outside / "marker").write_text("outside")
    os.symlink("/etc", root / "abs-etc")                       # absolute: must mean root/etc
    os.symlink("../../../../../../../../etc", root / "a" / "up")  # climbs: clamped at root
    os.symlink(str(outside), root / "to-host")                 # absolute host path: means root/<that path>
    os.symlink("b", root / "a" / "rel-b")
    os.symlink("/a/rel-b", root / "chain")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("/nonexistent/dir", root / "dangling")
    return root


@pytest.fixture
def root_fd(tree: Path) -> Iterator[int]:
    fd = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def real(fd: int) -> str:
    try:
        return linuxfs.fd_path(fd)
    finally:
        os.close(fd)


def read_in_root(root_fd: int, path: str) -> str:
    fd = securejoin.open_in_root(root_fd, path, os.O_RDONLY)
    try:
        return os.read(fd, 100).decode()
    finally:
        os.close(fd)


def test_clean() -> None:
    assert securejoin.clean("") == "/"
    assert securejoin.clean("/a/../../b//c/.") == "/b/c"
    assert securejoin.clean("../../x") == "/x"
    assert securejoin.clean("//x") == "/x"
    assert securejoin.components("/a//b/../c") == ["a", "c"]


def test_plain_paths(impl: str, tree: Path, root_fd: int) -> None:
    assert real(securejoin.open_in_root(root_fd, "/a/b")) == str(tree / "a" / "b")
    assert real(securejoin.open_in_root(root_fd, "a/b/")) == str(tree / "a" / "b")
    assert real(securejoin.open_in_root(root_fd, "/")) == str(tree)
    assert read_in_root(root_fd, "/file") == "f"


def test_dotdot_cannot_leave_the_root(impl: str, tree: Path, root_fd: int) -> None:
    assert real(securejoin.open_in_root(root_fd, "/../../..")) == str(tree)
    assert read_in_root(root_fd, "../../../../etc/marker") == "inside"


def test_absolute_symlink_resolves_in_the_root(impl: str, root_fd: int) -> None:
    assert read_in_root(root_fd, "/abs-etc/marker") == "inside"


def test_climbing_relative_symlink_is_clamped(impl: str, root_fd: int) -> None:
    assert read_in_root(root_fd, "/a/up/marker") == "inside"


def test_symlink_to_host_path_never_reaches_the_host(impl: str, tree: Path, root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.open_in_root(root_fd, "/to-host/marker")
    assert e.value.errno == errno.ENOENT
    # Once the same path exists inside the root, that is what is opened.
    inner = tree / str(tree.parent / "outside").lstrip("/")
    inner.mkdir(parents=True)
    (inner / "marker").write_text("mirror")
    assert read_in_root(root_fd, "/to-host/marker") == "mirror"


def test_relative_symlink_chains(impl: str, tree: Path, root_fd: int) -> None:
    assert real(securejoin.open_in_root(root_fd, "/chain")) == str(tree / "a" / "b")
    assert real(securejoin.open_in_root(root_fd, "/a/rel-b/../b")) == str(tree / "a" / "b")


def test_symlink_loop_is_eloop(impl: str, root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.open_in_root(root_fd, "/loop1/x")
    assert e.value.errno == errno.ELOOP


def test_file_in_the_middle_is_enotdir(impl: str, root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.open_in_root(root_fd, "/file/x")
    assert e.value.errno == errno.ENOTDIR


def test_nofollow_opens_the_symlink_itself(impl: str, tree: Path, root_fd: int) -> None:
    fd = securejoin.open_in_root(root_fd, "/abs-etc", os.O_PATH, nofollow=True)
    try:
        assert os.readlink("", dir_fd=fd) == "/etc"
    finally:
        os.close(fd)


def test_directory_flag(impl: str, root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.open_in_root(root_fd, "/file", os.O_PATH | os.O_DIRECTORY)
    assert e.value.errno == errno.ENOTDIR
    fd = securejoin.open_in_root(root_fd, "/abs-etc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert os.listdir(fd) == ["marker"]
    finally:
        os.close(fd)


def test_mkdir_all_creates_inside(impl: str, tree: Path, root_fd: int) -> None:
    assert real(securejoin.mkdir_all(root_fd, "/x/y/z")) == str(tree / "x" / "y" / "z")
    assert real(securejoin.mkdir_all(root_fd, "/x/y/z")) == str(tree / "x" / "y" / "z")  # idempotent
    assert real(securejoin.mkdir_all(root_fd, "/abs-etc/new")) == str(tree / "etc" / "new")
    assert real(securejoin.mkdir_all(root_fd, "/../../escape")) == str(tree / "escape")


def test_mkdir_all_never_creates_through_a_symlink_out(impl: str, tree: Path, root_fd: int) -> None:
    """CVE-2024-45310: a dangling symlink to a host dir must not make us create on the host."""
    outside = tree.parent / "outside"
    with pytest.raises(SyscallError):
        securejoin.mkdir_all(root_fd, "/to-host/created")
    with pytest.raises(SyscallError):
        securejoin.mkdir_all(root_fd, "/dangling/created")
    assert sorted(os.listdir(outside)) == ["marker"]
    assert not os.path.exists("/nonexistent")


def test_mkdir_all_refuses_a_file_component(impl: str, root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.mkdir_all(root_fd, "/file/sub")
    assert e.value.errno in (errno.ENOTDIR, errno.EEXIST)


def test_create_file(impl: str, tree: Path, root_fd: int) -> None:
    assert real(securejoin.create_file(root_fd, "/new/dir/f", 0o600)) == str(tree / "new" / "dir" / "f")
    assert (tree / "new" / "dir" / "f").stat().st_mode & 0o777 == 0o600
    assert real(securejoin.create_file(root_fd, "/file")) == str(tree / "file")  # existing file reused
    assert (tree / "file").read_text() == "f"


def test_create_file_refuses_an_existing_symlink(impl: str, tree: Path, root_fd: int) -> None:
    os.symlink(str(tree.parent / "outside" / "victim"), tree / "console")
    with pytest.raises(SyscallError) as e:
        securejoin.create_file(root_fd, "/console")
    assert e.value.errno == errno.ELOOP
    assert not (tree.parent / "outside" / "victim").exists()


def test_symlink_and_unlink_stay_inside(impl: str, tree: Path, root_fd: int) -> None:
    """CVE-2026-41579: /dev a symlink to a host dir: links are made / removed inside the rootfs only."""
    outside = tree.parent / "outside"
    (outside / "ptmx").write_text("host file")
    os.symlink(str(outside), tree / "dev")
    with pytest.raises(SyscallError):
        securejoin.unlink(root_fd, "/dev/ptmx")
    with pytest.raises(SyscallError):
        securejoin.symlink("/proc/self/fd", root_fd, "/dev/fd")
    assert (outside / "ptmx").read_text() == "host file"
    assert sorted(os.listdir(outside)) == ["marker", "ptmx"]
    os.unlink(tree / "dev")
    (tree / "dev").mkdir()
    securejoin.symlink("pts/ptmx", root_fd, "/dev/ptmx")
    assert os.readlink(tree / "dev" / "ptmx") == "pts/ptmx"
    securejoin.unlink(root_fd, "/dev/ptmx")
    assert not os.path.lexists(tree / "dev" / "ptmx")
    securejoin.unlink(root_fd, "/dev/ptmx")  # ENOENT is fine


def test_unlink_removes_the_link_not_the_target(impl: str, tree: Path, root_fd: int) -> None:
    securejoin.unlink(root_fd, "/abs-etc")
    assert not os.path.lexists(tree / "abs-etc")
    assert (tree / "etc" / "marker").exists()


def test_real_path_in_root(tree: Path, root_fd: int) -> None:
    fd = os.open(tree / "a" / "b", os.O_PATH)
    try:
        assert securejoin.real_path_in_root(fd, str(tree)) == "/a/b"
        assert securejoin.real_path_in_root(fd, str(tree / "a" / "b")) == "/"
        assert securejoin.real_path_in_root(fd, str(tree / "a" / "bb")) is None
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------- resolve_missing
def test_resolve_missing_follows_dangling_symlinks_inside(tree: Path, root_fd: int) -> None:
    """Where a mountpoint behind a dangling symlink is created: its target, taken inside the root (runc's
    MkdirAllInRoot on the SecureJoin'ed path). `/etc/hosts -> /run/hosts` is the Docker case."""
    os.symlink("/run/hosts", tree / "etc" / "hosts")
    os.symlink("../run/resolv.conf", tree / "etc" / "resolv.conf")
    os.symlink("/tmp/foo/bar", tree / "jump")
    os.symlink("/jump/baz/hosts", tree / "etc" / "hostname")
    assert securejoin.resolve_missing(root_fd, "/etc/hosts") == "/run/hosts"
    assert securejoin.resolve_missing(root_fd, "/etc/resolv.conf") == "/run/resolv.conf"
    assert securejoin.resolve_missing(root_fd, "/etc/hostname") == "/tmp/foo/bar/baz/hosts"
    assert securejoin.resolve_missing(root_fd, "/dangling/sub") == "/nonexistent/dir/sub"
    assert securejoin.resolve_missing(root_fd, "/missing/../a/rel-b/new") == "/a/b/new"
    assert securejoin.resolve_missing(root_fd, "/a/b") == "/a/b"  # existing: unchanged
    assert not (tree / "run").exists()  # a name only: nothing is created


def test_resolve_missing_never_leaves_the_root(tree: Path, root_fd: int) -> None:
    outside = tree.parent / "outside"
    os.symlink(str(outside / "new"), tree / "abs-out")
    os.symlink("../../../../../../../.." + str(outside / "new"), tree / "a" / "rel-out")
    assert securejoin.resolve_missing(root_fd, "/abs-out") == str(outside / "new")
    assert securejoin.resolve_missing(root_fd, "/a/rel-out") == str(outside / "new")
    assert securejoin.resolve_missing(root_fd, "/to-host/x") == str(outside / "x")
    # ...and creating that name makes it under the root.
    fd = securejoin.create_file(root_fd, securejoin.resolve_missing(root_fd, "/a/rel-out"))
    assert real(fd) == str(tree) + str(outside / "new")
    assert sorted(os.listdir(outside)) == ["marker"]


def test_resolve_missing_errors(root_fd: int) -> None:
    with pytest.raises(SyscallError) as e:
        securejoin.resolve_missing(root_fd, "/loop1/x")
    assert e.value.errno == errno.ELOOP
    with pytest.raises(SyscallError) as e:
        securejoin.resolve_missing(root_fd, "/file/x")
    assert e.value.errno == errno.ENOTDIR
