"""What a command's real argparse parser makes of a command line: the oracle pyrunc.cli.main.parse_plain is
compared with (tests/unit/test_perf_imports.py, tests/unit/test_plain_cli.py)."""

from __future__ import annotations

from pyrunc.cli.argparsing import RuncArgumentParser
from pyrunc.errors import UsageError


def argparse_result(module: object, argv: list[str]) -> dict[str, object] | str:
    """The namespace as a dict, or "usage error: ..." / "exit N" when argparse refuses the line."""
    p = RuncArgumentParser(prog="pyrunc x")
    module.add_arguments(p)  # type: ignore[attr-defined]
    try:
        return vars(p.parse_args(argv))
    except UsageError as e:
        return f"usage error: {e}"
    except SystemExit as e:
        return f"exit {e.code}"


def check_plain_agrees(module: object, argv: list[str]) -> None:
    """pyrunc.cli.main.parse_plain either declines `argv` (None: argparse parses it, with its own messages) or
    gives exactly the values argparse gives."""
    from pyrunc.cli import main as cli_main

    plain = cli_main.parse_plain(argv, **module.PLAIN)  # type: ignore[attr-defined]
    expected = argparse_result(module, argv)
    if plain is None:
        return
    assert isinstance(expected, dict), f"plain parsed {argv} that argparse refuses ({expected})"
    assert vars(plain) == expected
