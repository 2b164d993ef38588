"""The exports' writers, and running them side by side: one forked worker per export, one result per output.

Each writer is a plain function of the published warehouse that writes one output and returns what its asset
reports (``Exported``: metadata, a log line, the files a release keeps). The export step runs each in a
``concurrent.futures.ProcessPoolExecutor`` of its own (one ``fork`` worker: it starts as a copy of the run's
process, imports included, and nothing is pickled on the way in), so the workbook, the pages and the receipts
share the two cores instead of waiting for each other, and a writer that fails or whose process dies costs its
own output only. The parent keeps each output's files in the run's release (the working database admits one
writer) and reports each as its own asset.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.lib.domain.periods import Period

WORKBOOK_KEY = dg.AssetKey(["published", "tracking_workbook"])
PAGES_KEY = dg.AssetKey(["published", "inspection_pages"])
REPORTS_KEY = dg.AssetKey(["published", "quarterly_reports"])
RECEIPTS_KEY = dg.AssetKey(["published", "receipts"])
EXPORT_KEYS = (WORKBOOK_KEY, PAGES_KEY, REPORTS_KEY, RECEIPTS_KEY)
# Every export's materialization metadata carries these.
FILES_WRITTEN, FILES_UNCHANGED, QUARTERS = "files written", "files unchanged", "quarters"
WORKBOOK_NAME = "target_tracking.xlsx"


@dataclass(frozen=True)
class Exported:
    """What one export wrote: its asset's metadata (plain values; ``paths`` become path entries), the line its
    log shows, and the files the run's release keeps (``replaced``: written under a new name and renamed)."""

    key: dg.AssetKey
    metadata: dict[str, Any]
    message: str
    paths: dict[str, str] = field(default_factory=dict)
    keep: list[Path] = field(default_factory=list)
    replaced: bool = True
    seconds: float = 0.0


def _quarters(periods) -> str:
    return ", ".join(map(str, periods))


def tracking_workbook(db: Path, marts_dir: Path) -> list[Exported]:
    import duckdb

    from pipelines.lib.exports.workbook import write_tracking_workbook

    workbook = write_tracking_workbook(db, marts_dir / WORKBOOK_NAME)
    with duckdb.connect(str(db), read_only=True) as con:
        quarters = [p for (p,) in con.execute("select distinct period from marts.filing_status order by 1").fetchall()]
    return [Exported(WORKBOOK_KEY, {FILES_WRITTEN: 1, FILES_UNCHANGED: 0, QUARTERS: _quarters(quarters)},
                     f"tracking workbook: {workbook} written", {"workbook": str(workbook)}, [workbook])]


def inspection_pages(db: Path, report_dir: Path) -> list[Exported]:
    import duckdb

    from pipelines.lib.exports.inspection import horizon, write_inspection_pages

    with duckdb.connect(str(db), read_only=True) as con:
        as_of = horizon(con)
    # One process: two children creating files in one folder wait on its lock.
    pages = write_inspection_pages(db, report_dir, 1)
    return [Exported(PAGES_KEY, {FILES_WRITTEN: pages.written, FILES_UNCHANGED: pages.unchanged,
                                 "files removed": pages.removed, QUARTERS: _quarters([as_of] if as_of else [])},
                     f"inspection pages: {pages.written} written, {pages.unchanged} unchanged, "
                     f"{pages.removed} removed")]


def quarterly_reports(db: Path, report_dir: Path, periods: list[Period]) -> list[Exported]:
    from pipelines.lib.exports.report import update_report, update_report_index

    written = [p for p in periods if update_report(db, str(p), report_dir / f"{p}.html")]
    index_written = update_report_index(db, report_dir)
    paths = {"reports index": str(report_dir / "index.html")}
    if periods:
        paths["report"] = str(report_dir / f"{periods[-1]}.html")
    return [Exported(REPORTS_KEY, {FILES_WRITTEN: len(written) + index_written,
                                   FILES_UNCHANGED: len(periods) - len(written) + (not index_written),
                                   QUARTERS: _quarters(periods)},
                     f"reports: {len(written)} written, {len(periods) - len(written)} unchanged; index "
                     + ("written" if index_written else "unchanged"),
                     paths, [report_dir / f"{p}.html" for p in written])]


