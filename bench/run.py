#!/usr/bin/env python3
"""Benchmarks of pyrunc against runc (and optionally crun), stdlib only. Run as root:

    python3 bench/run.py                      # pyrunc vs runc, full (several minutes: 1000 real containers)
    python3 bench/run.py --quick              # CI mode: few repeats, no list(1000); exits 1 on a missed target
    python3 bench/run.py --runtimes runc,crun --subject crun    # check the harness without pyrunc
    python3 bench/run.py --render bench/results/X.json          # the README's Markdown table of a result

Figures (medians; runtimes alternate within every repeat so drift hits all alike):
    floor      `python3 -I -S -c pass`, the interpreter start every Python CLI pays
    run        `run` of a bundle whose process is /bin/true (create, start, wait, delete in one command)
    cycle      `create` + `start` + `kill KILL` + `delete --force` of a long-running container (parts listed too)
    exec       `exec ID /bin/true` into a running container
    state N    `state` of a running container, with N containers in the root
    kill N     `kill ID CONT` of that running container (a real signal that leaves it running), N in the root
    list N     `list` with N containers in the root (the running one, the others created, not started);
               N = 1, 100, 1000 (--quick: 1, 100). For N=1000 with --list-copies, or when memory is short, 900 of
               them are copies of the state directories of 100 real ones
    create x50 wall time of 50 `create`s started at once
    RSS        peak RSS of each command (ru_maxrss from wait4), compared with the baseline
Targets (TARGETS): state/kill/list with 100 containers within 1.3x the floor; run, cycle, exec and the peak RSS of
create within 1.0x runc. --quick fails when a ratio is more than 1.5x its target, except for the figures listed in
bench/expected_misses.json (reported as "miss (expected)"; --strict gates on those too).
Every runtime gets a private --root under /run and its own bundles (rootfs from bundles/build-rootfs.sh); all
containers, state roots and bundles are removed at the end. Results go to bench/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtimes import (
    Result,
    Runtime,
    build_launcher,
    clone_state_dir,
    execute,
    execute_concurrently,
    parse_runtime,
    version_of,
    write_bundles,
)

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOTFS = REPO / "bundles" / "build-rootfs.sh"
TEMPLATE = REPO / "bundles" / "oneshot" / "config.json"
RESULTS = REPO / "bench" / "results"

# figure -> (what the subject is compared with, target ratio). --quick fails when a ratio exceeds 1.5x its target.
TARGETS: dict[str, tuple[str, float]] = {
    "run": ("baseline", 1.0),
    "cycle": ("baseline", 1.0),
    "exec": ("baseline", 1.0),
    "state 100": ("floor", 1.3),
    "kill 100": ("floor", 1.3),
    "list 100": ("floor", 1.3),
    "rss create": ("baseline", 1.0),
}
GATE_SLACK = 1.5
EXPECTED_MISSES = REPO / "bench" / "expected_misses.json"
CONCURRENT = 50
LIST_BATCH = 8  # containers created at once while filling the root for `list`
CHEAP_FACTOR = 4  # state/kill/list take ~10 ms: this many times the repeats of the other figures
ROOT_COUNTS = (1, 100, 1000)
LABELS = {
    "floor": "interpreter floor (-I -S)",
    "run": "run /bin/true",
    "cycle": "create+start+kill+delete",
    "create": "  create",
    "start": "  start",
    "kill KILL": "  kill KILL",
    "delete": "  delete --force",
    "exec": "exec /bin/true",
    **{f"state {n}": f"state, {n} in root" for n in ROOT_COUNTS},
    **{f"kill {n}": f"kill CONT, {n} in root" for n in ROOT_COUNTS},
    **{f"list {n}": f"list, {n} in root" for n in ROOT_COUNTS},
    f"create x{CONCURRENT}": f"{CONCURRENT} concurrent creates (wall)",
}


class Bench:
    def __init__(self, runtimes: list[Runtime], floor_argv: list[str], repeats: int, warmup: int) -> None:
        self.runtimes = runtimes
        self.floor_argv = floor_argv
        self.repeats = repeats
        self.warmup = warmup
        self.times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.rss: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.errors: dict[str, dict[str, str]] = defaultdict(dict)
        self.notes: list[str] = []
        self.clones: dict[str, list[str]] = defaultdict(list)
        self.methods: dict[str, dict[str, str]] = defaultdict(dict)  # figure -> runtime -> how its state was made
        # figure -> (group, round) -> runtime (or "python" for the floor) -> seconds: the samples of one round, for
        # ratios paired within a round (robust to a load that drifts during the run)
        self.paired: dict[str, dict[tuple[object, ...], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        self.round_key: tuple[object, ...] = ("", 0)
        self._seq = 0

    # -- bookkeeping
    def new_id(self, prefix: str) -> str:
        self._seq += 1
        return f"bench-{prefix}-{self._seq}"

    def live(self, i: int, figure: str) -> list[Runtime]:
        """Runtimes still measurable for `figure`, in an order that rotates with the repeat number."""
        rts = [rt for rt in self.runtimes if rt.broken is None and rt.name not in self.errors[figure]]
        k = i % len(rts) if rts else 0
        return rts[k:] + rts[:k]

    def fail(self, figure: str, rt: Runtime, why: str) -> None:
        if rt.name not in self.errors[figure]:  # the first failure says it; later ones would repeat it
            self.errors[figure][rt.name] = why
            print(f"  ! {rt.name} {figure}: {why}", file=sys.stderr)

    def measure(self, figure: str, rt: Runtime, r: Result, keep: bool, rss_as: str | None = None) -> bool:
        if not r.ok:
            self.fail(figure, rt, r.describe())
            return False
        if keep:
            self.times[figure][rt.name].append(r.seconds)
            self.rss[rss_as or figure][rt.name].append(r.maxrss_kib)
            self.paired[figure][self.round_key][rt.name] = r.seconds
        return True

    def run(self, rt: Runtime, *args: str) -> Result:
        return execute(rt.cmd(*args), rt.hide_mount)

    def floor(self, keep: bool) -> None:
        r = execute(self.floor_argv)
        if r.ok and keep:
            self.times["floor"]["python"].append(r.seconds)
            self.paired["floor"][self.round_key]["python"] = r.seconds

    def rounds(self, group: str, repeats: int | None = None) -> Iterator[int]:
        """Round numbers, the first `self.warmup` not kept; each names the round whose samples are paired (see
        `paired`)."""
        for i in range(self.warmup + (repeats or self.repeats)):
            self.round_key = (group, i)
            yield i

    # -- figures
    def fig_run(self) -> None:
        for i in self.rounds("run"):
            self.floor(i >= self.warmup)
            for rt in self.live(i, "run"):
                r = self.run(rt, "run", "-b", rt.bundles["true"], self.new_id("run"))
                self.measure("run", rt, r, i >= self.warmup)

    def fig_cycle(self) -> None:
        for i in self.rounds("cycle"):
            for rt in self.live(i, "cycle"):
                cid = self.new_id("cycle")
                steps = [
                    ("create", ["create", "-b", rt.bundles["sleep"], cid]),
                    ("start", ["start", cid]),
                    ("kill KILL", ["kill", cid, "KILL"]),
                    ("delete", ["delete", "--force", cid]),
                ]
                total = 0.0
                for name, args in steps:
                    r = self.run(rt, *args)
                    if not self.measure(name, rt, r, i >= self.warmup):
                        self.fail("cycle", rt, f"{name} failed")
                        self.run(rt, "delete", "--force", cid)
                        break
                    total += r.seconds
                else:
                    if i >= self.warmup:
                        self.times["cycle"][rt.name].append(total)
                        self.paired["cycle"][self.round_key][rt.name] = total

    def start_target(self, rt: Runtime, figures: tuple[str, ...]) -> str | None:
        """A running (long-lived) container of `rt`, or None (the figures then fail for it)."""
        cid = self.new_id("target")
        for args in (["create", "-b", rt.bundles["sleep"], cid], ["start", cid]):
            r = self.run(rt, *args)
            if not r.ok:
                for figure in figures:
                    self.fail(figure, rt, r.describe())
                self.run(rt, "delete", "--force", cid)
                return None
        return cid

    def fig_exec(self) -> None:
        """`exec ID /bin/true` into a running container."""
        targets = {rt.name: self.start_target(rt, ("exec",)) for rt in self.live(0, "exec")}
        for i in self.rounds("exec"):
            for rt in self.live(i, "exec"):
                if targets.get(rt.name):
                    self.measure("exec", rt, self.run(rt, "exec", targets[rt.name], "/bin/true"), i >= self.warmup)
        for rt in self.runtimes:
            if targets.get(rt.name):
                self.run(rt, "delete", "--force", targets[rt.name])  # type: ignore[arg-type]

    def fig_root(self, counts: list[int], copies: bool) -> None:
        """`state` and `kill CONT` of a running container, and `list`, with N containers in the root: the running
        one and N-1 created (not started). Containers are real unless `copies` (or memory would run short): then
        those past the first 100 are copies of their state directories, which is cheaper to set up but not
        equivalent (runc lists 900 copies about 2x faster than 900 real ones)."""
        created: dict[str, list[str]] = defaultdict(list)
        real: dict[str, int] = {}
        mem_used: dict[str, int] = defaultdict(int)  # bytes of MemAvailable each runtime's containers took
        all_figures = tuple(f"{cmd} {n}" for n in counts for cmd in ("state", "kill", "list"))
        targets: dict[str, str] = {}
        for rt in self.live(0, all_figures[0]):
            cid = self.start_target(rt, all_figures)
            if cid:
                targets[rt.name] = cid
                created[rt.name].append(cid)
        for count in counts:
            figures = (f"state {count}", f"kill {count}", f"list {count}")
            for rt in self.live(0, figures[-1]):
                ids = created[rt.name]
                if count > 100 and rt.name not in real:
                    # What one more container costs each runtime still to grow its root (measured on its first
                    # ones): this one must leave room for the others.
                    others = sum(
                        mem_used[r.name] / max(1, len(created[r.name])) * (count - len(created[r.name]))
                        for r in self.runtimes
                        if r.name not in real and r.name != rt.name and r.broken is None
                    )
                    per = mem_used[rt.name] / max(1, len(ids))
                    real[rt.name] = 100 if copies else self.real_containers_affordable(rt, per, count, others)
                limit = real.get(rt.name, count)
                mem_before = mem_available()
                # Set-up only (not timed): real containers are created a few at a time to save wall time.
                while len(ids) < min(count, limit) and rt.name not in self.errors[figures[-1]]:
                    batch = [f"bench-list-{n:04d}" for n in range(len(ids), min(count, limit, len(ids) + LIST_BATCH))]
                    _, results = execute_concurrently(
                        [rt.cmd("create", "-b", rt.bundles["sleep"], cid) for cid in batch], rt.hide_mount
                    )
                    ids.extend(cid for cid, r in zip(batch, results, strict=True) if r.ok)
                    for r in results:
                        if not r.ok:
                            for figure in figures:
                                self.fail(figure, rt, r.describe())
                while len(ids) < count and rt.name not in self.errors[figures[-1]]:
                    cid = f"bench-list-{len(ids):04d}"
                    clone_state_dir(rt.root, ids[1 + (len(ids) - 1) % (limit - 1)] if limit > 1 else ids[0], cid)
                    self.clones[rt.name].append(cid)
                    ids.append(cid)
                mem_used[rt.name] += max(0, mem_before - mem_available())
                if len(ids) > limit:
                    self.methods[figures[-1]][rt.name] = f"{limit} real + {len(ids) - limit} state-dir copies"
            # These commands are short (~10 ms) and the figures gated on the floor: CHEAP_FACTOR x the repeats, and
            # a floor sample right before each runtime's command.
            for i in self.rounds(f"root {count}", self.repeats * CHEAP_FACTOR):
                keep = i >= self.warmup
                for figure in figures:
                    for rt in self.live(i, figure):
                        target = targets.get(rt.name)
                        if target is not None:
                            self.round_key = (figure, i, rt.name)  # pairs this floor sample with this command
                            self.floor(keep)
                            self.measure_root_command(rt, figure, target, count, keep)
        for rt in self.runtimes:
            self.remove_clones(rt)
            ids = [cid for cid in created[rt.name] if os.path.isdir(os.path.join(rt.root, cid))]
            self.delete_all(rt, ids)

    def measure_root_command(self, rt: Runtime, figure: str, target: str, count: int, keep: bool) -> None:
        command = figure.split()[0]
        if command == "state":
            r = self.run(rt, "state", target)
            if self.measure(figure, rt, r, keep, rss_as="state") and '"running"' not in r.stdout:
                self.fail(figure, rt, f"state does not say running: {r.stdout.strip()[:200]}")
        elif command == "kill":
            self.measure(figure, rt, self.run(rt, "kill", target, "CONT"), keep, rss_as="kill")
        else:
            r = self.run(rt, "list")
            if self.measure(figure, rt, r, keep, rss_as="list"):
                shown = len([ln for ln in r.stdout.splitlines()[1:] if ln.strip()])
                if shown != count:
                    self.fail(figure, rt, f"list shows {shown} containers, {count} exist")

    def fig_concurrent(self, rounds: int) -> None:
        figure = f"create x{CONCURRENT}"
        for i in range(rounds):  # no warm-up round: the other figures have warmed everything up
            self.round_key = (figure, i)
            for rt in self.live(i, figure):
                ids = [self.new_id("conc") for _ in range(CONCURRENT)]
                wall, results = execute_concurrently(
                    [rt.cmd("create", "-b", rt.bundles["sleep"], cid) for cid in ids], rt.hide_mount
                )
                bad = [r for r in results if not r.ok]
                if bad:
                    self.fail(figure, rt, f"{len(bad)} of {CONCURRENT} failed, e.g. {bad[0].describe()}")
                else:
                    self.times[figure][rt.name].append(wall)
                    self.paired[figure][self.round_key][rt.name] = wall
                self.delete_all(rt, ids)

    def real_containers_affordable(self, rt: Runtime, per: float, count: int, others: float) -> int:
        """How many of `count` created containers memory allows, given what one costs (`per` bytes), keeping 2 GiB
        and `others` bytes for the runtimes still to grow theirs."""
        spare = mem_available() - 2 * 1024**3 - others
        if per * (count - 100) <= spare:
            return count
        self.notes.append(
            f"{rt.name}: {count} created containers would need ~{per * count / 1024**3:.1f} GiB, "
            f"so list({count}) uses state-dir copies"
        )
        return 100

    # -- cleanup
    def remove_clones(self, rt: Runtime) -> None:
        # Copies share their source's process and cgroups: `delete` would tear those down, so just drop the files.
        for cid in self.clones.pop(rt.name, []):
            shutil.rmtree(os.path.join(rt.root, cid), ignore_errors=True)

    def delete_all(self, rt: Runtime, ids: list[str]) -> None:
        for start in range(0, len(ids), CONCURRENT):
            execute_concurrently(
                [rt.cmd("delete", "--force", cid) for cid in ids[start : start + CONCURRENT]], rt.hide_mount
            )

    def cleanup(self) -> None:
        for rt in self.runtimes:
            if not rt.root or not os.path.isdir(rt.root):
                continue
            self.remove_clones(rt)
            left = sorted(e.name for e in os.scandir(rt.root) if e.is_dir())
            if left:
                self.delete_all(rt, left)
            still = sorted(e.name for e in os.scandir(rt.root) if e.is_dir())
            if still:
                self.notes.append(f"{rt.name}: `delete --force` left {len(still)} state dirs, e.g. {still[0]}")


# ------------------------------------------------------------------------------------------------- reporting


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def median(values: list[float] | list[int]) -> float | None:
    return statistics.median(values) if values else None


def load_expected_misses(subject: str) -> dict[str, str]:
    """bench/expected_misses.json: {subject: {figure: why}}, the targets a runtime is known not to meet yet."""
    try:
        data = json.loads(EXPECTED_MISSES.read_text())
    except FileNotFoundError:
        return {}
    return {k: v for k, v in data.get(subject, {}).items() if not k.startswith("_")}


def summarize(bench: Bench, subject: str, baseline: str, expected: dict[str, str]) -> dict[str, Any]:
    floor = median(bench.times["floor"]["python"])
    out: dict[str, Any] = {"figures": {}, "rss_kib": {}, "gate": {}, "ratios": {}}
    for figure, per_rt in bench.times.items():
        out["figures"][figure] = {
            name: {"median_s": median(v), "min_s": min(v), "samples_s": v} for name, v in per_rt.items() if v
        }
    for figure, per_rt_err in bench.errors.items():
        for name, why in per_rt_err.items():
            out["figures"].setdefault(figure, {}).setdefault(name, {})["error"] = why
    for command, per_rt in bench.rss.items():
        out["rss_kib"][command] = {name: median(v) for name, v in per_rt.items() if v}
    for figure in bench.times:
        if figure != "floor":
            # subject / baseline: paired per round, or (figures measured with a floor sample per command) the ratio
            # of the medians
            r = paired_ratio(bench, figure, subject, "baseline", baseline)
            s, b = median(bench.times[figure].get(subject, [])), median(bench.times[figure].get(baseline, []))
            if r is None and s and b:
                r = s / b
            out["ratios"][figure] = None if r is None else round(r, 3)
    for figure, (ref, target) in TARGETS.items():
        if figure.startswith("rss "):
            values = out["rss_kib"].get(figure[4:], {})
            s, b = values.get(subject), values.get(baseline)
            ref_value = b
        else:
            values = {k: v.get("median_s") for k, v in out["figures"].get(figure, {}).items()}
            s = values.get(subject)
            ref_value = floor if ref == "floor" else values.get(baseline)
        entry: dict[str, Any] = {"compared_with": baseline if ref == "baseline" else "floor", "target": target}
        if figure in expected:
            entry["expected_miss"] = expected[figure]
        if s is None or not ref_value:
            entry.update(ratio=None, verdict="MISSING")
        else:
            # Time figures: the median of the ratios paired within each round (both measured moments apart), which
            # a load drifting during the run moves far less than a ratio of medians taken minutes apart.
            paired = None if figure.startswith("rss ") else paired_ratio(bench, figure, subject, ref, baseline)
            ratio = paired if paired is not None else s / ref_value
            verdict = "ok" if ratio <= target else ("over" if ratio <= target * GATE_SLACK else "FAIL")
            entry.update(ratio=round(ratio, 3), ratio_of_medians=round(s / ref_value, 3), verdict=verdict)
        out["gate"][figure] = entry
    return out


def paired_ratio(bench: Bench, figure: str, subject: str, ref: str, baseline: str) -> float | None:
    """Median over the rounds of subject / reference measured in the same round (reference: the floor or the
    baseline runtime), or None without such pairs."""
    ratios = []
    for key, per in bench.paired[figure].items():
        s = per.get(subject)
        r = bench.paired["floor"].get(key, {}).get("python") if ref == "floor" else per.get(baseline)
        if s and r:
            ratios.append(s / r)
    return statistics.median(ratios) if ratios else None


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms"


def print_report(bench: Bench, summary: dict[str, Any], subject: str, baseline: str) -> None:
    names = [rt.name for rt in bench.runtimes]
    floor = median(bench.times["floor"]["python"])
    print(
        f"\nmedians of {bench.repeats} runs (+{bench.warmup} warm-up); subject {subject}, baseline {baseline}, "
        f"floor = `{shlex.join(bench.floor_argv)}`"
    )
    header = f"{'figure':<28}" + "".join(f"{n:>12}" for n in names) + f"{'ratio':>16}  {'target':<14}"
    print(header)
    print("-" * len(header))
    print(f"{LABELS['floor']:<28}{fmt_ms(floor):>12}")
    for figure, label in LABELS.items():
        if figure == "floor" or figure not in summary["figures"]:
            continue
        cells = []
        for n in names:
            d = summary["figures"][figure].get(n, {})
            cells.append(
                d["error"] if d.get("error") == "broken" else "error" if "error" in d else fmt_ms(d.get("median_s"))
            )
        ratio_txt, target_txt = _ratio_cells(summary, figure, subject, baseline)
        print(f"{label:<28}" + "".join(f"{c:>12}" for c in cells) + f"{ratio_txt:>16}  {target_txt}")
    print("\npeak RSS (MiB)    " + "".join(f"{n:>12}" for n in names) + f"{subject + '/' + baseline:>16}")
    for command, per_rt in sorted(summary["rss_kib"].items()):
        cells = [f"{per_rt[n] / 1024:.1f}" if n in per_rt else "-" for n in names]
        s, b = per_rt.get(subject), per_rt.get(baseline)
        ratio = f"{s / b:.2f}x" if s and b else "-"
        gate = summary["gate"].get(f"rss {command}")
        mark = f"  target <= {gate['target']}x: {gate['verdict']}" if gate else ""
        print(f"  {command:<16}" + "".join(f"{c:>12}" for c in cells) + f"{ratio:>16}{mark}")
    for rt in bench.runtimes:
        if rt.broken:
            print(f"error: {rt.name} is broken, it cannot run a container: {rt.broken}")
    for figure, per_rt_err in sorted(bench.errors.items()):
        for name, why in per_rt_err.items():
            if why != "broken":
                print(f"error: {name} {figure}: {why}")
    for figure, per_rt_method in sorted(bench.methods.items()):
        for name, method in per_rt_method.items():
            print(f"note: {figure} for {name}: {method}")
    for note in bench.notes:
        print(f"note: {note}")


def _ratio_cells(summary: dict[str, Any], figure: str, subject: str, baseline: str) -> tuple[str, str]:
    gate = summary["gate"].get(figure)
    if gate:
        ref = gate["compared_with"]
        ratio = "-" if gate["ratio"] is None else f"{gate['ratio']:.2f}x {ref}"
        return ratio, f"<= {gate['target']}x: {gate['verdict']}"
    r = summary["ratios"].get(figure)
    return ("-" if r is None else f"{r:.2f}x {baseline}"), ""


def _verdict_text(g: dict[str, Any]) -> str:
    text = {
        "ok": "met",
        "over": f"missed (within the {GATE_SLACK}x CI slack)",
        "FAIL": "missed",
        "MISSING": "no figure",
    }[g["verdict"]]
    return f"{text}, known" if g.get("expected_miss") and g["verdict"] != "ok" else text


def render_markdown(report: dict[str, Any]) -> str:
    """The README's table for one result: a line saying when and where, then figure | subject | baseline | ratio |
    target, in the order of LABELS, then peak RSS."""
    meta, figures, gate_ = report["meta"], report["figures"], report["gate"]
    subject, baseline = meta["subject"], meta["baseline"]
    floor = (figures.get("floor", {}).get("python") or {}).get("median_s")
    versions = ", ".join(f"{n}: {r['version']}" for n, r in meta["runtimes"].items())
    load = " / ".join(f"{x:.1f}" for x in meta.get("loadavg_start", [])[:1] + meta.get("loadavg_end", [])[:1])
    out = [
        f"Measured {meta['date'][:10]} ({meta['mode']} run, median of {meta['repeats']} runs each, "
        f"{meta.get('seconds', '?')} s in all) on {meta.get('cpus')} x {meta.get('cpu_model', '?')}, "
        f"{meta.get('mem_total_gib', '?')} GiB, Linux {meta['kernel']}, Python {meta['python']}; {versions}; "
        f"load average {load} (start / end). Times are medians; a ratio is the median of the ratios paired in "
        "each round (the two commands measured moments apart), so it may differ from the ratio of the medians.",
        "",
        f"| figure | {subject} | {baseline} | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]

    def cell(figure: str, name: str) -> str:
        d = figures.get(figure, {}).get(name, {})
        return "error" if "error" in d else fmt_ms(d.get("median_s"))

    out.append(f"| `python {' '.join(meta['floor'][1:])}` (floor) | {fmt_ms(floor)} | | | |")
    for figure, label in LABELS.items():
        if figure == "floor" or figure not in figures:
            continue
        g = gate_.get(figure)
        r = report.get("ratios", {}).get(figure)
        ratio = f"{r:.2f}x {baseline}" if r is not None else "-"
        if g and g["ratio"] is not None and g["compared_with"] == "floor":
            ratio = f"{g['ratio']:.2f}x floor ({ratio})"
        elif g and g["ratio"] is not None:
            ratio = f"{g['ratio']:.2f}x {baseline}"
        target = ""
        if g:
            target = f"≤ {g['target']}x {'floor' if g['compared_with'] == 'floor' else baseline}: {_verdict_text(g)}"
        name = f"cycle: {label.strip()}" if label.startswith(" ") else label
        out.append(f"| {name} | {cell(figure, subject)} | {cell(figure, baseline)} | {ratio} | {target} |")
    for command, per in sorted(report["rss_kib"].items()):
        s, b = per.get(subject), per.get(baseline)
        g = gate_.get(f"rss {command}")
        target = f"≤ {g['target']}x {baseline}: {_verdict_text(g)}" if g else ""
        out.append(
            f"| peak RSS, {command} | {f'{s / 1024:.1f} MiB' if s else '-'} | {f'{b / 1024:.1f} MiB' if b else '-'} "
            f"| {f'{s / b:.2f}x {baseline}' if s and b else '-'} | {target} |"
        )
    for figure, per_rt in sorted(meta.get("list_methods", {}).items()):
        for name, method in per_rt.items():
            out.append(f"\n{figure} for {name}: {method}.")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------------ main


def default_pyrunc() -> str:
    venv = REPO / ".venv" / "bin" / "pyrunc"
    return str(venv) if venv.exists() else f"{shlex.quote(sys.executable)} -m pyrunc"


def python_of(argv: list[str]) -> str:
    """The interpreter a Python-based runtime command starts (for the floor), else this one."""
    exe = shutil.which(argv[0]) or argv[0]
    if "python" in os.path.basename(exe):
        return exe
    try:
        with open(exe, "rb") as f:
            first = f.readline(256).decode(errors="replace")
    except OSError:
        return sys.executable
    if first.startswith("#!") and "python" in first:
        return first[2:].split()[0]
    return sys.executable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few repeats, no list(1000); exit 1 on a missed target")
    p.add_argument("--runtimes", default="pyrunc,runc", help="comma-separated names to run (default pyrunc,runc)")
    p.add_argument("--subject", default="pyrunc", help="runtime whose ratios are reported/gated")
    p.add_argument("--baseline", default="runc", help="runtime the subject is compared with")
    p.add_argument("--pyrunc", default=None, help="command for pyrunc (default .venv/bin/pyrunc)")
    p.add_argument("--runtime", action="append", default=[], metavar="NAME=CMD", help="add/override a runtime")
    p.add_argument("--repeats", type=int, default=None, help="measured runs per figure")
    p.add_argument(
        "--list-copies", action="store_true", help="list(1000): 100 real containers + 900 copies (faster set-up)"
    )
    p.add_argument("--python", default=None, help="interpreter for the floor (default: pyrunc's)")
    p.add_argument("--results", default=str(RESULTS), help="directory for the JSON results")
    p.add_argument("--strict", action="store_true", help="--quick gates on the expected misses too")
    p.add_argument("--render", metavar="RESULT_JSON", help="print the Markdown table (README) of a result; no run")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        sys.stdout.write(render_markdown(json.loads(Path(args.render).read_text())))
        return 0
    if os.geteuid() != 0:
        print("bench: run as root (it starts real containers)", file=sys.stderr)
        return 2
    commands = {"pyrunc": args.pyrunc or default_pyrunc(), "runc": "runc", "crun": "crun"}
    for spec in args.runtime:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or not cmd:
            print(f"bench: --runtime {spec!r}: expected NAME=CMD", file=sys.stderr)
            return 2
        commands[name] = cmd
    names = [n for n in args.runtimes.split(",") if n]
    for n in [*names, args.subject, args.baseline]:
        if n not in commands:
            print(f"bench: unknown runtime {n!r}: give its command with --runtime {n}=CMD", file=sys.stderr)
            return 2
    for n in (args.subject, args.baseline):
        if n not in names:
            names.append(n)
    runtimes = [parse_runtime(n, commands[n]) for n in names]
    for rt in runtimes:
        if shutil.which(rt.argv[0]) is None:
            print(f"bench: {rt.name}: command not found: {rt.argv[0]}", file=sys.stderr)
            return 2

    # CI stops a run with SIGTERM: turn it into SystemExit so the `finally` below still removes every container.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    quick = args.quick
    repeats = args.repeats or (5 if quick else 20)
    floor_argv = [args.python or python_of(shlex.split(commands[args.subject])), "-I", "-S", "-c", "pass"]
    bench = Bench(runtimes, floor_argv, repeats=repeats, warmup=1)
    base = "/run" if os.access("/run", os.W_OK) else None  # tmpfs, like the runtimes' default roots
    work = Path(tempfile.mkdtemp(prefix="pyrunc-bench-", dir=base))
    started = time.monotonic()
    load_start = list(os.getloadavg())
    try:
        print(f"== bench ({'quick' if quick else 'full'}) in {work}", flush=True)
        subprocess.run([str(BUILD_ROOTFS), str(work / "rootfs")], check=True, stdout=subprocess.DEVNULL)
        if build_launcher(work) is None:
            bench.notes.append("no C compiler: times include a fork of the harness, RSS includes the harness's own")
        template = json.loads(TEMPLATE.read_text())
        for rt in runtimes:
            rt.root = str(work / "state" / rt.name)
            os.makedirs(rt.root)
            write_bundles(rt, template, work / "rootfs", work)
            rt.version = version_of(rt)
            smoke = bench.run(rt, "run", "-b", rt.bundles["true"], bench.new_id("smoke"))
            if not smoke.ok:
                rt.broken = smoke.describe()
                print(f"  ! {rt.name} cannot run a container: {rt.broken}", file=sys.stderr)
            extra = f" (commands in a mount ns without {rt.hide_mount})" if rt.hide_mount else ""
            print(f"  {rt.name}: {shlex.join(rt.argv)} = {rt.version}{extra}", flush=True)
        steps = [
            ("run", bench.fig_run),
            ("cycle", bench.fig_cycle),
            ("exec", bench.fig_exec),
            ("state/kill/list", lambda: bench.fig_root([1, 100] if quick else list(ROOT_COUNTS), args.list_copies)),
            ("concurrent create", lambda: bench.fig_concurrent(1 if quick else 3)),
        ]
        for label, step in steps:
            t = time.monotonic()
            step()
            print(f"  {label}: {time.monotonic() - t:.1f}s", flush=True)
    finally:
        bench.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    for rt in runtimes:
        if rt.broken:
            for figure in [f for f in bench.times if f != "floor"]:
                bench.errors[figure].setdefault(rt.name, "broken")

    summary = summarize(bench, args.subject, args.baseline, load_expected_misses(args.subject))
    print_report(bench, summary, args.subject, args.baseline)
    report = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "mode": "quick" if quick else "full",
            "seconds": round(time.monotonic() - started, 1),
            "repeats": repeats,
            "subject": args.subject,
            "baseline": args.baseline,
            "runtimes": {rt.name: {"command": rt.argv, "version": rt.version, "broken": rt.broken} for rt in runtimes},
            "floor": floor_argv,
            "kernel": platform.release(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "mem_total_gib": round(mem_total() / 1024**3, 1),
            "loadavg_start": load_start,
            "loadavg_end": list(os.getloadavg()),
            "list_methods": bench.methods,
            "notes": bench.notes,
        },
        **summary,
    }
    os.makedirs(args.results, exist_ok=True)
    path = Path(args.results) / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.subject}-vs-{args.baseline}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {path} ({report['meta']['seconds']}s)")
    if quick:
        return gate(summary, args.subject, args.strict)
    return 0


def gate(summary: dict[str, Any], subject: str, strict: bool) -> int:
    """--quick's verdict: 1 if a figure is more than GATE_SLACK x its target (or missing), unless it is an expected
    miss (bench/expected_misses.json) and not --strict."""
    failed, excused = [], []
    for figure, g in summary["gate"].items():
        bad = g["verdict"] in ("FAIL", "MISSING")
        if bad and g.get("expected_miss") and not strict:
            excused.append(figure)
        elif bad:
            failed.append(figure)
        if g.get("expected_miss") and g["verdict"] == "ok":
            print(f"note: {figure} now meets its target: remove it from {EXPECTED_MISSES.relative_to(REPO)}")
    for figure in excused:
        print(f"bench --quick: {figure} misses its target (expected: {summary['gate'][figure]['expected_miss']})")
    if failed:
        print(
            f"bench --quick: {subject} misses its targets by more than {GATE_SLACK}x (or has no figure): "
            + ", ".join(failed),
            file=sys.stderr,
        )
        return 1
    print(f"bench --quick: every gated figure within {GATE_SLACK}x of its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
