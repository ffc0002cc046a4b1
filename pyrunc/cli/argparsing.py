"""argparse tuned to runc's CLI: usage errors become one-line UsageErrors, `--flag=value` and `--flag value`."""

from __future__ import annotations

import argparse

from pyrunc.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class RuncArgumentParser(argparse.ArgumentParser):
    def __init__(self, **kw: object) -> None:
        kw.setdefault("allow_abbrev", False)
        super().__init__(**kw)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def format_help(self) -> str:
        """runc's help layout starts with a NAME section (`NAME:` / `   runc create - create a container`):
        scripts and runc's own tests read those two lines. argparse's usage and options follow."""
        title = f"{self.prog} - {self.description}" if self.description else self.prog
        return f"NAME:\n   {title}\n\n" + super().format_help()


def add_id(p: argparse.ArgumentParser) -> None:
    """The positional <container-id> every per-container command takes."""
    p.add_argument("container_id", metavar="<container-id>")


def single_dash_long(argv: list[str], names: set[str]) -> list[str]:
    """urfave/cli accepts `-no-subreaper` for `--no-subreaper` (go-runc's restore uses it)."""
    return [("-" + a) if a.startswith("-") and not a.startswith("--") and a.split("=")[0][1:] in names else a
            for a in argv]
