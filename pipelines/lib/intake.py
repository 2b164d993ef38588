"""The intake of one or more periods: scan the inbox, archive, read, check, pseudonymise, load.

Idempotent: a file is identified by (period, file name, SHA-256); one already in
``raw.submissions`` is not read again, so re-running a quarter on the same files changes
nothing. Every version stays in the audit table; the marts pick the latest accepted one.
One unreadable file becomes a fatal finding for that file and never stops the quarter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib import codes
from pipelines.lib import contract as c
from pipelines.lib import findings as fd
from pipelines.lib.checks import Limits, check_sheet, file_findings, single_row_findings
from pipelines.lib.periods import Period, is_period
from pipelines.lib.readers import ReadError, Workbook, classify, clean_rows, decode_text, read_submission
from pipelines.lib.reference import thresholds_for
from pipelines.lib.values import normalize_header, normalized, parse_code
from pipelines.lib.warehouse import SUBMISSIONS_COLUMNS, create_raw_tables

REGISTRY_FILE = "registry.csv"
log = logging.getLogger(__name__)
_FILE_CODE_RE = re.compile(r"^([0-9A-Za-z]{8}-?[0-9Xx])(?:[_\-\s]|$)")


class InboxError(Exception):
    """The inbox itself is unusable (missing folder, missing or broken registry)."""


@dataclass(frozen=True)
class Arrival:
    period: Period
    path: Path
    fmt: str
    sha256: str
    size_bytes: int
    arrived_at: dt.datetime
    payload: bytes  # what is archived: the file, or a deterministic zip of a CSV folder

    @property
    def submission_id(self) -> str:
        return hashlib.sha256(f"{self.period}/{self.path.name}/{self.sha256}".encode()).hexdigest()[:16]

    @property
    def file_org_code(self) -> str | None:
        m = _FILE_CODE_RE.match(self.path.name)
        return codes.normalize_org_code(m.group(1)) if m else None


@dataclass
class IntakeReport:
    periods: list[str]
    files_seen: int = 0
    already_ingested: int = 0
    accepted: int = 0
    rejected: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0  # data rows of rejected files: kept in the archive, not loaded
    findings: int = 0
    by_period: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def new_files(self) -> int:
        return self.files_seen - self.already_ingested


# --- inbox -----------------------------------------------------------------------------------


def read_registry(inbox: Path) -> pl.DataFrame:
    if not inbox.is_dir():
        raise InboxError(f"收件箱 {inbox} 不存在，请用 --inbox 或 SASAC_INBOX 指定收件箱文件夹")
    path = inbox / REGISTRY_FILE
    if not path.is_file():
        raise InboxError(f"收件箱 {inbox} 中没有名录文件 {REGISTRY_FILE}")
    text = decode_text(path.read_bytes())
    grid = pl.read_csv(io.StringIO(text), infer_schema=False)
    by_header = {normalize_header(h): h for h in grid.columns}
    missing = [col.header for col in c.REGISTRY_COLUMNS if col.required and normalize_header(col.header) not in by_header]
    if missing:
        raise InboxError(f"名录 {path} 缺少列：{'、'.join(missing)}")
    cols = []
    for col in c.REGISTRY_COLUMNS:
        src = by_header.get(normalize_header(col.header))
        expr = normalized(pl.col(src)) if src else pl.lit(None, pl.Utf8)
        if col.type == c.CODE9:
            expr = parse_code(expr)
        elif col.type == c.PERIOD:
            expr = expr.str.to_uppercase()
        cols.append(expr.alias(col.key))
    registry = grid.select(cols).filter(pl.col("org_code").is_not_null())
    bad = [code for code in registry["org_code"].to_list() if codes.org_code_problem(code)]
    if bad:
        raise InboxError(f"名录中的组织机构代码无效：{'、'.join(bad[:5])}")
    return registry.sort("org_code")


def inbox_periods(inbox: Path) -> list[Period]:
    if not inbox.is_dir():
        raise InboxError(f"收件箱 {inbox} 不存在")
    return sorted(Period.parse(p.name) for p in inbox.iterdir() if p.is_dir() and is_period(p.name))


def _arrivals_log(folder: Path) -> dict[str, dt.datetime]:
    path = folder / c.ARRIVALS_FILE
    if not path.is_file():
        return {}
    grid = pl.read_csv(io.StringIO(decode_text(path.read_bytes())), infer_schema=False)
    name_col, time_col = (c_.header for c_ in c.ARRIVALS_COLUMNS)
    out = {}
    for name, when in zip(grid[name_col].to_list(), grid[time_col].to_list(), strict=True):
        if name and when:
            out[name.strip()] = dt.datetime.fromisoformat(when.strip().replace("/", "-"))
    return out


def _folder_zip(folder: Path) -> bytes:
    """A byte-stable zip of a CSV folder: sorted names, fixed timestamps, contents unchanged."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(p.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.flag_bits |= 0x800
                zf.writestr(info, p.read_bytes(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def scan_period(inbox: Path, period: Period) -> list[Arrival]:
    folder = inbox / str(period)
    if not folder.is_dir():
        return []
    log = _arrivals_log(folder)
    out = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.name == c.ARRIVALS_FILE:
            continue
        file = classify(path)
        payload = _folder_zip(path) if file.fmt == "csv_dir" else path.read_bytes()
        arrived = log.get(path.name) or dt.datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
        out.append(Arrival(period, path, file.fmt, hashlib.sha256(payload).hexdigest(), len(payload), arrived, payload))
    return out


def archive(arrival: Arrival, archive_dir: Path) -> Path:
    ext = ".zip" if arrival.fmt == "csv_dir" else arrival.path.suffix.lower()
    target = archive_dir / arrival.sha256[:2] / f"{arrival.sha256}{ext}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(arrival.payload)
        tmp.replace(target)
    return target


# --- checking and loading --------------------------------------------------------------------


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
    )


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
    limits = Limits.from_thresholds(thresholds_for(max(a.period for a in arrivals))) if arrivals else Limits()
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
        result = check_sheet(sheet, text, context, registry, key, limits)
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


def _audit_rows(audit: pl.DataFrame, arrivals: list[Arrival], archive_paths: dict[str, Path]) -> pl.DataFrame:
    meta = {a.submission_id: a for a in arrivals}
    deadline_day = {str(a.period): int(thresholds_for(a.period)["deadline_day"]) for a in arrivals}
    extra = pl.DataFrame(
        {
            "submission_id": list(meta),
            "file_name": [a.path.name for a in meta.values()],
            "file_format": [a.fmt for a in meta.values()],
            "sha256": [a.sha256 for a in meta.values()],
            "size_bytes": [a.size_bytes for a in meta.values()],
            "arrived_at": [a.arrived_at for a in meta.values()],
            "deadline_at": [a.period.deadline(deadline_day[str(a.period)]) for a in meta.values()],
            "archive_path": [str(archive_paths[s]) for s in meta],
        },
        schema_overrides={"arrived_at": pl.Datetime("us"), "deadline_at": pl.Datetime("us")},
    )
    return (
        audit.join(extra, on="submission_id")
        .with_columns(
            pl.col("filed_period").alias("period"),
            (pl.col("arrived_at") > pl.col("deadline_at")).alias("is_late"),
            pl.lit(c.CONTRACT_VERSION).alias("contract_version"),
        )
        .select([name for name, _ in SUBMISSIONS_COLUMNS])
        .sort("period", "arrived_at", "file_name")
    )


def _existing_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("select submission_id from raw.submissions").fetchall()}


