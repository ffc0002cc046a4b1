"""Implements `process.user` (uid, gid, additionalGids, umask) and the HOME default.

Order (runc `setupUser`): supplementary groups first (setgroups needs CAP_SETGID, which setresuid to a non-zero uid
would take away), then the gid, then the uid last.
"""

from pyrunc.linux import proc
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
    """Add HOME to the process environment when the config does not set it."""
    if any(e.startswith("HOME=") for e in env):
        return env
    return [*env, f"HOME={home_for(uid)}"]
