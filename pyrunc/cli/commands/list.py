"""`pyrunc list [--format table|json] [-q]`: every container under the root, with its live status.

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import, quoted annotations).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pyrunc.cli.context import Context

FORMATS = ("table", "json")
# The plain command lines pyrunc.cli.main parses without argparse (see parse_plain there).
PLAIN = {
    "flags": {"--quiet": "quiet", "-q": "quiet"},
    "options": {"--format": ("format", FORMATS), "-f": ("format", FORMATS)},
    "defaults": {"format": "table"},
}


def add_arguments(p: "argparse.ArgumentParser") -> None:
    p.add_argument("--format", "-f", default="table", choices=FORMATS,
                   help="select one of: table or json (default: table)")
    p.add_argument("--quiet", "-q", action="store_true", help="display only container IDs")


def _owner(uid: int, cache: dict[int, str]) -> str:
    """The OWNER column: the name of the user owning the container's state, as runc shows it: from /etc/passwd,
    which runc reads itself (libcontainer/user, not NSS); a user only NSS knows (LDAP...) by its NSS name; else
    `#uid`. /etc/passwd first also spares the NSS machinery (nsswitch.conf, nscd's socket) on the usual path."""
    if uid not in cache:
        name = _passwd_name(uid)
        if name is None:
            import pwd

            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = f"#{uid}"
        cache[uid] = name
    return cache[uid]


def _passwd_name(uid: int, path: str = "/etc/passwd") -> str | None:
    """The name of the first entry of `path` (name:password:UID:...) with `uid`, or None."""
    import posix

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        posix.close(fd)
    for line in b"".join(chunks).split(b"\n"):
        fields = line.strip().split(b":", 3)
        if len(fields) > 2 and fields[0] and fields[2].isdigit() and int(fields[2]) == uid:
            return fields[0].decode(errors="surrogateescape")
    return None


def _table(rows: list[list[str]]) -> str:
    """Like Go's tabwriter(minwidth=12, tabwidth=1, padding=3, ' '), as runc uses it."""
    widths = [max(12, max(map(len, column)) + 3) for column in list(zip(*rows, strict=True))[:-1]]
    line = "".join(f"{{:<{w}}}" for w in widths) + "{}\n"
    return "".join(line.format(*r) for r in rows)


def run(args: "argparse.Namespace", ctx: "Context") -> int:
    import sys

    from pyrunc.runtime import state

    if ctx.root_explicit:
        import posix

        try:
            posix.stat(ctx.root)
        except FileNotFoundError:
            # runc (since 1.2): a --root that does not exist is an error (a typo must not look like "no containers");
            # the default root missing only means nothing was created yet.
            from pyrunc.errors import PyruncError

            raise PyruncError(f"open {ctx.root}: no such file or directory") from None
    owners: dict[int, str] = {}
    if args.quiet:
        sys.stdout.write("".join(f"{st.id}\n" for st, _, _ in state.scan(ctx.root, live=False)))
        return 0
    containers = state.scan(ctx.root)
    if args.format == "json":
        from pyrunc.quickjson import dumps

        found = [st.oci(status, owner=_owner(uid, owners)) for st, status, uid in containers]
        sys.stdout.write(dumps(found, separators=(",", ":")) + "\n")  # compact, as runc
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[st.id, str(st.pid if status != state.STOPPED else 0), status, st.bundle, st.created,
                  _owner(uid, owners)] for st, status, uid in containers]
        sys.stdout.write(_table(rows))
    return 0
