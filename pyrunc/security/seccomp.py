"""Implements `linux.seccomp`: the spec's profile -> a libseccomp filter -> a BPF program loaded before execve.

Three steps, split because they run at different moments in different processes:

1. `compile_filter(seccomp)` checks the profile (errors name the JSON pointer), builds a libseccomp context,
   exports the BPF program and releases the context. It needs libseccomp (loaded when `pyrunc.linux.libseccomp`
   is imported) but no file system, so it can run in the parent before fork or in the init before or after
   pivot_root.
2. `load_filter(f)` is one seccomp(2) call on the prepared program, made by the init as late as possible
   (right before execve): from then on CPython runs under the container's filter, so nothing after it may
   need a syscall the profile denies. It allocates nothing. Returns the user-notification fd if the filter has
   an SCMP_ACT_NOTIFY rule.
3. `send_listener(...)` hands that fd and the container process state to the seccomp agent at
   `linux.seccomp.listenerPath` (a host path: call it from the runtime side, as runc does).

Semantics follow runc (libcontainer/seccomp): actions as in libseccomp with errno EPERM when `errnoRet` is absent;
`names` expanded to one rule per name; a rule whose action equals the default action is skipped (libseccomp
refuses it); a name this libseccomp/kernel does not know is skipped with a debug log; arguments of one rule are
ANDed, except that when two arguments share an `index` every argument becomes its own rule (so they are ORed);
SECCOMP_FILTER_FLAG_TSYNC is accepted and ignored (the init is single-threaded); NOTIFY may not be the default
action nor be used for the syscalls that hand the listener fd over (NOTIFY_HANDOVER_SYSCALLS). Where the spec is
stricter than runc we follow the spec: `errnoRet` / `defaultErrnoRet` on an action that takes no errno is an
error, `names` must not be empty, `listenerMetadata` needs `listenerPath`. Like runc, a default action that refuses
gets a stub in front of libseccomp's program so that syscalls newer than the profile fail with ENOSYS, which
makes programs fall back to older syscalls (pyrunc.security.enosys); the exported program is what `create` loads,
what the exec cache keeps and what `exec` loads, so all three carry it.
"""

import errno
import os

from pyrunc import SPEC_VERSION, quickjson
from pyrunc.errors import SeccompError, SpecError, SyscallError
from pyrunc.linux import libseccomp as scmp
from pyrunc.log import debug, get_logger
from pyrunc.security import enosys
from pyrunc.spec.model import Seccomp, SeccompSyscall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

log = get_logger(__name__)

# Base action values; ERRNO and TRACE get their errno OR-ed in by `action_value`.
ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": scmp.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": scmp.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": scmp.ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": scmp.ACT_TRAP,
    "SCMP_ACT_ERRNO": scmp.ACT_ERRNO_BASE,
    "SCMP_ACT_TRACE": scmp.ACT_TRACE_BASE,
    "SCMP_ACT_ALLOW": scmp.ACT_ALLOW,
    "SCMP_ACT_LOG": scmp.ACT_LOG,
    "SCMP_ACT_NOTIFY": scmp.ACT_NOTIFY,
}
ERRNO_ACTIONS = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})

OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": scmp.CMP_NE,
    "SCMP_CMP_LT": scmp.CMP_LT,
    "SCMP_CMP_LE": scmp.CMP_LE,
    "SCMP_CMP_EQ": scmp.CMP_EQ,
    "SCMP_CMP_GE": scmp.CMP_GE,
    "SCMP_CMP_GT": scmp.CMP_GT,
    "SCMP_CMP_MASKED_EQ": scmp.CMP_MASKED_EQ,
}

# Spec flag name -> kernel SECCOMP_FILTER_FLAG_* bit. TSYNC maps to 0: accepted and ignored, as runc does.
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 0,
    "SECCOMP_FILTER_FLAG_LOG": scmp.FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": scmp.FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": scmp.FILTER_FLAG_WAIT_KILLABLE_RECV,
}

