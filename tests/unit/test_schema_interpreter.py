"""pyrunc.spec.schema (our small JSON-Schema interpreter) agrees with `jsonschema`, the oracle.

On our own schemas: over the whole corpus, then on generated mutations of corpus documents (hypothesis). On
synthetic schemas: every keyword the interpreter implements, against generated JSON values. The oracle is
jsonschema's 2020-12 validator with one change our dialect documents: "integer" means a Python int (1.0 is not one,
as in draft-04).
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrunc.spec import schema
from pyrunc.spec.load import parse_json
from pyrunc.spec.model import Spec
from pyrunc.spec.validate import Context, check_config

CORPUS = os.path.join(os.path.dirname(__file__), os.pardir, "configs")


def _oracle_class():  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _c, inst: type(inst) is int)
    return validators.extend(Draft202012Validator, type_checker=checker)


@pytest.fixture(scope="module")
def oracle_cls():  # type: ignore[no-untyped-def]
    return _oracle_class()


def _corpus() -> dict[str, Any]:
    with open(os.path.join(CORPUS, "expected.json")) as f:
        names = sorted(json.load(f))
    docs = {}
    for name in names:
        with open(os.path.join(CORPUS, name), "rb") as f:
            docs[name] = parse_json(f.read(), name)
    return docs


CORPUS_DOCS = _corpus()
with open(os.path.join(CORPUS, "expected.json")) as _f:
    EXPECTED: dict[str, dict[str, str]] = json.load(_f)


def test_our_schemas_are_valid_2020_12(oracle_cls) -> None:  # type: ignore[no-untyped-def]
    for name in schema.SCHEMA_FILES:
        oracle_cls.check_schema(schema.load_schema(name))


@pytest.mark.parametrize("name", sorted(CORPUS_DOCS))
def test_corpus_verdict_matches_oracle(name: str, oracle_cls) -> None:  # type: ignore[no-untyped-def]
    doc = CORPUS_DOCS[name]
    oracle = oracle_cls(schema.load_schema("config"))
    ours = schema.validate(doc)
    assert (not ours) == oracle.is_valid(doc), (ours, [e.message for e in oracle.iter_errors(doc)])
    if name.startswith("invalid/"):
        assert ours[0][0] == EXPECTED[name]["pointer"], ours
    else:
        assert ours == []


def test_process_definition_matches_oracle(oracle_cls) -> None:  # type: ignore[no-untyped-def]
    full = schema.load_schema("config")
    oracle = oracle_cls({"$ref": "#/$defs/Process", "$defs": full["$defs"]})
    for name, doc in CORPUS_DOCS.items():
        proc = doc.get("process") if isinstance(doc, dict) else None
        if proc is None:
            continue
        ours = schema.validate(proc, "config", "Process")
        assert (not ours) == oracle.is_valid(proc), name
    assert schema.validate({"args": ["sh"]}, "config", "Process") == [("/cwd", "is required")]


# --------------------------------------------------------------------------------------------- generated documents

_SCHEMA = schema.load_schema("config")


def _vocabulary(node: Any, names: set[str], values: list[Any]) -> None:
    if isinstance(node, dict):
        names.update(node.get("properties", {}))
        values.extend(v for v in node.get("enum", ()) if v not in values)
        for v in node.values():
            _vocabulary(v, names, values)
    elif isinstance(node, list):
        for v in node:
            _vocabulary(v, names, values)


_NAMES: set[str] = set()
_ENUMS: list[Any] = []
_vocabulary(_SCHEMA, _NAMES, _ENUMS)
_BOUNDARY_INTS = [0, 1, -1, 7, 100, 511, 512, 1000, 65535, 65536, 2**31 - 1, -(2**31), -(2**31) - 1, 2**32 - 2,
                  2**32 - 1, 2**32, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(_BOUNDARY_INTS)
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(_ENUMS)
    | st.sampled_from(["", "/", "rootfs", "/abs", "rel", "2MB", "MB:0=1", "RLIMIT_NOFILE", "CAP_KILL", "a\nb"])
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(sorted(_NAMES)) | st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


def _containers(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every object and array in `doc`."""
    out = []
    if isinstance(doc, (dict, list)):
        out.append(path)
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for k, v in items:
            out.extend(_containers(v, (*path, k)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def mutated_configs(draw: st.DrawFn) -> Any:
    """A corpus document with a few random edits: set/replace a member or an item, or delete one."""
    name = draw(st.sampled_from(sorted(n for n in CORPUS_DOCS if isinstance(CORPUS_DOCS[n], dict))))
    doc = copy.deepcopy(CORPUS_DOCS[name])
    for _ in range(draw(st.integers(1, 3))):
        target = _get(doc, draw(st.sampled_from(_containers(doc))))
        value = draw(json_values)
        if isinstance(target, dict):
            key = draw(st.sampled_from(sorted(_NAMES)) | st.sampled_from(sorted(target) or ["x"]))
            if target and draw(st.booleans()) and key in target:
                del target[key]
            else:
                target[key] = value
        elif target:
            target[draw(st.integers(0, len(target) - 1))] = value
        else:
            target.append(value)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_generated_configs_match_oracle(doc: Any) -> None:
    oracle = _ORACLE
    ours = schema.validate(doc)
    assert (not ours) == oracle.is_valid(doc), (ours, [e.message for e in oracle.iter_errors(doc)][:3])
    # The semantic checks must cope with whatever passed (or failed) the schema, and a config that passes both
    # must build the typed model.
    problems = check_config(doc, Context(bundle="/b", host=False, detach=False))
    if not ours and not [p for p in problems if not p.warning]:
        Spec.from_dict(doc, bundle="/b")


_ORACLE = _oracle_class()(_SCHEMA)


# --------------------------------------------------------------------------------------------- every keyword

SYNTHETIC_SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": -3, "maximum": 5},
    {"type": ["string", "null"], "minLength": 1, "maxLength": 3},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    {"enum": [1, "a", None, True, [1], {"k": 1}]},
    {"const": 1},
    {"const": {"a": [1, 2]}},
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
    {"uniqueItems": True},
    {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"patternProperties": {"^x-": {"type": "integer"}, "y$": {"type": "boolean"}},
     "additionalProperties": {"type": "null"}},
    {"properties": {"a": {"type": "integer"}}, "patternProperties": {"^a": {"minimum": 2}}, "minProperties": 1},
    {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[a-z]+$"}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
    {"not": {"type": "object"}},
    {"allOf": [{"type": "integer"}, {"maximum": 3}]},
    {"if": {"type": "integer"}, "then": {"minimum": 0}, "else": {"type": "string"}},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}},
    {"$defs": {"pos": {"type": "integer", "minimum": 1}}, "type": "array", "items": {"$ref": "#/$defs/pos"}},
    {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}}}},
     "$ref": "#/$defs/node"},
    {"pattern": "^[0-9]+$"},
    {"items": False},
    {"properties": {"a": True, "b": False}},
]  # fmt: skip

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 12)
    | st.floats(-5, 12, allow_nan=False)
    | st.text("abxy-1", max_size=4),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "x-1", "ay", "next", "v", "k"]), c, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("index", range(len(SYNTHETIC_SCHEMAS)))
