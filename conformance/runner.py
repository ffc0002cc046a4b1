"""Running cases against runtimes: session dirs, the rootfs template, known failures, parallel jobs."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conformance.harness import REGISTRY, Case, Ctx, Fail, Result, Runtime, Skip
from conformance.rootfs import build_template

HERE = Path(__file__).resolve().parent
DEFAULT_KNOWN_FAILURES = HERE / "known_failures.json"


def load_cases() -> dict[str, Case]:
    import conformance.cases  # noqa: F401 - registers every case

    return REGISTRY


def select(cases: dict[str, Case], patterns: list[str]) -> list[Case]:
    """`-k` patterns: substring or glob on the case name; `not X` excludes. Several -k are OR-ed."""
    if not patterns:
        return list(cases.values())
    include = [p for p in patterns if not p.startswith("not ")]
    exclude = [p[4:] for p in patterns if p.startswith("not ")]

    def hit(name: str, pat: str) -> bool:
        return pat in name or fnmatch.fnmatchcase(name, pat)

    out = []
    for c in cases.values():
        if include and not any(hit(c.name, p) for p in include):
            continue
        if any(hit(c.name, p) for p in exclude):
            continue
        out.append(c)
    return out


def load_known_failures(paths: list[Path]) -> dict[str, dict[str, str]]:
    """{runtime name: {case name or glob: reason}}; "*" applies to every runtime."""
    merged: dict[str, dict[str, str]] = {}
    for path in paths:
        data = json.loads(path.read_text())
        for rt, entries in data.items():
            if rt.startswith("_"):
                continue  # comments
            merged.setdefault(rt, {}).update(entries)
    return merged


def known_reason(known: dict[str, dict[str, str]], runtime: str, case: str) -> str | None:
    for key in (runtime, "*"):
        for pat, reason in known.get(key, {}).items():
            if pat == case or fnmatch.fnmatchcase(case, pat):
                return reason
    return None


@dataclass
class Session:
    workdir: Path
    template: Path
    keep: bool


def default_base() -> str | None:
    """/dev/shm when it is a tmpfs: rootfs copies are hundreds of symlinks, ~100x faster there than on ext4."""
    try:
        with open("/proc/self/mounts") as f:
            if any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f) and os.access("/dev/shm", os.W_OK):
                return "/dev/shm"
    except OSError:
        pass
    return None


def make_session(base: str | None, template_from: Path | None, keep: bool) -> Session:
    workdir = Path(tempfile.mkdtemp(prefix="conformance-", dir=base or default_base()))
    # Containers with a user namespace run as a mapped uid and must traverse down to their rootfs.
    os.chmod(workdir, 0o755)
    template = build_template(workdir / "template-rootfs", template_from)
    return Session(workdir, template, keep)


def run_one(session: Session, runtime: Runtime, case: Case) -> Result:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", runtime.name)
    workdir = session.workdir / safe / case.name
    workdir.mkdir(parents=True)
    os.chmod(workdir, 0o755)
    os.chmod(workdir.parent, 0o755)
    t = Ctx(
        runtime=runtime, case=case, workdir=workdir, template=session.template, deadline=time.monotonic() + case.timeout
    )
    t0 = time.monotonic()
    status, reason, details = "PASS", "", ""
    try:
        case.fn(t)
    except Fail as f:
        status, reason = "FAIL", f.message
        parts = []
        if f.detail:
            parts.append(f.detail.rstrip())
        shown = [p for p in t.log[-4:] if p is not f.proc]
        parts += [p.describe() for p in shown]
        if f.proc is not None:
            parts.append(f.proc.describe())
        details = "\n".join(parts)
    except Skip as s:
        status, reason = "SKIP", str(s)
    except Exception as e:  # a broken case is reported, not fatal
        status, reason = "FAIL", f"harness error: {type(e).__name__}: {e}"
        details = traceback.format_exc() + "\n".join(p.describe() for p in t.log[-3:])
    finally:
        problems = t.cleanup()
    if problems and status == "PASS":
        # A runtime that cannot tear a container down is not conformant either.
        status, reason = "FAIL", "teardown: " + "; ".join(problems)
    elif problems:
        details += "\nteardown: " + "; ".join(problems)
    if t.notes:
        details = ("notes: " + "; ".join(t.notes) + "\n" + details).rstrip()
    if not session.keep and status in ("PASS", "SKIP"):
        t.remove_workdir()
    return Result(case.name, runtime.name, status, reason, details.rstrip(), time.monotonic() - t0)


def run_all(
    session: Session,
    runtimes: list[Runtime],
    cases: list[Case],
    jobs: int,
    known: dict[str, dict[str, str]],
    progress: Callable[[Result], None],
) -> list[Result]:
    work = [(rt, c) for c in cases for rt in runtimes]
    results: list[Result] = []

    def job(item: tuple[Runtime, Case]) -> Result:
        rt, c = item
        res = run_one(session, rt, c)
        why = known_reason(known, rt.name, c.name)
        if why is not None:
            if res.status == "FAIL":
                res.status, res.reason = "XFAIL", f"{why} [{res.reason}]"
            elif res.status == "PASS":
                res.status, res.reason = "XPASS", f"listed as known failure: {why}"
        progress(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(job, work))
    return results
