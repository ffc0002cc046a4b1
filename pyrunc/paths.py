"""The state root and container ids.

The default root is `/run/pyrunc`, or `$XDG_RUNTIME_DIR/pyrunc` for a non-root user, as runc chooses `/run/runc`:
podman's own `state`/`kill`/`delete` calls pass no --root, so the default must be stable.

On the hot path of every command: imports nothing at the top (no `re`, which costs more than the rest of `state`
together, no `os`: see pyrunc.runtime.state).
"""

DEFAULT_ROOT = "/run/pyrunc"
# runc's rule: ^[\w+-\.]+$ (ASCII) and not "." or ".."; we also cap the length (a path component is at most 255 bytes).
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-.")
MAX_ID_LEN = 255


def default_root() -> str:
    import posix

    if posix.geteuid() != 0:
        import os

        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg:
            return os.path.join(xdg, "pyrunc")
    return DEFAULT_ROOT


def validate_id(cid: str) -> str:
    """Refuse ids that could name something outside `<root>`: `/`, `..`, empty, over-long or odd characters."""
    if cid and len(cid) <= MAX_ID_LEN and _ID_CHARS.issuperset(cid) and cid not in (".", ".."):
        return cid
    from pyrunc.errors import UsageError

    if not cid:
        raise UsageError("container id cannot be empty")
    raise UsageError(f"invalid container id format: {cid!r}")
