"""pyrunc.spec.schema.Pattern (schema `pattern` without importing `re`) matches exactly as `re.search` does."""

from __future__ import annotations

import random
import re

import pytest

from pyrunc.spec.schema import Pattern
from pyrunc.spec.validate import _semver_major

PATTERNS = ["^RLIMIT_[A-Z]+$", "^[1-9][0-9]*[KMG]B$", "^MB:[^\\n]*$", "^[a-z-]+$", "^a\\.b*$", "^[0-9A-Za-z-]+$",
            "^(x)$", "x", "^a{2}$", "^[\\w]+$"]
SAMPLES = ["", "RLIMIT_NOFILE", "RLIMIT_", "RLIMIT_NOFILE\n", "RLIMIT_nofile", "2MB", "20MB", "0MB", "1GB\n", "1TB",
           "MB:abc", "MB:a\nb", "MB:\n", "a-b", "a.bbb", "a.b\n\n", "x", "aa", "ab_c"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_matches_as_re_does(pattern: str) -> None:
    rng = random.Random(pattern)
    alphabet = "RLIMIT_ABCNOFz019KMGB:\n-.ax"
    rx = re.compile(pattern)
    p = Pattern(pattern)
    for text in SAMPLES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(2000)]:
        assert p.search(text) == (rx.search(text) is not None), (pattern, text)


def test_schema_patterns_need_no_re() -> None:
    """The patterns of schemas/config.schema.json are all simple ones (no `re` import on create)."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "config.schema.json").read_text())
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.append(node["pattern"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert found
    assert all(Pattern(p)._atoms is not None for p in found), found


SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\Z")


def test_semver_major_agrees_with_the_semver_grammar() -> None:
    rng = random.Random(7)
    alphabet = "0123.-+a1Z"
    texts = ["1.3.0", "1.0.0-rc.1", "1.0.0+x", "01.0.0", "1.0", "1.0.0-", "1.0.0-a..b", "2.0.0", "1.2.3-a-b+c.d"]
    for text in texts + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))) for _ in range(20000)]:
        m = SEMVER.match(text)
        assert _semver_major(text) == (m.group(1) if m else None), text


def test_lazy_schema_compiles_eagerly_and_agrees() -> None:
    """validator() compiles member schemas on first use; the whole schema must still compile (no bug hidden
    until some config reaches it), and lazy and eager checks give the same verdicts."""
    import copy

    from pyrunc.spec import schema

    for name in ("config", "state"):
        schema.compile_schema(schema.load_schema(name))  # eager: raises SchemaCompileError on a schema bug
    doc = schema.load_schema("config")
    eager = schema.compile_schema(doc)
    lazy = schema.compile_schema(doc, lazy=True)
    from pyrunc.spec.default import example_spec

    base = example_spec()
    broken = copy.deepcopy(base)
    broken["process"]["rlimits"] = [{"type": "nofile", "hard": -1, "soft": "x"}]
    broken["linux"]["resources"] = {"devices": [{"allow": "yes"}], "memory": {"limit": "1G"},
                                     "hugepageLimits": [{"pageSize": "2M"}]}
    for inst in (base, broken, {}, {"ociVersion": 1}):
        e1: list[tuple[str, str]] = []
        e2: list[tuple[str, str]] = []
        eager(inst, "", e1)
        lazy(inst, "", e2)
        assert e1 == e2
