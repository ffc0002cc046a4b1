"""config.md#process: args, env, cwd, user, umask, rlimits, oomScoreAdj, capabilities, noNewPrivileges."""

from __future__ import annotations

import os

from conformance.harness import LEAK_MARKER, MUST, RUNC, Bundle, Ctx, case
from conformance.hostinfo import cap_mask


def _status(out: str) -> dict[str, str]:
    res = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            res[key.strip()] = value.strip()
    return res


@case("process.args_exact", MUST, "config.md#process (args)")
def args_exact(t: Ctx) -> None:
    """args reach the program unchanged: spaces, empty strings and globs are not reinterpreted."""
    b = t.bundle(args=["sh", "-c", 'printf "[%s]" "$0" "$@"', "zero", "a b", "", "c*"])
    proc = t.run(b)
    t.expect_eq(proc.out, "[zero][a b][][c*]", "argv seen by the program")


@case("process.args_path_lookup", MUST, "config.md#process (args[0] has execvp file semantics)")
def args_path_lookup(t: Ctx) -> None:
    """A bare args[0] is looked up in the PATH of process.env (not the runtime's PATH)."""
    b = t.bundle(args=["conf-hello", "x"])
    tool = b.rootfs / "conf/bin/conf-hello"
    tool.parent.mkdir(parents=True)
    tool.write_text('#!/bin/sh\necho "hello-from-path $1"\n')
    tool.chmod(0o755)
    b.process["env"] = ["PATH=/conf/bin:/bin:/usr/bin"]
    proc = t.run(b, ok=None)
    t.expect_eq(proc.rc, 0, "exit status")
    t.expect_eq(proc.out, "hello-from-path x\n", "output of the PATH-resolved program")


@case("process.env", MUST, "config.md#process (env)")
def env(t: Ctx) -> None:
    """The environment is process.env (values kept verbatim) and nothing from the runtime's own."""
    b = t.bundle(args=["cat", "/proc/self/environ"])
    b.process["env"] = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c"]
    proc = t.run(b)
    got = [e for e in proc.out.split("\0") if e]
    for want in b.process["env"]:
        t.expect(want in got, f"{want!r} missing from the environment", "\n".join(got))
    t.expect(
        not any(e.startswith(LEAK_MARKER + "=") for e in got), "the runtime's environment leaked in", "\n".join(got)
    )
    extra = [e for e in got if e not in b.process["env"]]
    if extra:
        t.note(f"runtime added {extra}")


@case("process.cwd", MUST, "config.md#process (cwd)")
def cwd(t: Ctx) -> None:
    """The program starts in process.cwd."""

    def edit(b: Bundle) -> None:
        b.process["cwd"] = "/home/conf"

    out = t.sh("pwd; pwd -P", edit)
    t.expect_eq(out.split(), ["/home/conf", "/home/conf"], "working directory")


@case("process.cwd_created", RUNC, "runc creates a missing cwd")
def cwd_created(t: Ctx) -> None:
    """A cwd that does not exist in the rootfs is created."""

    def edit(b: Bundle) -> None:
        b.process["cwd"] = "/conf/new/dir"

    out = t.sh("pwd", edit)
    t.expect_eq(out.strip(), "/conf/new/dir", "working directory")


@case("process.cwd_no_leaked_fd", RUNC, "SECURITY: CVE-2024-21626 (cwd through a leaked fd)")
def cwd_no_leaked_fd(t: Ctx) -> None:
    """cwd=/proc/self/fd/N never lands the process in a host directory through a runtime fd."""
    for fd in range(3, 9):
        b = t.bundle("pwd -P; ls .. | head -3", name=f"fd{fd}")
        b.process["cwd"] = f"/proc/self/fd/{fd}"
        proc = t.run(b, ok=None)
        t.expect(
            "(unreachable)" not in proc.out and "(unreachable)" not in proc.err,
            f"cwd /proc/self/fd/{fd} escaped the container root",
            proc.out + proc.err,
        )


@case("process.user", MUST, "config.md#posix-platform-user")
def user(t: Ctx) -> None:
    """uid, gid and additionalGids are applied (real/effective/saved/fs ids and supplementary groups)."""

    def edit(b: Bundle) -> None:
        b.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}

    out = t.sh("cat /proc/self/status; id", edit)
    st = _status(out)
    t.expect_eq(st.get("Uid", "").split(), ["1000"] * 4, "Uid (real, effective, saved, fs)")
    t.expect_eq(st.get("Gid", "").split(), ["1000"] * 4, "Gid (real, effective, saved, fs)")
    groups = set(st.get("Groups", "").split())
    t.expect({"10", "20"} <= groups <= {"10", "20", "1000"}, f"supplementary groups {sorted(groups)}", out)
    t.expect_in("uid=1000(conf) gid=1000(conf)", out, "`id` output")


@case("process.user_no_inherited_groups", RUNC, "SECURITY: no supplementary groups of the runtime")
def user_no_inherited_groups(t: Ctx) -> None:
    """Without additionalGids the process has no supplementary groups from the runtime (e.g. root's 0)."""

    def edit(b: Bundle) -> None:
        b.process["user"] = {"uid": 1000, "gid": 1000}

    out = t.sh("grep Groups: /proc/self/status", edit)
    groups = set(out.partition(":")[2].split())
    t.expect(groups <= {"1000"}, f"unexpected supplementary groups {sorted(groups)}")


@case("process.umask", MUST, "config.md#posix-platform-user (umask)")
def umask(t: Ctx) -> None:
    """user.umask is applied: `umask` prints it and new files get the masked mode."""

    def edit(b: Bundle) -> None:
        b.process["user"]["umask"] = 0o027

    out = t.sh("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d", edit)
    t.expect_eq(out.split(), ["0027", "640", "750"], "umask, file mode, dir mode")


