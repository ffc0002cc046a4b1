"""The results table, the per-failure details and the JSON file."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

from conformance.harness import Case, Result, Runtime

_ORDER = ("PASS", "FAIL", "XFAIL", "XPASS", "SKIP")


def _colour(status: str, enable: bool) -> str:
    if not enable:
        return status
    code = {"PASS": "32", "FAIL": "31", "XFAIL": "33", "XPASS": "35", "SKIP": "36"}.get(status.split("(")[0], "0")
    return f"\033[{code}m{status}\033[0m"


def _cell(r: Result | None) -> str:
    if r is None:
        return "-"
    if r.status == "SKIP":
        short = r.reason if len(r.reason) <= 28 else r.reason[:27] + "…"
        return f"SKIP({short})"
    return r.status


def print_table(
    cases: list[Case],
    runtimes: list[Runtime],
    results: list[Result],
    out: TextIO = sys.stdout,
    colour: bool | None = None,
) -> None:
    if colour is None:
        colour = out.isatty()
    by = {(r.case, r.runtime): r for r in results}
    names = [rt.name for rt in runtimes]
    w_case = max([len("case"), *(len(c.name) for c in cases)])
    w_level = max(len("level"), *(len(c.level) for c in cases))
    widths = [max(len(n), *(len(_cell(by.get((c.name, n)))) for c in cases)) for n in names]
    header = f"{'case':<{w_case}}  {'level':<{w_level}}  " + "  ".join(
        f"{n:<{w}}" for n, w in zip(names, widths, strict=True)
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for c in cases:
        cells = []
        for n, w in zip(names, widths, strict=True):
            text = _cell(by.get((c.name, n)))
            cells.append(_colour(text, colour) + " " * (w - len(text)))
        print(f"{c.name:<{w_case}}  {c.level:<{w_level}}  " + "  ".join(cells).rstrip(), file=out)
    print(file=out)


def print_details(results: list[Result], out: TextIO = sys.stdout, verbose: bool = False) -> None:
    shown = [r for r in results if r.status in ("FAIL", "XPASS") or (verbose and r.status in ("XFAIL", "SKIP"))]
    xfails = [r for r in results if r.status == "XFAIL" and not verbose]
    if shown:
        print("=" * 30 + " details " + "=" * 30, file=out)
        for r in shown:
            print(f"--- [{r.runtime}] {r.case}: {r.status}: {r.reason}", file=out)
            if r.details and r.status != "XPASS":
                for line in r.details.splitlines():
                    print("    " + line, file=out)
            print(file=out)
    if xfails:
        print("known failures (XFAIL; details with -v):", file=out)
        for r in xfails:
            print(f"  [{r.runtime}] {r.case}: {r.reason}", file=out)
        print(file=out)


def summary_lines(runtimes: list[Runtime], results: list[Result]) -> list[str]:
    lines = []
    for rt in runtimes:
        cnt = Counter(r.status for r in results if r.runtime == rt.name)
        parts = [f"{cnt['PASS'] + cnt['XPASS']} passed", f"{cnt['FAIL']} failed"]
        if cnt["XFAIL"]:
            parts.append(f"{cnt['XFAIL']} known failures")
        if cnt["XPASS"]:
            parts.append(f"{cnt['XPASS']} unexpectedly passed")
        if cnt["SKIP"]:
            parts.append(f"{cnt['SKIP']} skipped")
        lines.append(f"{rt.name}: " + ", ".join(parts) + f"   ({' '.join(rt.argv)})")
    return lines


def write_json(path: Path, cases: list[Case], runtimes: list[Runtime], results: list[Result], elapsed: float) -> None:
    data = {
        "runtimes": {rt.name: list(rt.argv) for rt in runtimes},
        "elapsed_seconds": round(elapsed, 2),
        "cases": [
            {
                "name": c.name,
                "level": c.level,
                "ref": c.ref,
                "doc": c.doc,
                "results": {
                    r.runtime: {
                        "status": r.status,
                        "reason": r.reason,
                        "details": r.details,
                        "seconds": round(r.duration, 2),
                    }
                    for r in results
                    if r.case == c.name
                },
            }
            for c in cases
        ],
        "summary": {rt.name: dict(Counter(r.status for r in results if r.runtime == rt.name)) for rt in runtimes},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
