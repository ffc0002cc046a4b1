"""Read a bundle's config.json (or an `exec --process` file) strictly, validate it fully, return the typed model.

Order: read (a regular file, bounded size) -> strict JSON (UTF-8 only; NaN, Infinity, out-of-range numbers and
duplicate keys refused; too-deep nesting caught) -> schema pass (`pyrunc.spec.schema`, our interpreter of
schemas/config.schema.json) -> semantic checks (`pyrunc.spec.validate`). Every problem of the last two passes is
collected and raised together as one `SpecError`, which renders as `config.json: /process/args: must not be empty`.
Only then are relative paths resolved against the bundle (`root.path`, bind-mount sources) and the dict turned into
`pyrunc.spec.model.Spec`.

Imports only built-in modules (`_json`, not `json`: see pyrunc.quickjson), os and our own: never jsonschema, `json`,
`re` or `typing` (create and run pay every import on every call; `json` is imported only to word a parse error).
"""

from __future__ import annotations

import _json
import errno
import math
import os
import stat

from pyrunc import quickjson
from pyrunc.errors import PyruncError, SpecError
from pyrunc.spec import schema
from pyrunc.spec.model import Process, Spec
from pyrunc.spec.validate import Context, Problem, check_config, check_process_document, ptr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

CONFIG_NAME = "config.json"
MAX_DOCUMENT_BYTES = 32 << 20  # a large seccomp profile is ~100 KiB; anything near this is not a config


# --------------------------------------------------------------------------------------------- strict JSON


class _Reject(ValueError):
    """A JSON construct we refuse, raised from inside the json parser's hooks."""


