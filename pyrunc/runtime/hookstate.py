"""The runtime-spec state (runtime.md "State") a hook reads on stdin, and a seccomp agent receives.

Apart from pyrunc.runtime.hooks, which runs the hooks: every `create` sends this state to its init (for
createContainer and startContainer hooks), and must not import the hook runner (`subprocess`, `selectors`) for it.
"""

from pyrunc import SPEC_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def state_for_hooks(cid: str, status: str, pid: int | None, bundle: str,
                    annotations: "Mapping[str, str] | None") -> "dict[str, Any]":
    """The state of container `cid` with `status`. `pid` and `annotations` are left out when absent/empty, as
    runc does (omitempty)."""
    state: dict[str, Any] = {"ociVersion": SPEC_VERSION, "id": cid, "status": status}
    if pid:
        state["pid"] = pid
    state["bundle"] = bundle
    if annotations:
        state["annotations"] = dict(annotations)
    return state
