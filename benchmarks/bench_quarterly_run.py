"""Issues 10 and 24: the whole quarterly run against the floor, measured in the same sitting, per stage.

For each N in ``--enterprises`` (default 1000 9000) on a clean generated inbox of N enterprises × 2008Q2, once
with the workbooks as the generator wrote them (xlsxwriter) and once with the same workbooks opened and saved
again by openpyxl, contract workbooks another tool wrote (``--writers``; benchmarks.quarter_inbox.resaved_inbox):

- the floor: ``python floor.py INBOX 2008Q2 OUT.csv`` (the least work that turns the quarter's workbooks
  into four figures per enterprise), run ``--floor-runs`` times (default 3) around the whole run, all but
  one right before it and one right after; the best wall time counts, its peak memory is the largest of
  the runs;
- the whole run: ``sasac-skills run --period 2008Q2 --inbox INBOX --workdir W --warehouse M/warehouse.duckdb
  --quiet`` (SASAC_DEMO=1) in a child process on a fresh working area, so start-up and imports count, run
  ``--runs`` times (default 2, each on a fresh working area; the best counts, as for the floor; peaks are the
  largest); the stages are the step seconds the best run's summary prints;
- the no-change re-run: the same command again on the same working area; it must say nothing changed
  (无变化), leave every file under the marts folder with the same bytes and mtime, and take ≤ 1.5× the floor;
- one late file: after the no-change re-run, a corrected workbook of one enterprise arrives (its file again under
  the ``_v2`` name, with an arrival after the deadline) and the same command runs on the same working area:
  what a late file costs, set against the run without a workbook (target ≤ 1.5×). The whole runs read the
  inbox through a hard-linked copy, so the cached inbox is never changed;
- the mid-plan first run: a registry whose enterprises start in 2006Q1 (the generated 起始报告期 is the
  first generated quarter, so a copy of the registry is rewritten to 2006Q1) and an inbox holding only
  2009Q2, run on a fresh working area, against the steady-state run of the same quarter. Steady state
  here means: the same 2009Q2 files and the same registry, run on a working area that already holds
  2009Q1 (``run --period 2009Q1``, untimed, then ``run --period 2009Q2``, timed). Both inboxes come from
  one generation of 2009Q1–2009Q2, so the 2009Q2 workbooks are the same files (hard links). Target ≤ 1.25×.
- the run without a workbook: the same registry of N enterprises and an empty 2008Q2 folder, on a fresh
  working area, timed ``--runs`` times (the best counts). Every step still runs (the dbt builds, the suites,
  the publication, a missing-filing receipt per enterprise): what the stack costs before it reads a single file,
  set against what the ratio target allows for the whole run.

Then once: the demo figure, ``sasac-skills run --all`` on data/raw on a fresh working area (what `make run`
does), wall time, with the storage its release keeps (the marts' history and the documents under releases/).

The release step (issue 27: the dbt snapshots of the marts' history and the revisions, run only by a run that
makes a release) is printed after each whole run and the late-file run, as the run's log states it: wall and
CPU seconds of this process (the machine is shared: CPU seconds are the steadier figure). ``--demo-by-quarter``
(what `make bench` adds) runs the demo quarter by quarter, one release per quarter, and prints after each what
the releases keep so far (history rows and Parquet bytes, kept documents) and that release's step.

Targets: the guard of issue 24 ("Standard parts"), written once below (``RATIO_TARGETS``, ``MEMORY_TARGET_MIB``):
the whole run's ratio to the floor by size (the target of the largest listed size not above N), peak memory
checked for every N.

Wall time is measured from this process around the child (spawn to exit). Peak memory, two figures:
``ru_maxrss`` from ``wait4`` on that child, the resident peak of the largest single process in its tree
(the CLI, or a reader child it waited for), which is not the sum of processes alive at the same time; and
the whole tree's resident total sampled from /proc five times a second (it can miss a peak shorter than
a sample). The memory target is checked against the larger of the two.

Inboxes are cached (see benchmarks.quarter_inbox), so a second run measures without generating.

    .venv/bin/python -m benchmarks.bench_quarterly_run [--enterprises 1000 9000] [--cache DIR]
        [--floor-runs 3] [--writers xlsxwriter openpyxl] [--skip-midplan] [--skip-demo] [--demo-by-quarter]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks.marts_checksum import checksums
from benchmarks.quarter_inbox import PERIOD, REPO, cached_inbox, cli_command, resaved_inbox

MIDPLAN_PREVIOUS, MIDPLAN_PERIOD, PLAN_START = "2009Q1", "2009Q2", "2006Q1"
# Issue 24's guard: whole run ≤ 10× the floor at 1,000 enterprises, ≤ 4.5× from 9,000 (by the largest listed
# size not above N), and peak memory ≤ 3 GiB at every size.
RATIO_TARGETS = {0: 10.0, 9000: 4.5}
MEMORY_TARGET_MIB = 3 * 1024
MIDPLAN_TARGET = 1.25
NOCHANGE_TARGET = 1.5
LATE_TARGET = 1.5  # one late file in a quarter, against the run without a workbook (issue "Standard parts")
RELEASE_STEP_TARGET = 0.10  # the release step's share of a run's wall time at RELEASE_STEP_AT enterprises (issue 27)
RELEASE_STEP_AT = 9000
DEMO_EARLIER_TARGET_S = 90  # the demo target of the benchmark before issue 10 (README)
STEPS_LINE = re.compile(r"步骤耗时 step seconds: (.*)")
RELEASE_STEP_LINE = re.compile(r"release step \(dbt snapshots, revisions\): (.*)")


def ratio_target(enterprises: int) -> float:
    return RATIO_TARGETS[max(n for n in RATIO_TARGETS if n <= enterprises)]


def floor_script() -> Path:
    """floor.py: $SASAC_FLOOR_SCRIPT, else ../shared/bench/floor.py beside the repository (as in CI), else
    beside the main checkout when this is a git worktree."""
    if os.environ.get("SASAC_FLOOR_SCRIPT"):
        return Path(os.environ["SASAC_FLOOR_SCRIPT"])
    candidates = [REPO.parent / "shared" / "bench" / "floor.py"]
    try:
        common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()
        candidates.append(Path(common).parent.parent / "shared" / "bench" / "floor.py")
    except (OSError, subprocess.CalledProcessError):
        pass
    for path in candidates:
        if path.exists():
            return path
    sys.exit(f"floor.py not found (looked at {', '.join(map(str, candidates))}); set SASAC_FLOOR_SCRIPT")


@dataclass
class Measured:
    seconds: float
    peak_mib: float  # ru_maxrss: the largest single process of the tree
    output: str
    tree_mib: float = 0.0  # sampled: the most the whole tree held at once (a lower bound between samples)
    cpu_s: float = 0.0  # user + system seconds of the child and the children it waited for (wait4's rusage)
    release_s: float = 0.0  # the release step's wall seconds as the run's log states them (release_step)


PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and its descendants now, from /proc (0 where /proc is not there)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def _sample_tree(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.2):
        peak[0] = max(peak[0], _tree_rss(pid))


def measure(cmd: list[str], log: Path) -> Measured:
    """Run ``cmd`` to completion: wall seconds, peak RSS of its largest process, its output (fails loudly)."""
    env = {**os.environ, "SASAC_DEMO": "1"}
    with log.open("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        stop, tree = threading.Event(), [0]
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, tree), daemon=True)
        sampler.start()
        # wait4, not Popen.wait: its rusage is this child's alone (RUSAGE_CHILDREN would fold in every
        # earlier child of this process: the generator, the floor, earlier runs).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{text[-4000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, text, tree[0] / 2**20, usage.ru_utime + usage.ru_stime)


def step_seconds(summary: str) -> dict[str, float]:
    found = STEPS_LINE.search(summary)
    if not found:
        return {}
    steps = {}
    for part in found.group(1).split(", "):
        name, _, value = part.rpartition(" ")
        steps[name] = float(value)
    return steps


def release_step(root: Path) -> str:
    """The release step's cost as the latest run's log states it (pipelines/defs/publish/assets.py): the dbt
    snapshots of the marts' history and the revisions, wall and CPU seconds; "none" when that run made no release."""
    logs = sorted((root / "work" / "logs").glob("run-*.log"), key=lambda p: p.stat().st_mtime)
    found = RELEASE_STEP_LINE.search(logs[-1].read_text(encoding="utf-8", errors="replace")) if logs else None
    return found.group(1) if found else "none"


