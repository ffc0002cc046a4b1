"""OCI mount options -> mount(2) flags, propagation, recursive attributes, data (pyrunc.rootfs.options)."""

from __future__ import annotations

import pytest

from pyrunc.linux import mount as m
from pyrunc.rootfs import options
from pyrunc.rootfs.options import bind_attrs, fsmount_attrs, parse, wants_bind_remount

# runtime-spec config.md, "Mounts" -> Linux options.
SPEC_OPTIONS = """async atime bind defaults dev diratime dirsync exec iversion lazytime loud mand noatime nodev
nodiratime noexec noiversion nolazytime nomand norelatime nostrictatime nosuid nosymfollow private ratime rbind rdev
rdiratime relatime remount rexec rnoatime rnodev rnodiratime rnoexec rnorelatime rnostrictatime rnosuid rnosymfollow
ro rprivate rrelatime rro rrw rshared rslave rstrictatime rsuid rsymfollow runbindable rw shared silent slave
strictatime suid symfollow sync tmpcopyup unbindable idmap ridmap""".split()


def test_every_spec_option_is_known_and_none_is_data() -> None:
    assert set(SPEC_OPTIONS) <= set(options.known_options())
    for opt in SPEC_OPTIONS:
        assert parse([opt]).data == [], opt


def test_known_options_are_exactly_the_spec_list() -> None:
    assert sorted(options.known_options()) == sorted(SPEC_OPTIONS)


@pytest.mark.parametrize(("opt", "flag"), [
    ("ro", m.MS_RDONLY), ("nosuid", m.MS_NOSUID), ("nodev", m.MS_NODEV), ("noexec", m.MS_NOEXEC),
    ("sync", m.MS_SYNCHRONOUS), ("remount", m.MS_REMOUNT), ("mand", m.MS_MANDLOCK), ("dirsync", m.MS_DIRSYNC),
    ("nosymfollow", m.MS_NOSYMFOLLOW), ("noatime", m.MS_NOATIME), ("nodiratime", m.MS_NODIRATIME),
    ("bind", m.MS_BIND), ("rbind", m.MS_BIND | m.MS_REC), ("silent", m.MS_SILENT), ("relatime", m.MS_RELATIME),
    ("iversion", m.MS_I_VERSION), ("strictatime", m.MS_STRICTATIME), ("lazytime", m.MS_LAZYTIME),
])
def test_set_flags(opt: str, flag: int) -> None:
    o = parse([opt])
    assert o.flags == flag
    assert o.cleared == 0


@pytest.mark.parametrize(("setter", "clearer", "flag"), [
    ("ro", "rw", m.MS_RDONLY), ("nosuid", "suid", m.MS_NOSUID), ("nodev", "dev", m.MS_NODEV),
    ("noexec", "exec", m.MS_NOEXEC), ("sync", "async", m.MS_SYNCHRONOUS), ("noatime", "atime", m.MS_NOATIME),
    ("nodiratime", "diratime", m.MS_NODIRATIME), ("mand", "nomand", m.MS_MANDLOCK),
    ("relatime", "norelatime", m.MS_RELATIME), ("strictatime", "nostrictatime", m.MS_STRICTATIME),
    ("lazytime", "nolazytime", m.MS_LAZYTIME), ("iversion", "noiversion", m.MS_I_VERSION),
    ("nosymfollow", "symfollow", m.MS_NOSYMFOLLOW), ("silent", "loud", m.MS_SILENT),
])
def test_later_option_wins_and_clears_are_remembered(setter: str, clearer: str, flag: int) -> None:
    o = parse([setter, clearer])
    assert o.flags & flag == 0
    assert o.cleared & flag
    o = parse([clearer, setter])
    assert o.flags & flag
    assert o.cleared & flag == 0


def test_defaults_is_a_no_op_not_data() -> None:
    o = parse(["defaults"])
    assert (o.flags, o.cleared, o.data) == (0, 0, [])


def test_unknown_options_are_file_system_data_in_order() -> None:
    o = parse(["nosuid", "size=64k", "mode=1777", "newinstance", "ro"])
    assert o.data_str == "size=64k,mode=1777,newinstance"
    assert o.flags == m.MS_NOSUID | m.MS_RDONLY


def test_propagation_options_keep_their_order() -> None:
    o = parse(["rbind", "shared", "rslave", "private", "runbindable", "rprivate", "slave", "rshared", "unbindable"])
    assert o.propagation == [
        m.MS_SHARED, m.MS_SLAVE | m.MS_REC, m.MS_PRIVATE, m.MS_UNBINDABLE | m.MS_REC, m.MS_PRIVATE | m.MS_REC,
        m.MS_SLAVE, m.MS_SHARED | m.MS_REC, m.MS_UNBINDABLE]
    assert o.flags == m.MS_BIND | m.MS_REC


@pytest.mark.parametrize(("opt", "attr"), [
    ("rro", m.MOUNT_ATTR_RDONLY), ("rnosuid", m.MOUNT_ATTR_NOSUID), ("rnodev", m.MOUNT_ATTR_NODEV),
    ("rnoexec", m.MOUNT_ATTR_NOEXEC), ("rnodiratime", m.MOUNT_ATTR_NODIRATIME),
    ("rnosymfollow", m.MOUNT_ATTR_NOSYMFOLLOW),
])
def test_recursive_attributes(opt: str, attr: int) -> None:
    o = parse([opt])
    assert (o.rec_set, o.rec_clr, o.flags) == (attr, 0, 0)
    clearer = {"rro": "rrw", "rnosuid": "rsuid", "rnodev": "rdev", "rnoexec": "rexec",
               "rnodiratime": "rdiratime", "rnosymfollow": "rsymfollow"}[opt]
    o = parse([opt, clearer])
    assert (o.rec_set, o.rec_clr) == (0, attr)


