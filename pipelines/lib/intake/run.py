"""The intake of one or more periods: scan the inbox, read and check, archive, pseudonymise, load.

Idempotent: a file is identified by (period, file name, SHA-256); one already in
``raw.submissions`` is not read again, so re-running a quarter on the same files changes
nothing. Every version stays in the audit table; the marts pick the latest accepted one.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.warehouse import create_raw_tables, transaction
from pipelines.lib.intake.inbox import Arrival, open_period, read_registry
from pipelines.lib.intake.limits import BATCH_FILES
from pipelines.lib.intake.load import (
    archive,
    audit_rows,
    checkpoint_once,
    existing_ids,
    insert,
    load_registry,
)
from pipelines.lib.intake.process import ReadBatch, check_batch, read_batch
from pipelines.lib.intake.read_ahead import read_ahead
from pipelines.lib.intake.recheck import RecheckReport, recheck
from pipelines.lib.intake.rules_version import RulesVersions
from pipelines.lib.intake.worker import ReaderPool


@dataclass
class IntakeReport:
    periods: list[str]
    files_seen: int = 0
    already_ingested: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0  # OS debris (lock files, .DS_Store …): recorded, never a filing
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0  # data rows of rejected files: kept in the archive, not loaded
    findings: int = 0
    by_period: dict[str, dict[str, int]] = field(default_factory=dict)
    recheck: RecheckReport = field(default_factory=RecheckReport)

    @property
    def new_files(self) -> int:
        return self.files_seen - self.already_ingested


def _batches(items: Iterator[Arrival], size: int) -> Iterator[list[Arrival]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def _read_batches(new: Iterator[Arrival], archive_dir: Path, batch_files: int, readers: ReaderPool,
                  progress: Callable[[int], None] | None) -> Iterator[tuple[ReadBatch, dict[str, Path | None]]]:
    # The inbox is scanned (read, hashed) here too, a batch at a time, while the batch before is checked.
    read = 0
    for batch in _batches(new, batch_files):
        # Archive first, then read the archived copy: what is checked is exactly what was kept, and the inbox
        # (where a symlink could be swapped in meanwhile) is not opened again.
        paths = {a.submission_id: archive(a, archive_dir) for a in batch}
        step = (lambda i, before=read: progress(before + i)) if progress else None
        yield read_batch(batch, paths, step, readers.read_many), paths
        read += len(batch)


def _ingest_batch(con: duckdb.DuckDBPyConnection, read: ReadBatch, paths: dict[str, Path | None],
                  registry: pl.DataFrame, key: bytes, versions: RulesVersions, report: IntakeReport) -> None:
    batch = read.arrivals
    audit, findings, typed = check_batch(read, registry, key)
    audit_table = audit_rows(audit, batch, paths, versions)
    findings = (
        findings.join(audit_table.select("submission_id", "period", "org_code", "rules_version"), on="submission_id",
                      how="left")
        .sort("submission_id", "sheet", "source_row", "rule_id", "column_name", "message_zh", nulls_last=False)
    )
    with transaction(con):
        insert(con, "submissions", audit_table)
        insert(con, "findings", findings)
        for table, frame in typed.items():
            insert(con, table, frame.sort("submission_id", "source_row"))
    outcomes = audit_table["outcome"]
    report.accepted += int((outcomes == "accepted").sum())
    report.rejected += int((outcomes == "rejected").sum())
    report.ignored += int((outcomes == "ignored").sum())
    report.rows_in += int(audit_table["rows_in"].sum())
    report.rows_loaded += sum(f.height for f in typed.values())
    report.rows_rejected += int(audit_table.filter(outcomes == "rejected")["rows_in"].sum())
    report.findings += findings.height
    for period, rows in audit_table.group_by("period"):
        counts = report.by_period[period[0]]  # every period of the run has its counts (run_intake)
        counts["new"] += rows.height
        for outcome in ("accepted", "rejected", "ignored"):
            counts[outcome] += int((rows["outcome"] == outcome).sum())


def run_intake(
    inbox: Path,
    periods: list[Period],
    con: duckdb.DuckDBPyConnection,
    archive_dir: Path,
    key: bytes,
    progress: Callable[[int, int], None] | None = None,
    recheck_periods: list[Period] | None = None,
    batch_files: int = BATCH_FILES,
) -> IntakeReport:
    """Ingest every new file of ``periods`` from ``inbox`` into the raw schema of ``con``, then re-judge every
    held file whose period's rules changed since it was judged (and every file of ``recheck_periods``)."""
    registry = read_registry(inbox)
    versions = RulesVersions(registry)
    create_raw_tables(con)
    report = IntakeReport([str(p) for p in periods])
    report.by_period = {str(p): {"files": 0, "new": 0, "accepted": 0, "rejected": 0, "ignored": 0} for p in periods}
    known = existing_ids(con)
    listed = [open_period(inbox, p) for p in periods]
    total = sum(n for n, _ in listed)

    def new_arrivals() -> Iterator[Arrival]:
        """The run's entries not held yet, scanned as the batches ask for them; counts every entry seen."""
        for arrival in itertools.chain.from_iterable(entries for _, entries in listed):
            report.files_seen += 1
            report.by_period[str(arrival.period)]["files"] += 1
            if arrival.submission_id in known:
                report.already_ingested += 1
                continue
            yield arrival

    with transaction(con):
        load_registry(con, registry)
    # Progress counts the files read against the entries listed (those already held are skipped, not read).
    step = (lambda done: progress(done, total)) if progress else None
    # One pool of readers for every batch (starting a reader costs CPU; see worker.ReaderPool).
    with checkpoint_once(con):
        with ReaderPool() as readers, contextlib.closing(
                read_ahead(_read_batches(new_arrivals(), archive_dir, batch_files, readers, step))) as batches:
            for read, paths in batches:
                _ingest_batch(con, read, paths, registry, key, versions, report)
        if progress and report.already_ingested:
            progress(total, total)
        report.recheck = recheck(con, registry, key, versions, recheck_periods, batch_files=batch_files)
    return report
