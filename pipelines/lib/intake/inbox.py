"""The inbox: the registry, the period folders and what arrived in them, and when."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.lib.domain import codes
from pipelines.lib.domain import contract as c
from pipelines.lib.domain.periods import Period, is_period
from pipelines.lib.intake.readers import classify, decode_text
from pipelines.lib.intake.values import normalize_header, normalized, parse_code

REGISTRY_FILE = "registry.csv"
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