def release_step_seconds(stated: str) -> float:
    """The release step's wall seconds (snapshots + revisions) from what :func:`release_step` returned."""
    figures = dict(part.rsplit(" ", 1) for part in stated.split(", ") if " " in part)
    return sum(float(figures.get(k, 0)) for k in ("snapshot_s", "revisions_s"))


def release_storage(marts: Path) -> str:
    """Bytes a release keeps: the history (the snapshot tables, as their Parquet files: on disk, compressed; and
    DuckDB's own estimate of their size in the warehouse) and the documents under releases/ (hard links share
    their bytes with the live file until it is replaced, copies do not)."""
    parquet = sum(p.stat().st_size for p in (marts / "parquet").glob("history.*.parquet"))
    with duckdb.connect(str(marts / "warehouse.duckdb"), read_only=True) as con:
        rows, tables = con.execute("select sum(estimated_size), count(*) from duckdb_tables()"
                                     " where schema_name = 'history'").fetchone()
        numbers = con.execute("select count(*) from releases.releases").fetchone()[0]
    kept = [p for p in (marts / "releases").rglob("*") if p.is_file()]
    linked = sum(p.stat().st_size for p in kept if p.stat().st_nlink > 1)
    copied = sum(p.stat().st_size for p in kept if p.stat().st_nlink == 1)
    return (f"{numbers} release(s); history: {tables} tables, {rows:,} rows, {parquet:,} bytes as Parquet; "
            f"kept documents: {len(kept)} files, {copied:,} bytes copied + {linked:,} bytes hard-linked")


