"""OCI mount option strings (`mounts[].options`, `linux.rootfsPropagation`) -> mount(2) flags, propagation,
recursive mount_setattr(2) attributes and file-system data.

The table is the runtime-spec config.md list for Linux. As in runc, an option that is not in it is passed to
the file system as data ("size=64k", "mode=755", "newinstance", ...), and later options override earlier ones
("ro,rw" is rw).
"""

from pyrunc.linux import mount as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# option -> (clear?, MS_* flag). "clear" options remove the flag and remember that it was cleared on purpose.
MOUNT_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, m.MS_SYNCHRONOUS),
    "atime": (True, m.MS_NOATIME),
    "bind": (False, m.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, m.MS_NODEV),
    "diratime": (True, m.MS_NODIRATIME),
    "dirsync": (False, m.MS_DIRSYNC),
    "exec": (True, m.MS_NOEXEC),
    "iversion": (False, m.MS_I_VERSION),
    "lazytime": (False, m.MS_LAZYTIME),
    "loud": (True, m.MS_SILENT),
    "mand": (False, m.MS_MANDLOCK),
    "noatime": (False, m.MS_NOATIME),
    "nodev": (False, m.MS_NODEV),
    "nodiratime": (False, m.MS_NODIRATIME),
    "noexec": (False, m.MS_NOEXEC),
    "noiversion": (True, m.MS_I_VERSION),
    "nolazytime": (True, m.MS_LAZYTIME),
    "nomand": (True, m.MS_MANDLOCK),
    "norelatime": (True, m.MS_RELATIME),
    "nostrictatime": (True, m.MS_STRICTATIME),
    "nosuid": (False, m.MS_NOSUID),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW),
    "rbind": (False, m.MS_BIND | m.MS_REC),
    "relatime": (False, m.MS_RELATIME),
    "remount": (False, m.MS_REMOUNT),
    "ro": (False, m.MS_RDONLY),
    "rw": (True, m.MS_RDONLY),
    "silent": (False, m.MS_SILENT),
    "strictatime": (False, m.MS_STRICTATIME),
    "suid": (True, m.MS_NOSUID),
    "symfollow": (True, m.MS_NOSYMFOLLOW),
    "sync": (False, m.MS_SYNCHRONOUS),
}

# Propagation options of a mount, and the values of `linux.rootfsPropagation`.
PROPAGATION: dict[str, int] = {
    "private": m.MS_PRIVATE,
    "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED,
    "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE,
    "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE,
    "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}

# Recursive attributes, applied with mount_setattr(AT_RECURSIVE): option -> (clear?, MOUNT_ATTR_*).
RECURSIVE_ATTRS: dict[str, tuple[bool, int]] = {
    "rro": (False, m.MOUNT_ATTR_RDONLY),
    "rrw": (True, m.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, m.MOUNT_ATTR_NOSUID),
    "rsuid": (True, m.MOUNT_ATTR_NOSUID),
    "rnodev": (False, m.MOUNT_ATTR_NODEV),
    "rdev": (True, m.MOUNT_ATTR_NODEV),
    "rnoexec": (False, m.MOUNT_ATTR_NOEXEC),
    "rexec": (True, m.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, m.MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, m.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, m.MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, m.MOUNT_ATTR_NOSYMFOLLOW),
}
# The atime "enum": one value in attr_set, and MOUNT_ATTR__ATIME in attr_clr (mount_setattr(2)).
RECURSIVE_ATIME: dict[str, int] = {
    "rrelatime": m.MOUNT_ATTR_RELATIME,
    "rnoatime": m.MOUNT_ATTR_NOATIME,
    "rstrictatime": m.MOUNT_ATTR_STRICTATIME,
}
# Clearing an atime mode falls back to the kernel's default mode, relatime (as runc does).
RECURSIVE_ATIME_CLEAR: dict[str, int] = {
    "rnorelatime": m.MOUNT_ATTR_RELATIME,
    "ratime": m.MOUNT_ATTR_RELATIME,
    "rnostrictatime": m.MOUNT_ATTR_RELATIME,
}

EXTENSIONS = ("tmpcopyup",)
IDMAP_OPTIONS = ("idmap", "ridmap")


def known_options() -> list[str]:
    """Every option this table understands (for `pyrunc features` .mountOptions)."""
    return sorted({*MOUNT_FLAGS, *PROPAGATION, *RECURSIVE_ATTRS, *RECURSIVE_ATIME, *RECURSIVE_ATIME_CLEAR,
                   *EXTENSIONS, *IDMAP_OPTIONS})


class MountOptions:
    """The parsed `mounts[].options` of one mount."""

    __slots__ = ("cleared", "copyup", "data", "flags", "idmap", "propagation", "rec_clr", "rec_set")

    def __init__(self, flags: int = 0, cleared: int = 0, propagation: list[int] | None = None, rec_set: int = 0,
                 rec_clr: int = 0, data: list[str] | None = None, copyup: bool = False,
                 idmap: str | None = None) -> None:
        self.flags = flags              # MS_* to pass to mount(2)
        self.cleared = cleared          # MS_* flags the config explicitly asked NOT to have ("rw", "dev", ...)
        self.propagation = [] if propagation is None else propagation  # applied, in order, after the mount
        self.rec_set = rec_set          # MOUNT_ATTR_* set recursively
        self.rec_clr = rec_clr          # MOUNT_ATTR_* cleared recursively
        self.data = [] if data is None else data  # passed to the file system, comma-joined
        self.copyup = copyup            # tmpcopyup
        self.idmap = idmap              # "idmap" or "ridmap"

    @property
    def bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)

    @property
    def recursive(self) -> bool:
        return bool(self.flags & m.MS_REC)

    @property
    def has_rec_attrs(self) -> bool:
        return bool(self.rec_set or self.rec_clr)

    @property
    def data_str(self) -> str:
        return ",".join(self.data)