@case("process.rlimits", MUST, "config.md#posix-process (rlimits)")
def rlimits(t: Ctx) -> None:
    """rlimits show up in /proc/self/limits with the configured soft and hard values."""

    def edit(b: Bundle) -> None:
        b.process["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
            {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
            {"type": "RLIMIT_MSGQUEUE", "soft": 8000, "hard": 9000},
        ]

    out = t.sh("cat /proc/self/limits; ulimit -n", edit)
    lines = {line[:26].strip(): line[26:].split() for line in out.splitlines()}
    for label, soft, hard in (
        ("Max open files", "1000", "2000"),
        ("Max core file size", "4096", "8192"),
        ("Max msgqueue size", "8000", "9000"),
    ):
        t.expect_eq(lines.get(label, [])[:2], [soft, hard], f"{label} (soft, hard)")
    t.expect_eq(out.split()[-1], "1000", "ulimit -n")


@case("process.oom_score_adj", MUST, "config.md#linux-process (oomScoreAdj)")
def oom_score_adj(t: Ctx) -> None:
    """oomScoreAdj is written to the process's oom_score_adj."""

    def edit(b: Bundle) -> None:
        b.process["oomScoreAdj"] = 123

    out = t.sh("cat /proc/self/oom_score_adj", edit)
    t.expect_eq(out.strip(), "123", "oom_score_adj")


@case("process.oom_score_adj_unset", MUST, "config.md#linux-process (oomScoreAdj not set)")
def oom_score_adj_unset(t: Ctx) -> None:
    """Without oomScoreAdj the value is not changed: the container keeps the caller's oom_score_adj."""
    b = t.bundle("cat /proc/self/oom_score_adj")
    b.process.pop("oomScoreAdj", None)
    b.write()
    argv = [
        "sh",
        "-c",
        'echo 37 > /proc/self/oom_score_adj && exec "$@"',
        "sh",
        *t.runtime.argv,
        "--root",
        str(t.root),
        "run",
        "--bundle",
        str(b.path),
        b.cid,
    ]
    proc = t.exec(argv, label="run")
    t.expect_eq(proc.out.strip(), "37", "oom_score_adj inherited from the caller")


@case("process.capabilities", MUST, "config.md#linux-process (capabilities)")
def capabilities(t: Ctx) -> None:
    """Capability sets match the config (CapBnd/CapPrm/CapEff/CapInh/CapAmb) and dropped ones are denied."""
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"]

    def edit(b: Bundle) -> None:
        b.process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}

    out = t.sh(
        "cat /proc/1/status; hostname not-allowed 2>&1; touch /tmp/f && chown 1000 /tmp/f && echo chown-ok",
        edit,
        rc=None,
    )
    st = _status(out)
    mask = cap_mask(caps)
    for key, want in (("CapBnd", mask), ("CapPrm", mask), ("CapEff", mask), ("CapInh", 0), ("CapAmb", 0)):
        t.expect_eq(int(st.get(key, "-1"), 16), want, f"{key} (hex {want:016x})")
    t.expect_in("Operation not permitted", out, "sethostname without CAP_SYS_ADMIN")
    t.expect_in("chown-ok", out, "chown with CAP_CHOWN")


@case("process.capabilities_ambient_nonroot", MUST, "config.md#linux-process (capabilities.ambient)")
def capabilities_ambient_nonroot(t: Ctx) -> None:
    """A non-root process keeps its ambient capabilities across exec (CapAmb/CapEff set, chown works)."""
    kept = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    bounding = [*kept, "CAP_KILL", "CAP_NET_RAW"]

    def edit(b: Bundle) -> None:
        b.process["user"] = {"uid": 1000, "gid": 1000}
        b.process["capabilities"] = {
            "bounding": bounding,
            "effective": kept,
            "permitted": kept,
            "inheritable": kept,
            "ambient": kept,
        }

    out = t.sh("cat /proc/self/status; touch /tmp/f && chown 0 /tmp/f && echo chown-ok", edit, rc=None)
    st = _status(out)
    mask = cap_mask(kept)
    for key, want in (
        ("CapBnd", cap_mask(bounding)),
        ("CapInh", mask),
        ("CapAmb", mask),
        ("CapPrm", mask),
        ("CapEff", mask),
    ):
        t.expect_eq(int(st.get(key, "-1"), 16), want, f"{key} (hex {want:016x})")
    t.expect_in("chown-ok", out, "chown by uid 1000 with an ambient CAP_CHOWN")


@case("process.no_new_privileges", MUST, "config.md#linux-process (noNewPrivileges)")
def no_new_privileges(t: Ctx) -> None:
    """noNewPrivileges=true sets NoNewPrivs: 1; false leaves it 0."""
    for flag, want in ((True, "1"), (False, "0")):
        b = t.bundle("grep NoNewPrivs /proc/self/status", name=f"nnp-{str(flag).lower()}")
        b.process["noNewPrivileges"] = flag
        proc = t.run(b)
        t.expect_eq(proc.out.split()[-1:], [want], f"NoNewPrivs with noNewPrivileges={flag}")


@case("process.personality", MUST, "config-linux.md#personality")
def personality(t: Ctx) -> None:
    """personality LINUX32 makes uname report a 32-bit machine."""
    expected = {"x86_64": "i686", "aarch64": "armv8l"}.get(os.uname().machine)
    if expected is None:
        t.skip(f"no LINUX32 expectation for {os.uname().machine}")

    def edit(b: Bundle) -> None:
        b.linux["personality"] = {"domain": "LINUX32"}

    out = t.sh("uname -m", edit)
    t.expect_eq(out.strip(), expected, "uname -m")
