"""`linux.seccomp` compiled once: `create` keeps the BPF program in the container's state directory, `exec` loads it.

runc compiles the profile again for every exec. For a profile the size of Docker's default that is ~15 ms of
libseccomp (a context, hundreds of rules, the export): most of what `exec` costs after its imports, for a program
that cannot differ from the one `create` compiled. It depends only on the profile (saved in the container's
config.json, which nothing changes), libseccomp's version and the kernel (both fixed while the init runs: a
container of a previous boot is `stopped`), and `exec` applies the container's profile (runc's semantics).

`create` writes the compiled filter to `seccomp.bpf` next to state.json, with the state store's atomic write (temp
file + rename, 0600, in the state directory only root may write). `exec` uses it only when
- its `key` matches: SHA-256 over this format's version, pyrunc's version, libseccomp's version, the kernel's
  release and machine, and the profile exactly as the container's saved config has it (its compact JSON): any
  difference means the program may differ;
- its `digest` matches: SHA-256 over the key, the seccomp(2) flags, the notify bit and the program itself, so a
  truncated or damaged file is never loaded;
- the program is a whole number of instructions, and no more than the kernel accepts (BPF_MAXINSNS).
Otherwise (no file: a container of an older pyrunc, or a create whose write failed; any mismatch; a file that does
not parse) `exec` compiles the profile as before (`pyrunc.security.seccomp.compile_filter`), with all its checks.
Either way what is loaded is one seccomp(2) call on a prepared program (`load_filter`), so the security steps
around it (before the capabilities are dropped, or last with no_new_privs) do not change.
"""

import posix

from pyrunc import quickjson
from pyrunc.runtime import state as statestore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyrunc.security.seccomp import SeccompFilter
    from pyrunc.spec.model import Seccomp

FILE = "seccomp.bpf"
# Bump when what compile_filter produces for a profile changes meaning. 2: the -ENOSYS stub in front of the
# program (pyrunc.security.enosys); a format-1 record holds a program without it, and is recompiled.
FORMAT = 2
_COMPACT = (",", ":")


def _sha256(data: bytes) -> str:
    """hexdigest; the C module directly (`hashlib` is a ~3 ms import: it loads OpenSSL's)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,no-redef]  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256  # type: ignore[no-redef]
    return str(sha256(data).hexdigest())


def profile_key(profile: "dict[str, Any]") -> str:
    """What the compiled program depends on: the raw `linux.seccomp` object of the saved config, and the versions
    of everything that turns it into BPF."""
    from pyrunc import __version__
    from pyrunc.linux import libseccomp

    uname = posix.uname()
    head = f"pyrunc-seccomp {FORMAT} {__version__} libseccomp {libseccomp.version_string()} " \
           f"{uname.sysname} {uname.release} {uname.machine}\n"
    return _sha256(head.encode() + quickjson.dumps(profile, separators=_COMPACT).encode())


def _digest(key: str, flags: int, notify: bool, program: bytes) -> str:
    return _sha256(f"{key} {flags} {int(notify)}\n".encode() + program)


def save(root: str, cid: str, profile: "dict[str, Any]", f: "SeccompFilter") -> bool:
    """After `create` compiled `profile` into `f`: keep the program for `exec`. Best effort: a failed write only
    means exec compiles (returns False; nothing is left behind)."""
    from pyrunc.errors import PyruncError
    from pyrunc.log import debug

    program = f.program.to_bytes()
    key = profile_key(profile)
    record = {"format": FORMAT, "key": key, "flags": f.flags, "notify": f.notify, "skipped": list(f.skipped),
              "program": program.hex(), "digest": _digest(key, f.flags, f.notify, program)}
    try:
        statestore.write_file(root, cid, FILE, quickjson.dumps(record, separators=_COMPACT).encode())
    except PyruncError as e:
        debug(f"seccomp: compiled filter not kept for exec: {e}")
        return False
    return True


def load(root: str, cid: str, profile: "dict[str, Any]", seccomp: "Seccomp") -> "SeccompFilter | None":
    """The filter `create` compiled from `profile` (the saved config's `linux.seccomp`, whose model is `seccomp`),
    or None when there is none that provably matches (see the module doc): then compile."""
    from pyrunc.log import debug

    try:
        raw = statestore.read_file(root, cid, FILE)
    except OSError:
        raw = None
    if raw is None:
        return None
    why = _check(raw, profile)
    if isinstance(why, str):
        debug(f"seccomp: {FILE} of container {cid} not used ({why}): compiling the profile")
        return None
    flags, notify, skipped, program = why
    from pyrunc.linux import libseccomp as scmp
    from pyrunc.security.seccomp import SeccompFilter

    return SeccompFilter(program=scmp.Program(program), flags=flags, notify=notify, skipped=skipped,
                         listener_path=seccomp.listener_path, listener_metadata=seccomp.listener_metadata)


def _check(raw: bytes, profile: "dict[str, Any]") -> "str | tuple[int, bool, tuple[str, ...], bytes]":
    """(flags, notify, skipped, program) of a record that matches `profile`, else why not."""
    from pyrunc.linux.libseccomp import BPF_MAXINSNS, SOCK_FILTER_SIZE

    try:
        rec = quickjson.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "does not parse"
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        return "another format"
    key, flags, notify, skipped, hexed, digest = (rec.get(k) for k in
                                                  ("key", "flags", "notify", "skipped", "program", "digest"))
    if type(flags) is not int or type(notify) is not bool or not isinstance(hexed, str) \
            or not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return "malformed"
    if key != profile_key(profile):
        return "compiled from another profile or by another libseccomp"
    try:
        program = bytes.fromhex(hexed)
    except ValueError:
        return "malformed program"
    if digest != _digest(key, flags, notify, program):
        return "digest mismatch"
    if not program or len(program) % SOCK_FILTER_SIZE or len(program) // SOCK_FILTER_SIZE > BPF_MAXINSNS:
        return "not a BPF program the kernel accepts"
    return flags, notify, tuple(skipped), program
