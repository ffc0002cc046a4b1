"""Implements `process.user` (uid, gid, additionalGids, umask) and the HOME default.

Order (runc `setupUser`): supplementary groups first (setgroups needs CAP_SETGID, which setresuid to a non-zero uid
would take away), then the gid, then the uid last.
"""

import errno
import os
import stat

from pyrunc.errors import SyscallError
from pyrunc.linux import fs, proc
from pyrunc.spec.model import User

DEFAULT_UMASK = 0o022


def apply_user(user: User) -> None:
    """setgroups(additionalGids), setresgid(gid), setresuid(uid). The caller keeps capabilities (PR_SET_KEEPCAPS)."""
    if proc.setgroups_allowed():
        proc.set_groups(list(user.additional_gids))
    elif user.additional_gids:
        from pyrunc.errors import SyscallError

        raise SyscallError("setgroups", 1, detail="setgroups is denied in this user namespace",
                           spec_path="/process/user/additionalGids")
    proc.set_resgid(user.gid)
    proc.set_resuid(user.uid)


def fix_stdio_ownership(uid: int, *, own_console: bool) -> None:
    """Give the process's stdio to `uid` before the uid change (runc's fixStdioPermissions), so that a non-root
    process can reopen /proc/self/fd/0-2 (`sh -c 'echo x > /dev/stdout'`, `stat $(tty)`) and own its console.

    Only the owner changes, not the group: a console pty keeps the group devpts gave it (`gid=5`, tty). What is
    chowned: pipes, sockets and regular files the caller handed us, and the console pty we allocated
    (`own_console`). Never /dev/null, and never another character device: a terminal of the host passed through
    as stdio stays the host user's (crun's stdio chown through a /dev/null look-alike, see SECURITY.md, is the
    reason to look at what the fd *is*, never at a path). EPERM and EROFS are ignored as in runc: the inode's owner
    may be unmapped in our user namespace, or /dev read-only.
    """
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue  # a closed stdio fd: nothing to give
        if st.st_uid == uid:
            continue
        mode = st.st_mode
        if stat.S_ISCHR(mode):
            if not own_console or fs.is_char_device(fd, 1, 3):
                continue
        elif not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISREG(mode)):
            continue
        try:
            fs.fchown(fd, uid, -1, what=f"/proc/self/fd/{fd}")
        except SyscallError as e:
            if e.errno not in (errno.EPERM, errno.EROFS):
                raise


def apply_umask(user: User) -> None:
    """`process.user.umask`, default 0022 as runc."""
    proc.set_umask(DEFAULT_UMASK if user.umask is None else user.umask)


def home_for(uid: int, passwd: str = "/etc/passwd") -> str:
    """HOME for `uid` from the container's /etc/passwd (read after pivot_root), "/" if none (runc's default)."""
    try:
        with open(passwd, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2].isdigit() and int(parts[2]) == uid and parts[5]:
                    return parts[5]
    except OSError:
        pass
    return "/"


def with_home(env: list[str], uid: int) -> list[str]:
    """The process environment as execve gets it (runc's prepareEnv): each variable once, with its last value, in
    the order of those last occurrences; entries without "=" dropped. HOME, when unset or set to "" (which is
    dropped), comes from the container's /etc/passwd entry of `uid`, "/" without one. Not part of the
    runtime-spec: runc's de facto behaviour, which images rely on."""
    last: dict[str, int] = {}
    for i, entry in enumerate(env):
        key, sep, _ = entry.partition("=")
        if sep and key:
            last[key] = i
    out = [env[i] for i in sorted(last.values())]
    if any(e.startswith("HOME=") and e != "HOME=" for e in out):
        return out
    out = [e for e in out if e != "HOME="]
    return [*out, f"HOME={home_for(uid)}"]
