"""Pure parts of `linux.memoryPolicy` (node lists) and `pids.limit` (the pids.max value), no root needed."""

from __future__ import annotations

import pytest

from pyrunc.cgroups.knobs import pids_max
from pyrunc.linux.mempolicy import parse_nodes


def test_parse_nodes() -> None:
    assert parse_nodes("", 63) == []
    assert parse_nodes("0-3,7, 5,,", 63) == [0, 1, 2, 3, 5, 7]


@pytest.mark.parametrize(("text", "why"), [("x", "not a node"), ("3-1", "backwards"), ("0-9876543210", "larger"),
                                           ("-1", "not a node")])
def test_parse_nodes_refuses(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_nodes(text, 32767)  # never expands 0-9876543210


@pytest.mark.parametrize(("limit", "value"), [(0, "1"), (1, "1"), (99, "99"), (-1, "max"), (-2, "max")])
def test_pids_max(limit: int, value: str) -> None:
    assert pids_max(limit) == value