# Spec architecture names. libseccomp's own name is the lower-cased suffix ("SCMP_ARCH_X86_64" -> "x86_64").
ARCHITECTURES = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
)

MAX_ARGS = 6  # a syscall has at most six arguments
UINT64_MAX = 2**64 - 1
# libseccomp's binary-tree optimisation pays off on long profiles; runc enables it above 32 rules
# (and libseccomp <= 2.5.4 misbehaves with it on an empty rule set).
OPTIMIZE_ABOVE = 32
# Syscalls the init makes, under the new filter, to hand the listener fd to the runtime: if they were NOTIFY'd
# the agent could never get the fd and the container would hang. `write` is runc's rule (its init writes the fd
# number; the runtime takes the fd with pidfd_getfd); pyrunc's init currently sends the fd with
# sendmsg(SCM_RIGHTS) (process/init.py `_load_seccomp`), so sendmsg is refused too.
NOTIFY_HANDOVER_SYSCALLS = ("write", "sendmsg")
SECCOMP_FD_NAME = "seccompFd"  # runtime-spec: name of the fd in the container process state's `fds`


class SeccompConfigError(SeccompError, SpecError):
    """The profile itself is invalid: a SpecError (one `config.json: <pointer>: <message>` line per problem) that
    is also a SeccompError."""


class Rule:
    """One libseccomp rule to add: `conditions` are (arg index, SCMP_CMP_*, datum_a, datum_b), ANDed."""

    __slots__ = ("action", "conditions", "spec_path", "syscall")

    def __init__(self, syscall: str, action: int, conditions: tuple[tuple[int, int, int, int], ...],
                 spec_path: str) -> None:
        self.syscall = syscall
        self.action = action
        self.conditions = conditions
        self.spec_path = spec_path  # /linux/seccomp/syscalls/<i>


class SeccompFilter:
    """A compiled profile, ready for `load_filter`: the BPF program and the kernel flags to load it with."""

    __slots__ = ("flags", "listener_metadata", "listener_path", "notify", "program", "skipped")

    def __init__(self, program: scmp.Program, flags: int, notify: bool, skipped: tuple[str, ...] = (),
                 listener_path: str | None = None, listener_metadata: str | None = None) -> None:
        self.program = program
        self.flags = flags  # SECCOMP_FILTER_FLAG_* for seccomp(2), NEW_LISTENER included when `notify`
        self.notify = notify  # an SCMP_ACT_NOTIFY rule is in the filter: loading returns a listener fd
        self.skipped = skipped  # syscall names unknown to this libseccomp, left out
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata


# --------------------------------------------------------------------------------------------- checks


