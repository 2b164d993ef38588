"""Read and check a batch of arrivals: one sheet at a time across every file, vectorised.

One unreadable file becomes a fatal finding for that file and never stops the quarter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from pipelines.lib.domain import contract as c
from pipelines.lib.domain import findings as fd
from pipelines.lib.domain.reference import thresholds_for
from pipelines.lib.intake.checks import LIMIT_KEYS, check_sheet, file_findings, single_row_findings
from pipelines.lib.intake.inbox import Arrival
from pipelines.lib.intake.readers import ReadError, Workbook, classify, clean_rows, read_submission

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    arrivals: list[Arrival]
    workbooks: dict[str, Workbook]  # by submission_id, readable ones
    file_findings: list[fd.Finding]


def _read_all(arrivals: Iterable[Arrival], progress: Callable[[int], None] | None) -> _Batch:
    batch = _Batch(list(arrivals), {}, [])
    for i, a in enumerate(batch.arrivals, 1):
        sid = a.submission_id
        try:
            wb = read_submission(classify(a.path))
        except ReadError as exc:
            batch.file_findings.append(fd.fatal(sid, "D01", f"文件“{a.path.name}”：{exc}", observed_value=a.path.name))
        except Exception as exc:  # noqa: BLE001 - one broken file must never stop the quarter
            log.warning("unreadable submission %s: %r", a.path.name, exc)
            batch.file_findings.append(fd.fatal(
                sid, "D01", f"文件“{a.path.name}”无法按报表模板读取（{type(exc).__name__}），请用模板重新填报",
                observed_value=a.path.name))
        else:
            batch.workbooks[sid] = wb
            batch.file_findings += file_findings(wb, sid)
        if progress:
            progress(i)
    return batch


def _context(batch: _Batch) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "submission_id": [a.submission_id for a in batch.arrivals],
            "filed_period": [str(a.period) for a in batch.arrivals],
            "period_start": [a.period.start for a in batch.arrivals],
            "period_end": [a.period.end for a in batch.arrivals],
            "file_org_code": [a.file_org_code for a in batch.arrivals],
        },
        schema={"submission_id": pl.Utf8, "filed_period": pl.Utf8, "period_start": pl.Date, "period_end": pl.Date,
                "file_org_code": pl.Utf8},
    ).join(_limits_by_period({a.period for a in batch.arrivals}), on="filed_period", how="left")


def _limits_by_period(periods: set) -> pl.DataFrame:
    """The intake's thresholds in force in each period (effective-dated reference data)."""
    rows = [{"filed_period": str(p), **{k: float(thresholds_for(p)[k]) for k in LIMIT_KEYS}} for p in sorted(periods)]
    return pl.DataFrame(rows, schema={"filed_period": pl.Utf8, **{k: pl.Float64 for k in LIMIT_KEYS}})


def _sheet_text(batch: _Batch, sheet: c.Sheet) -> pl.DataFrame:
    """One sheet of every readable submission, normalised, blank rows dropped."""
    frames = [
        wb.sheets[sheet.key].frame.with_columns(pl.lit(sid).alias("submission_id"))
        for sid, wb in batch.workbooks.items()
        if sheet.key in wb.sheets
    ]
    base = pl.DataFrame(schema={"submission_id": pl.Utf8, "source_row": pl.Int32,
                                **{col.key: pl.Utf8 for col in sheet.columns}})
    return clean_rows(pl.concat([base, *frames], how="diagonal"), [col.key for col in sheet.columns])


def _single_row_candidates(batch: _Batch, sheet: c.Sheet) -> list[str]:
    """Submissions whose single-row sheet is there with all its columns (else D01/D02 already said so)."""
    return [sid for sid, wb in batch.workbooks.items()
            if sheet.key in wb.sheets and not wb.sheets[sheet.key].missing]