def load_registry(con: duckdb.DuckDBPyConnection, registry: pl.DataFrame) -> None:
    con.register("registry_in", registry.to_arrow())
    con.execute("delete from raw.registry")
    con.execute("insert into raw.registry by name select * from registry_in")
    con.unregister("registry_in")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    con.register("frame_in", frame.to_arrow())
    con.execute(f"insert into raw.{table} by name select * from frame_in")
    con.unregister("frame_in")


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def run_intake(
    inbox: Path,
    periods: list[Period],
    con: duckdb.DuckDBPyConnection,
    archive_dir: Path,
    key: bytes,
    progress: Callable[[int, int], None] | None = None,
) -> IntakeReport:
    """Ingest every new file of ``periods`` from ``inbox`` into the raw schema of ``con``."""
    registry = read_registry(inbox)
    create_raw_tables(con)
    report = IntakeReport([str(p) for p in periods])
    arrivals = [a for p in periods for a in scan_period(inbox, p)]
    report.files_seen = len(arrivals)
    known = _existing_ids(con)
    new = [a for a in arrivals if a.submission_id not in known]
    report.already_ingested = len(arrivals) - len(new)
    if not new:
        with _transaction(con):
            load_registry(con, registry)
        report.by_period = {str(p): {"files": sum(1 for a in arrivals if a.period == p), "new": 0, "accepted": 0,
                                     "rejected": 0} for p in periods}
        return report
    audit, findings, typed = process(new, registry, key, (lambda i: progress(i, len(new))) if progress else None)
    paths = {a.submission_id: archive(a, archive_dir) for a in new}
    audit_rows = _audit_rows(audit, new, paths)
    findings = (
        findings.join(audit_rows.select("submission_id", "period", "org_code"), on="submission_id", how="left")
        .sort("submission_id", "sheet", "source_row", "rule_id", "column_name", "message_zh", nulls_last=False)
    )
    with _transaction(con):
        load_registry(con, registry)
        _insert(con, "submissions", audit_rows)
        _insert(con, "findings", findings)
        for table, frame in typed.items():
            _insert(con, table, frame.sort("submission_id", "source_row"))
    report.accepted = int((audit_rows["outcome"] == "accepted").sum())
    report.rejected = report.new_files - report.accepted
    report.rows_in = int(audit_rows["rows_in"].sum())
    report.rows_loaded = sum(f.height for f in typed.values())
    report.rows_rejected = int(audit_rows.filter(pl.col("outcome") == "rejected")["rows_in"].sum())
    report.findings = findings.height
    for p in periods:
        rows = audit_rows.filter(pl.col("period") == str(p))
        report.by_period[str(p)] = {
            "files": sum(1 for a in arrivals if a.period == p),
            "new": rows.height,
            "accepted": int((rows["outcome"] == "accepted").sum()),
            "rejected": int((rows["outcome"] == "rejected").sum()),
        }
    return report
