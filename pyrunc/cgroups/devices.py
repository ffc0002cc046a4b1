"""`linux.resources.devices`: the rule list, runc's always-allowed devices, and the state those rules produce.

Both versions enforce the same thing, computed here once (as runc's devices emulator does): a default action
(allow or deny everything) plus exceptions. v1 writes it to `devices.deny`/`devices.allow`; v2 compiles it into an
eBPF program (`devices_bpf`). Computing the end state first also catches a rule v1 would silently ignore: removing
part of a wildcard exception (`deny c 1:3` after `allow c *:*`), which the kernel cannot express.

The device rules runc appends to every container's list (so a `deny all` list, docker's and podman's default, still
lets the container use /dev/null, its tty and ptys) are kept, minus the ones whose path the config lists in
`linux.devices` (there the config's own device wins, as in runc's `createDevices`).
"""

from pyrunc.errors import CgroupError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pyrunc.spec.model import DeviceRule

WILDCARD = -1


class Rule:
    """One normalised device rule. `type` is "a", "b" or "c"; -1 is the `*` wildcard for major/minor. A value:
    equal to another with the same fields (a plain class, not a dataclass: see bench/README.md)."""

    __slots__ = ("access", "allow", "major", "minor", "spec_path", "type")

    def __init__(self, type: str, major: int, minor: int, access: str, allow: bool,
                 spec_path: str | None = None) -> None:
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access  # non-empty subset of "rwm", in that order
        self.allow = allow
        self.spec_path = spec_path

    def _key(self) -> tuple[str, int, int, str, bool, str | None]:
        return self.type, self.major, self.minor, self.access, self.allow, self.spec_path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Rule(type={!r}, major={!r}, minor={!r}, access={!r}, allow={!r}, spec_path={!r})".format(*self._key())

    def cgroup_string(self) -> str:
        """The v1 devices.allow/deny syntax: `c 1:3 rwm`, `a *:* rwm`."""
        major = "*" if self.major < 0 else str(self.major)
        minor = "*" if self.minor < 0 else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def _rule(t: str, major: int, minor: int, access: str = "rwm") -> Rule:
    return Rule(t, major, minor, access, True)


# runc's specconv.AllowedDevices, in its order: (device path it stands for, or None; rule).
DEFAULT_ALLOWED: tuple[tuple[str | None, Rule], ...] = (
    (None, _rule("c", WILDCARD, WILDCARD, "m")),  # mknod of any char device...
    (None, _rule("b", WILDCARD, WILDCARD, "m")),  # ...and any block device (opening them is still denied)
    ("/dev/null", _rule("c", 1, 3)),
    ("/dev/random", _rule("c", 1, 8)),
    ("/dev/full", _rule("c", 1, 7)),
    ("/dev/tty", _rule("c", 5, 0)),
    ("/dev/zero", _rule("c", 1, 5)),
    ("/dev/urandom", _rule("c", 1, 9)),
    (None, _rule("c", 136, WILDCARD)),  # /dev/pts/*
    (None, _rule("c", 5, 2)),  # /dev/ptmx
    (None, _rule("c", 10, 200)),  # /dev/net/tun, kept by runc for compatibility
)


def normalise_access(access: str | None, spec_path: str) -> str:
    """`access` as the letters r, w, m it holds, in that order. Any other letter is dropped, as runc drops it (the
    config check warned): only these three ever reach devices.allow/deny or the eBPF program. The result may be
    empty; an absent `access` is "rwm"."""
    if access is None:
        return "rwm"
    if access == "":
        raise SpecError([(f"{spec_path}/access", 'invalid device access "": must be made of r, w and m')])
    return "".join(c for c in "rwm" if c in access)


def from_spec(rule: "DeviceRule", index: int) -> Rule | None:
    """The rule, normalised; None for a rule naming devices whose access has no letter left (unknown letters
    only): it would add or remove nothing, and must never count as "rwm"."""
    sp = f"/linux/resources/devices/{index}"
    t = rule.type or "a"
    if t not in ("a", "b", "c"):
        raise SpecError([(f"{sp}/type", f"invalid cgroup device type {t!r}: must be a, b or c")])
    access = normalise_access(rule.access, sp)
    if not access:
        if t != "a":
            return None
        # Kept: a type "a" rule resets the whole list whatever its access (kernel and runc alike), so dropping it
        # could leave an earlier allow-all in force. Its access is never used (DeviceSet.apply ignores it).
        access = "rwm"
    return Rule(
        t,
        WILDCARD if rule.major is None else rule.major,
        WILDCARD if rule.minor is None else rule.minor,
        access,
        bool(rule.allow),
        sp,
    )


def rules_for(spec_rules: "Iterable[DeviceRule]", device_paths: "Iterable[str]" = ()) -> list[Rule]:
    """The config's rules, then runc's default allowed devices (minus those whose path `linux.devices` lists)."""
    rules = [r for r in (from_spec(r, i) for i, r in enumerate(spec_rules)) if r is not None]
    skip = set(device_paths)
    rules.extend(r for path, r in DEFAULT_ALLOWED if path is None or path not in skip)
    return rules


class DeviceSet:
    """The effect of a rule list: a default action and exceptions to it (runc's devices emulator).

    Starts as deny-all, so a container with no rules at all still gets only the default allowed devices.
    """

    def __init__(self) -> None:
        self.default_allow = False
        self.exceptions: dict[tuple[str, int, int], str] = {}

    @classmethod
    def from_rules(cls, rules: "Iterable[Rule]") -> "DeviceSet":
        s = cls()
        for r in rules:
            s.apply(r)
        return s

    def apply(self, rule: Rule) -> None:
        if rule.type == "a":  # "a" resets everything, whatever its major/minor/access (as in the kernel)
            self.default_allow = rule.allow
            self.exceptions = {}
            return
        if rule.allow == self.default_allow:
            self._remove(rule)
        else:
            key = (rule.type, rule.major, rule.minor)
            self.exceptions[key] = _union(self.exceptions.get(key, ""), rule.access)

    def _remove(self, rule: Rule) -> None:
        key = (rule.type, rule.major, rule.minor)
        for partial in ((rule.type, WILDCARD, rule.minor), (rule.type, rule.major, WILDCARD),
                        (rule.type, WILDCARD, WILDCARD)):
            if partial == key:
                continue
            overlap = set(self.exceptions.get(partial, "")) & set(rule.access)
            if overlap:
                wide = Rule(partial[0], partial[1], partial[2], self.exceptions[partial], not rule.allow)
                raise CgroupError(
                    f"device rule {rule.cgroup_string()!r} cannot punch a hole in the wider rule "
                    f"{wide.cgroup_string()!r} (cgroup device rules cannot express it)",
                    spec_path=rule.spec_path,
                )
        left = "".join(c for c in self.exceptions.get(key, "") if c not in rule.access)
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def exception_rules(self) -> list[Rule]:
        """The exceptions as rules (all with the action opposite to the default), in a stable order."""
        return [Rule(t, ma, mi, acc, not self.default_allow) for (t, ma, mi), acc in sorted(self.exceptions.items())]

    def allows(self, dev_type: str, major: int, minor: int, access: str) -> bool:
        """Would this access be allowed? (For tests and for checking generated programs.)"""
        for (t, ma, mi), acc in self.exceptions.items():
            if t == dev_type and ma in (WILDCARD, major) and mi in (WILDCARD, minor) and set(access) <= set(acc):
                return not self.default_allow
        return self.default_allow


def _union(a: str, b: str) -> str:
    return "".join(c for c in "rwm" if c in a or c in b)
