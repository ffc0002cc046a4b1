"""config.json is parsed strictly (SECURITY.md rule 8): every refusal is a one-line SpecError, never a traceback."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from pyrunc.errors import PyruncError, SpecError
from pyrunc.spec.load import MAX_DOCUMENT_BYTES, load_spec, parse_json

GOOD = {"ociVersion": "1.0.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["true"]}}


def bundle_with(tmp_path: Any, data: bytes) -> str:
    os.makedirs(tmp_path / "rootfs", exist_ok=True)
    (tmp_path / "config.json").write_bytes(data)
    return str(tmp_path)


def refusal(data: bytes) -> tuple[str, str]:
    with pytest.raises(SpecError) as info:
        parse_json(data, "config.json")
    assert len(info.value.problems) >= 1
    assert "\n" not in str(info.value)
    return info.value.problems[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": -Infinity}', "-Infinity"),
        ('{"a": 1e400}', "out of range"),
        ('{"a": -1e999}', "out of range"),
        ('{"a": 1', "invalid JSON"),
        ('{"a": 1} {}', "Extra data"),
        ("", "invalid JSON"),
        ("{'a': 1}", "invalid JSON"),
        ('{"a": 1,}', "invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": ' + "9" * 5000 + "}", "invalid JSON"),
    ],
)
def test_refused_json(text: str, fragment: str) -> None:
    pointer, message = refusal(text.encode())
    assert pointer == ""
    assert fragment in message


def test_deep_nesting_under_the_limit_is_fine() -> None:
    doc = parse_json(("[" * 500 + "]" * 500).encode(), "config.json")
    assert isinstance(doc, list)


def test_duplicate_keys_are_refused_with_their_pointer() -> None:
    text = b'{"ociVersion": "1.0.0", "process": {"args": ["a"], "cwd": "/", "args": ["b"]}, "x": [{"k": 1, "k": 2}]}'
    with pytest.raises(SpecError) as info:
        parse_json(text, "config.json")
    assert info.value.problems == [
        ("/process/args", "appears more than once in the same object"),
        ("/x/0/k", "appears more than once in the same object"),
    ]
    assert str(info.value).startswith("config.json: /process/args: appears more than once")


def test_duplicate_top_level_key() -> None:
    assert refusal(b'{"ociVersion": "1.0.0", "ociVersion": "1.0.0"}') == (
        "/ociVersion",
        "appears more than once in the same object",
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b'{"a": "\xc3"}', "not valid UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "not valid UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "byte order mark"),
    ],
)
def test_refused_encodings(data: bytes, fragment: str) -> None:
    assert fragment in refusal(data)[1]


def test_unicode_is_fine() -> None:
    assert parse_json('{"hostname": "h\u00f6st", "e": "\\u00e9"}'.encode(), "config.json") == {
        "hostname": "h\u00f6st",
        "e": "\u00e9",
    }


def test_big_integers_stay_exact() -> None:
    assert parse_json(b'{"a": 18446744073709551615}', "c")["a"] == 2**64 - 1


def test_load_spec_reports_json_problems_as_spec_errors(tmp_path: Any) -> None:
    bundle = bundle_with(tmp_path, b'{"ociVersion": "1.0.0", "root": {"path": "rootfs"}, "process": NaN}')
    with pytest.raises(SpecError, match=r"^config\.json: /: invalid JSON: NaN is not valid JSON$"):
        load_spec(bundle)


def test_load_spec_reports_a_lone_surrogate(tmp_path: Any) -> None:
    bundle = bundle_with(
        tmp_path, b'{"ociVersion": "1.0.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["\\udc00"]}}'
    )
    with pytest.raises(SpecError) as info:
        load_spec(bundle, for_create=True)
    assert info.value.problems == [("/process/args/0", "the value contains an unpaired UTF-16 surrogate escape")]


def test_load_spec_refuses_nul_in_a_path(tmp_path: Any) -> None:
    cfg = dict(GOOD, mounts=[{"destination": "/a\u0000b", "type": "tmpfs", "source": "tmpfs"}])
    bundle = bundle_with(tmp_path, json.dumps(cfg).encode())
    with pytest.raises(SpecError, match="/mounts/0/destination: the value must not contain a NUL"):
        load_spec(bundle)


def test_annotations_may_hold_anything_textual(tmp_path: Any) -> None:
    cfg = dict(GOOD, annotations={"k": "a\u0000b"})
    load_spec(bundle_with(tmp_path, json.dumps(cfg).encode()))


def test_huge_file_is_refused(tmp_path: Any) -> None:
    os.makedirs(tmp_path / "rootfs")
    with open(tmp_path / "config.json", "wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(PyruncError, match="too large"):
        load_spec(str(tmp_path))


def test_fifo_as_config_does_not_hang(tmp_path: Any) -> None:
    os.makedirs(tmp_path / "rootfs")
    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(PyruncError, match="not a regular file"):
        load_spec(str(tmp_path))


def test_directory_as_config(tmp_path: Any) -> None:
    os.makedirs(tmp_path / "config.json")
    with pytest.raises(PyruncError, match="not a regular file"):
        load_spec(str(tmp_path))


def test_floats_where_integers_belong(tmp_path: Any) -> None:
    text = b'{"ociVersion": "1.0.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["a"], ' \
           b'"user": {"uid": 0.0, "gid": 1e3}}}'  # fmt: skip
    with pytest.raises(SpecError) as info:
        load_spec(bundle_with(tmp_path, text))
    assert [p for p, _ in info.value.problems] == ["/process/user/uid", "/process/user/gid"]


def test_booleans_are_not_integers(tmp_path: Any) -> None:
    cfg = dict(GOOD, process={"cwd": "/", "args": ["a"], "user": {"uid": True, "gid": False}})
    with pytest.raises(SpecError) as info:
        load_spec(bundle_with(tmp_path, json.dumps(cfg).encode()))
    assert info.value.problems == [
        ("/process/user/uid", "must be an integer (got boolean)"),
        ("/process/user/gid", "must be an integer (got boolean)"),
    ]