def _is_uint(v: "Any", maximum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= maximum


def _check_action(name: "Any", errno_ret: "Any", action_ptr: str, errno_ptr: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(name, str) or name not in ACTIONS:
        problems.append((action_ptr, f"unknown seccomp action {name!r}"))
    elif errno_ret is not None and name not in ERRNO_ACTIONS:
        # runtime-spec: "When the action doesn't support an errno, the runtime MUST print an error and fail."
        problems.append((errno_ptr, f"{name} does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"))
    if errno_ret is not None and not _is_uint(errno_ret, 0xFFFF):
        problems.append((errno_ptr, f"must be an integer in 0..65535, got {errno_ret!r}"))
    return problems


def check_profile(seccomp: Seccomp) -> list[tuple[str, str]]:
    """Every problem of `linux.seccomp` that can be seen without libseccomp, as (JSON pointer, message).

    For `spec/validate.py` too: an empty list means `compile_filter` will only fail on what this libseccomp or
    kernel cannot do (unsupported architecture, flag or action).
    """
    base = "/linux/seccomp"
    problems = _check_action(seccomp.default_action, seccomp.default_errno_ret, f"{base}/defaultAction",
                             f"{base}/defaultErrnoRet")
    if seccomp.default_action == "SCMP_ACT_NOTIFY":
        # The init must be able to report the listener fd after the filter is live (runc forbids it too).
        problems.append((f"{base}/defaultAction", "SCMP_ACT_NOTIFY cannot be used as the default action"))
    for i, arch in enumerate(seccomp.architectures):
        if not isinstance(arch, str) or arch not in ARCHITECTURES:
            problems.append((f"{base}/architectures/{i}", f"unknown seccomp architecture {arch!r}"))
    for i, flag in enumerate(seccomp.flags or ()):
        if not isinstance(flag, str) or flag not in FLAGS:
            problems.append((f"{base}/flags/{i}", f"unknown seccomp flag {flag!r}"))
    uses_notify = False
    for call in seccomp.syscalls:
        ptr = f"{base}/syscalls/{call.index}"
        problems += _check_action(call.action, call.errno_ret, f"{ptr}/action", f"{ptr}/errnoRet")
        if not call.names:
            problems.append((f"{ptr}/names", "must contain at least one syscall name"))
        for j, name in enumerate(call.names):
            if not isinstance(name, str) or not name:
                problems.append((f"{ptr}/names/{j}", "a syscall name must be a non-empty string"))
        if call.action == "SCMP_ACT_NOTIFY":
            uses_notify = True
            for j, name in enumerate(call.names):
                if name in NOTIFY_HANDOVER_SYSCALLS:
                    problems.append((f"{ptr}/names/{j}", f"SCMP_ACT_NOTIFY cannot be used for the {name} syscall"))
        for j, arg in enumerate(call.args):
            aptr = f"{ptr}/args/{j}"
            if not _is_uint(arg.index, MAX_ARGS - 1):
                problems.append((f"{aptr}/index", f"must be an argument index in 0..{MAX_ARGS - 1}, "
                                                  f"got {arg.index!r}"))
            if not isinstance(arg.op, str) or arg.op not in OPERATORS:
                problems.append((f"{aptr}/op", f"unknown seccomp operator {arg.op!r}"))
            if not _is_uint(arg.value, UINT64_MAX):
                problems.append((f"{aptr}/value", f"must be a uint64, got {arg.value!r}"))
            if not _is_uint(arg.value_two, UINT64_MAX):
                problems.append((f"{aptr}/valueTwo", f"must be a uint64, got {arg.value_two!r}"))
    if uses_notify and not seccomp.listener_path:
        problems.append((f"{base}/listenerPath", "must be set when SCMP_ACT_NOTIFY is used"))
    if seccomp.listener_metadata is not None and not seccomp.listener_path:
        problems.append((f"{base}/listenerMetadata", "must not be set without listenerPath"))
    return problems


# --------------------------------------------------------------------------------------------- planning


def action_value(name: str, errno_ret: int | None) -> int:
    """The libseccomp action for a spec action name; ERRNO/TRACE default to EPERM like runc."""
    base = ACTIONS[name]
    if name in ERRNO_ACTIONS:
        return base | ((errno.EPERM if errno_ret is None else errno_ret) & scmp.ACT_DATA_MASK)
    return base


def _rules_for(call: SeccompSyscall, default: int) -> list[Rule]:
    action = action_value(call.action, call.errno_ret)
    ptr = f"/linux/seccomp/syscalls/{call.index}"
    if action == default:
        # libseccomp refuses a rule whose action is the default action; it would change nothing anyway.
        return []
    conds = tuple((a.index, OPERATORS[a.op], a.value, a.value_two) for a in call.args)
    if len({c[0] for c in conds}) < len(conds):
        # Several comparisons of the same argument cannot be ANDed by libseccomp: like runc, make each
        # comparison a rule of its own (so they are ORed).
        groups: list[tuple[tuple[int, int, int, int], ...]] = [(c,) for c in conds]
    else:
        groups = [conds]
    return [Rule(name, action, g, ptr) for name in call.names for g in groups]


def plan_rules(seccomp: Seccomp) -> list[Rule]:
    """The rules `compile_filter` adds, in config order (names not yet resolved). Assumes `check_profile` passed."""
    default = action_value(seccomp.default_action, seccomp.default_errno_ret)
    rules: list[Rule] = []
    for call in seccomp.syscalls:
        rules += _rules_for(call, default)
    return rules


# --------------------------------------------------------------------------------------------- compile


def _fail(message: str, spec_path: str, err: int = 0) -> SeccompError:
    e = SeccompError(f"seccomp: {message} (config: {spec_path})")
    e.spec_path = spec_path  # type: ignore[attr-defined]
    e.errno = err  # type: ignore[attr-defined]
    return e


def _kernel_flags(seccomp: Seccomp) -> int:
    if seccomp.flags is None:
        # `flags` absent (not merely empty): runc turns on SPEC_ALLOW when the kernel has it. (Only reachable if
        # the model keeps an absent `flags` as None.)
        return scmp.FILTER_FLAG_SPEC_ALLOW if scmp.filter_flags_supported(scmp.FILTER_FLAG_SPEC_ALLOW) else 0
    flags = 0
    for i, name in enumerate(seccomp.flags or ()):
        bit = FLAGS[name]
        probe = bit | (scmp.FILTER_FLAG_NEW_LISTENER if bit == scmp.FILTER_FLAG_WAIT_KILLABLE_RECV else 0)
        if bit and not scmp.filter_flags_supported(probe):
            raise _fail(f"flag {name} is not supported by this kernel", f"/linux/seccomp/flags/{i}", errno.EINVAL)
        flags |= bit
    return flags


def _build(seccomp: Seccomp, ctx: scmp.FilterContext, rules: list[Rule]) -> tuple[bool, list[str]]:
    for i, arch in enumerate(seccomp.architectures):
        token = scmp.arch_token(arch.removeprefix("SCMP_ARCH_").lower())
        ptr = f"/linux/seccomp/architectures/{i}"
        if not token:
            raise _fail(f"architecture {arch} is not supported by libseccomp {scmp.version_string()}", ptr)
        try:
            ctx.add_arch(token)
        except SyscallError as e:
            raise _fail(f"adding architecture {arch}: {os.strerror(e.errno)}", ptr, e.errno) from None
    # pyrunc's init sets no_new_privs itself (process.noNewPrivileges), at the point the spec requires.
    ctx.set_attr(scmp.FLTATR_CTL_NNP, 0)
    if len(rules) > OPTIMIZE_ABOVE:
        try:
            ctx.set_attr(scmp.FLTATR_CTL_OPTIMIZE, 2)
        except SyscallError as e:
            log.debug("seccomp binary tree optimization not available: %s", e)
    notify = False
    skipped: list[str] = []
    for rule in rules:
        nr = scmp.resolve_syscall(rule.syscall)
        if nr is None:
            # Unknown to this libseccomp/kernel: assume the kernel lacks it, as runc does.
            log.debug("unknown seccomp syscall %r ignored (%s)", rule.syscall, rule.spec_path)
            skipped.append(rule.syscall)
            continue
        try:
            ctx.add_rule(rule.action, nr, rule.conditions)
        except SyscallError as e:
            why = {errno.EEXIST: "conflicts with an earlier rule for the same syscall",
                   errno.EINVAL: "invalid rule", errno.EOPNOTSUPP: "not supported by this libseccomp"}
            raise _fail(f"adding rule for syscall {rule.syscall}: {why.get(e.errno, os.strerror(e.errno))}",
                        rule.spec_path, e.errno) from None
        notify = notify or rule.action == scmp.ACT_NOTIFY
    return notify, skipped


def compile_filter(seccomp: Seccomp) -> SeccompFilter:
    """Implements `linux.seccomp`: build the filter for `seccomp` without loading it.

    Raises SeccompConfigError (a SpecError + SeccompError) for an invalid profile, SeccompError naming the
    `/linux/seccomp/...` pointer for what this libseccomp or kernel cannot do.
    """
    problems = check_profile(seccomp)
    if problems:
        raise SeccompConfigError(problems)
    if not scmp.available():
        raise _fail(f"{scmp.SONAME} cannot be loaded: {scmp.LOAD_ERROR}", "/linux/seccomp")
    rules = plan_rules(seccomp)
    api = scmp.api_level()
    needs = {"SCMP_ACT_KILL_PROCESS": 3, "SCMP_ACT_LOG": 3, "SCMP_ACT_NOTIFY": 6}
    used = [("/linux/seccomp/defaultAction", seccomp.default_action)]
    used += [(f"/linux/seccomp/syscalls/{c.index}/action", c.action) for c in seccomp.syscalls]
    for ptr, act in used:
        if api < needs.get(act, 0):
            raise _fail(f"{act} needs libseccomp API level {needs[act]}, libseccomp {scmp.version_string()} "
                        f"has {api}", ptr)
        if act in needs and not scmp.action_available(ACTIONS[act]):
            raise _fail(f"{act} is not supported by this kernel", ptr, errno.EOPNOTSUPP)
    flags = _kernel_flags(seccomp)
    default = action_value(seccomp.default_action, seccomp.default_errno_ret)
    try:
        ctx = scmp.FilterContext(default)
    except SyscallError as e:
        raise _fail(f"creating filter: {os.strerror(e.errno)}", "/linux/seccomp/defaultAction", e.errno) from None
    try:
        notify, skipped = _build(seccomp, ctx, rules)
        try:
            bpf = ctx.export_bpf()
        except SyscallError as e:
            raise _fail(f"generating the BPF program: {os.strerror(e.errno)}", "/linux/seccomp", e.errno) from None
    finally:
        ctx.release()
    bpf = _add_enosys_stub(seccomp, bpf)
    program = scmp.Program(bpf)
    if program.instructions > scmp.BPF_MAXINSNS:
        raise _fail(f"the filter has {program.instructions} BPF instructions, the kernel accepts at most "
                    f"{scmp.BPF_MAXINSNS}", "/linux/seccomp/syscalls", errno.EINVAL)
    if notify:
        flags |= scmp.FILTER_FLAG_NEW_LISTENER
    elif flags & scmp.FILTER_FLAG_WAIT_KILLABLE_RECV:
        # The kernel accepts WAIT_KILLABLE_RECV only with a listener; without NOTIFY rules it means nothing.
        log.debug("seccomp flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no SCMP_ACT_NOTIFY rule")
        flags &= ~scmp.FILTER_FLAG_WAIT_KILLABLE_RECV
    return SeccompFilter(program=program, flags=flags, notify=notify, skipped=tuple(skipped),
                         listener_path=seccomp.listener_path, listener_metadata=seccomp.listener_metadata)


def _scmp_arch_token(spec_name: str) -> int:
    return scmp.arch_token(spec_name.removeprefix("SCMP_ARCH_").lower())


def _add_enosys_stub(seccomp: Seccomp, bpf: bytes) -> bytes:
    """libseccomp's program `bpf` with runc's -ENOSYS stub in front when the profile wants one.

    Left out (logged) only where it cannot be added, which is safe: the stub never allows a call, it only turns
    the default action into ENOSYS for syscalls newer than the profile. Debug lines, not warnings: a successful
    create writes nothing to the log (podman reads a failing command's log as one JSON object).
    """
    try:
        stub = enosys.stub_for(seccomp, scmp.native_arch(), _scmp_arch_token, scmp.resolve_syscall_arch)
    except enosys.StubError as e:  # pragma: no cover - an inconsistency in the stub generator
        log.debug("seccomp: -ENOSYS stub left out: %s", e)
        return bpf
    if not stub:
        return bpf
    original = len(bpf) // scmp.SOCK_FILTER_SIZE
    if original <= scmp.BPF_MAXINSNS < original + len(stub):
        # The profile alone fits the kernel's limit: load it as it is rather than fail (runc would fail).
        log.debug("seccomp: -ENOSYS stub left out: the filter would exceed %d BPF instructions",
                    scmp.BPF_MAXINSNS)
        return bpf
    return enosys.patch_program(bpf, stub)


def describe_filter(seccomp: Seccomp) -> str:
    """libseccomp's pseudo filter code for `seccomp` (debugging, tests). Same rules as `compile_filter`."""
    problems = check_profile(seccomp)
    if problems:
        raise SeccompConfigError(problems)
    rules = plan_rules(seccomp)
    with scmp.FilterContext(action_value(seccomp.default_action, seccomp.default_errno_ret)) as ctx:
        _build(seccomp, ctx, rules)
        return ctx.export_pfc()


# --------------------------------------------------------------------------------------------- load


def load_filter(f: SeccompFilter) -> int | None:
    """Load the compiled filter into the calling process (the init, right before execve).

    One seccomp(2) syscall, nothing allocated: CPython must still close fds and execve under the new filter.
    Without process.noNewPrivileges this needs CAP_SYS_ADMIN, so the init loads it before dropping capabilities.
    Returns the seccomp user-notification fd (close-on-exec) when the filter has SCMP_ACT_NOTIFY rules, else
    None. Raises SyscallError("seccomp", errno).
    """
    # runc's debug line (its tests check the flags through it); before the filter is live.
    debug(f"seccomp filter flags: {f.flags}")
    fd = scmp.load_program(f.program, f.flags)
    return fd if f.notify else None


# --------------------------------------------------------------------------------------------- notify


def container_process_state(notify_pid: int, state: "Mapping[str, Any]", metadata: str | None) -> "dict[str, Any]":
    """runtime-spec "container process state" (config-linux.md, Seccomp) for one seccompFd."""
    cps: dict[str, Any] = {"ociVersion": SPEC_VERSION, "fds": [SECCOMP_FD_NAME], "pid": notify_pid}
    if metadata:
        cps["metadata"] = metadata
    cps["state"] = dict(state)
    return cps


def send_listener(listener_path: str, notify_fd: int, state: "Mapping[str, Any]", metadata: str | None,
                  notify_pid: int | None = None) -> None:
    """Implements `linux.seccomp.listenerPath`: send the container process state and the seccomp fd to the agent.

    One AF_UNIX SOCK_STREAM connection per state, the fd by SCM_RIGHTS in the first sendmsg, then closed (spec).
    `state` is the runtime-spec state of the container; the container process pid is `notify_pid` (exec: the exec'd
    process), by default the state's `pid` (the init).
    The path is resolved in the caller's mount namespace: call this from the runtime side (host), not from the
    init after pivot_root. Raises SeccompError naming /linux/seccomp/listenerPath.
    """
    ptr = "/linux/seccomp/listenerPath"
    pid = notify_pid if notify_pid is not None else int(state.get("pid") or 0)
    payload = quickjson.dumps(container_process_state(pid, state, metadata), separators=(",", ":")).encode()
    import array  # imported here: only configs with a listenerPath need these
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(listener_path)
            except OSError as e:
                # runc's wording for an agent that is not there, which its users and tests look for
                raise _fail(f"failed to connect with seccomp agent: cannot send seccomp fd to {listener_path}: "
                            f"{e.strerror or e}", ptr, e.errno or 0) from None
            sent = sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [notify_fd]))])
            if sent < len(payload):
                sock.sendall(payload[sent:])  # the spec allows several sendmsg; fds only in the first
    except OSError as e:
        raise _fail(f"cannot send seccomp fd to {listener_path}: {e.strerror or e}", ptr, e.errno or 0) from None


def supported_flags() -> list[str]:
    """Flags this kernel accepts, for `pyrunc features` (TSYNC: always, it is ignored)."""
    out = []
    for name, bit in FLAGS.items():
        probe = bit | (scmp.FILTER_FLAG_NEW_LISTENER if bit == scmp.FILTER_FLAG_WAIT_KILLABLE_RECV else 0)
        if not bit or scmp.filter_flags_supported(probe):
            out.append(name)
    return out


# Names used in CONTRACTS.md.
prepare_filter = compile_filter
send_listener_fd = send_listener