def run_cmd(inbox: Path, root: Path, period: str | None) -> list[str]:
    which = ["--period", period] if period else ["--all"]
    return [*cli_command(), "run", *which, "--inbox", str(inbox), "--workdir", str(root / "work"),
            "--warehouse", str(root / "marts" / "warehouse.duckdb"), "--quiet"]


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folder``: size, mtime (ns) and SHA-256 of its bytes."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def inbox_size(inbox: Path, period: str) -> str:
    files = [p for p in (inbox / period).iterdir() if p.suffix == ".xlsx"]
    folders = sum(1 for p in (inbox / period).iterdir() if p.is_dir())
    return (f"{len(files)} workbooks, {sum(p.stat().st_size for p in files) / 2**20:.1f} MiB, + {folders} CSV "
            "folder submissions, which floor.py does not read")


def stats_line(m: Measured) -> str:
    """The run summary's counts (files, accepted, missing filings, …): one line of the summary."""
    return next((line.strip() for line in m.output.splitlines() if line.startswith("  文件 files")), "")


def peaks(m: Measured) -> str:
    return f"peak {m.peak_mib:.0f} MiB largest process, {m.tree_mib:.0f} MiB whole tree (sampled)"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# The workbooks of a measured inbox: as the generator wrote them (xlsxwriter), or opened and saved again by
# openpyxl (contract workbooks another tool wrote: its own shared strings, styles and zip layout).
WRITERS = ("xlsxwriter", "openpyxl")


@dataclass
class Row:
    enterprises: int
    writer: str = WRITERS[0]
    floor_s: float = 0.0
    floor_mib: float = 0.0
    run_s: float = 0.0
    run_mib: float = 0.0
    run_tree_mib: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    nochange: tuple[float, bool, bool, int] | None = None  # seconds, said 无变化, marts untouched, files
    midplan: tuple[float, float] | None = None  # first run, steady state
    no_workbook_s: float | None = None  # the whole run with the registry and no file (no_workbook_run)
    late_s: float | None = None  # one late file on a working area that holds the quarter (whole_vs_floor)
    # the release step's wall seconds in the best whole run and in the late-file run, with those runs' wall seconds
    release_steps: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.run_s / self.floor_s


