"""Command line: `conformance/run [--runtime NAME=CMD]... [-k PATTERN]... [--json FILE] [--require NAME]`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from conformance import report, runner
from conformance.harness import Result, Runtime

EPILOG = """\
examples:
  RUNTIME=runc=/usr/sbin/runc,crun=conformance/tools/crun-hybrid conformance/run
  conformance/run --runtime pyrunc='python3 -m pyrunc' --runtime runc=/usr/sbin/runc -k namespaces -k hooks
  conformance/run --runtime pyrunc=.venv/bin/pyrunc --require pyrunc --json results.json

RUNTIME is a comma-separated list of NAME=CMD (or just CMD). Known failures are read from
conformance/known_failures.json (plus any --expect-fail FILE); they show as XFAIL and do not
make --require fail. --strict ignores them.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="conformance/run",
        description="Run the OCI runtime-spec conformance cases against one or more runtimes, side by side.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--runtime",
        "-r",
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="runtime to test (repeatable); default: $RUNTIME, else runc",
    )
    p.add_argument(
        "-k",
        dest="patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="select cases by substring/glob; 'not X' excludes; repeatable (OR)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON")
    p.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="NAME",
        help="exit 1 if any case FAILs (XFAIL excluded) for runtime NAME",
    )
    p.add_argument(
        "--expect-fail",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="extra known-failures JSON {runtime: {case: reason}}",
    )
    p.add_argument("--strict", action="store_true", help="ignore known failures (report them as FAIL)")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(4, (os.cpu_count() or 1) * 2),
        help="parallel cases (default: %(default)s)",
    )
    p.add_argument(
        "--workdir", metavar="DIR", help="where session dirs go (default: /dev/shm if tmpfs, else $TMPDIR or /tmp)"
    )
    p.add_argument(
        "--rootfs-template",
        type=Path,
        metavar="DIR",
        help="copy this rootfs instead of building one from busybox (e.g. bundles/out/rootfs)",
    )
    p.add_argument("--keep", action="store_true", help="keep every case's work dir (kept anyway when a case FAILs)")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print each result as it finishes; XFAIL details")
    return p.parse_args(argv)


def runtimes_from(args: argparse.Namespace) -> list[Runtime]:
    specs = list(args.runtime)
    if not specs:
        env = os.environ.get("RUNTIME", "")
        specs = [s for s in (x.strip() for x in env.split(",")) if s] or ["runc"]
    rts = [Runtime.parse(s) for s in specs]
    names = [r.name for r in rts]
    if len(set(names)) != len(names):
        raise SystemExit(f"conformance: duplicate runtime names in {names}; use NAME=CMD")
    for r in rts:
        exe = r.argv[0]
        if not (shutil.which(exe) or os.access(exe, os.X_OK)):
            raise SystemExit(f"conformance: runtime {r.name}: {exe!r} is not an executable")
    return rts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = runner.select(runner.load_cases(), args.patterns)
    if args.list:
        for c in cases:
            print(f"{c.name:<44} {c.level:<6} {c.doc}")
        return 0
    if not cases:
        print("conformance: no case matches", args.patterns, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("conformance: must run as root (the cases start real containers)", file=sys.stderr)
        return 2
    runtimes = runtimes_from(args)
    known_files = [] if args.strict else [runner.DEFAULT_KNOWN_FAILURES, *args.expect_fail]
    known = runner.load_known_failures([f for f in known_files if f.exists()])

    session = runner.make_session(args.workdir, args.rootfs_template, args.keep)
    print(
        f"conformance: {len(cases)} cases x {len(runtimes)} runtimes, {args.jobs} jobs, work dir {session.workdir}",
        file=sys.stderr,
    )
    lock = threading.Lock()
    done = [0]
    total = len(cases) * len(runtimes)
    tty = sys.stderr.isatty()

    def progress(r: Result) -> None:
        with lock:
            done[0] += 1
            if args.verbose:
                print(
                    f"[{done[0]:>3}/{total}] {r.runtime:<8} {r.case:<44} {r.status:<5} {r.duration:5.1f}s"
                    f"{'  ' + r.reason if r.status != 'PASS' else ''}",
                    file=sys.stderr,
                )
            elif tty:
                print(f"\r{done[0]}/{total}", end="", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    results = runner.run_all(session, runtimes, cases, args.jobs, known, progress)
    elapsed = time.monotonic() - t0
    if tty and not args.verbose:
        print("\r", end="", file=sys.stderr)

    report.print_details(results, verbose=args.verbose)
    report.print_table(cases, runtimes, results)
    for line in report.summary_lines(runtimes, results):
        print(line)
    print(f"elapsed {elapsed:.1f}s")
    for rt in runtimes:
        mine = [r for r in results if r.runtime == rt.name and r.status != "SKIP"]
        if mine and all(r.status in ("FAIL", "XFAIL") for r in mine):
            first = mine[0]
            err = next((ln.split("stderr:", 1)[1].strip() for ln in first.details.splitlines() if "stderr:" in ln), "")
            print(f"note: every case failed for {rt.name}; first error: {first.reason} {err}".rstrip(), file=sys.stderr)
            if "hybrid mode not supported" in err:
                print(
                    "hint: crun cannot run on this hybrid cgroup host as is; use conformance/tools/crun-hybrid",
                    file=sys.stderr,
                )
    if args.json:
        report.write_json(args.json, cases, runtimes, results, elapsed)
    if args.keep or any(r.status == "FAIL" for r in results):
        print(f"work dirs kept under {session.workdir}", file=sys.stderr)
    else:
        shutil.rmtree(session.workdir, ignore_errors=True)

    unknown = [n for n in args.require if n not in {rt.name for rt in runtimes}]
    if unknown:
        print(f"conformance: --require {unknown}: no such runtime", file=sys.stderr)
        return 2
    bad = [r for r in results if r.runtime in args.require and r.status == "FAIL"]
    return 1 if bad else 0
