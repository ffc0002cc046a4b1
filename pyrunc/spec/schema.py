"""A small, fast interpreter for the JSON-Schema subset our own schemas (`schemas/*.schema.json`) use.

Why not `jsonschema`: importing it costs ~170 ms, and `create`/`run` validate config.json on every call. This module
needs only `json` and `re`; it compiles a schema once per process into nested closures, then checks a document in
well under a millisecond for a typical config. The test suite proves it agrees with `jsonschema` (the oracle) on
our schemas over the whole config corpus and on generated documents.

Dialect: JSON Schema 2020-12 restricted to the keywords in `_KEYWORDS`; a schema using any other keyword is
refused when compiled (so a keyword can never be silently ignored). One deliberate difference from the standard:
`"type": "integer"` accepts only JSON numbers written without a fraction or exponent (Python `int`, never `bool`),
as draft-04 did. A uid of `1.0` is therefore an error, as it is for the runtime-spec's own (draft-04) schema.

Errors are `(json_pointer, message)` pairs, pointers escaped per RFC 6901 (`~0`, `~1`). A missing required member
is reported at the member's own pointer (`/process/cwd: is required`). After a type mismatch, the other keywords of
that schema node are not evaluated (they would only repeat the problem).
"""

from __future__ import annotations

import os
import sys

from pyrunc import quickjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

if TYPE_CHECKING:
    Errors = list[tuple[str, str]]
    Check = Callable[[Any, str, Errors], None]

SCHEMA_FILES = {"config": "config.schema.json", "state": "state.schema.json"}

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples", "deprecated"}
)
_KEYWORDS = _ANNOTATIONS | {
    "type", "enum", "const", "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "properties", "required", "additionalProperties", "patternProperties", "minProperties",
    "items", "minItems", "maxItems", "uniqueItems",
    "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
}  # fmt: skip


class SchemaCompileError(Exception):
    """The schema itself uses something this interpreter does not implement (a bug in schemas/, not bad input)."""


# --------------------------------------------------------------------------------------------- locating schemas


def schema_dirs() -> list[str]:
    """Where schemas/ is looked for: $PYRUNC_SCHEMA_DIR, the source checkout, then <prefix>/share/pyrunc/schemas."""
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [os.path.join(here, os.pardir, os.pardir, "schemas"), os.path.join(sys.prefix, "share", "pyrunc", "schemas")]
    env = os.environ.get("PYRUNC_SCHEMA_DIR")
    return [env, *dirs] if env else dirs


def schema_file(name: str) -> str:
    """Path of the schema file called `name` ("config" or "state")."""
    fname = SCHEMA_FILES[name]
    for d in schema_dirs():
        path = os.path.join(d, fname)
        if os.path.isfile(path):
            return os.path.normpath(path)
    from pyrunc.errors import PyruncError

    raise PyruncError(f"schema file {fname} not found (looked in {', '.join(schema_dirs())})")


def load_schema(name: str) -> dict[str, Any]:
    """The schema document `name` ("config" or "state") as a dict."""
    with open(schema_file(name), "rb") as f:
        doc: dict[str, Any] = quickjson.loads(f.read())
    return doc


# --------------------------------------------------------------------------------------------- helpers