def whole_vs_floor(n: int, cache: Path | None, floor_runs: int, scratch: Path, runs: int = 1,
                   writer: str = WRITERS[0]) -> Row:
    inbox = cached_inbox(n, PERIOD, PERIOD, clean=True, cache=cache)
    if writer == "openpyxl":
        inbox = resaved_inbox(inbox)
    print(f"\n== {n} enterprises × {PERIOD} (clean inbox, workbooks written by {writer}: "
          f"{inbox_size(inbox, PERIOD)}) ==", flush=True)
    floor = floor_script()
    floors: list[Measured] = []

    def run_floor() -> None:
        m = measure([sys.executable, str(floor), str(inbox), PERIOD, str(scratch / "floor.csv")], scratch / "floor.log")
        floors.append(m)
        print(f"floor run {len(floors)}: {m.seconds:.2f} s, {peaks(m)} ({m.output.strip()})",
              flush=True)

    root = scratch / f"run_{n}"
    linked = scratch / f"inbox_{n}"  # the runs' own copy (hard links): the late file goes in here, not the cache
    _link_tree(inbox, linked)
    cmd = run_cmd(linked, root, PERIOD)
    print(f"floor: {sys.executable} {floor} {inbox} {PERIOD} OUT.csv\nwhole run: SASAC_DEMO=1 {' '.join(cmd)}",
          flush=True)
    for _ in range(max(1, floor_runs - 1)):
        run_floor()
    # Like the floor, the whole run is timed more than once when asked (each on a fresh working area): this VM's
    # speed drifts by a third within minutes, and the ratio should not be the drift's.
    wholes: list[Measured] = []
    marts_sums: list[dict[str, tuple[int, str]]] = []
    for i in range(max(1, runs)):
        shutil.rmtree(root, ignore_errors=True)
        wholes.append(measure(cmd, scratch / "run.log"))
        stated = release_step(root)
        wholes[-1].release_s = release_step_seconds(stated)
        print(f"whole run {i + 1}: {wholes[-1].seconds:.2f} s ({wholes[-1].cpu_s:.1f} CPU-s), {peaks(wholes[-1])}\n  summary: "
              f"{stats_line(wholes[-1])}\n  release step (its log): {stated}", flush=True)
        marts_sums.append(checksums(root / "marts" / "warehouse.duckdb"))
    if runs > 1:
        same = all(sums == marts_sums[0] for sums in marts_sums)
        print(f"marts of the {runs} runs (rows + MD5 per table, benchmarks.marts_checksum): "
              f"{'identical' if same else 'DIFFERENT'} ({len(marts_sums[0])} tables)", flush=True)
    whole = min(wholes, key=lambda m: m.seconds)
    whole.peak_mib = max(m.peak_mib for m in wholes)
    whole.tree_mib = max(m.tree_mib for m in wholes)
    if runs > 1:
        print(f"whole run: best of {runs}: {whole.seconds:.2f} s (all: "
              f"{', '.join(f'{m.seconds:.2f}' for m in wholes)}); peaks are the largest of the runs", flush=True)
    if floor_runs > 1:
        run_floor()
    row = Row(n, writer, min(m.seconds for m in floors), max(m.peak_mib for m in floors), whole.seconds, whole.peak_mib,
              whole.tree_mib, step_seconds(whole.output))
    row.release_steps.append(("first run (release 1)", whole.release_s, whole.seconds))
    print(f"stages of the whole run (step seconds from its summary; {n} enterprises × {PERIOD}):")
    for step, seconds in sorted(row.steps.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:7.1f} s  {step}")
    print(f"  {row.run_s - sum(row.steps.values()):7.1f} s  (process start-up, imports, definitions, Dagster "
          "overhead: wall minus the steps)")

    marts = root / "marts"
    before = snapshot(marts)
    again = measure(cmd, scratch / "rerun.log")
    after = snapshot(marts)
    said = "无变化" in again.output
    row.nochange = (again.seconds, said, before == after, len(before))
    print(f"no-change re-run: {again.seconds:.2f} s, summary says 无变化: {said}, {len(before)} files under "
          f"{marts.name}/ {'untouched' if before == after else 'CHANGED'}", flush=True)
    if before != after:
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                print(f"  changed: {name} {before.get(name)} -> {after.get(name)}")
    row.late_s, late_release_s = late_file_run(linked, cmd, scratch, root)
    row.release_steps.append(("one late file (release 2)", late_release_s, row.late_s))
    shutil.rmtree(root, ignore_errors=True)
    return row


