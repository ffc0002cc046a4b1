"""pytest entry point: one test per (case, runtime).

    RUNTIME=pyrunc=/work/main/.venv/bin/pyrunc pytest conformance/ -k hooks

Without RUNTIME every test is skipped (so a plain `pytest` run never starts containers by accident).
Known failures from known_failures.json become xfail; the runner script (`conformance/run`) is the
richer interface (side-by-side table, --json, --require).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from conformance import runner
from conformance.harness import Runtime

_RUNTIMES = [Runtime.parse(s.strip()) for s in os.environ.get("RUNTIME", "").split(",") if s.strip()]
_CASES = runner.load_cases()
_failed: list[str] = []


@pytest.fixture(scope="session")
def conformance_session() -> Iterator[runner.Session]:
    session = runner.make_session(None, None, keep=False)
    yield session
    if not _failed:
        shutil.rmtree(session.workdir, ignore_errors=True)


@pytest.mark.root
@pytest.mark.parametrize("runtime", _RUNTIMES or [None], ids=lambda r: r.name if r else "no-RUNTIME")
@pytest.mark.parametrize("name", list(_CASES))
def test_case(name: str, runtime: Runtime | None, request: pytest.FixtureRequest) -> None:
    if runtime is None:
        pytest.skip("set RUNTIME=NAME=CMD[,...] to run the conformance cases")
    if os.geteuid() != 0:
        pytest.skip("the conformance cases start real containers and need root")
    session = request.getfixturevalue("conformance_session")
    res = runner.run_one(session, runtime, _CASES[name])
    known = runner.known_reason(runner.load_known_failures([runner.DEFAULT_KNOWN_FAILURES]), runtime.name, name)
    if res.status == "SKIP":
        pytest.skip(res.reason)
    if res.status == "FAIL":
        if known:
            pytest.xfail(f"{known} [{res.reason}]")
        _failed.append(name)
        pytest.fail(f"{res.reason}\n{res.details}\n(work dir kept under {session.workdir})", pytrace=False)
