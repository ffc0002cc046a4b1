"""Semantic checks of a config.json, after the schema pass: a list of small functions, runc `validate` style.

Each check reads the raw dict (so every problem carries the exact JSON pointer of the field it is about) and yields
`Problem`s; `check_config` runs them all and returns every problem, not just the first. Checks never assume the
schema pass succeeded: the accessors below treat a wrongly typed value as absent, and the schema pass reports it.

Checks marked "(host)" look at the machine (rootfs, namespace files, kernel support) and run only when
`Context.host` is true. Warnings (`Problem.warning`) are things the spec deprecates but allows; they never fail.
"""

from __future__ import annotations

import os
import stat

from pyrunc.linux.rlimitnames import RLIMIT_NUMBERS
from pyrunc.spec.model import HOOK_KINDS
from pyrunc.spec.schema import pointer_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

MAX_ID = 2**32 - 2  # uid/gid 4294967295 is (uid_t)-1: "no change" to setresuid(2), never a real id.
HOST_NAME_MAX = 64
IFNAMSIZ = 16


class Problem:
    """One finding: the JSON pointer it is about, what is wrong, and whether it is only a warning.

    `rewords` marks a problem the schema pass also finds at the same pointer, worded here the way runc words it
    (clients and runc's tests match on runc's phrase): `pyrunc.spec.load` reports it in place of the schema's.
    """

    __slots__ = ("message", "pointer", "rewords", "warning")

    def __init__(self, pointer: str, message: str, warning: bool = False, rewords: bool = False) -> None:
        self.pointer = pointer
        self.message = message
        self.warning = warning
        self.rewords = rewords

    def __repr__(self) -> str:
        return f"Problem({self.pointer!r}, {self.message!r}{', warning=True' if self.warning else ''})"


class Context:
    """What the config will be used for. `bundle` is the absolute bundle directory.

    for_create: create/run, so `process` is required. detach: the container runs detached (create, run -d), so a
    terminal needs --console-socket. host: run the (host) checks. Plain class, not a dataclass: import cost.
    """

    __slots__ = ("bundle", "console_socket", "detach", "for_create", "host")

    def __init__(
        self,
        bundle: str,
        for_create: bool = True,
        detach: bool = True,
        console_socket: str | None = None,
        host: bool = True,
    ) -> None:
        self.bundle = bundle
        self.for_create = for_create
        self.detach = detach
        self.console_socket = console_socket
        self.host = host


if TYPE_CHECKING:
    Check = Callable[[dict[str, Any], Context], Iterator[Problem]]


# --------------------------------------------------------------------------------------------- accessors


def ptr(*tokens: object) -> str:
    """A JSON pointer from reference tokens, RFC 6901 escaped: ptr("linux", "sysctl", "a/b") == "/linux/sysctl/a~1b"."""
    return "".join("/" + pointer_token(str(t)) for t in tokens)


def _obj(v: Any) -> dict[str, Any]:
    return v if type(v) is dict else {}


def _arr(v: Any) -> list[Any]:
    return v if type(v) is list else []


def _str(v: Any) -> str | None:
    return v if type(v) is str else None


def _int(v: Any) -> int | None:
    return v if type(v) is int else None


