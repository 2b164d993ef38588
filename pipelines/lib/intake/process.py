"""Read and check a batch of arrivals: one sheet at a time across every file, vectorised.

One unreadable file becomes a fatal finding for that file and never stops the quarter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.lib.domain import contract as c
from pipelines.lib.domain import findings as fd
from pipelines.lib.domain.reference import thresholds_for
from pipelines.lib.intake.checks import LIMIT_KEYS, IdLookups, check_sheet, file_findings, single_row_findings
from pipelines.lib.intake.inbox import Arrival
from pipelines.lib.intake.readers import Workbook, clean_rows
from pipelines.lib.intake.worker import read_many

log = logging.getLogger(__name__)


@dataclass
class ReadBatch:
    arrivals: list[Arrival]
    workbooks: dict[str, Workbook]  # by submission_id, readable ones
    file_findings: list[fd.Finding]


Reader = Callable[[list[tuple[str, Path, str]]], Iterable[tuple[str, str, object]]]


def read_batch(arrivals: Iterable[Arrival], sources: dict[str, Path],
               progress: Callable[[int], None] | None = None, reader: Reader = read_many) -> ReadBatch:
    """Read every arrival that is a candidate submission, from its archived copy, in child processes.

    Nothing a file holds reaches the log: a failure is logged by file name and exception type only.
    """
    batch = ReadBatch(list(arrivals), {}, [])
    jobs = [(a.submission_id, sources[a.submission_id], "csv_zip" if a.fmt == "csv_dir" else a.fmt)
            for a in batch.arrivals if not a.ignored and not a.problem]  # a folder is read from its archived zip
    results: dict[str, tuple[str, object]] = {}
    for done, (sid, status, value) in enumerate(reader(jobs), 1):
        results[sid] = (status, value)
        if progress:
            progress(done)
    for a in batch.arrivals:  # in arrival order, whatever order the readers finished in
        sid = a.submission_id
        batch.file_findings += [
            fd.Finding(sid, "D15", fd.WARNING, message, sheet=c.ARRIVALS_FILE, source_row=line)
            for line, message in a.notes]
        if a.ignored:
            continue
        if a.problem:
            batch.file_findings.append(fd.fatal(sid, "D01", f"“{a.name}”{a.problem}", observed_value=a.name))
            continue
        status, value = results[sid]
        if status == "ok":
            batch.workbooks[sid] = value
            batch.file_findings += file_findings(value, sid)
            continue
        if status == "crash":
            log.warning("submission %s could not be read (%s)", a.name, value)
            value = "无法按报表模板读取，请用模板重新填报"
        elif status == "died":
            log.warning("submission %s: the reader process died or overran", a.name)
        batch.file_findings.append(fd.fatal(sid, "D01", f"文件“{a.name}”：{value}", observed_value=a.name))
    return batch


def _context(batch: ReadBatch) -> pl.DataFrame:
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


def _sheet_text(batch: ReadBatch, sheet: c.Sheet) -> pl.DataFrame:
    """One sheet of every readable submission, normalised, blank rows dropped."""
    parts = [(sid, wb.sheets[sheet.key].frame) for sid, wb in batch.workbooks.items() if sheet.key in wb.sheets]
    base = pl.DataFrame(schema={"submission_id": pl.Utf8, "source_row": pl.Int32,
                                **{col.key: pl.Utf8 for col in sheet.columns}})
    text = pl.concat([base, *(frame for _, frame in parts)], how="diagonal")
    # Each file's rows get its submission id after the concat: one column for the batch, not a query per file.
    owners = [sid for sid, frame in parts for _ in range(frame.height)]
    text = text.with_columns(pl.Series("submission_id", owners, dtype=pl.Utf8))
    return clean_rows(text, [col.key for col in sheet.columns])


def _single_row_candidates(batch: ReadBatch, sheet: c.Sheet) -> list[str]:
    """Submissions whose single-row sheet is there with all its columns (else D01/D02 already said so)."""
    return [sid for sid, wb in batch.workbooks.items()
            if sheet.key in wb.sheets and not wb.sheets[sheet.key].missing]


def _without_absent_column_noise(findings: pl.DataFrame, batch: ReadBatch) -> pl.DataFrame:
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
    """Whose submission this is, always a registered code (receipt and archive names come from the registry,
    never from what a file says): the code in the sheet when the registry knows it, else the one in the file
    name (so a wrong check character lands on the right enterprise), else nobody. When the name and the sheet
    are two different registered enterprises, the file counts for the one named (it is rejected anyway: it
    must not replace the other's filing)."""
    known = registry["org_code"].implode()
    typed, named = pl.col("org_code"), pl.col("file_org_code")
    return (
        pl.when(named.is_in(known) & typed.is_in(known) & (named != typed)).then(named)
        .when(typed.is_in(known)).then(typed)
        .when(named.is_in(known)).then(named)
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("org_code")
    )


def process(
    arrivals: list[Arrival], registry: pl.DataFrame, key: bytes, sources: dict[str, Path],
    progress: Callable[[int], None] | None = None, reader: Reader = read_many,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    """Read and check ``arrivals`` (from ``sources``, their archived copies by submission id): (submissions
    audit rows, findings, typed rows of accepted ones by table).

    ``reader`` reads the files in child processes; the filing portal passes its own long-lived readers
    (pipelines/portal/validation.py) so an upload does not pay for starting one."""
    return check_batch(read_batch(arrivals, sources, progress, reader), registry, key)


def check_batch(batch: ReadBatch, registry: pl.DataFrame, key: bytes
                ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    """Check a batch already read: (submissions audit rows, findings, typed rows of accepted ones by table)."""
    try:
        return _checked(batch, registry, key)
    except Exception as exc:  # noqa: BLE001 - one file's content must never stop the quarter
        log.warning("checking the batch failed (%s); isolating the file(s) responsible", type(exc).__name__)
    for a in batch.arrivals:  # find the file(s) the vectorised checks cannot take, one at a time
        sid = a.submission_id
        if sid not in batch.workbooks:
            continue
        try:
            _checked(ReadBatch([a], {sid: batch.workbooks[sid]}, []), registry, key)
        except Exception as exc:  # noqa: BLE001
            log.warning("submission %s cannot be checked (%s)", a.name, type(exc).__name__)
            del batch.workbooks[sid]
            batch.file_findings = [f for f in batch.file_findings if f.submission_id != sid]
            batch.file_findings.append(fd.fatal(sid, "D01", f"文件“{a.name}”：{CHECK_FAILED_REASON}",
                                                observed_value=a.name))
    return _checked(batch, registry, key)


CHECK_FAILED_REASON = "内容含有无法按报表模板核对的数值或文字，请检查各单元格后重新报送"


def _checked(batch: ReadBatch, registry: pl.DataFrame, key: bytes
             ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    context = _context(batch)
    typed: dict[str, pl.DataFrame] = {}
    findings = [fd.to_frame(batch.file_findings)]
    rows_in: dict[str, int] = {}
    ids = IdLookups(key)
    for sheet in c.SHEETS:
        text = _sheet_text(batch, sheet)
        counts = dict(text.group_by("submission_id").len().iter_rows())
        for sid, n in counts.items():
            rows_in[sid] = rows_in.get(sid, 0) + n
        if sheet.single_row:
            findings.append(fd.to_frame(single_row_findings(sheet, counts, _single_row_candidates(batch, sheet))))
        result = check_sheet(sheet, text, context, registry, key, ids)
        typed[sheet.table] = result.typed
        findings.append(result.findings)
    all_findings = _without_absent_column_noise(pl.concat(findings, how="vertical"), batch)

    counts = fd.severity_counts(all_findings)
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
        pl.when(pl.col("submission_id").is_in([a.submission_id for a in batch.arrivals if a.ignored]))
        .then(pl.lit("ignored"))
        .when(pl.col("fatal_count") > 0).then(pl.lit("rejected")).otherwise(pl.lit("accepted")).alias("outcome"),
        pl.col("submission_id").replace_strict({a.submission_id: a.ignored for a in batch.arrivals},
                                               return_dtype=pl.Utf8).alias("outcome_reason"),
        pl.col("submission_id").replace_strict({k: rows_in.get(k, 0) for k in meta}, return_dtype=pl.Int32)
        .alias("rows_in"),
    )
    audit = audit.with_columns(  # OS debris is nobody's filing
        pl.when(pl.col("outcome") == "ignored").then(pl.lit(None, pl.Utf8)).otherwise(pl.col("org_code"))
        .alias("org_code"))
    accepted = audit.filter(pl.col("outcome") == "accepted")["submission_id"]
    typed = {t: f.filter(pl.col("submission_id").is_in(accepted.implode())) for t, f in typed.items()}
    loaded = pl.concat([f.group_by("submission_id").len() for f in typed.values()]).group_by("submission_id").agg(
        pl.col("len").sum().cast(pl.Int32).alias("rows_loaded"))
    audit = audit.join(loaded, on="submission_id", how="left").with_columns(pl.col("rows_loaded").fill_null(0))
    return audit, all_findings, typed