def late_file_run(inbox: Path, cmd: list[str], scratch: Path, root: Path) -> tuple[float, float]:
    """One enterprise's workbook again as ``_v2``, arriving after the deadline, then the run on the same area:
    its wall seconds and its release step's."""
    folder = inbox / PERIOD
    first = sorted(p for p in folder.glob("*.xlsx"))[0]
    late = folder / f"{first.stem}_v2.xlsx"
    shutil.copyfile(first, late)
    arrivals = folder / "收件登记.csv"
    if arrivals.exists():
        # The runs' inbox is hard links to the cache: a new file for the arrivals, or the line would go into the
        # cached inbox too, and every later sitting would start with one more registered late arrival.
        text = arrivals.read_text(encoding="utf-8")
        arrivals.unlink()
        arrivals.write_text(f"{text}{late.name},2008-08-20 10:00:00\n", encoding="utf-8", newline="")
    m = measure(cmd, scratch / "late.log")
    stated = release_step(root)
    print(f"one late file ({late.name}): {m.seconds:.2f} s ({m.cpu_s:.1f} CPU-s), {peaks(m)}\n"
          f"  summary: {stats_line(m)}\n"
          f"  stages: {', '.join(f'{step} {seconds:.1f}' for step, seconds in step_seconds(m.output).items())}\n"
          f"  release step (its log): {stated}", flush=True)
    return m.seconds, release_step_seconds(stated)


def no_workbook_run(n: int, cache: Path | None, scratch: Path, runs: int) -> float:
    """Best wall time of ``run --period`` with the registry of ``n`` enterprises and an empty quarter folder."""
    generated = cached_inbox(n, PERIOD, PERIOD, clean=True, cache=cache)
    inbox = scratch / f"no_workbook_{n}"
    (inbox / PERIOD).mkdir(parents=True)
    shutil.copy2(generated / "registry.csv", inbox / "registry.csv")
    print(f"\n== the run without a workbook: {n} enterprises registered, {PERIOD} folder empty ==", flush=True)
    times = []
    for i in range(max(1, runs)):
        root = scratch / "no_workbook_run"
        shutil.rmtree(root, ignore_errors=True)
        m = measure(run_cmd(inbox, root, PERIOD), scratch / "no_workbook.log")
        times.append(m.seconds)
        print(f"run without a workbook {i + 1}: {m.seconds:.2f} s, {peaks(m)}\n  summary: {stats_line(m)}\n  stages: "
              + ", ".join(f"{step} {seconds:.1f}" for step, seconds in step_seconds(m.output).items()), flush=True)
        shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(inbox, ignore_errors=True)
    return min(times)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the same bytes at no cost: the inbox can hold thousands of workbooks
    except OSError:  # another file system
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=_link_or_copy)


def _registry_from(src: Path, dst: Path, active_from: str) -> None:
    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("起始报告期")
    for r in rows[1:]:
        r[col] = active_from
    with dst.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def midplan(n: int, cache: Path | None, scratch: Path) -> tuple[float, float]:
    generated = cached_inbox(n, MIDPLAN_PREVIOUS, MIDPLAN_PERIOD, clean=True, cache=cache)
    steady_inbox, first_inbox = scratch / f"steady_{n}", scratch / f"midplan_{n}"
    for inbox, periods in ((steady_inbox, (MIDPLAN_PREVIOUS, MIDPLAN_PERIOD)), (first_inbox, (MIDPLAN_PERIOD,))):
        inbox.mkdir()
        _registry_from(generated / "registry.csv", inbox / "registry.csv", PLAN_START)
        for period in periods:
            _link_tree(generated / period, inbox / period)
    print(f"\n== mid-plan first run: {n} enterprises registered from {PLAN_START}, inbox {MIDPLAN_PERIOD} only "
          f"({inbox_size(first_inbox, MIDPLAN_PERIOD)}) ==", flush=True)
    # Both timed runs read the 2009Q2 files from the page cache, not the first one alone from disk.
    for path in (generated / MIDPLAN_PERIOD).rglob("*"):
        if path.is_file():
            path.read_bytes()
    first = measure(run_cmd(first_inbox, scratch / "mid_first", MIDPLAN_PERIOD), scratch / "mid_first.log")
    print(f"mid-plan first run (fresh working area, run --period {MIDPLAN_PERIOD}): {first.seconds:.2f} s, "
          f"{peaks(first)}\n  summary: {stats_line(first)}", flush=True)
    root = scratch / "mid_steady"
    prev = measure(run_cmd(steady_inbox, root, MIDPLAN_PREVIOUS), scratch / "mid_prev.log")
    print(f"steady state, preparing: run --period {MIDPLAN_PREVIOUS} on a fresh working area: {prev.seconds:.2f} s "
          "(not compared)", flush=True)
    steady = measure(run_cmd(steady_inbox, root, MIDPLAN_PERIOD), scratch / "mid_steady.log")
    print(f"steady state: run --period {MIDPLAN_PERIOD} on the working area holding {MIDPLAN_PREVIOUS}: "
          f"{steady.seconds:.2f} s, {peaks(steady)}\n  summary: {stats_line(steady)}", flush=True)
    for name in ("mid_first", "mid_steady", first_inbox.name, steady_inbox.name):
        shutil.rmtree(scratch / name, ignore_errors=True)
    return first.seconds, steady.seconds