def parse(options: "Iterable[str]") -> MountOptions:
    """Parse `mounts[].options` (later options win)."""
    o = MountOptions()
    for opt in options:
        if opt in MOUNT_FLAGS:
            clear, flag = MOUNT_FLAGS[opt]
            if clear:
                o.flags &= ~flag
                o.cleared |= flag
            else:
                o.flags |= flag
                o.cleared &= ~flag
        elif opt in PROPAGATION:
            o.propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE_ATTRS:
            clear, attr = RECURSIVE_ATTRS[opt]
            if clear:
                o.rec_clr |= attr
                o.rec_set &= ~attr
            else:
                o.rec_set |= attr
                o.rec_clr &= ~attr
        elif opt in RECURSIVE_ATIME or opt in RECURSIVE_ATIME_CLEAR:
            atime = RECURSIVE_ATIME.get(opt, RECURSIVE_ATIME_CLEAR.get(opt, 0))
            o.rec_set = (o.rec_set & ~m.MOUNT_ATTR__ATIME) | atime
            o.rec_clr |= m.MOUNT_ATTR__ATIME
        elif opt == "tmpcopyup":
            o.copyup = True
        elif opt in IDMAP_OPTIONS:
            o.idmap = opt
        else:
            o.data.append(opt)
    return o


# --------------------------------------------------------------------------------------------- bind remounts
_VFS_PAIRS = (
    (m.MS_RDONLY, m.MOUNT_ATTR_RDONLY), (m.MS_NOSUID, m.MOUNT_ATTR_NOSUID), (m.MS_NODEV, m.MOUNT_ATTR_NODEV),
    (m.MS_NOEXEC, m.MOUNT_ATTR_NOEXEC), (m.MS_NOSYMFOLLOW, m.MOUNT_ATTR_NOSYMFOLLOW),
)
# Flags the kernel locks (MNT_LOCK_*) on mounts inherited from a more privileged mount namespace.
LOCKABLE = m.MS_RDONLY | m.MS_NODEV | m.MS_NOEXEC | m.MS_NOSUID | m.MS_ATIME


def wants_bind_remount(o: MountOptions) -> bool:
    """A bind mount needs its per-mount flags set only if the config named any (set or cleared), as runc."""
    return bool(o.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT) or o.cleared)


def bind_attrs(flags: int) -> tuple[int, int]:
    """MS_* flags of `mount --bind -o <flags>` -> (attr_set, attr_clr) for mount_setattr on the new mount.

    Same result as mount(MS_BIND|MS_REMOUNT|flags): ro/nosuid/nodev/noexec/nosymfollow become exactly what was
    asked; the atime mode changes only if one of noatime/relatime/strictatime/nodiratime was asked (else the
    source mount's is kept), strictatime winning over noatime, noatime over relatime (do_mount in the kernel).
    """
    attr_set = attr_clr = 0
    for ms, attr in _VFS_PAIRS:
        if flags & ms:
            attr_set |= attr
        else:
            attr_clr |= attr
    if flags & m.MS_ATIME:
        attr_clr |= m.MOUNT_ATTR__ATIME | m.MOUNT_ATTR_NODIRATIME
        if flags & m.MS_STRICTATIME:
            attr_set |= m.MOUNT_ATTR_STRICTATIME
        elif flags & m.MS_NOATIME:
            attr_set |= m.MOUNT_ATTR_NOATIME
        else:
            attr_set |= m.MOUNT_ATTR_RELATIME
        if flags & m.MS_NODIRATIME:
            attr_set |= m.MOUNT_ATTR_NODIRATIME
    return attr_set, attr_clr


def propagation_name(flag: int) -> str:
    for name, value in PROPAGATION.items():
        if value == flag:
            return name
    return m.flag_names(flag)


def fsmount_attrs(flags: int) -> int:
    """MS_* flags of a new mount -> MOUNT_ATTR_* for fsmount(2) (nosuid, nodev, noexec, ro, atime mode)."""
    attrs = 0
    for ms, attr in _VFS_PAIRS:
        if flags & ms:
            attrs |= attr
    if flags & m.MS_STRICTATIME:
        attrs |= m.MOUNT_ATTR_STRICTATIME
    elif flags & m.MS_NOATIME:
        attrs |= m.MOUNT_ATTR_NOATIME
    if flags & m.MS_NODIRATIME:
        attrs |= m.MOUNT_ATTR_NODIRATIME
    return attrs


# Superblock flags that fsconfig(FSCONFIG_SET_FLAG) understands by name (vfs_parse_sb_flag).
SB_FLAG_NAMES = ((m.MS_SYNCHRONOUS, "sync"), (m.MS_DIRSYNC, "dirsync"), (m.MS_LAZYTIME, "lazytime"),
                 (m.MS_MANDLOCK, "mand"))