def pages_then_reports(db: Path, report_dir: Path, periods: list[Period] | None) -> list[Exported]:
    """The inspection pages, then the reports (``periods`` not None) whose index lists them."""
    done = inspection_pages(db, report_dir)
    return done + (quarterly_reports(db, report_dir, periods) if periods is not None else [])


def receipts(db: Path, out: Path, periods: list[Period], release: int | None) -> list[Exported]:
    """Every quarter's receipts; a re-issued receipt names the run's release (``release``) and its causes."""
    from pipelines.lib.exports.receipts import write_receipts

    written, unchanged, removed = [], 0, 0
    for period in periods:
        result = write_receipts(db, str(period), out, release)
        written += result.written
        unchanged, removed = unchanged + len(result.unchanged), removed + len(result.removed)
    # Receipts are rewritten in place: copies, not links, keep what this release published.
    return [Exported(RECEIPTS_KEY, {FILES_WRITTEN: len(written), FILES_UNCHANGED: unchanged, "files removed": removed,
                                    QUARTERS: _quarters(periods)},
                     f"exports: {len(periods)}/{len(periods)} quarters exported\n"
                     f"exported {len(periods)} quarters ({_quarters(periods)}): receipts {len(written)} written, "
                     f"{unchanged} unchanged, {removed} removed", keep=written, replaced=False)]


def timed(task: Callable[[], list[Exported]]) -> list[Exported]:
    """``task()``, each result carrying the task's wall seconds (its asset's ``seconds`` metadata)."""
    started = time.monotonic()
    done = task()
    seconds = round(time.monotonic() - started, 2)
    return [Exported(e.key, e.metadata, e.message, e.paths, e.keep, e.replaced, seconds) for e in done]


def run_side_by_side(tasks: dict[tuple[dg.AssetKey, ...], Callable[[], list[Exported]]]
                     ) -> Iterator[tuple[tuple[dg.AssetKey, ...], list[Exported] | BaseException]]:
    """Each task in a forked worker of its own, all at once; (its outputs, what it returned or raised) in the
    order they finish. A worker that dies (``BrokenProcessPool``) fails its own task only."""
    context = multiprocessing.get_context("fork")
    pools = {keys: ProcessPoolExecutor(max_workers=1, mp_context=context) for keys in tasks}
    futures: dict[Future, tuple[dg.AssetKey, ...]] = {}
    try:
        for keys, task in tasks.items():
            futures[pools[keys].submit(timed, task)] = keys
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # noqa: BLE001 - reported as that export's failure, the others go on
                yield futures[future], exc
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


def export_tasks(selected: set[dg.AssetKey], db: Path, marts_dir: Path, periods: list[Period],
                 release: int | None = None) -> dict[tuple[dg.AssetKey, ...], Callable[[], list[Exported]]]:
    """The selected exports as tasks: the receipts, the workbook, and the pages with the reports after them."""
    report_dir = marts_dir / "report"
    tasks: dict[tuple[dg.AssetKey, ...], Callable[[], list[Exported]]] = {}
    if RECEIPTS_KEY in selected:
        tasks[(RECEIPTS_KEY,)] = functools.partial(receipts, db, marts_dir / "receipts", periods, release)
    if PAGES_KEY in selected:
        with_reports = periods if REPORTS_KEY in selected else None
        keys = (PAGES_KEY, REPORTS_KEY) if with_reports is not None else (PAGES_KEY,)
        tasks[keys] = functools.partial(pages_then_reports, db, report_dir, with_reports)
    elif REPORTS_KEY in selected:
        tasks[(REPORTS_KEY,)] = functools.partial(quarterly_reports, db, report_dir, periods)
    if WORKBOOK_KEY in selected:
        tasks[(WORKBOOK_KEY,)] = functools.partial(tracking_workbook, db, marts_dir)
    return tasks
