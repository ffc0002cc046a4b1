"""Implements `process.capabilities`: the five sets, applied in the order the kernel's rules require.

1. `drop_bounding` before changing user: PR_CAPBSET_DROP needs CAP_SETPCAP, which we lose with the uid.
2. (the caller sets PR_SET_KEEPCAPS, changes uid/gid, clears KEEPCAPS)
3. `apply_sets`: capset(effective, permitted, inheritable) exactly as configured. Nothing is ever added to the
   inheritable set beyond what the config lists (CVE-2022-29162: inheritable caps let a program with file
   capabilities gain privileges the container was not given).
4. ambient: cleared, then each configured cap raised. The kernel only allows caps that are both permitted and
   inheritable; others are skipped with a warning (runc does the same, since its example spec lists ambient caps
   without inheritable ones).
"""

from pyrunc.errors import SyscallError
from pyrunc.linux import caps, prctl
from pyrunc.spec.model import Capabilities

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _known(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names this kernel has; the others were already reported by `drop_bounding`."""
    last = caps.last_cap()
    return tuple(n for n in names if caps.CAP_NUMBERS.get(n, last + 1) <= last)


def drop_bounding(c: Capabilities | None, warn: "Callable[[str], None]") -> None:
    """Drop every capability not in `process.capabilities.bounding` from the bounding set."""
    # Runtime-spec: a capability that cannot be mapped or granted is logged as a warning, not an error (runc
    # warns once, listing every unknown or unavailable name across the five sets). This runs before apply_sets.
    if c is not None:
        every = (*c.bounding, *c.effective, *c.inheritable, *c.permitted, *c.ambient)
        unknown = sorted(set(every) - set(_known(every)))
        if unknown:
            warn(f"ignoring unknown or unavailable capabilities: [{' '.join(unknown)}]")
    keep = set(_known(c.bounding if c else ()))
    for num in range(caps.last_cap() + 1):
        name = caps.CAP_NAMES[num] if num < len(caps.CAP_NAMES) else f"CAP_{num}"
        if name not in keep:
            prctl.capbset_drop(num, detail=name)


def apply_sets(c: Capabilities | None, warn: "Callable[[str], None]") -> None:
    """capset(effective, permitted, inheritable), then the ambient set."""
    if c is None:
        c = Capabilities()
    eff = caps.to_mask(_known(c.effective))
    perm = caps.to_mask(_known(c.permitted))
    inh = caps.to_mask(_known(c.inheritable))
    caps.capset(eff, perm, inh, detail=f"effective={eff:#x} permitted={perm:#x} inheritable={inh:#x}")
    prctl.ambient_clear_all()
    for name in _known(c.ambient):
        try:
            prctl.ambient_raise(caps.CAP_NUMBERS[name], detail=name)
        except SyscallError as e:
            # runc's wording ("can't raise ambient capability CAP_X: <errno text>"); the kernel refuses caps that
            # are not both permitted and inheritable.
            warn(f"can't raise ambient capability {name}: {e.strerror}")