def test_each_keyword_matches_oracle(index: int, oracle_cls) -> None:  # type: ignore[no-untyped-def]
    sch = SYNTHETIC_SCHEMAS[index]
    check = schema.compile_schema(sch)
    oracle = oracle_cls(sch)

    @settings(max_examples=60, deadline=None)
    @given(values)
    def agree(value: Any) -> None:
        errs: schema.Errors = []
        check(value, "", errs)
        assert (not errs) == oracle.is_valid(value), (value, errs)

    agree()


def test_unsupported_keyword_is_refused() -> None:
    with pytest.raises(schema.SchemaCompileError, match="format"):
        schema.compile_schema({"type": "string", "format": "uri"})
    with pytest.raises(schema.SchemaCompileError):
        schema.compile_schema({"$ref": "other.json#/x"})
    with pytest.raises(schema.SchemaCompileError):
        schema.compile_schema({"type": "strin"})


def test_messages_and_pointers() -> None:
    errs = schema.validate(
        {"ociVersion": "1.0.0", "process": {"cwd": "/", "user": {"uid": "0"}}, "annotations": {"a/b~c": 1}}
    )
    assert errs == [
        ("/process/user/uid", "must be an integer (got string)"),
        ("/annotations/a~1b~0c", "must be a string (got integer)"),
    ]
    assert schema.validate({"ociVersion": "1.0.0", "linux": {"namespaces": [{"type": "net"}]}}) == [
        ("/linux/namespaces/0/type",
         'must be one of "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" (got "net")'),
    ]  # fmt: skip
    assert schema.validate([]) == [("", "must be an object (got array)")]
