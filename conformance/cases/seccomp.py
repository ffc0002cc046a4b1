"""config-linux.md#seccomp: actions, errnoRet and argument filters take effect in the container."""

from __future__ import annotations

from conformance.harness import MUST, Bundle, Ctx, case


def _profile(b: Bundle, syscalls: list[dict]) -> None:
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}


@case("seccomp.errno", MUST, "config-linux.md#seccomp (SCMP_ACT_ERRNO, default EPERM)")
def errno(t: Ctx) -> None:
    """A syscall with SCMP_ACT_ERRNO fails with EPERM; other syscalls still work."""

    def edit(b: Bundle) -> None:
        _profile(b, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])

    out = t.sh("mkdir /tmp/blocked 2>&1; touch /tmp/allowed && echo touch-ok; ls -d /tmp/blocked 2>&1", edit, rc=None)
    t.expect_in("Operation not permitted", out, "mkdir under the filter")
    t.expect_in("touch-ok", out, "control: an unfiltered syscall")
    t.expect_in("No such file", out, "the directory must not exist")


@case("seccomp.errno_ret", MUST, "config-linux.md#seccomp (errnoRet)")
def errno_ret(t: Ctx) -> None:
    """errnoRet chooses the errno returned by a filtered syscall."""

    def edit(b: Bundle) -> None:
        _profile(b, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}])

    out = t.sh("mkdir /tmp/blocked 2>&1; echo end", edit, rc=None)
    t.expect_in("Function not implemented", out, "mkdir with errnoRet 38 (ENOSYS)")


@case("seccomp.args", MUST, "config-linux.md#seccomp (args)")
def args(t: Ctx) -> None:
    """An argument condition limits the rule: kill(pid, SIGUSR1) fails, kill(pid, 0) and SIGUSR2 work."""

    def edit(b: Bundle) -> None:
        _profile(
            b,
            [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}],
        )

    out = t.sh(
        "trap 'echo got-USR1' USR1; trap 'echo got-USR2' USR2; kill -0 $$ && echo zero-ok; "
        "kill -USR1 $$ 2>&1; kill -USR2 $$; sleep 0.1; echo end",
        edit,
        rc=None,
    )
    t.expect_in("zero-ok", out, "kill -0")
    t.expect_in("Operation not permitted", out, "kill -USR1 under the filter")
    t.expect("got-USR1" not in out, "SIGUSR1 was delivered", out)
    t.expect_in("got-USR2", out, "control: SIGUSR2")


@case("seccomp.kill_process", MUST, "config-linux.md#seccomp (SCMP_ACT_KILL_PROCESS)")
def kill_process(t: Ctx) -> None:
    """SCMP_ACT_KILL_PROCESS kills a process making the filtered syscall with SIGSYS."""

    def edit(b: Bundle) -> None:
        _profile(b, [{"names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS"}])

    out = t.sh("(sync); echo rc=$?", edit, rc=None)
    t.expect_in("rc=159", out, "exit status of a subshell calling sync(2) (128 + SIGSYS)")