def demo(scratch: Path) -> Measured:
    root = scratch / "demo"
    m = measure(run_cmd(REPO / "data" / "raw", root, None), scratch / "demo.log")
    print(f"demo run --all: {m.seconds:.2f} s ({m.cpu_s:.1f} CPU-s); release step (its log): {release_step(root)}\n"
          f"  storage of its release: {release_storage(root / 'marts')}", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return m


def demo_by_quarter(scratch: Path) -> None:
    """The demo inbox run quarter by quarter (``run --period Q`` for each of its quarters, on one working area),
    so that every quarter is a release: what each release keeps (history rows and bytes, documents) and costs."""
    root, inbox = scratch / "demo_by_quarter", REPO / "data" / "raw"
    quarters = sorted(p.name for p in inbox.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}Q[1-4]", p.name))
    print(f"\n== the demo quarter by quarter ({len(quarters)} runs, one release each) ==", flush=True)
    for quarter in quarters:
        m = measure(run_cmd(inbox, root, quarter), scratch / "quarter.log")
        print(f"{quarter}: {m.seconds:.1f} s ({m.cpu_s:.1f} CPU-s); release step: {release_step(root)}\n"
              f"  kept so far: {release_storage(root / 'marts')}", flush=True)
    shutil.rmtree(root, ignore_errors=True)


def table(rows: list[Row], floor_runs: int, demo_run: Measured | None) -> None:
    print(f"\n== issue 24 guard figures (this machine, this sitting; clean generated inboxes; floor = best of "
          f"{floor_runs} runs of floor.py, its peak the largest; run = `sasac-skills run --period {PERIOD} "
          "--quiet` in a child process on a fresh working area; run MiB = largest single process (ru_maxrss), "
          "tree MiB = the whole process tree at once, sampled 5×/s; the memory target holds the larger) ==")
    head = (f"{'N':>6} {'workbooks by':<12} {'floor s':>8} {'floor MiB':>9} {'run s':>8} {'run MiB':>8} "
            f"{'tree MiB':>8} {'ratio':>7}  {'target':<26} result")
    print(head)
    print("-" * len(head))
    for r in rows:
        goal = ratio_target(r.enterprises)
        ok = r.ratio <= goal and max(r.run_mib, r.run_tree_mib) <= MEMORY_TARGET_MIB
        print(f"{r.enterprises:>6} {r.writer:<12} {r.floor_s:>8.2f} {r.floor_mib:>9.0f} {r.run_s:>8.2f} {r.run_mib:>8.0f} "
              f"{r.run_tree_mib:>8.0f} {r.ratio:>6.2f}×  {f'≤ {goal:g}× floor, ≤ {MEMORY_TARGET_MIB} MiB':<26} "
              f"{verdict(ok)}")
    print()
    for r in rows:
        if r.midplan:
            first, steady = r.midplan
            print(f"mid-plan first run, {r.enterprises} × {MIDPLAN_PERIOD}: {first:.2f} s vs steady state "
                  f"{steady:.2f} s = {first / steady:.2f}×  (target ≤ {MIDPLAN_TARGET}×)  "
                  f"{verdict(first / steady <= MIDPLAN_TARGET)}")
    for r in rows:
        if r.nochange:
            seconds, said, untouched, files = r.nochange
            ok = seconds <= NOCHANGE_TARGET * r.floor_s and said and untouched
            print(f"no-change re-run, {r.enterprises} × {PERIOD} ({r.writer}): {seconds:.2f} s = {seconds / r.floor_s:.2f}× floor "
                  f"(target ≤ {NOCHANGE_TARGET}×); 无变化 said: {said}; {files} marts files same bytes and "
                  f"mtimes: {untouched}  {verdict(ok)}")
    for r in rows:
        if r.late_s is not None and r.no_workbook_s is not None:
            ok = r.late_s <= LATE_TARGET * r.no_workbook_s
            print(f"one late file, {r.enterprises} × {PERIOD} ({r.writer}): {r.late_s:.2f} s = "
                  f"{r.late_s / r.no_workbook_s:.2f}× the run without a workbook (target ≤ {LATE_TARGET}×)  "
                  f"{verdict(ok)}")
    for r in rows:
        for run, step_s, run_s in r.release_steps:
            share = step_s / run_s
            judged = f"(target ≤ {RELEASE_STEP_TARGET:.0%} at {RELEASE_STEP_AT})  {verdict(share <= RELEASE_STEP_TARGET)}" \
                if r.enterprises >= RELEASE_STEP_AT else f"(the target is for {RELEASE_STEP_AT})"
            print(f"release step, {r.enterprises} × {PERIOD}, {run}: {step_s:.2f} s of {run_s:.2f} s = {share:.1%}  "
                  f"{judged}")
    for r in rows:
        if r.no_workbook_s is not None:
            goal = ratio_target(r.enterprises)
            print(f"run without a workbook, {r.enterprises} registered × {PERIOD}: {r.no_workbook_s:.2f} s = "
                  f"{r.no_workbook_s / r.floor_s:.2f}× floor ({r.writer} floor); the whole run's target allows "
                  f"{goal * r.floor_s:.2f} s ({goal:g}×), so reading and checking the quarter's files may take "
                  f"{goal * r.floor_s - r.no_workbook_s:.2f} s on top")
    if demo_run:
        print(f"demo `make run` (sasac-skills run --all on data/raw, 12 enterprises × 2006Q1–2010Q4, fresh "
              f"working area): {demo_run.seconds:.1f} s, {peaks(demo_run)}  "
              f"(earlier bench target ≤ {DEMO_EARLIER_TARGET_S} s: "
              f"{verdict(demo_run.seconds <= DEMO_EARLIER_TARGET_S)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--enterprises", type=int, nargs="+", default=[1000, 9000])
    ap.add_argument("--cache", type=Path, help="where generated inboxes are kept (see benchmarks.quarter_inbox)")
    ap.add_argument("--floor-runs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2, help="whole runs per size (fresh working area each); the best counts")
    ap.add_argument("--writers", nargs="+", choices=WRITERS, default=list(WRITERS),
                    help="whose workbooks: the generator's (xlsxwriter) and/or the same re-saved by openpyxl")
    ap.add_argument("--skip-midplan", action="store_true")
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--demo-by-quarter", action="store_true",
                    help="also run the demo quarter by quarter: the storage and cost of each release (issue 27)")
    args = ap.parse_args()
    print(f"floor: {floor_script()}; CLI: {' '.join(cli_command())}; {os.cpu_count()} CPUs", flush=True)
    rows = []
    for n in args.enterprises:
        for writer in args.writers:
            scratch = Path(tempfile.mkdtemp(prefix=f"bench_run_{n}_"))
            try:
                row = whole_vs_floor(n, args.cache, args.floor_runs, scratch, args.runs, writer)
                if not args.skip_midplan and writer == WRITERS[0]:
                    row.midplan = midplan(n, args.cache, scratch)
                if writer == args.writers[0]:  # the same registry and no file, whoever wrote the workbooks
                    row.no_workbook_s = no_workbook_run(n, args.cache, scratch, args.runs)
                rows.append(row)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    demo_run = None
    if not args.skip_demo:
        scratch = Path(tempfile.mkdtemp(prefix="bench_run_demo_"))
        try:
            demo_run = demo(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.demo_by_quarter:
        scratch = Path(tempfile.mkdtemp(prefix="bench_run_demo_q_"))
        try:
            demo_by_quarter(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    table(rows, args.floor_runs, demo_run)


if __name__ == "__main__":
    main()
