"""config-linux.md#namespaces: new, inherited and joined namespaces (checked from the host and inside)."""

from __future__ import annotations

from conformance import hostinfo
from conformance.harness import MUST, RUNC, Bundle, Ctx, case

NS_FILE = {
    "pid": "pid",
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "mount": "mnt",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
ID_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def add_userns(b: Bundle) -> None:
    b.add_namespace("user")
    b.linux["uidMappings"] = [dict(m) for m in ID_MAP]
    b.linux["gidMappings"] = [dict(m) for m in ID_MAP]


def _new_ns_case(ns_type: str) -> None:
    nsfile = NS_FILE[ns_type]

    def check(t: Ctx) -> None:
        if not hostinfo.kernel_has_ns(nsfile):
            t.skip(f"kernel has no {nsfile} namespace")
        b = t.bundle()
        if ns_type == "user":
            add_userns(b)
        else:
            b.add_namespace(ns_type)
        t.create(b)
        pid = t.pid_from_file(b.cid)
        t.expect(
            hostinfo.ns_inode(pid, nsfile) != hostinfo.ns_inode("self", nsfile),
            f"container process {pid} shares the runtime's {nsfile} namespace",
        )

    check.__doc__ = (
        f"A {ns_type} namespace without path is newly created (/proc/<pid>/ns/{nsfile} differs from the host's)."
    )
    case(f"ns.new_{ns_type}", MUST, "config-linux.md#namespaces")(check)


for _ns in NS_FILE:
    _new_ns_case(_ns)


@case("ns.inherit_unlisted", MUST, "config-linux.md#namespaces")
def inherit_unlisted(t: Ctx) -> None:
    """Namespace types not listed are inherited from the runtime (net, ipc, uts, cgroup here)."""
    b = t.bundle()
    b.set_namespaces(["pid", "mount"])
    b.remove_mount("/sys")  # a sysfs mount needs a private network namespace
    b.config.pop("hostname", None)
    t.create(b)
    pid = t.pid_from_file(b.cid)
    for nsfile in ("net", "ipc", "uts", "cgroup"):
        t.expect_eq(hostinfo.ns_inode(pid, nsfile), hostinfo.ns_inode("self", nsfile), f"{nsfile} namespace inode")


@case("ns.join_path", MUST, "config-linux.md#namespaces (path)")
def join_path(t: Ctx) -> None:
    """A namespace with a path is joined: a second container shares the first one's net, ipc and uts."""
    a = t.bundle(name="first")
    t.create(a)
    apid = t.pid_from_file(a.cid)
    b = t.bundle(name="second")
    for ns_type in ("network", "ipc", "uts"):
        b.add_namespace(ns_type, f"/proc/{apid}/ns/{NS_FILE[ns_type]}")
    b.config.pop("hostname", None)
    t.create(b)
    bpid = t.pid_from_file(b.cid)
    for ns_type in ("network", "ipc", "uts"):
        nsfile = NS_FILE[ns_type]
        t.expect_eq(hostinfo.ns_inode(bpid, nsfile), hostinfo.ns_inode(apid, nsfile), f"{nsfile} inode of joiner")
    t.expect(hostinfo.ns_inode(bpid, "pid") != hostinfo.ns_inode(apid, "pid"), "pid namespace was shared too")


@case("ns.join_wrong_type", MUST, "config-linux.md#namespaces (path)")
def join_wrong_type(t: Ctx) -> None:
    """A path that is not a namespace of the given type is an error, and no container is left."""
    a = t.bundle(name="first")
    t.create(a)
    apid = t.pid_from_file(a.cid)
    b = t.bundle(name="second")
    b.add_namespace("network", f"/proc/{apid}/ns/ipc")
    t.create(b, ok=False)
    t.expect_gone(b.cid, b.cgroups_path)


@case("ns.pid_init", MUST, "config-linux.md#namespaces (pid)")
def pid_init(t: Ctx) -> None:
    """In a new pid namespace the process is pid 1 and sees only the container's processes."""
    out = t.sh("echo pid=$$; sleep 0.01 & ls /proc | grep -c '^[0-9]'")
    lines = out.split()
    t.expect_eq(lines[0] if lines else "", "pid=1", "pid of the container process")
    t.expect(
        len(lines) > 1 and lines[1].isdigit() and int(lines[1]) <= 4,
        "more processes visible than the container's own",
        out,
    )


@case("ns.network_isolated", MUST, "config-linux.md#namespaces (network)")
def network_isolated(t: Ctx) -> None:
    """A new network namespace has only the loopback interface."""
    out = t.sh("ls /sys/class/net")
    t.expect_eq(out.split(), ["lo"], "interfaces in the container")


@case("ns.loopback_up", RUNC, "runc brings lo up in a new network namespace")
def loopback_up(t: Ctx) -> None:
    """The loopback interface of a new network namespace is up (IFF_UP set)."""
    out = t.sh("cat /sys/class/net/lo/flags")
    t.expect(out.strip() and int(out.strip(), 16) & 1, f"lo flags {out.strip()!r} lack IFF_UP")


@case("ns.cgroup_view", MUST, "config-linux.md#namespaces (cgroup)")
def cgroup_view(t: Ctx) -> None:
    """With a cgroup namespace the container sees its own cgroups as the root ("/")."""
    if not hostinfo.kernel_has_ns("cgroup"):
        t.skip("kernel has no cgroup namespace")

    def edit(b: Bundle) -> None:
        b.add_namespace("cgroup")

    out = t.sh("cat /proc/self/cgroup", edit)
    paths = [line.split(":", 2)[2] for line in out.splitlines() if line.count(":") >= 2]
    t.expect(paths, "empty /proc/self/cgroup", out)
    t.expect(all(p == "/" for p in paths), "cgroup paths are not namespace roots", out)


@case("ns.time_offsets", MUST, "config-linux.md#offset-for-time-namespace")
def time_offsets(t: Ctx) -> None:
    """timeOffsets are applied to the new time namespace (/proc/self/timens_offsets, uptime)."""
    if not hostinfo.kernel_has_ns("time"):
        t.skip("kernel has no time namespace")
    offset = 10 * 86400

    def edit(b: Bundle) -> None:
        b.add_namespace("time")
        b.linux["timeOffsets"] = {
            "monotonic": {"secs": offset, "nanosecs": 0},
            "boottime": {"secs": offset, "nanosecs": 0},
        }

    out = t.sh("cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime", edit)
    offsets = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            offsets[parts[0]] = parts[1]
    t.expect_eq(offsets.get("monotonic"), str(offset), "monotonic offset")
    t.expect_eq(offsets.get("boottime"), str(offset), "boottime offset")
    with open("/proc/uptime") as f:
        host_up = float(f.read().split()[0])
    inside = int(out.split()[-1])
    t.expect(inside >= host_up + offset - 60, f"uptime inside {inside} does not include the offset (host {host_up})")


@case("ns.inherit_mount", MUST, "config-linux.md#namespaces (mount not listed)")
def inherit_mount(t: Ctx) -> None:
    """Without a mount entry the container lives in the runtime's mount namespace, in its own rootfs, with its
    mounts (runtime-tools linux_ns_itype)."""
    b = t.bundle("cat /proc/self/mountinfo; echo; test -f /bin/busybox && echo has-rootfs")
    b.set_namespaces(["pid", "ipc", "uts", "network"])
    b.linux.pop("maskedPaths", None)
    b.linux.pop("readonlyPaths", None)
    b.write()
    t.create(b)
    pid = t.pid_from_file(b.cid)
    t.expect_eq(hostinfo.ns_inode(pid, "mnt"), hostinfo.ns_inode("self", "mnt"), "mnt namespace inode")
    t.start(b.cid)
    out = t.wait_output(b.cid, "has-rootfs")
    t.expect(any(m.mountpoint == "/proc" and m.fstype == "proc" for m in hostinfo.parse_mountinfo(out)),
             "no procfs at /proc in the container", out)