_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "boolean": "a boolean",
            "integer": "an integer", "number": "a number", "null": "null"}  # fmt: skip


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value."""
    if value is None:
        return "null"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def pointer_token(key: str) -> str:
    """RFC 6901 escaping of one reference token."""
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


def _short(value: Any) -> str:
    import json  # an error message: the common path never gets here

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


class Pattern:
    """A schema `pattern`, matched as `re.search` would, without importing `re` (~5 ms, half an interpreter start,
    on every create) for the simple patterns our schemas use: `^`-anchored sequences of literals, escapes and
    [character classes], each optionally followed by `*` or `+`, ending with `$`. Anything else is handed to
    `re`, compiled on first use."""

    __slots__ = ("_atoms", "_rx", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._atoms = _simple_atoms(pattern)
        self._rx: Any = None

    def search(self, text: str) -> bool:
        if self._atoms is not None:
            return _match_atoms(self._atoms, 0, text, 0)
        if self._rx is None:
            import re

            self._rx = re.compile(self.pattern)
        return self._rx.search(text) is not None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", ".": ".", "-": "-", "[": "[", "]": "]", "^": "^",
            "$": "$", "/": "/", "+": "+", "*": "*"}


def _simple_atoms(pattern: str) -> list[tuple[bool, frozenset[str] | None, str, int, int]] | None:
    """(negated, chars, ranges, min, max) per atom of an anchored simple pattern, or None if it is not one."""
    if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
        return None
    body, i, atoms = pattern[1:-1], 0, []
    while i < len(body):
        c = body[i]
        negated, chars, ranges = False, set(), ""
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                return None
            chars.add(_ESCAPES[body[i + 1]])
            i += 2
        elif c == "[":
            end = body.find("]", i + 2)
            if end < 0:
                return None
            inner = body[i + 1:end]
            if inner.startswith("^"):
                negated, inner = True, inner[1:]
            j = 0
            while j < len(inner):
                if inner[j] == "\\":
                    if j + 1 >= len(inner) or inner[j + 1] not in _ESCAPES:
                        return None
                    chars.add(_ESCAPES[inner[j + 1]])
                    j += 2
                elif j + 2 < len(inner) and inner[j + 1] == "-":
                    ranges += inner[j] + inner[j + 2]
                    j += 3
                elif inner[j] in "[]^":
                    return None
                else:
                    chars.add(inner[j])
                    j += 1
            i = end + 1
        elif c in "()|?{}.*+$^":
            return None
        else:
            chars.add(c)
            i += 1
        lo, hi = 1, 1
        if i < len(body) and body[i] in "*+":
            lo, hi = (0 if body[i] == "*" else 1), -1
            i += 1
        atoms.append((negated, frozenset(chars), ranges, lo, hi))
    return atoms


def _in_atom(atom: tuple[bool, frozenset[str] | None, str, int, int], ch: str) -> bool:
    negated, chars, ranges, _, _ = atom
    hit = ch in chars or any(ranges[k] <= ch <= ranges[k + 1] for k in range(0, len(ranges), 2))
    return hit != negated


def _match_atoms(atoms: list[tuple[bool, frozenset[str] | None, str, int, int]], k: int, text: str, pos: int) -> bool:
    """Backtracking match of atoms[k:] against all of text[pos:] (the pattern is anchored at both ends; `$` also
    matches before one final newline, as in `re`)."""
    if k == len(atoms):
        return pos == len(text) or (pos == len(text) - 1 and text[pos] == "\n")
    atom = atoms[k]
    lo, hi = atom[3], atom[4]
    n = 0
    while (hi < 0 or n < hi) and pos + n < len(text) and _in_atom(atom, text[pos + n]):
        n += 1
    while n >= lo:
        if _match_atoms(atoms, k + 1, text, pos + n):
            return True
        n -= 1
    return False


# JSON type name -> the Python types a parsed document uses for it ("integer": int only, never bool or float).
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _canon(value: Any) -> Any:
    """A hashable key with JSON equality: 1 == 1.0, but true != 1."""
    t = type(value)
    if t is bool:
        return ("b", value)
    if t is int or t is float:
        return ("n", value)
    if t is str:
        return ("s", value)
    if value is None:
        return ("z",)
    if t is list:
        return ("l", tuple(_canon(v) for v in value))
    if t is dict:
        return ("o", frozenset((k, _canon(v)) for k, v in value.items()))
    return ("?", repr(value))


def _ok(inst: Any, ptr: str, errs: Errors) -> None:
    return None


# --------------------------------------------------------------------------------------------- compiler


class _Compiler:
    """Turns one schema document into closures. `$ref` may point anywhere inside the same document (`#/...`)."""

    def __init__(self, root: dict[str, Any], lazy: bool = False) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}
        # Lazy: an object's member schemas are compiled when a document first has that member. A config uses a
        # small part of the config schema (no seccomp, hooks, most resources), and compiling all of it was most
        # of the cost of validating on every create. Eager compiling (the default) finds schema bugs at once.
        self.lazy = lazy

    def _member(self, node: Any) -> Check:
        if not self.lazy:
            return self.compile(node)
        cell: list[Check] = []

        def lazy(inst: Any, ptr: str, errs: Errors) -> None:
            if not cell:
                cell.append(self.compile(node))
            cell[0](inst, ptr, errs)

        return lazy

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise SchemaCompileError(f"only same-document $ref is supported, got {ref!r}")
        node: Any = self.root
        for raw in ref[1:].split("/")[1:]:
            tok = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(tok)] if isinstance(node, list) else node[tok]
            except (KeyError, IndexError, ValueError):
                raise SchemaCompileError(f"unresolvable $ref {ref!r}") from None
        return node

    def ref(self, ref: str) -> Check:
        done = self.refs.get(ref)
        if done is not None:
            return done
        cell: list[Check] = []

        def deferred(inst: Any, ptr: str, errs: Errors) -> None:  # only used by recursive schemas
            cell[0](inst, ptr, errs)

        self.refs[ref] = deferred
        compiled = self.compile(self.resolve(ref))
        cell.append(compiled)
        self.refs[ref] = compiled
        return compiled

    def compile(self, node: Any) -> Check:
        if node is True:
            return _ok
        if node is False:

            def never(inst: Any, ptr: str, errs: Errors) -> None:
                errs.append((ptr, "is not allowed here"))

            return never
        if not isinstance(node, dict):
            raise SchemaCompileError(f"a schema must be an object or a boolean, got {node!r}")
        unknown = node.keys() - _KEYWORDS
        if unknown:
            raise SchemaCompileError(f"unsupported keyword(s) {sorted(unknown)}")

        type_check = self._type(node.get("type"))
        parts: list[Check] = []
        if "$ref" in node:
            parts.append(self.ref(node["$ref"]))
        for builder in (self._enum, self._object, self._array, self._string, self._number, self._combinators):
            part = builder(node)
            if part is not None:
                parts.append(part)

        if type_check is None:
            if not parts:
                return _ok
            if len(parts) == 1:
                return parts[0]
        allowed, message = type_check if type_check else ((), "")
        all_parts = tuple(parts)

        def check(inst: Any, ptr: str, errs: Errors) -> None:
            # Exact type() membership: bool is a subclass of int, and must not pass as an integer.
            if allowed and type(inst) not in allowed:
                errs.append((ptr, f"{message} (got {json_type(inst)})"))
                return
            for part in all_parts:
                part(inst, ptr, errs)

        return check

    # ----------------------------------------------------------------------------------------- keyword groups

    @staticmethod
    def _type(t: Any) -> tuple[frozenset[type], str] | None:
        if t is None:
            return None
        names = (t,) if isinstance(t, str) else tuple(t)
        unknown = [n for n in names if n not in _PY_TYPES]
        if unknown:
            raise SchemaCompileError(f"unknown type(s) {unknown}")
        allowed = frozenset(py for n in names for py in _PY_TYPES[n])
        return allowed, "must be " + " or ".join(_ARTICLE[n] for n in names)

    @staticmethod
    def _enum(node: dict[str, Any]) -> Check | None:
        if "const" in node:
            values = [node["const"]]
        elif "enum" in node:
            values = list(node["enum"])
        else:
            return None
        keys = frozenset(_canon(v) for v in values)
        shown = ", ".join(quickjson.dumps(v) for v in values)
        message = f"must be {shown}" if len(values) == 1 else f"must be one of {shown}"

        def enum(inst: Any, ptr: str, errs: Errors) -> None:
            if _canon(inst) not in keys:
                errs.append((ptr, f"{message} (got {_short(inst)})"))

        return enum

    def _object(self, node: dict[str, Any]) -> Check | None:
        if not node.keys() & {"properties", "required", "additionalProperties", "patternProperties", "minProperties"}:
            return None
        props = {k: self._member(v) for k, v in node.get("properties", {}).items()}
        required = tuple(node.get("required", ()))
        patterns = [(Pattern(p), self.compile(v)) for p, v in node.get("patternProperties", {}).items()]
        addl_node = node.get("additionalProperties", True)
        addl: Check | None = None if addl_node is True else self.compile(addl_node)
        min_props = node.get("minProperties")

        def obj(inst: Any, ptr: str, errs: Errors) -> None:
            if type(inst) is not dict:
                return
            for key in required:
                if key not in inst:
                    errs.append((f"{ptr}/{pointer_token(key)}", "is required"))
            if min_props is not None and len(inst) < min_props:
                errs.append((ptr, f"must have at least {min_props} member(s)"))
            for key, value in inst.items():
                sub = props.get(key)
                matched = False
                child = ""
                if sub is not None:
                    child = f"{ptr}/{pointer_token(key)}"
                    sub(value, child, errs)
                    matched = True
                for rx, pcheck in patterns:
                    if rx.search(key):
                        pcheck(value, child or f"{ptr}/{pointer_token(key)}", errs)
                        matched = True
                if not matched and addl is not None:
                    addl(value, f"{ptr}/{pointer_token(key)}", errs)

        return obj

    def _array(self, node: dict[str, Any]) -> Check | None:
        if not node.keys() & {"items", "minItems", "maxItems", "uniqueItems"}:
            return None
        items = self.compile(node["items"]) if "items" in node else None
        min_items = node.get("minItems")
        max_items = node.get("maxItems")
        unique = bool(node.get("uniqueItems", False))

        def arr(inst: Any, ptr: str, errs: Errors) -> None:
            if type(inst) is not list:
                return
            n = len(inst)
            if min_items is not None and n < min_items:
                errs.append((ptr, f"must have at least {min_items} item{'s' if min_items != 1 else ''}"))
            if max_items is not None and n > max_items:
                errs.append((ptr, f"must have at most {max_items} item{'s' if max_items != 1 else ''}"))
            if unique:
                seen: set[Any] = set()
                for i, v in enumerate(inst):
                    key = _canon(v)
                    if key in seen:
                        errs.append((f"{ptr}/{i}", "duplicates an earlier item"))
                    seen.add(key)
            if items is not None:
                for i, v in enumerate(inst):
                    items(v, f"{ptr}/{i}", errs)

        return arr

    @staticmethod
    def _string(node: dict[str, Any]) -> Check | None:
        if not node.keys() & {"pattern", "minLength", "maxLength"}:
            return None
        rx = Pattern(node["pattern"]) if "pattern" in node else None
        min_len = node.get("minLength")
        max_len = node.get("maxLength")

        def string(inst: Any, ptr: str, errs: Errors) -> None:
            if type(inst) is not str:
                return
            if rx is not None and not rx.search(inst):
                errs.append((ptr, f"{_short(inst)} does not match {rx.pattern}"))
            if min_len is not None and len(inst) < min_len:
                errs.append((ptr, "must not be empty" if min_len == 1 else f"must be at least {min_len} characters"))
            if max_len is not None and len(inst) > max_len:
                errs.append((ptr, f"must be at most {max_len} characters"))

        return string

    @staticmethod
    def _number(node: dict[str, Any]) -> Check | None:
        if not node.keys() & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
            return None
        lo, hi = node.get("minimum"), node.get("maximum")
        xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")

        def number(inst: Any, ptr: str, errs: Errors) -> None:
            t = type(inst)
            if t is not int and t is not float:
                return
            if lo is not None and inst < lo:
                errs.append((ptr, f"must be >= {lo} (got {inst})"))
            if hi is not None and inst > hi:
                errs.append((ptr, f"must be <= {hi} (got {inst})"))
            if xlo is not None and inst <= xlo:
                errs.append((ptr, f"must be > {xlo} (got {inst})"))
            if xhi is not None and inst >= xhi:
                errs.append((ptr, f"must be < {xhi} (got {inst})"))

        return number

    def _combinators(self, node: dict[str, Any]) -> Check | None:
        parts: list[Check] = []
        for sub in node.get("allOf", ()):
            parts.append(self.compile(sub))
        if "anyOf" in node:
            parts.append(self._any_of([self.compile(s) for s in node["anyOf"]]))
        if "oneOf" in node:
            parts.append(self._one_of([self.compile(s) for s in node["oneOf"]]))
        if "not" in node:
            parts.append(self._not(self.compile(node["not"])))
        if "if" in node:
            parts.append(self._if(node))
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        frozen = tuple(parts)

        def combined(inst: Any, ptr: str, errs: Errors) -> None:
            for p in frozen:
                p(inst, ptr, errs)

        return combined

    @staticmethod
    def _any_of(subs: list[Check]) -> Check:
        def any_of(inst: Any, ptr: str, errs: Errors) -> None:
            best: Errors | None = None
            for sub in subs:
                trial: Errors = []
                sub(inst, ptr, trial)
                if not trial:
                    return
                if best is None or len(trial) < len(best):
                    best = trial
            errs.extend(best or [(ptr, "matches none of the allowed forms")])

        return any_of

    @staticmethod
    def _one_of(subs: list[Check]) -> Check:
        def one_of(inst: Any, ptr: str, errs: Errors) -> None:
            matches = 0
            best: Errors | None = None
            for sub in subs:
                trial: Errors = []
                sub(inst, ptr, trial)
                if not trial:
                    matches += 1
                elif best is None or len(trial) < len(best):
                    best = trial
            if matches == 0:
                errs.extend(best or [(ptr, "matches none of the allowed forms")])
            elif matches > 1:
                errs.append((ptr, "matches more than one of the allowed forms"))

        return one_of

    @staticmethod
    def _not(sub: Check) -> Check:
        def not_(inst: Any, ptr: str, errs: Errors) -> None:
            trial: Errors = []
            sub(inst, ptr, trial)
            if not trial:
                errs.append((ptr, "is not allowed here"))

        return not_

    def _if(self, node: dict[str, Any]) -> Check:
        cond = self.compile(node["if"])
        then = self.compile(node.get("then", True))
        else_ = self.compile(node.get("else", True))

        def if_(inst: Any, ptr: str, errs: Errors) -> None:
            trial: Errors = []
            cond(inst, ptr, trial)
            (then if not trial else else_)(inst, ptr, errs)

        return if_


# --------------------------------------------------------------------------------------------- public API

_cache: dict[tuple[str, str | None], Check] = {}
_documents: dict[str, dict[str, Any]] = {}


def compile_schema(schema: dict[str, Any], definition: str | None = None, lazy: bool = False) -> Check:
    """Compile a schema document (or its `$defs/<definition>`) into a check function (`lazy`: see _Compiler)."""
    comp = _Compiler(schema, lazy)
    return comp.ref(f"#/$defs/{definition}") if definition else comp.compile(schema)


def validator(name: str = "config", definition: str | None = None) -> Check:
    """The compiled check for schema `name` (or its `$defs/<definition>`), built once per process."""
    key = (name, definition)
    check = _cache.get(key)
    if check is None:
        doc = _documents.get(name)
        if doc is None:
            doc = _documents[name] = load_schema(name)
        check = _cache[key] = compile_schema(doc, definition, lazy=True)
    return check


def validate(instance: Any, name: str = "config", definition: str | None = None) -> Errors:
    """Every schema problem of `instance`, as (pointer, message) pairs in document order; [] if valid."""
    errs: Errors = []
    validator(name, definition)(instance, "", errs)
    return errs