def _without_absent_column_noise(findings: pl.DataFrame, batch: _Batch) -> pl.DataFrame:
    """Drop per-row "未填写" findings for a column the file lacks: its D02 finding already says so."""
    absent = pl.DataFrame(
        [(sid, data.sheet.name, header) for sid, wb in batch.workbooks.items() for data in wb.sheets.values()
         for header in data.missing],
        schema={"submission_id": pl.Utf8, "sheet": pl.Utf8, "column_name": pl.Utf8}, orient="row",
    )
    noise = findings.join(absent, on=["submission_id", "sheet", "column_name"], how="semi").filter(
        pl.col("rule_id") != "D02")
    return findings.join(noise, on=list(findings.columns), how="anti", nulls_equal=True)


def _attributed_org_code(registry: pl.DataFrame) -> pl.Expr:
    """Whose submission this is: the code in the sheet when the registry knows it, else the one in the file
    name, else whatever 9 characters were typed (so a wrong check character lands on the right enterprise)."""
    known = registry["org_code"].implode()
    typed, named = pl.col("org_code"), pl.col("file_org_code")
    return (
        pl.when(typed.is_in(known)).then(typed)
        .when(named.is_in(known)).then(named)
        .when(typed.str.len_chars() == 9).then(typed)
        .otherwise(named)
        .alias("org_code")
    )


def process(
    arrivals: list[Arrival], registry: pl.DataFrame, key: bytes, progress: Callable[[int], None] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    """Read and check ``arrivals``: (submissions audit rows, findings, typed rows of accepted ones by table)."""
    batch = _read_all(arrivals, progress)
    context = _context(batch)
    typed: dict[str, pl.DataFrame] = {}
    findings = [fd.to_frame(batch.file_findings)]
    rows_in: dict[str, int] = {}
    for sheet in c.SHEETS:
        text = _sheet_text(batch, sheet)
        counts = dict(text.group_by("submission_id").len().iter_rows())
        for sid, n in counts.items():
            rows_in[sid] = rows_in.get(sid, 0) + n
        if sheet.single_row:
            findings.append(fd.to_frame(single_row_findings(sheet, counts, _single_row_candidates(batch, sheet))))
        result = check_sheet(sheet, text, context, registry, key)
        typed[sheet.table] = result.typed
        findings.append(result.findings)
    all_findings = _without_absent_column_noise(pl.concat(findings, how="vertical"), batch)

    counts = all_findings.group_by("submission_id").agg(
        pl.col("is_fatal").sum().alias("fatal_count"),
        ((pl.col("severity") == fd.ERROR) & ~pl.col("is_fatal")).sum().alias("error_count"),
        (pl.col("severity") == fd.WARNING).sum().alias("warning_count"),
        (pl.col("severity") == fd.INFO).sum().alias("info_count"),
    )
    profile = typed["profiles"].group_by("submission_id").agg(pl.col("org_code").first())
    audit = (
        context.join(counts, on="submission_id", how="left")
        .join(profile, on="submission_id", how="left")
        .with_columns(pl.col(n).fill_null(0).cast(pl.Int32) for n in
                      ("fatal_count", "error_count", "warning_count", "info_count"))
    )
    meta = {a.submission_id: a for a in batch.arrivals}
    audit = audit.with_columns(
        _attributed_org_code(registry),
        pl.when(pl.col("fatal_count") > 0).then(pl.lit("rejected")).otherwise(pl.lit("accepted")).alias("outcome"),
        pl.col("submission_id").replace_strict({k: rows_in.get(k, 0) for k in meta}, return_dtype=pl.Int32)
        .alias("rows_in"),
    )
    accepted = audit.filter(pl.col("outcome") == "accepted")["submission_id"]
    typed = {t: f.filter(pl.col("submission_id").is_in(accepted.implode())) for t, f in typed.items()}
    loaded = pl.concat([f.group_by("submission_id").len() for f in typed.values()]).group_by("submission_id").agg(
        pl.col("len").sum().cast(pl.Int32).alias("rows_loaded"))
    audit = audit.join(loaded, on="submission_id", how="left").with_columns(pl.col("rows_loaded").fill_null(0))
    return audit, all_findings, typed