@pytest.mark.parametrize(("opt", "atime"), [
    ("rnoatime", m.MOUNT_ATTR_NOATIME), ("rstrictatime", m.MOUNT_ATTR_STRICTATIME),
    ("rrelatime", m.MOUNT_ATTR_RELATIME), ("ratime", m.MOUNT_ATTR_RELATIME),
    ("rnorelatime", m.MOUNT_ATTR_RELATIME), ("rnostrictatime", m.MOUNT_ATTR_RELATIME),
])
def test_recursive_atime_is_an_enum_with_atime_mask_cleared(opt: str, atime: int) -> None:
    o = parse(["rnoatime", opt]) if opt != "rnoatime" else parse(["rstrictatime", opt])
    assert o.rec_set & m.MOUNT_ATTR__ATIME == atime
    assert o.rec_clr & m.MOUNT_ATTR__ATIME == m.MOUNT_ATTR__ATIME
    assert o.has_rec_attrs


def test_tmpcopyup_and_idmap_are_extensions_not_data() -> None:
    o = parse(["tmpcopyup", "idmap", "mode=755"])
    assert o.copyup and o.idmap == "idmap" and o.data == ["mode=755"]
    assert parse(["ridmap"]).idmap == "ridmap"


def test_bind_remount_only_when_flags_were_named() -> None:
    assert not wants_bind_remount(parse(["rbind"]))
    assert not wants_bind_remount(parse(["bind", "rprivate", "rro"]))  # rro goes through mount_setattr
    assert wants_bind_remount(parse(["rbind", "ro"]))
    assert wants_bind_remount(parse(["bind", "rw"]))  # an explicit clear counts (runc, util-linux#2433)


def test_bind_attrs_sets_exactly_the_named_flags_and_keeps_atime() -> None:
    s, c = bind_attrs(parse(["bind", "ro", "nosuid"]).flags)
    assert s == m.MOUNT_ATTR_RDONLY | m.MOUNT_ATTR_NOSUID
    assert c == m.MOUNT_ATTR_NODEV | m.MOUNT_ATTR_NOEXEC | m.MOUNT_ATTR_NOSYMFOLLOW
    assert not (s | c) & (m.MOUNT_ATTR__ATIME | m.MOUNT_ATTR_NODIRATIME)


@pytest.mark.parametrize(("opts", "atime"), [
    (["noatime"], m.MOUNT_ATTR_NOATIME), (["relatime"], m.MOUNT_ATTR_RELATIME),
    (["strictatime"], m.MOUNT_ATTR_STRICTATIME), (["noatime", "strictatime"], m.MOUNT_ATTR_STRICTATIME),
    (["nodiratime"], m.MOUNT_ATTR_RELATIME | m.MOUNT_ATTR_NODIRATIME),
])
def test_bind_attrs_atime_like_the_kernel(opts: list[str], atime: int) -> None:
    s, c = bind_attrs(parse(["bind", *opts]).flags)
    assert s & (m.MOUNT_ATTR__ATIME | m.MOUNT_ATTR_NODIRATIME) == atime
    assert c & m.MOUNT_ATTR__ATIME == m.MOUNT_ATTR__ATIME


def test_fsmount_attrs() -> None:
    assert fsmount_attrs(m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_NOATIME) == (
        m.MOUNT_ATTR_NOSUID | m.MOUNT_ATTR_NODEV | m.MOUNT_ATTR_NOEXEC | m.MOUNT_ATTR_NOATIME)
    assert fsmount_attrs(m.MS_STRICTATIME | m.MS_NOATIME) == m.MOUNT_ATTR_STRICTATIME
    assert fsmount_attrs(0) == m.MOUNT_ATTR_RELATIME


def test_statvfs_flags_to_ms() -> None:
    assert m.statvfs_to_ms(m.ST_RDONLY | m.ST_NOSUID | m.ST_RELATIME) == m.MS_RDONLY | m.MS_NOSUID | m.MS_RELATIME
    assert m.statvfs_to_ms(m.ST_NODEV) == m.MS_NODEV | m.MS_STRICTATIME  # no atime flag at all: strictatime
    assert m.statvfs_to_ms(m.ST_NOATIME | m.ST_NODIRATIME) == m.MS_NOATIME | m.MS_NODIRATIME


def test_rootfs_propagation_values() -> None:
    assert options.PROPAGATION["rslave"] == m.MS_SLAVE | m.MS_REC
    assert options.PROPAGATION["private"] == m.MS_PRIVATE
    assert set(options.PROPAGATION) == {"private", "rprivate", "shared", "rshared", "slave", "rslave",
                                        "unbindable", "runbindable"}


def test_flag_names_for_errors() -> None:
    assert m.flag_names(m.MS_BIND | m.MS_REC) == "MS_BIND|MS_REC"
    assert m.flag_names(0) == "0"
    assert m.flag_names(1 << 30) == hex(1 << 30)
