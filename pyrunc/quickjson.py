"""JSON for the hot paths, on the interpreter's C accelerator `_json`, without `import json`.

`import json` imports `re` (json.decoder's regexes) and costs ~8 ms: most of what `pyrunc state` would otherwise
take above the bare interpreter start. `_json` (the C half of the `json` package) is a ~0.3 ms import and does the
real work for `json` anyway: its scanner and encoder are built here the way json.decoder/json.encoder build them,
so the results are those of `json.loads` / `json.dumps` (tests/unit/test_perf_imports.py compares them). Every
malformed document raises ValueError (see `scan`: the C scanner alone does not manage to).

Only `dumps(..., indent=N)` is pure Python (the C encoder of 3.11 has no indentation): it is used for the small
documents `state` prints, and anything unusual in them (floats, non-str keys) goes to the real `json.dumps`.

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import, quoted annotations).
"""

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _DecoderSettings:
    """The attributes `_json.make_scanner` reads from a json.JSONDecoder (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_DecoderSettings())


def scan(scanner: "Any", s: str, start: int) -> "tuple[Any, int]":
    """Run a `_json` scanner from `start`: (value, end). Every malformed document raises ValueError.

    Why not just call it: where a value is missing the scanner raises StopIteration, and everywhere else (an
    unterminated string, a missing ':' or ',', a truncated object) it raises json.decoder.JSONDecodeError, a class
    it looks up in sys.modules without importing it. With `json` not imported (the point of this module) it finds
    none and returns without any exception set, which Python turns into SystemError: a truncated state.json made
    `state`, `list` and `delete --force` fail with "internal error" instead of skipping or repairing it."""
    try:
        return scanner(s, start)  # type: ignore[no-any-return]
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    except SystemError:
        raise ValueError(f"malformed JSON (after char {start})") from None


def loads(data: str | bytes) -> "Any":
    """`json.loads` for UTF-8 bytes or str. Raises ValueError on malformed input."""
    s = data.decode("utf-8") if isinstance(data, bytes) else data
    start = len(s) - len(s.lstrip(_WS))
    obj, end = scan(_scan, s, start)
    if s[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return obj


def _not_serializable(o: object) -> "Any":
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _c_encoder(item_separator: str, key_separator: str) -> "Any":
    # Positional arguments of json.encoder.c_make_encoder: markers (None: no cycle check), default, string
    # encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan.
    return _json.make_encoder(
        None, _not_serializable, _json.encode_basestring_ascii, None, key_separator, item_separator, False, False, True
    )


_encoders: "dict[tuple[str, str], Any]" = {}


def dumps(obj: "Any", *, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """`json.dumps(obj, indent=..., separators=...)` with the other arguments at their defaults."""
    if indent is None:
        seps = separators or (", ", ": ")
        enc = _encoders.get(seps)
        if enc is None:
            enc = _encoders[seps] = _c_encoder(*seps)
        return "".join(enc(obj, 0))
    item_sep, key_sep = separators or (",", ": ")
    out: list[str] = []
    try:
        _indented(obj, out, "\n", " " * indent, item_sep, key_sep)
    except _Unusual:
        import json

        return json.dumps(obj, indent=indent, separators=separators)
    return "".join(out)


class _Unusual(Exception):
    """A value the small indenting encoder leaves to `json.dumps`."""


def _indented(o: "Any", out: list[str], nl: str, step: str, item_sep: str, key_sep: str) -> None:
    if isinstance(o, str):
        out.append(_json.encode_basestring_ascii(o))
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif o is None:
        out.append("null")
    elif type(o) is int:
        out.append(int.__repr__(o))
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = nl + step
        out.append("{")
        first = True
        for k, v in o.items():
            if not isinstance(k, str):
                raise _Unusual
            out.append(inner if first else item_sep + inner)
            first = False
            out.append(_json.encode_basestring_ascii(k))
            out.append(key_sep)
            _indented(v, out, inner, step, item_sep, key_sep)
        out.append(nl + "}")
    elif isinstance(o, list | tuple):
        if not o:
            out.append("[]")
            return
        inner = nl + step
        out.append("[")
        for i, v in enumerate(o):
            out.append(item_sep + inner if i else inner)
            _indented(v, out, inner, step, item_sep, key_sep)
        out.append(nl + "]")
    else:
        raise _Unusual
