"""Findings: one row per problem, with a Chinese message a clerk can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

ERROR, WARNING, INFO = "error", "warning", "info"

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8,
    "rule_id": pl.Utf8,
    "severity": pl.Utf8,
    "is_fatal": pl.Boolean,
    "sheet": pl.Utf8,
    "source_row": pl.Int32,
    "column_name": pl.Utf8,
    "observed_value": pl.Utf8,
    "expected": pl.Utf8,
    "person_key": pl.Utf8,
    "message_zh": pl.Utf8,
}


@dataclass(frozen=True)
class Finding:
    submission_id: str
    rule_id: str
    severity: str
    message_zh: str
    is_fatal: bool = False
    sheet: str | None = None
    source_row: int | None = None
    column_name: str | None = None
    observed_value: str | None = None
    expected: str | None = None
    person_key: str | None = None


def fatal(submission_id: str, rule_id: str, message_zh: str, **kw: object) -> Finding:
    return Finding(submission_id, rule_id, ERROR, message_zh, is_fatal=True, **kw)  # type: ignore[arg-type]


def to_frame(findings: list[Finding]) -> pl.DataFrame:
    return pl.DataFrame([asdict(f) for f in findings], schema=FINDING_SCHEMA)


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def row_findings(
    frame: pl.DataFrame,
    *,
    rule_id: str,
    severity: str,
    sheet: str,
    column_name: str | None,
    message: pl.Expr,
    observed: pl.Expr | None = None,
    expected: str | pl.Expr | None = None,
    is_fatal: bool = False,
) -> pl.DataFrame:
    """Findings for every row of ``frame`` (already filtered to the offending rows)."""
    if frame.height == 0:
        return empty()
    person = pl.col("person_key") if "person_key" in frame.columns else pl.lit(None, pl.Utf8)
    return frame.select(
        pl.col("submission_id"),
        pl.lit(rule_id).alias("rule_id"),
        pl.lit(severity).alias("severity"),
        pl.lit(is_fatal).alias("is_fatal"),
        pl.lit(sheet).alias("sheet"),
        pl.col("source_row").cast(pl.Int32),
        pl.lit(column_name, pl.Utf8).alias("column_name"),
        (observed if observed is not None else pl.lit(None, pl.Utf8)).cast(pl.Utf8).alias("observed_value"),
        (expected if isinstance(expected, pl.Expr) else pl.lit(expected, pl.Utf8)).cast(pl.Utf8).alias("expected"),
        person.alias("person_key"),
        message.alias("message_zh"),
    )


def severity_counts(findings: pl.DataFrame) -> pl.DataFrame:
    """Per submission: fatal, (non-fatal) error, warning and info counts — the audit table's four columns."""
    return findings.group_by("submission_id").agg(
        pl.col("is_fatal").sum().alias("fatal_count"),
        ((pl.col("severity") == ERROR) & ~pl.col("is_fatal")).sum().alias("error_count"),
        (pl.col("severity") == WARNING).sum().alias("warning_count"),
        (pl.col("severity") == INFO).sum().alias("info_count"),
    )