def _reject_constant(name: str) -> Any:
    raise _Reject(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Reject(f"the number {text} is out of range")
    return value


def parse_json(data: bytes, source: str) -> Any:
    """Parse a JSON document strictly; any problem is a SpecError naming `source` (and the member, for duplicates)."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise SpecError([("", "starts with a UTF-8 byte order mark, which JSON does not allow")], source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError([("", f"is not valid UTF-8 (byte {e.start})")], source) from None

    duplicates: list[tuple[dict[str, Any], list[str]]] = []

    def object_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            dups = []
            for key, _ in pairs:
                if key in seen and key not in dups:
                    dups.append(key)
                seen.add(key)
            duplicates.append((obj, dups))
        return obj

    try:
        doc = _scan_strict(text, object_hook)
    except (StopIteration, ValueError, RecursionError):
        # The message of a malformed document comes from `json` itself, whose import (~7 ms: it imports `re`)
        # only a broken config pays.
        _raise_json_error(text, source)
    if duplicates:
        raise SpecError(_duplicate_problems(doc, duplicates), source)
    return doc


class _StrictSettings:
    """What `_json.make_scanner` reads from a json.JSONDecoder: NaN/Infinity refused, floats must be finite,
    objects built by the duplicate-recording hook."""

    strict = True
    object_hook = None
    parse_int = int
    parse_constant = staticmethod(_reject_constant)
    parse_float = staticmethod(_finite_float)

    def __init__(self, object_pairs_hook: Any) -> None:
        self.object_pairs_hook = object_pairs_hook


_JSON_SPACE = " \t\n\r"


def _scan_strict(text: str, object_pairs_hook: Any) -> Any:
    """json.loads(text, object_pairs_hook=..., parse_constant=_reject_constant, parse_float=_finite_float) on the
    C scanner `json` itself uses, without importing `json` (see pyrunc.quickjson). Raises ValueError (or
    StopIteration, RecursionError) on anything json.loads would refuse."""
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    doc, end = quickjson.scan(_json.make_scanner(_StrictSettings(object_pairs_hook)), text, start)
    if text[end:].strip(_JSON_SPACE):
        raise ValueError("extra data")
    return doc


def _raise_json_error(text: str, source: str) -> NoReturn:
    """Raise the SpecError for a document the strict scanner refused, worded from `json`'s own messages."""
    import json

    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise SpecError([("", f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})")], source) from None
    except _Reject as e:
        raise SpecError([("", f"invalid JSON: {e}")], source) from None
    except RecursionError:
        raise SpecError([("", "invalid JSON: nested too deeply")], source) from None
    except ValueError as e:  # int() refusing a number with thousands of digits
        raise SpecError([("", f"invalid JSON: {e}".split(";")[0])], source) from None
    raise SpecError([("", "invalid JSON")], source)


def _duplicate_problems(doc: Any, duplicates: list[tuple[dict[str, Any], list[str]]]) -> list[tuple[str, str]]:
    """Pointers of the members that appear more than once (found by walking to the objects that had them)."""
    wanted = {id(obj): keys for obj, keys in duplicates}
    problems: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, v = stack.pop()
        if type(v) is dict:
            for key in wanted.get(id(v), ()):
                problems.append((f"{where}{ptr(key)}", "appears more than once in the same object"))
            stack.extend((f"{where}{ptr(k)}", item) for k, item in v.items())
        elif type(v) is list:
            stack.extend((f"{where}/{i}", item) for i, item in enumerate(v))
    return sorted(problems)


def read_document(path: str, source: str, *, missing: str, allow_pipe: bool = False) -> Any:
    """Read and strictly parse the JSON file at `path`. `missing` is the message if it does not exist.

    The file must be a regular file (opened O_NONBLOCK first, so a fifo planted as config.json cannot hang us) of at
    most MAX_DOCUMENT_BYTES.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise PyruncError(missing) from None
        raise PyruncError(f"open {path}: {os.strerror(e.errno or 0)}") from None
    try:
        st = os.fstat(fd)
        if allow_pipe and stat.S_ISFIFO(st.st_mode):
            # `exec -p <(...)`: a process file may come through a pipe (runc reads it); still size-capped below.
            os.set_blocking(fd, True)
        elif not stat.S_ISREG(st.st_mode):
            raise PyruncError(f"{path} is not a regular file")
        if st.st_size > MAX_DOCUMENT_BYTES:
            raise PyruncError(f"{path} is too large ({st.st_size} bytes, the limit is {MAX_DOCUMENT_BYTES})")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_DOCUMENT_BYTES:
                raise PyruncError(f"{path} is too large (over {MAX_DOCUMENT_BYTES} bytes)")
            chunks.append(chunk)
    except OSError as e:
        raise PyruncError(f"read {path}: {os.strerror(e.errno or 0)}") from None
    finally:
        os.close(fd)
    return parse_json(b"".join(chunks), source)


# --------------------------------------------------------------------------------------------- validation


def _merge(schema_errors: list[tuple[str, str]], semantic: list[Problem]) -> list[Problem]:
    """Schema problems first, then semantic ones not about a field the schema already refused.

    A semantic problem marked `rewords` takes the place of the schema's problem at the same pointer (runc's
    wording for the same fault); when the schema found nothing there it is reported as any other.
    """
    reworded = {prob.pointer: prob for prob in semantic if prob.rewords}
    problems = [reworded.pop(p, None) or Problem(p, m) for p, m in schema_errors]
    refused = {p for p, _ in schema_errors}
    for prob in semantic:
        pointer = prob.pointer
        if pointer in refused or any(pointer.startswith(r + "/") for r in refused):
            continue
        problems.append(prob)
    return problems


def resolve_bundle(bundle: str) -> str:
    """The bundle directory as an absolute path with symlinks resolved (runc works from `chdir(bundle); getwd()`)."""
    try:
        st = os.stat(bundle)
    except OSError as e:
        raise PyruncError(f"bundle {bundle}: {os.strerror(e.errno or 0)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise PyruncError(f"bundle {bundle}: {os.strerror(errno.ENOTDIR)}")
    return os.path.realpath(bundle)


def inspect_bundle(
    bundle: str,
    *,
    console_socket: str | None = None,
    for_create: bool = True,
    detach: bool | None = None,
) -> tuple[str, Any, list[Problem]]:
    """Read `<bundle>/config.json` and find every problem: (absolute bundle, raw document, problems).

    Problems include warnings (`Problem.warning`). Raises PyruncError if the bundle or config.json is missing and
    SpecError if the file is not strict JSON (nothing else can be checked then).
    """
    abs_bundle = resolve_bundle(bundle)
    path = os.path.join(abs_bundle, CONFIG_NAME)
    raw = read_document(path, CONFIG_NAME, missing=f"JSON specification file {path} not found")
    ctx = Context(
        bundle=abs_bundle,
        for_create=for_create,
        detach=for_create if detach is None else detach,
        console_socket=console_socket,
    )
    return abs_bundle, raw, _merge(schema.validate(raw), check_config(raw, ctx))


def _raise_errors(problems: list[Problem], source: str) -> None:
    errors = [(p.pointer, p.message) for p in problems if not p.warning]
    warnings = [p for p in problems if p.warning]
    if warnings:
        from pyrunc.log import get_logger

        log = get_logger("pyrunc.spec")
        for w in warnings:
            log.warning("%s: %s: %s", source, w.pointer or "/", w.message)
    if errors:
        raise SpecError(errors, source)


def resolve_paths(raw: dict[str, Any], bundle: str) -> None:
    """Make the paths the spec defines as bundle-relative absolute: `root.path` and bind-mount `source`s."""
    root = raw["root"]
    root["path"] = os.path.normpath(os.path.join(bundle, root["path"]))
    for m in raw.get("mounts") or ():
        options = m.get("options") or ()
        source = m.get("source")
        if source and ("bind" in options or "rbind" in options) and not source.startswith("/"):
            m["source"] = os.path.normpath(os.path.join(bundle, source))


def load_bundle(
    bundle: str,
    *,
    console_socket: str | None = None,
    for_create: bool = True,
    detach: bool | None = None,
) -> tuple[Spec, dict[str, Any]]:
    """`load_spec`, also returning the validated raw dict (paths resolved) for saving with the container state."""
    abs_bundle, raw, problems = inspect_bundle(
        bundle, console_socket=console_socket, for_create=for_create, detach=detach
    )
    _raise_errors(problems, CONFIG_NAME)
    resolve_paths(raw, abs_bundle)
    return Spec.from_dict(raw, bundle=abs_bundle), raw


def load_spec(
    bundle: str,
    *,
    console_socket: str | None = None,
    for_create: bool = True,
    detach: bool | None = None,
) -> Spec:
    """Load and fully validate `<bundle>/config.json`.

    `for_create`: the config is for create/run, so `process` is required. `detach` (default: `for_create`): the
    container runs detached (create, run -d), so `process.terminal: true` needs `console_socket`; pass
    `detach=False` for a foreground `run`. Raises PyruncError (bundle or file missing) or SpecError (every problem).
    `root.path` and relative bind-mount sources come back absolute; `Spec.bundle` is the resolved bundle path.
    """
    return load_bundle(bundle, console_socket=console_socket, for_create=for_create, detach=detach)[0]


def load_process(path: str, *, console_socket: str | None = None, detach: bool | None = None) -> Process:
    """Load and validate an `exec --process FILE` document (the `process` object of config.json).

    Problems are reported against the file as given: `process.json: /args: must not be empty`. With `detach` given,
    the terminal/--console-socket rule of create applies too (exec -d with terminal: true needs a console socket).
    """
    raw = read_document(path, path, missing=f"process file {path} not found", allow_pipe=True)
    if detach is None:
        ctx = Context(bundle="", for_create=False)
    else:
        ctx = Context(bundle="", for_create=True, detach=detach, console_socket=console_socket)
    problems = _merge(schema.validate(raw, "config", "Process"), check_process_document(raw, ctx))
    _raise_errors(problems, path)
    return Process.from_dict(raw)


def check_resources_document(data: bytes, source: str) -> dict[str, Any]:
    """Strictly parse and validate an `update --resources` document (a `linux.resources` object); return the dict.

    Problems are reported against `source` with pointers relative to the document (`resources.json: /pids/limit:
    must be an integer (got string)`); build the model with `pyrunc.spec.model.Resources.from_dict`.
    """
    from pyrunc.spec.validate import resources_problems

    raw = parse_json(data, source)
    problems = _merge(schema.validate(raw, "config", "Resources"), list(resources_problems(raw, "")))
    _raise_errors(problems, source)
    return raw  # type: ignore[no-any-return]