def _namespaces(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """First `linux.namespaces` entry of each type."""
    found: dict[str, dict[str, Any]] = {}
    for ns in _arr(_obj(raw.get("linux")).get("namespaces")):
        t = _str(_obj(ns).get("type"))
        if t is not None and t not in found:
            found[t] = ns
    return found


def _digits(text: str) -> bool:
    """Only ASCII digits, at least one (str.isdigit also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _cpu_list_error(text: str) -> str | None:
    """None if `text` is a cpu/node list like "0-3,7" (or empty), else what is wrong."""
    if not text.strip():
        return None
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not _digits(lo) or (dash and not _digits(hi)):
            return f'"{text}" is not a list like "0-3,7"'
        if dash and int(hi) < int(lo):
            return f'"{text}": range {part.strip()} is backwards'
    return None


def _cpu_list_count(text: str) -> int:
    n = 0
    for part in text.split(","):
        if part.strip():
            lo, _, hi = part.strip().partition("-")
            n += int(hi or lo) - int(lo) + 1
    return n


def _id_problems(value: Any, where: str, what: str) -> Iterator[Problem]:
    if value == MAX_ID + 1 and type(value) is int:
        yield Problem(where, f"{value} is -1 as a 32-bit id, not a valid {what} (use 0..{MAX_ID})")


def _env_problems(env: Any, base: str) -> Iterator[Problem]:
    for i, kv in enumerate(_arr(env)):
        if type(kv) is str:
            name, eq, _ = kv.partition("=")
            if not eq:
                yield Problem(f"{base}/{i}", "must have the form NAME=VALUE (missing '=')")
            elif not name:
                yield Problem(f"{base}/{i}", "the variable name must not be empty")


def _mapping_problems(maps: Any, base: str, what: str) -> Iterator[Problem]:
    for i, m in enumerate(_arr(maps)):
        m = _obj(m)
        size = _int(m.get("size"))
        if size is None:
            continue
        if size == 0:
            yield Problem(f"{base}/{i}/size", "must be at least 1")
            continue
        for field in ("containerID", "hostID"):
            start = _int(m.get(field))
            if start is not None and start + size - 1 > MAX_ID:
                yield Problem(
                    f"{base}/{i}/size", f"{field} {start} + size {size} goes past the largest {what} {MAX_ID}"
                )


# --------------------------------------------------------------------------------------------- top level

def _semver_major(v: str) -> str | None:
    """The major version of a SemVer 2.0.0 string (MAJOR.MINOR.PATCH[-pre.release][+build.meta]), else None."""
    core, plus, build = v.partition("+")
    core, dash, pre = core.partition("-")
    numbers = core.split(".")
    if len(numbers) != 3 or not all(_digits(n) and (n == "0" or n[0] != "0") for n in numbers):
        return None
    for part, present in ((pre, dash), (build, plus)):
        if present and not all(ident and all(c.isascii() and (c.isalnum() or c == "-") for c in ident)
                               for ident in part.split(".")):
            return None
    return numbers[0]


def check_oci_version(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`ociVersion` MUST be SemVer 2.0.0; compatibility holds within a major version, and we implement 1.x."""
    v = _str(raw.get("ociVersion"))
    if v is None:
        return
    major = _semver_major(v)
    if major is None:
        yield Problem("/ociVersion", f'"{v}" is not a SemVer version like "1.3.0"')
    elif major != "1":
        yield Problem("/ociVersion", f"version {v} is not supported (this runtime implements runtime-spec 1.x)")


def check_root(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`root` is REQUIRED on Linux; `root.path` MUST name an existing directory (host). Like runc, the rootfs
    path must not go through a symlink: later steps use it as given."""
    if "root" not in raw:
        yield Problem("/root", "is required on Linux")
        return
    path = _str(_obj(raw["root"]).get("path"))
    if path is None:
        return
    if not path:
        yield Problem("/root/path", "must not be empty")
        return
    if not ctx.host:
        return
    full = os.path.normpath(os.path.join(ctx.bundle, path))
    try:
        st = os.stat(full)
    except OSError as e:
        yield Problem("/root/path", f"rootfs {full}: {os.strerror(e.errno or 0)}")
        return
    if not stat.S_ISDIR(st.st_mode):
        yield Problem("/root/path", f"rootfs {full} is not a directory")
    elif os.path.realpath(full) != full:
        yield Problem("/root/path", f"rootfs {full} goes through a symlink (to {os.path.realpath(full)})")


def check_process(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`process` is REQUIRED when the container will be started (create, run)."""
    if "process" not in raw:
        if ctx.for_create:
            yield Problem("/process", "is required to create a container")
        return
    yield from process_problems(raw["process"], "/process", ctx)


def check_hostname(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`hostname`/`domainname` need a new UTS namespace (runc: "unable to set hostname without a private UTS
    namespace"); sethostname(2) takes at most 64 bytes."""
    ns = _namespaces(raw)
    for field in ("hostname", "domainname"):
        value = _str(raw.get(field))
        if not value:
            continue
        if "uts" not in ns:
            yield Problem(f"/{field}", f"cannot set the {field} without a uts namespace in linux.namespaces")
        elif len(value.encode("utf-8", "surrogatepass")) > HOST_NAME_MAX:
            yield Problem(f"/{field}", f"must be at most {HOST_NAME_MAX} bytes")


def check_mounts(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`mounts`: relative destinations are deprecated (taken relative to "/"); id-mapped mounts (1.2) need both
    mapping lists and a bind mount (runc), or a user namespace to borrow the mapping from."""
    has_userns = "user" in _namespaces(raw)
    for i, m in enumerate(_arr(raw.get("mounts"))):
        m = _obj(m)
        base = f"/mounts/{i}"
        dest = _str(m.get("destination"))
        if dest == "":
            yield Problem(f"{base}/destination", "must not be empty")
        elif dest is not None and not dest.startswith("/"):
            yield Problem(
                f"{base}/destination", "relative destinations are deprecated; taken as relative to /", warning=True
            )
        options = [o for o in _arr(m.get("options")) if type(o) is str]
        is_bind = "bind" in options or "rbind" in options
        if is_bind and not _str(m.get("source")):
            yield Problem(f"{base}/source", "is required for a bind mount")
        uid_maps, gid_maps = m.get("uidMappings"), m.get("gidMappings")
        if (uid_maps is None) != (gid_maps is None):
            missing = "gidMappings" if gid_maps is None else "uidMappings"
            yield Problem(f"{base}/{missing}", "is required when the other mapping list is given")
        for field, maps in (("uidMappings", uid_maps), ("gidMappings", gid_maps)):
            if isinstance(maps, list) and not maps:  # runc: "must have both uid and gid mappings specified"
                yield Problem(f"{base}/{field}", "must not be empty (leave both out to use the container's "
                                                 "user namespace mapping with idmap/ridmap)")
        idmap = "idmap" in options or "ridmap" in options
        if (idmap or uid_maps is not None or gid_maps is not None) and not is_bind:
            yield Problem(f"{base}/options", "id-mapped mounts are only supported for bind mounts")
        if idmap and uid_maps is None and gid_maps is None and not has_userns:
            yield Problem(f"{base}/options", "idmap without uidMappings/gidMappings needs a user namespace")
        yield from _mapping_problems(uid_maps, f"{base}/uidMappings", "uid")
        yield from _mapping_problems(gid_maps, f"{base}/gidMappings", "gid")


def check_hooks(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`hooks.*[].path` MUST be absolute; env entries are NAME=VALUE."""
    hooks = _obj(raw.get("hooks"))
    for kind in HOOK_KINDS:
        for i, h in enumerate(_arr(hooks.get(kind))):
            h = _obj(h)
            path = _str(h.get("path"))
            if path is not None and not path.startswith("/"):
                yield Problem(ptr("hooks", kind, i, "path"), "must be an absolute path")
            yield from _env_problems(h.get("env"), ptr("hooks", kind, i, "env"))


def check_annotations(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """Annotation keys MUST NOT be empty. `org.opencontainers.image.stopSignal` should name a signal."""
    annotations = _obj(raw.get("annotations"))
    if "" in annotations:
        yield Problem("/annotations/", "annotation keys must not be empty")
    stop = _str(annotations.get("org.opencontainers.image.stopSignal"))
    if stop is not None:
        from pyrunc.errors import UsageError
        from pyrunc.process.signals import parse_signal

        try:
            parse_signal(stop)
        except UsageError:
            yield Problem(
                ptr("annotations", "org.opencontainers.image.stopSignal"), f'"{stop}" is not a signal', warning=True
            )


# --------------------------------------------------------------------------------------------- process


def process_problems(proc: Any, base: str, ctx: Context) -> Iterator[Problem]:
    """Checks of one `process` object (config.json's, or the document of `exec --process`) at pointer `base`."""
    proc = _obj(proc)
    args = proc.get("args")
    if args is None or args == []:
        yield Problem(f"{base}/args", "must not be empty")
    cwd = _str(proc.get("cwd"))
    if cwd is not None and not cwd.startswith("/"):
        yield Problem(f"{base}/cwd", "must be an absolute path")
    yield from _env_problems(proc.get("env"), f"{base}/env")

    terminal = proc.get("terminal") is True
    if ctx.for_create and ctx.detach and terminal and not ctx.console_socket:
        yield Problem(f"{base}/terminal", "is true, so --console-socket is required when the container runs detached")
    if ctx.console_socket and (not ctx.detach or not terminal):
        yield Problem(f"{base}/terminal", "--console-socket is only for a detached container with terminal: true")

    user = _obj(proc.get("user"))
    yield from _id_problems(user.get("uid"), f"{base}/user/uid", "uid")
    yield from _id_problems(user.get("gid"), f"{base}/user/gid", "gid")
    for i, g in enumerate(_arr(user.get("additionalGids"))):
        yield from _id_problems(g, f"{base}/user/additionalGids/{i}", "gid")
    umask = _int(user.get("umask"))
    if umask is not None and umask > 0o777:
        yield Problem(f"{base}/user/umask", f"must be at most 511 (0o777), got {umask}")

    seen: dict[str, int] = {}
    for i, rl in enumerate(_arr(proc.get("rlimits"))):
        rl = _obj(rl)
        t = _str(rl.get("type"))
        if t is not None:
            if t not in RLIMIT_NUMBERS:
                yield Problem(f"{base}/rlimits/{i}/type", f'unknown rlimit "{t}"')
            elif t in seen:
                yield Problem(f"{base}/rlimits/{i}/type", f'"{t}" is already given at {base}/rlimits/{seen[t]}')
            else:
                seen[t] = i
        soft, hard = _int(rl.get("soft")), _int(rl.get("hard"))
        if soft is not None and hard is not None and soft > hard:
            yield Problem(f"{base}/rlimits/{i}/soft", f"soft limit {soft} is above the hard limit {hard}")

    # process.capabilities: unknown names are not an error (runtime-spec: "MUST be logged as a warning ... SHOULD
    # NOT fail"); the container's init warns once and ignores them (pyrunc/security/capabilities.py).

    oom = _int(proc.get("oomScoreAdj"))
    if oom is not None and not -1000 <= oom <= 1000:
        yield Problem(f"{base}/oomScoreAdj", f"must be between -1000 and 1000, got {oom}")

    yield from _scheduler_problems(_obj(proc.get("scheduler")), f"{base}/scheduler")

    io = _obj(proc.get("ioPriority"))
    prio = _int(io.get("priority"))
    if prio is not None and not 0 <= prio <= 7:
        yield Problem(f"{base}/ioPriority/priority", f"must be between 0 and 7, got {prio}")

    for field, value in _obj(proc.get("execCPUAffinity")).items():
        if field in ("initial", "final") and type(value) is str:
            err = _cpu_list_error(value)
            if err:
                yield Problem(f"{base}/execCPUAffinity/{field}", err)


def _scheduler_problems(s: dict[str, Any], base: str) -> Iterator[Problem]:
    """`process.scheduler`, with runc's rules from sched_setattr(2)."""
    policy = _str(s.get("policy"))
    if policy is None:
        return
    nice = _int(s.get("nice"))
    if policy in ("SCHED_OTHER", "SCHED_BATCH") and nice is not None and not -20 <= nice <= 19:
        yield Problem(f"{base}/nice", f"must be between -20 and 19 for {policy}, got {nice}")
    if s.get("priority", 0) != 0 and policy not in ("SCHED_FIFO", "SCHED_RR"):
        yield Problem(f"{base}/priority", "can only be set for SCHED_FIFO or SCHED_RR")
    if policy != "SCHED_DEADLINE":
        for field in ("runtime", "deadline", "period"):
            if s.get(field, 0) != 0:
                yield Problem(f"{base}/{field}", "can only be set for SCHED_DEADLINE")


# --------------------------------------------------------------------------------------------- linux


def check_namespaces(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.namespaces`: no type twice; a `path` is absolute and (host) names a namespace of that type."""
    first: dict[str, int] = {}
    for i, ns in enumerate(_arr(_obj(raw.get("linux")).get("namespaces"))):
        ns = _obj(ns)
        t = _str(ns.get("type"))
        if t is None:
            continue
        if t in first:
            yield Problem(f"/linux/namespaces/{i}/type", f'"{t}" is already given at /linux/namespaces/{first[t]}')
            continue
        first[t] = i
        path = _str(ns.get("path"))
        if not path:
            continue
        if not path.startswith("/"):
            yield Problem(f"/linux/namespaces/{i}/path", "must be an absolute path")
        elif ctx.host:
            yield from _ns_path_problems(path, t, f"/linux/namespaces/{i}/path")
            if t == "mount" and _is_current_ns(path, "mnt"):
                # pivot_root in the runtime's own mount namespace would move the root of every host process
                # whose root is "/" into the container's rootfs. Without the entry the container runs in this
                # namespace safely (a chroot on a private clone of the rootfs).
                yield Problem(f"/linux/namespaces/{i}/path", f"{path} is the runtime's own mount namespace; "
                              "leave out the mount entry to run the container in it")


def _ns_path_problems(path: str, want: str, where: str) -> Iterator[Problem]:
    """(host) The file at `path` is a namespace of type `want`."""
    from pyrunc.linux.nsfs import NotANamespace, namespace_type

    try:
        got = namespace_type(path)
    except NotANamespace as e:
        yield Problem(where, f"{path} is {e}, not a {want} namespace")
        return
    except OSError as e:
        yield Problem(where, f"{path}: {os.strerror(e.errno or 0)}")
        return
    if got is not None and got != want:
        yield Problem(where, f"{path} is a {got} namespace, not a {want} namespace")


def check_user_namespace(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """uid/gid mappings go with a new user namespace (runc: "user namespaces enabled, but no namespace path to join
    nor mappings to apply specified" and "user namespace mappings specified, but user namespace isn't enabled")."""
    linux = _obj(raw.get("linux"))
    userns = _namespaces(raw).get("user")
    uid_maps, gid_maps = linux.get("uidMappings"), linux.get("gidMappings")
    if userns is None:
        for field, maps in (("uidMappings", uid_maps), ("gidMappings", gid_maps)):
            if maps:
                yield Problem(f"/linux/{field}", "needs a user namespace in linux.namespaces")
    elif not _str(userns.get("path")):
        for field, maps in (("uidMappings", uid_maps), ("gidMappings", gid_maps)):
            if not maps:
                yield Problem(f"/linux/{field}", "is required to create a new user namespace")
        if ctx.host and not os.path.exists("/proc/self/ns/user"):
            yield Problem("/linux/namespaces", "user namespaces are not enabled in this kernel")
    yield from _mapping_problems(uid_maps, "/linux/uidMappings", "uid")
    yield from _mapping_problems(gid_maps, "/linux/gidMappings", "gid")


_CLOCKS = ("monotonic", "boottime")


def check_time_namespace(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.timeOffsets` (1.1) apply to a new time namespace: clocks monotonic and boottime (time_namespaces(7))."""
    offsets = _obj(raw.get("linux")).get("timeOffsets")
    timens = _namespaces(raw).get("time")
    if timens is not None and ctx.host and not os.path.exists("/proc/self/ns/time"):
        yield Problem("/linux/namespaces", "time namespaces are not enabled in this kernel")
    if offsets is None:
        return
    if timens is None:
        yield Problem("/linux/timeOffsets", "needs a time namespace in linux.namespaces")
    elif _str(timens.get("path")):
        yield Problem("/linux/timeOffsets", "cannot be set when joining an existing time namespace by path")
    for clock, off in _obj(offsets).items():
        if clock not in _CLOCKS:
            yield Problem(ptr("linux", "timeOffsets", clock), 'unknown clock (use "monotonic" or "boottime")')
        nsecs = _int(_obj(off).get("nanosecs"))
        if nsecs is not None and nsecs >= 1_000_000_000:
            yield Problem(ptr("linux", "timeOffsets", clock, "nanosecs"), "must be below 1000000000")


_IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})  # fmt: skip


def _sysctl_dotted(key: str) -> str:
    """sysctl(8) accepts "/" in place of "."; then a "." inside a component (net/ipv4/conf/eth0.100/...) is
    written "/" in the dotted form (runc's convertSysctlVariableToDotsSeparator)."""
    for ch in key:
        if ch == ".":
            return key
        if ch == "/":
            return key.translate(str.maketrans("./", "/."))
    return key


def sysctl_proc_path(key: str) -> str:
    """The file under /proc/sys a `linux.sysctl` key names ("net.ipv4.ip_forward" -> "net/ipv4/ip_forward",
    "net/ipv4/conf/eth0.100/rp_filter" -> itself). Writers must use this, so that they write what was checked."""
    return _sysctl_dotted(key).translate(str.maketrans("./", "/."))


def check_sysctl(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.sysctl`: only keys the container's own namespaces isolate (runc's list), so nothing touches the host.
    A key's components must not be empty, "." or "..": the key becomes a path under /proc/sys."""
    ns = _namespaces(raw)
    for key in _obj(_obj(raw.get("linux")).get("sysctl")):
        where = ptr("linux", "sysctl", key)
        dotted = _sysctl_dotted(key)
        if any(c in ("", ".", "..") for c in sysctl_proc_path(key).split("/")):
            yield Problem(where, f'"{key}" is not a valid sysctl name')
            continue
        if dotted in _IPC_SYSCTLS or dotted.startswith("fs.mqueue."):
            if "ipc" not in ns:
                yield Problem(where, f"sysctl {dotted} needs an ipc namespace (it would change the host's)")
        elif dotted.startswith("net."):
            netns = ns.get("network")
            if netns is None:
                yield Problem(where, f"sysctl {dotted} needs a network namespace (it would change the host's)")
            elif ctx.host and _str(netns.get("path")) and _is_current_netns(netns["path"]):
                yield Problem(where, f"sysctl {dotted} is not allowed when joining the host's network namespace")
        elif dotted == "kernel.hostname" and "uts" in ns:
            yield Problem(where, "conflicts with the hostname field; set hostname instead")
        elif dotted == "kernel.domainname" and "uts" in ns:
            pass
        elif dotted.startswith("user.") and "user" in ns:
            pass
        else:
            yield Problem(where, f"sysctl {dotted} is not isolated by any namespace of this container")


def _is_current_netns(path: str) -> bool:
    return _is_current_ns(path, "net")


def _is_current_ns(path: str, name: str) -> bool:
    """`path` is the namespace /proc/self/ns/<name> we (the runtime) are in."""
    try:
        a, b = os.stat(path), os.stat(f"/proc/self/ns/{name}")
    except OSError:
        return False  # check_namespaces reports the bad path
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_paths(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.maskedPaths`/`readonlyPaths` MUST be absolute; they need a mount namespace (runc: "unable to
    restrict sys entries without a private MNT namespace")."""
    linux = _obj(raw.get("linux"))
    for field in ("maskedPaths", "readonlyPaths"):
        paths = _arr(linux.get(field))
        for i, p in enumerate(paths):
            if type(p) is str and not p.startswith("/"):
                yield Problem(f"/linux/{field}/{i}", "must be an absolute path")
        if paths and "mount" not in _namespaces(raw):
            yield Problem(f"/linux/{field}", "needs a mount namespace in linux.namespaces")


def check_devices(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.devices`: absolute paths; major and minor are REQUIRED unless the type is "p" (a fifo)."""
    for i, d in enumerate(_arr(_obj(raw.get("linux")).get("devices"))):
        d = _obj(d)
        path = _str(d.get("path"))
        if path is not None and not path.startswith("/"):
            yield Problem(f"/linux/devices/{i}/path", "must be an absolute path")
        t = _str(d.get("type"))
        if t in ("c", "b", "u"):
            for field in ("major", "minor"):
                if field not in d:
                    yield Problem(f"/linux/devices/{i}/{field}", f'is required for a device of type "{t}"')
        yield from _id_problems(d.get("uid"), f"/linux/devices/{i}/uid", "uid")
        yield from _id_problems(d.get("gid"), f"/linux/devices/{i}/gid", "gid")


def check_net_devices(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.netDevices` (1.3) move host interfaces into the container's own network namespace."""
    devices = _obj(_obj(raw.get("linux")).get("netDevices"))
    netns = _namespaces(raw).get("network")
    if devices and netns is None:
        yield Problem("/linux/netDevices", "needs a network namespace in linux.namespaces")
    elif devices and ctx.host and _str(netns.get("path")) and _is_current_netns(netns["path"]):
        # (host) Moving into the namespace the devices are already in would only rename the host's interfaces.
        yield Problem("/linux/netDevices", "the network namespace is the runtime's own: nothing can be moved into it")
    targets: dict[str, str] = {}
    for name, dev in devices.items():
        if not _valid_ifname(name):
            yield Problem(ptr("linux", "netDevices", name), f'"{name}" is not a valid interface name')
        elif ctx.host and os.path.isdir("/sys/class/net") and not os.path.exists(f"/sys/class/net/{name}"):
            # (host) The move checks again (pyrunc.runtime.netdevices); this only reports it before anything exists.
            yield Problem(ptr("linux", "netDevices", name), "no such network device on the host")
        new = _str(_obj(dev).get("name"))
        if new and not _valid_ifname(new.replace("%d", "0")):
            yield Problem(ptr("linux", "netDevices", name, "name"), f'"{new}" is not a valid interface name')
        target = new or name
        if "%d" not in target:
            if target in targets:
                yield Problem(ptr("linux", "netDevices", name),
                              f'would be named "{target}" in the container, as {targets[target]} would')
            targets.setdefault(target, name)


def _valid_ifname(name: str) -> bool:
    """dev_valid_name() in net/core/dev.c."""
    return 0 < len(name.encode()) < IFNAMSIZ and name not in (".", "..") and not any(c in name for c in "/: \t\n")


def check_cgroups_path(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.cgroupsPath` must not climb out with ".." (SECURITY.md rule 7, GHSA-5g49-rx9x-qfc6)."""
    path = _str(_obj(raw.get("linux")).get("cgroupsPath"))
    if path and ".." in path.replace(":", "/").split("/"):
        yield Problem("/linux/cgroupsPath", 'must not contain ".." components')


def check_resources(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.resources`: device rules, memory, cpu, pids, blockIO, rdma, unified."""
    yield from resources_problems(_obj(raw.get("linux")).get("resources"), "/linux/resources")


def resources_problems(res: Any, base: str) -> Iterator[Problem]:
    """Checks of a `linux.resources` object at pointer `base` (also usable for `update --resources`)."""
    res = _obj(res)
    for i, rule in enumerate(_arr(res.get("devices"))):
        rule = _obj(rule)
        t = _str(rule.get("type"))
        if t is not None and t not in ("a", "b", "c"):
            yield Problem(f"{base}/devices/{i}/type", f'must be "a", "b" or "c", got "{t}"')
        access = _str(rule.get("access"))
        if access == "":
            yield Problem(f"{base}/devices/{i}/access", 'must be made of "r", "w" and "m", got ""')
        elif access is not None and set(access) - set("rwm"):
            # The spec defines r, w and m only; runc drops any other letter without a word (its permission sets
            # know three bits), so a config with "rwa" runs there. Same here, said aloud: pyrunc.cgroups.devices
            # keeps only r, w and m, and a rule left with none is a no-op, never a wider rule.
            unknown = "".join(sorted(set(access) - set("rwm")))
            message = f'ignoring unknown device access "{unknown}" in "{access}" (only r, w and m reach the cgroup)'
            yield Problem(f"{base}/devices/{i}/access", message, warning=True)

    mem = _obj(res.get("memory"))
    limit, swap = _int(mem.get("limit")), _int(mem.get("swap"))
    if limit is not None and swap is not None and limit > 0 and 0 < swap < limit:
        yield Problem(f"{base}/memory/swap", f"memory+swap limit {swap} is below the memory limit {limit}")
    swappiness = _int(mem.get("swappiness"))
    if swappiness is not None and swappiness > 100:
        yield Problem(f"{base}/memory/swappiness", f"must be between 0 and 100, got {swappiness}")

    cpu = _obj(res.get("cpu"))
    quota, burst = _int(cpu.get("quota")), _int(cpu.get("burst"))
    if quota is not None and burst is not None and quota > 0 and burst > quota:
        yield Problem(f"{base}/cpu/burst", f"must not be larger than quota {quota}")
    idle = _int(cpu.get("idle"))
    if idle is not None and idle not in (0, 1):
        yield Problem(f"{base}/cpu/idle", f"must be 0 or 1, got {idle}")
    for field in ("cpus", "mems"):
        text = _str(cpu.get(field))
        err = _cpu_list_error(text) if text is not None else None
        if err:
            yield Problem(f"{base}/cpu/{field}", err)

    # pids.limit: any int64. -1 (and, as runc, any negative) is unlimited; 0 is a real limit (runtime-spec 1.3).

    blkio = _obj(res.get("blockIO"))
    for i, wd in enumerate(_arr(blkio.get("weightDevice"))):
        wd = _obj(wd)
        if wd and "weight" not in wd and "leafWeight" not in wd:
            yield Problem(f"{base}/blockIO/weightDevice/{i}", "needs weight or leafWeight")
    for field in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                  "throttleWriteIOPSDevice"):  # fmt: skip
        for i, td in enumerate(_arr(blkio.get(field))):
            if type(td) is dict and "rate" not in td:
                yield Problem(f"{base}/blockIO/{field}/{i}/rate", "is required")

    for name, limits in _obj(res.get("rdma")).items():
        if type(limits) is dict and "hcaHandles" not in limits and "hcaObjects" not in limits:
            yield Problem(ptr(*base.split("/")[1:], "rdma", name), "needs hcaHandles or hcaObjects")

    for key in _obj(res.get("unified")):
        # Each key names a file in the container's cgroup directory: no way out of it (GHSA-5g49-rx9x-qfc6).
        if not key or key in (".", "..") or "/" in key or "\0" in key:
            yield Problem(ptr(*base.split("/")[1:], "unified", key), f'"{key}" is not a cgroup file name')


_ERRNO_ACTIONS = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")


def check_seccomp(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.seccomp`: errno only for actions that return one; SCMP_ACT_NOTIFY needs `listenerPath` and can be
    neither the default action nor used for write(2) (runc); `listenerMetadata` MUST NOT be set without
    `listenerPath`; syscall argument indexes are 0..5."""
    sc = _obj(_obj(raw.get("linux")).get("seccomp"))
    if not sc:
        return
    base = "/linux/seccomp"
    default = _str(sc.get("defaultAction"))
    if "defaultErrnoRet" in sc and default is not None and default not in _ERRNO_ACTIONS:
        yield Problem(f"{base}/defaultErrnoRet", f"cannot be used with defaultAction {default}")
    if default == "SCMP_ACT_NOTIFY":
        yield Problem(f"{base}/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    listener = _str(sc.get("listenerPath"))
    if "listenerMetadata" in sc and not listener:
        yield Problem(f"{base}/listenerMetadata", "must not be set without listenerPath")
    for i, call in enumerate(_arr(sc.get("syscalls"))):
        call = _obj(call)
        action = _str(call.get("action"))
        names = _arr(call.get("names"))
        for j, name in enumerate(names):
            if name == "":
                yield Problem(f"{base}/syscalls/{i}/names/{j}", "must not be empty")
        if "errnoRet" in call and action is not None and action not in _ERRNO_ACTIONS:
            yield Problem(f"{base}/syscalls/{i}/errnoRet", f"cannot be used with action {action}")
        if action == "SCMP_ACT_NOTIFY":
            if not listener:
                yield Problem(f"{base}/syscalls/{i}/action", "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
            if "write" in names:
                yield Problem(f"{base}/syscalls/{i}/action", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
        for j, arg in enumerate(_arr(call.get("args"))):
            index = _int(_obj(arg).get("index"))
            if index is not None and index > 5:
                yield Problem(f"{base}/syscalls/{i}/args/{j}/index", f"must be between 0 and 5, got {index}")


def check_intel_rdt(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.intelRdt`: closID names one resctrl directory ("/" is the default CLOS); schemata have no newlines.
    (host) The spec requires an error when no resctrl filesystem is mounted; pyrunc does not manage resctrl
    groups, so a mounted one is refused as well, rather than the container running outside its CLOS."""
    linux = _obj(raw.get("linux"))
    if ctx.host and "intelRdt" in linux and linux["intelRdt"] is not None:
        if _resctrl_mounted():
            yield Problem("/linux/intelRdt", "Intel RDT (resctrl) is not supported by pyrunc")
        else:
            yield Problem("/linux/intelRdt", "no resctrl filesystem is mounted: Intel RDT is not enabled on this host")
    rdt = _obj(linux.get("intelRdt"))
    clos = _str(rdt.get("closID"))
    if clos is not None and (clos in (".", "..") or (clos != "/" and "/" in clos)):
        yield Problem("/linux/intelRdt/closID", f'"{clos}" is not a valid CLOS name')
    l3 = _str(rdt.get("l3CacheSchema"))
    if l3 is not None and "\n" in l3:
        yield Problem("/linux/intelRdt/l3CacheSchema", "must not contain newlines")
    for i, line in enumerate(_arr(rdt.get("schemata"))):
        if type(line) is str and "\n" in line:
            yield Problem(f"/linux/intelRdt/schemata/{i}", "must not contain newlines")


def _resctrl_mounted() -> bool:
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            return any(line.split(b" - ", 1)[-1].startswith(b"resctrl ") for line in f)
    except OSError:
        return False


def check_lsm(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """(host) `process.apparmorProfile`, `process.selinuxLabel`: refused on a host without that LSM (as runc and
    crun refuse them) instead of running the process unconfined. Applied by pyrunc.security.lsm."""
    process = _obj(raw.get("process"))
    profile, label = _str(process.get("apparmorProfile")), _str(process.get("selinuxLabel"))
    if ctx.host and (profile or label):
        from pyrunc.security import lsm

        for pointer, message in lsm.host_problems(profile, label):
            yield Problem(pointer, message)


_MAX_NUMA_NODE = 65535
_MPOL = "/linux/memoryPolicy"


def check_memory_policy(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.memoryPolicy` (1.3): node list syntax, and the node count each mode needs (set_mempolicy(2))."""
    mp = _obj(raw.get("linux")).get("memoryPolicy")
    if type(mp) is not dict:
        return
    mode = _str(mp.get("mode"))
    yield from _memory_policy_names(mp, mode)
    nodes = _str(mp.get("nodes")) or ""
    err = _cpu_list_error(nodes)
    if err:
        yield Problem("/linux/memoryPolicy/nodes", err)
        return
    # A nodemask the kernel takes holds at most a page of bits (32768 nodes with 4 KiB pages); runc refuses
    # numbers above 65536 before it builds a mask. Checked before anything expands a range.
    highest = max((int(p.strip().partition("-")[2] or p.strip()) for p in nodes.split(",") if p.strip()),
                  default=0)
    if highest > _MAX_NUMA_NODE:
        yield Problem("/linux/memoryPolicy/nodes",
                      f'invalid memory policy nodes "{nodes}": node {highest} is larger than {_MAX_NUMA_NODE}')
        return
    count = _cpu_list_count(nodes)
    # Wording as runc's: "memory policy mode requires ... nodes but got N".
    if mode in ("MPOL_DEFAULT", "MPOL_LOCAL") and count:
        yield Problem("/linux/memoryPolicy/nodes", f"memory policy mode requires 0 nodes but got {count} ({mode})")
    elif mode in ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE") and not count:
        yield Problem("/linux/memoryPolicy/nodes",
                      f"memory policy mode requires at least one node but got 0 ({mode})")


def _memory_policy_names(mp: dict[str, Any], mode: str | None) -> Iterator[Problem]:
    """A missing or unknown `mode`, an unknown flag: the schema refuses these too; runc's wording ("invalid memory
    policy mode", "invalid memory policy flag") replaces the schema's message. Wrong JSON types stay the schema's."""
    from pyrunc.linux.mempolicy import FLAGS, MODES  # only for configs that set a policy

    if "mode" not in mp:
        yield Problem(f"{_MPOL}/mode", "invalid memory policy mode: is required", rewords=True)
    elif mode is not None and mode not in MODES:
        yield Problem(f"{_MPOL}/mode", f'invalid memory policy mode "{mode}" (known: {", ".join(MODES)})',
                      rewords=True)
    for i, flag in enumerate(_arr(mp.get("flags"))):
        if type(flag) is str and flag not in FLAGS:
            yield Problem(f"{_MPOL}/flags/{i}", f'invalid memory policy flag "{flag}" (known: {", ".join(FLAGS)})',
                          rewords=True)


def check_personality(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """`linux.personality`: `domain` is REQUIRED; no flag values are supported by the spec."""
    linux = _obj(raw.get("linux"))
    if "personality" not in linux:
        return
    pers = _obj(linux["personality"])
    if type(linux["personality"]) is dict and "domain" not in pers:
        yield Problem("/linux/personality/domain", "is required")
    for i, _ in enumerate(_arr(pers.get("flags"))):
        yield Problem(f"/linux/personality/flags/{i}", "no personality flags are supported")


_TEXT_CHECKED = ("root", "mounts", "process", "hostname", "domainname", "hooks", "linux")


def check_text(raw: dict[str, Any], ctx: Context) -> Iterator[Problem]:
    """No string may hold a NUL (the kernel would cut it short) or a lone UTF-16 surrogate from a `\\ud800`
    escape (it cannot be encoded for a system call). Only the members the runtime acts on are walked: annotations
    are opaque metadata, and unknown members must be ignored."""
    yield from _walk_text([(f"/{k}", raw[k]) for k in _TEXT_CHECKED if k in raw])


def _walk_text(start: list[tuple[str, Any]]) -> list[Problem]:
    # Iterative (a deeply nested unknown member must not exhaust the Python stack), breadth-first. On the path of
    # every create: the common case (ASCII without NUL) costs one isascii() and one `in` per string.
    problems: list[Problem] = []
    queue = start
    next_item = 0
    while next_item < len(queue):
        where, v = queue[next_item]
        next_item += 1
        t = type(v)
        if t is dict:
            for k, item in v.items():
                child = f"{where}/{pointer_token(k)}"
                if not k.isascii() or "\0" in k:
                    problems.extend(_text_problems(k, child, "a member name"))
                queue.append((child, item))
        elif t is list:
            queue.extend((f"{where}/{i}", item) for i, item in enumerate(v))
        elif t is str and (not v.isascii() or "\0" in v):
            problems.extend(_text_problems(v, where, "the value"))
    return problems


def _text_problems(s: str, where: str, what: str) -> Iterator[Problem]:
    if "\0" in s:
        yield Problem(where, f"{what} must not contain a NUL character")
    elif not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            yield Problem(where, f"{what} contains an unpaired UTF-16 surrogate escape")


CHECKS: tuple[Check, ...] = (
    check_oci_version,
    check_root,
    check_mounts,
    check_process,
    check_hostname,
    check_hooks,
    check_annotations,
    check_namespaces,
    check_user_namespace,
    check_time_namespace,
    check_devices,
    check_net_devices,
    check_cgroups_path,
    check_resources,
    check_sysctl,
    check_seccomp,
    check_paths,
    check_intel_rdt,
    check_lsm,
    check_memory_policy,
    check_personality,
    check_text,
)


def check_config(raw: dict[str, Any], ctx: Context) -> list[Problem]:
    """Every semantic problem of a whole config, in check order (warnings included, flagged)."""
    if type(raw) is not dict:
        return []
    return [p for check in CHECKS for p in check(raw, ctx)]


def check_process_document(proc: Any, ctx: Context) -> list[Problem]:
    """Every semantic problem of an `exec --process` document (pointers relative to it: "/args")."""
    problems = list(process_problems(proc, "", ctx))
    problems.extend(_walk_text([("", proc)]))
    return problems
