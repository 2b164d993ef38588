"""Re-judge files already held when the rules that judged them change.

Each row of ``raw.submissions`` records the rules version of its period that judged it
(``rules_version.py``). When the version in force differs (a threshold corrected, a bound added, a rule's
logic fixed, the 12th plan's reference rows), the file is read again from the raw archive (by SHA-256;
the inbox may no longer hold it), checked by the rules of its own period through the very same
``process`` as a new arrival, and its findings and loaded rows are replaced. Accepted may become
rejected and the reverse; which version counts then follows in dbt. Nothing else moves: arrival
times, versions and the archive stay, and every re-check leaves a row in ``raw.rechecks`` (before →
after) for the summary, the marts and the receipts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.domain import contract as c
from pipelines.lib.domain import findings as fd
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.warehouse import FINDINGS_COLUMNS, RECHECKS_COLUMNS, raw_tables, transaction
from pipelines.lib.intake.inbox import Arrival, archived_problem
from pipelines.lib.intake.limits import BATCH_FILES
from pipelines.lib.intake.load import insert
from pipelines.lib.intake.process import process
from pipelines.lib.intake.rules_version import RulesVersions

# Counts in raw.submissions, recomputed from the findings a file keeps after its re-check.
_COUNTS = ("fatal_count", "error_count", "warning_count", "info_count")


@dataclass(frozen=True)
class RecheckChange:
    period: str
    org_code: str | None
    file_name: str
    outcome_before: str
    outcome_after: str
    findings_before: int
    findings_after: int

    def text(self) -> str:
        return (f"{self.period} {self.org_code or '?'} {self.file_name}: {self.outcome_before} → {self.outcome_after},"
                f" 问题 findings {self.findings_before} → {self.findings_after}")


@dataclass
class RecheckReport:
    rechecked: int = 0
    changes: list[RecheckChange] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())


def stale_submissions(con: duckdb.DuckDBPyConnection, rules_version: RulesVersions,
                      force_periods: list[Period] | None = None) -> pl.DataFrame:
    """Held files judged by rules other than those now in force for their period (all of ``force_periods``)."""
    held = _frame(con, "select * from raw.submissions where outcome <> 'ignored' order by period, arrived_at, file_name")
    if held.height == 0:
        return held
    current = {p: rules_version(p) for p in held["period"].unique().to_list()}
    forced = {str(p) for p in force_periods or []}
    return held.filter(
        pl.col("period").is_in(list(forced))
        | pl.col("rules_version").is_null()
        | (pl.col("rules_version") != pl.col("period").replace_strict(current, return_dtype=pl.Utf8)))


def _arrival(row: dict) -> Arrival:
    """The held file as the intake first saw it, its content now read from the archive."""
    return Arrival(period=Period.parse(row["period"]), path=Path(row["file_name"]), fmt=row["file_format"],
                   sha256=row["sha256"], size_bytes=row["size_bytes"], arrived_at=row["arrived_at"], payload=None,
                   problem=archived_problem(row["size_bytes"]), recorded_id=row["submission_id"])


def recheck(
    con: duckdb.DuckDBPyConnection, registry: pl.DataFrame, key: bytes, rules_version: RulesVersions,
    force_periods: list[Period] | None = None, progress: Callable[[int], None] | None = None,
    batch_files: int = BATCH_FILES,
) -> RecheckReport:
    """Re-judge every stale held file from the archive; replace its findings and rows, a transaction a batch."""
    stale = stale_submissions(con, rules_version, force_periods)
    report = RecheckReport()
    for first in range(0, stale.height, batch_files):
        _recheck_batch(con, stale.slice(first, batch_files), registry, key, rules_version, report, progress)
    report.periods = sorted(stale["period"].unique().to_list()) if stale.height else []
    return report


def _recheck_batch(con: duckdb.DuckDBPyConnection, stale: pl.DataFrame, registry: pl.DataFrame, key: bytes,
                   rules_version: RulesVersions, report: RecheckReport,
                   progress: Callable[[int], None] | None) -> None:
    readable = stale.filter(pl.col("archive_path") != "")
    ids = stale["submission_id"].to_list()
    arrivals = [_arrival(r) for r in readable.iter_rows(named=True)]
    sources = {r["submission_id"]: Path(r["archive_path"]) for r in readable.iter_rows(named=True)}
    audit, new_findings, typed = process(arrivals, registry, key, sources, progress) if arrivals else (
        None, fd.empty(), {})
    versions = {r["submission_id"]: rules_version(r["period"]) for r in stale.iter_rows(named=True)}
    # Lines of the arrivals log about a file are about its arrival, not its content: they stay. So do all the
    # findings of a file that cannot be read again (nothing was archived: a link, an over-size file …).
    kept = _frame(con, "select * from raw.findings where submission_id in (select unnest($ids))"
                       " and (sheet = $log or submission_id not in (select unnest($readable)))",
                  {"ids": ids, "log": c.ARRIVALS_FILE, "readable": readable["submission_id"].to_list() or [""]})
    meta = stale.select("submission_id", "period")
    new_findings = (
        new_findings.join(audit.select("submission_id", "org_code") if audit is not None else
                          pl.DataFrame(schema={"submission_id": pl.Utf8, "org_code": pl.Utf8}),
                          on="submission_id", how="left")
        .join(meta, on="submission_id", how="left")
        .with_columns(pl.col("submission_id").replace_strict(versions, return_dtype=pl.Utf8).alias("rules_version"))
    )
    findings = pl.concat([kept.with_columns(pl.col("submission_id").replace_strict(versions, return_dtype=pl.Utf8)
                                            .alias("rules_version")), new_findings], how="diagonal_relaxed")
    counts = fd.severity_counts(findings).join(
        findings.group_by("submission_id").agg(pl.len().cast(pl.Int32).alias("findings_after")), on="submission_id")
    after = stale.select("submission_id").join(counts, on="submission_id", how="left").with_columns(
        pl.col(n).fill_null(0) for n in (*_COUNTS, "findings_after"))
    if audit is not None:
        after = after.join(audit.select("submission_id", "org_code", "outcome", "rows_in", "rows_loaded"),
                           on="submission_id", how="left")
    else:
        after = after.with_columns(pl.lit(None, pl.Utf8).alias(n) for n in ("org_code", "outcome"))
    held_findings = _frame(con, "select * from raw.findings where submission_id in (select unnest($ids))",
                           {"ids": ids})
    before = held_findings.group_by("submission_id").agg(pl.len().cast(pl.Int32).alias("findings_before"))
    now = dt.datetime.now().replace(microsecond=0)
    log_rows = (
        stale.select("submission_id", "period", pl.col("org_code").alias("org_code_before"), "file_name",
                     pl.col("rules_version").alias("rules_version_before"), pl.col("outcome").alias("outcome_before"))
        .join(before, on="submission_id", how="left")
        .join(after.select("submission_id", pl.col("org_code").alias("org_code_after"),
                           pl.col("outcome").alias("outcome_after"), "findings_after"), on="submission_id", how="left")
        .with_columns(
            pl.lit(now).alias("rechecked_at"),
            pl.col("submission_id").replace_strict(versions, return_dtype=pl.Utf8).alias("rules_version_after"),
            pl.col("findings_before").fill_null(0),
            # a file that could not be read again (nothing archived) keeps its verdict
            pl.col("outcome_after").fill_null(pl.col("outcome_before")),
            pl.coalesce("org_code_after", "org_code_before").alias("org_code"),
        )
    )
    digest_before, digest_after = _digest(held_findings), _digest(findings)
    findings_changed = [i for i in ids if digest_before.get(i) != digest_after.get(i)]
    log_rows = log_rows.with_columns(
        ((pl.col("outcome_before") != pl.col("outcome_after"))
         | (pl.col("findings_before") != pl.col("findings_after"))
         | pl.col("submission_id").is_in(findings_changed))
        .alias("is_changed")).select([name for name, _ in RECHECKS_COLUMNS])
    with transaction(con):
        for table in raw_tables():
            if table not in ("submissions", "findings", "registry", "rechecks"):
                con.execute(f"delete from raw.{table} where submission_id in (select unnest($ids))", {"ids": ids})
        con.execute("delete from raw.findings where submission_id in (select unnest($ids))", {"ids": ids})
        insert(con, "findings", findings.select([name for name, _ in FINDINGS_COLUMNS]))
        for table, frame in typed.items():
            insert(con, table, frame.sort("submission_id", "source_row"))
        con.register("recheck_after", after.to_arrow())
        con.register("recheck_versions", pl.DataFrame(
            {"submission_id": list(versions), "rules_version": list(versions.values())}).to_arrow())
        con.execute(f"""
            update raw.submissions s set
                rules_version = v.rules_version,
                {", ".join(f"{n} = coalesce(a.{n}, 0)" for n in _COUNTS)},
                outcome = coalesce(a.outcome, s.outcome),
                org_code = coalesce(a.org_code, s.org_code),
                rows_in = coalesce(a.rows_in, s.rows_in),
                rows_loaded = coalesce(a.rows_loaded, s.rows_loaded)
            from recheck_versions v left join recheck_after a using (submission_id)
            where s.submission_id = v.submission_id""")
        con.unregister("recheck_after")
        con.unregister("recheck_versions")
        insert(con, "rechecks", log_rows)
    report.rechecked += len(ids)
    report.changes += [
        RecheckChange(r["period"], r["org_code"], r["file_name"], r["outcome_before"], r["outcome_after"],
                      r["findings_before"], r["findings_after"])
        for r in log_rows.filter(pl.col("is_changed")).iter_rows(named=True)]


_DIGEST_COLUMNS = ("rule_id", "severity", "is_fatal", "sheet", "source_row", "column_name", "observed_value",
                   "expected", "person_key", "message_zh")


def _digest(findings: pl.DataFrame) -> dict[str, int]:
    """An order-free fingerprint of each file's findings: what a clerk would read, not when it was written."""
    if findings.height == 0:
        return {}
    # as text: the same finding read back from DuckDB and built by polars may differ in integer width
    as_text = [pl.col(n).cast(pl.Utf8) for n in _DIGEST_COLUMNS]
    hashed = findings.select("submission_id", pl.struct(as_text).hash().alias("h"))
    return dict(hashed.group_by("submission_id").agg(pl.col("h").sum()).iter_rows())

