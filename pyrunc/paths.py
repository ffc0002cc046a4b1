"""The state root and container ids.

The default root is `/run/pyrunc`, or `$XDG_RUNTIME_DIR/pyrunc` for a non-root user, as runc chooses `/run/runc`:
podman's own `state`/`kill`/`delete` calls pass no --root, so the default must be stable.
"""

from __future__ import annotations

import os
import re

from pyrunc.errors import UsageError

DEFAULT_ROOT = "/run/pyrunc"
# runc's rule: ^[\w+-\.]+$ and not "." or ".."; we also cap the length (a path component is at most 255 bytes).
_ID_RE = re.compile(r"^[\w+\-.]+$", re.ASCII)
MAX_ID_LEN = 1024


def default_root() -> str:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg:
        return os.path.join(xdg, "pyrunc")
    return DEFAULT_ROOT


def validate_id(cid: str) -> str:
    """Refuse ids that could name something outside `<root>`: `/`, `..`, empty, over-long or odd characters."""
    if not cid:
        raise UsageError("container id cannot be empty")
    if len(cid) > 255 or not _ID_RE.match(cid) or cid in (".", ".."):
        raise UsageError(f"invalid container id format: {cid!r}")
    return cid
