"""Read one submission (format A .xlsx, format B folder or .zip of CSVs) into text grids.

Everything is read as strings with empty rows kept, so that no cell is silently dropped or
nulled; typing happens later (pipelines.lib.intake.values). Header rows are located here, tolerant of a
merged title row above them and of whitespace / full-width forms in the header text.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.lib.domain import contract as c
from pipelines.lib.intake.limits import LimitError, inspect_csv_zip, inspect_xlsx
from pipelines.lib.intake.values import normalize_header, normalized

XLSX_SUFFIXES = (".xlsx", ".xlsm")
HEADER_SEARCH_ROWS = 5  # a clerk's title row or two above the header is tolerated (and reported)


class ReadError(Exception):
    """The file cannot be read at all (D01); the message is Chinese, for the clerk."""


@dataclass(frozen=True)
class SubmissionFile:
    path: Path
    fmt: str  # xlsx / csv_dir / csv_zip / other

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class SheetData:
    """One sheet matched to the contract: text values keyed by contract column key."""

    sheet: c.Sheet
    source_name: str  # the sheet / CSV name as the clerk wrote it
    header_row: int  # Excel row number of the header (1 = as the contract says)
    frame: pl.DataFrame  # source_row + one Utf8 column per matched contract key, as typed (see clean_rows)
    missing: list[str] = field(default_factory=list)  # required headers not found
    unknown: list[str] = field(default_factory=list)  # headers not in the contract
    duplicated: list[str] = field(default_factory=list)


@dataclass
class Workbook:
    file: SubmissionFile
    sheets: dict[str, SheetData]  # by contract sheet key
    unknown_sheets: list[str]
    hidden_sheets: list[str] = field(default_factory=list)  # never read: what a clerk cannot see is not filed
    duplicate_sheets: dict[str, list[str]] = field(default_factory=dict)  # contract sheet name -> candidates


def classify(path: Path) -> SubmissionFile:
    if path.is_dir():
        return SubmissionFile(path, "csv_dir")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return SubmissionFile(path, "xlsx")
    if suffix == ".zip":
        return SubmissionFile(path, "csv_zip")
    return SubmissionFile(path, "other")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030 — Chinese Excel saves CSV as GBK by default."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ReadError("CSV文件编码无法识别，请另存为UTF-8或GBK编码的CSV") from exc


def _csv_grid(data: bytes, name: str) -> pl.DataFrame:
    text = decode_text(data)
    if not text.strip():
        return pl.DataFrame()
    try:
        return pl.read_csv(
            io.StringIO(text), has_header=False, infer_schema=False, truncate_ragged_lines=True,
            quote_char='"',
        )
    except Exception:  # noqa: BLE001 - the reader's error text quotes the file (personal data): never pass it on
        raise ReadError(f"CSV文件“{name}”格式错误（引号不配对或行格式不一致），无法读取，请用Excel另存为CSV后重新报送"
                        ) from None


def _xlsx_grids(path: Path) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """Grids of the visible sheets (after the limits allowed the file at all) and the names of hidden ones."""
    try:
        info = inspect_xlsx(path)
    except LimitError as exc:
        raise ReadError(str(exc)) from None
    try:
        reader = fastexcel.read_excel(str(path))
        return {
            name: reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
            for name in info.visible_sheets
        }, list(info.hidden_sheets)
    except Exception:  # noqa: BLE001 - calamine raises several types for damaged files; their text may quote cells
        raise ReadError("文件已损坏或不是有效的Excel(.xlsx)工作簿，无法打开，请重新导出后报送") from None


def _csv_grids(file: SubmissionFile) -> dict[str, pl.DataFrame]:
    if file.fmt == "csv_dir":
        members = {p.name: p.read_bytes() for p in sorted(file.path.iterdir())
                   if p.suffix.lower() == ".csv" and not p.is_symlink() and p.is_file()}
    else:
        try:
            inspect_csv_zip(file.path)
        except LimitError as exc:
            raise ReadError(str(exc)) from None
        try:
            with zipfile.ZipFile(file.path) as zf:
                members = {}
                for info in zf.infolist():
                    if info.is_dir() or not info.filename.lower().endswith(".csv"):
                        continue
                    # Windows zip tools write GBK names without the UTF-8 flag.
                    name = info.filename
                    if not info.flag_bits & 0x800:
                        name = name.encode("cp437").decode("gb18030", errors="replace")
                    if name.startswith("__MACOSX/") or Path(name).name.startswith("._"):
                        continue  # what macOS adds to every zip it makes, not a sheet
                    if Path(name).name in members:  # which one the clerk meant is not ours to guess
                        raise ReadError(f"压缩包中有多个“{Path(name).name[:40]}”，无法确定以哪个为准，请只保留一个后重新报送")
                    members[Path(name).name] = zf.read(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError):
            # RuntimeError: a password-protected zip; NotImplementedError: an unknown compression method
            raise ReadError("压缩包已损坏、设置了密码或使用了不支持的压缩方式，无法解压，请重新打包（不加密）后报送"
                            ) from None
    if not members:
        raise ReadError("文件夹或压缩包中没有CSV文件")
    return {Path(name).stem: _csv_grid(data, name) for name, data in members.items()}


def read_grids(file: SubmissionFile) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """Raw text grids by sheet name (no header interpretation), and the names of hidden sheets not read."""
    if file.fmt == "xlsx":
        return _xlsx_grids(file.path)
    if file.fmt in ("csv_dir", "csv_zip"):
        return _csv_grids(file), []
    if file.path.suffix.lower() in (".xls", ".et", ".wps"):
        raise ReadError("文件是旧版Excel 97-2003（.xls）或WPS格式，请在Excel中另存为 .xlsx 工作簿后重新报送")
    raise ReadError(f"不支持的文件类型“{file.path.suffix[:20]}”，请报送.xlsx工作簿或CSV文件夹/压缩包")


_HEADER_INDEX = {
    sheet.key: {normalize_header(col.header): col for col in sheet.columns} for sheet in c.SHEETS
}
_SHEET_INDEX = {sheet.name: sheet for sheet in c.SHEETS}


def sheet_key(name: str) -> str:
    """A sheet name as matched: exactly, after NFKC and trimming (“基本 情况” is not “基本情况”)."""
    return unicodedata.normalize("NFKC", name).strip()


def _locate_header(top: list[tuple], sheet: c.Sheet) -> int:
    """Index (in ``top``, the grid's first rows) of the row whose cells match the most contract headers (0 when
    none do)."""
    known = _HEADER_INDEX[sheet.key]
    best, best_hits = 0, 0
    for i, row in enumerate(top):
        hits = sum(1 for v in row if v is not None and normalize_header(v) in known)
        if hits > best_hits:
            best, best_hits = i, hits
            if hits == len(row):  # every cell a header: no row below can have more (the usual first row)
                break
    return best


def _as_text(column: pl.Series) -> pl.Series:
    return column if column.dtype == pl.Utf8 else column.cast(pl.Utf8)


def match_sheet(grid: pl.DataFrame, sheet: c.Sheet, source_name: str) -> SheetData:
    known = _HEADER_INDEX[sheet.key]
    if grid.height == 0:
        return SheetData(sheet, source_name, 1, pl.DataFrame({"source_row": []}, schema={"source_row": pl.Int32}),
                         missing=[col.header for col in sheet.columns if col.required])
    top = grid.head(HEADER_SEARCH_ROWS).rows()
    header_idx = _locate_header(top, sheet)
    headers = top[header_idx]
    picked: dict[str, str] = {}  # grid column -> contract key
    unknown, duplicated = [], []
    for grid_col, text in zip(grid.columns, headers, strict=True):
        if text is None or not str(text).strip():
            continue
        col = known.get(normalize_header(text))
        if col is None:
            unknown.append(str(text).strip())
        elif col.key in picked.values():
            duplicated.append(col.header)
        else:
            picked[grid_col] = col.key
    # Plain Series work per file (the grid sliced once, its columns renamed): normalising and dropping blank rows
    # happens once per sheet over every file of the run (clean_rows), which is what keeps a 1,000-file quarter fast.
    rows = grid.slice(header_idx + 1)
    first = header_idx + 2  # the Excel row number of the first data row
    frame = pl.DataFrame([pl.Series("source_row", range(first, first + rows.height), dtype=pl.Int32),
                          *(_as_text(rows.get_column(g)).alias(k) for g, k in picked.items())])
    present = set(picked.values())
    missing = [col.header for col in sheet.columns if col.required and col.key not in present]
    return SheetData(sheet, source_name, header_idx + 1, frame, missing, unknown, duplicated)


def clean_rows(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Normalise every text cell (NFKC, trimmed, blank -> null) and drop rows left entirely blank."""
    present = [k for k in keys if k in frame.columns]
    if not present:
        return frame.clear()
    # Lazy: polars then computes each cleaned text once (eager with_columns has no common-subexpression
    # elimination, and normalized() uses its text twice, so eager would clean every text more than once).
    return (frame.lazy().with_columns(normalized(pl.col(k)).alias(k) for k in present)
            .filter(pl.any_horizontal(pl.col(k).is_not_null() for k in present)).collect())


def read_submission(file: SubmissionFile) -> Workbook:
    grids, hidden = read_grids(file)
    candidates: dict[str, list[str]] = {}
    unknown_sheets = []
    for name in grids:
        sheet = _SHEET_INDEX.get(sheet_key(name))
        if sheet is None:
            unknown_sheets.append(name)
        else:
            candidates.setdefault(sheet.key, []).append(name)
    sheets: dict[str, SheetData] = {}
    duplicates: dict[str, list[str]] = {}
    for key, names in candidates.items():
        sheet = next(s for s in c.SHEETS if s.key == key)
        if len(names) > 1:  # which one the clerk meant is not ours to guess
            duplicates[sheet.name] = names
        else:
            sheets[key] = match_sheet(grids[names[0]], sheet, names[0])
    return Workbook(file, sheets, unknown_sheets, hidden, duplicates)
