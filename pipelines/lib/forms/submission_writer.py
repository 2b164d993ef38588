"""Write one submission (sheet name -> rows keyed by contract column key) as format A or B.

Format A is an .xlsx workbook (xlsxwriter), format B a folder or .zip of one CSV per sheet
(contract §1). Shared by the blank template and the synthetic generator, so both lay out
headers, number formats and text columns the same way. Output is byte-reproducible: the
workbook creation time and zip member times are fixed.

A ``Layout`` describes how a clerk deviated from the contract (a missing sheet or column, a
merged title row above the headers, headers typed with stray spaces): the generator uses it to
plant defects, the clean path uses the default.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipelines.lib.domain import contract
from pipelines.lib.domain.contract import Column, Sheet

# Fixed document time: identical inputs give identical bytes.
FIXED_CREATED = dt.datetime(2008, 6, 2, 9, 0, 0)
_ZIP_TIME = (2008, 6, 2, 9, 0, 0)

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")

# Excel number formats by contract type; text columns are "@" so Excel keeps leading zeros
# in 组织机构代码 and does not turn an 18-digit 身份证号 into 1.1E+17.
NUMBER_FORMATS = {
    contract.INT: "0",
    contract.AMOUNT: "0.00",
    contract.YUAN: "0.00",
    contract.NUMBER: "0.0",
    contract.DATE: "yyyy-mm-dd",
    contract.CODE9: "@",
    contract.ID_NUMBER: "@",
    contract.TEXT: "@",
    contract.PERIOD: "@",
    contract.ENUM: "@",
    contract.BOOL: "@",
}

Rows = Sequence[Mapping[str, Any]]
Submission = Mapping[str, Rows]  # sheet name -> rows


@dataclass(frozen=True)
class Layout:
    """Deviations from the clean layout; the default writes exactly the contract."""

    omit_sheets: frozenset[str] = frozenset()
    omit_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)  # sheet -> column keys
    title_row_sheets: frozenset[str] = frozenset()  # a merged title row above the headers
    header_text: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (sheet, key) -> header

    def columns(self, sheet: Sheet) -> list[Column]:
        skip = self.omit_columns.get(sheet.name, frozenset())
        return [c for c in sheet.columns if c.key not in skip]

    def header(self, sheet: Sheet, column: Column) -> str:
        return self.header_text.get((sheet.name, column.key), column.header)

    def sheets(self, sheets: Iterable[Sheet] = contract.SHEETS) -> list[Sheet]:
        return [s for s in sheets if s.name not in self.omit_sheets]


CLEAN = Layout()


def column_width(column: Column) -> float:
    """A width that shows the Chinese header on two lines at most and typical values whole."""
    by_type = {contract.ID_NUMBER: 21, contract.CODE9: 13, contract.DATE: 12, contract.TEXT: 16}
    return max(by_type.get(column.type, 10), min(len(column.header) * 1.1 + 2, 18))


def cell_text(value: Any) -> str:
    """How a value is typed into a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class SheetFormats:
    """xlsxwriter formats for one workbook, by contract type."""

    def __init__(self, workbook: Workbook) -> None:
        self.header = workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center", "border": 1,
             "bg_color": "#DDEBF7"}
        )
        self.title = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
        self.by_type = {t: workbook.add_format({"num_format": f}) for t, f in NUMBER_FORMATS.items()}


def prepare_worksheet(
    workbook: Workbook, formats: SheetFormats, sheet: Sheet, layout: Layout = CLEAN
) -> tuple[Worksheet, list[Column], int]:
    """Add the sheet with its header row; return it, its columns and the first data row (0-based)."""
    ws = workbook.add_worksheet(sheet.name)
    columns = layout.columns(sheet)
    for i, col in enumerate(columns):
        ws.set_column(i, i, column_width(col), formats.by_type[col.type])
    header_row = 0
    if sheet.name in layout.title_row_sheets:
        # What clerks love to add: a big merged title above the real headers.
        ws.merge_range(0, 0, 0, max(len(columns) - 1, 1), f"{sheet.name}（{sheet.description}）", formats.title)
        header_row = 1
    ws.set_row(header_row, 36)
    for i, col in enumerate(columns):
        ws.write_string(header_row, i, layout.header(sheet, col), formats.header)
    ws.freeze_panes(header_row + 1, 0)
    return ws, columns, header_row + 1


def _write_rows(ws: Worksheet, formats: SheetFormats, columns: list[Column], rows: Rows, first: int) -> None:
    fmts = [formats.by_type[c.type] for c in columns]
    keys = [c.key for c in columns]
    for r, row in enumerate(rows, start=first):
        for i, key in enumerate(keys):
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, i, value, fmts[i])
            elif isinstance(value, bool):
                ws.write_string(r, i, "是" if value else "否", fmts[i])
            elif isinstance(value, int | float):
                ws.write_number(r, i, value, fmts[i])
            elif isinstance(value, dt.date):
                ws.write_datetime(r, i, value, fmts[i])
            else:
                ws.write_string(r, i, str(value), fmts[i])


def new_workbook(path: Path | io.BytesIO) -> Workbook:
    # in_memory rather than constant_memory: one submission is small, and xlsxwriter's temporary
    # files cost more than the rows themselves.
    wb = xlsxwriter.Workbook(
        path,
        {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    wb.set_properties({"created": FIXED_CREATED, "author": "sasac-skills", "title": "高技能人才工作季度报表"})
    return wb


def write_xlsx(path: Path, submission: Submission, layout: Layout = CLEAN) -> None:
    """Format A: one workbook, one sheet per contract sheet present in ``submission`` or required."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = new_workbook(path)
    formats = SheetFormats(wb)
    for sheet in layout.sheets():
        if sheet.name not in submission and not sheet.required:
            continue
        ws, columns, first = prepare_worksheet(wb, formats, sheet, layout)
        _write_rows(ws, formats, columns, submission.get(sheet.name, ()), first)
    wb.close()


def csv_bytes(sheet: Sheet, rows: Rows, encoding: str, layout: Layout = CLEAN) -> bytes:
    columns = layout.columns(sheet)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([layout.header(sheet, c) for c in columns])
    for row in rows:
        writer.writerow([cell_text(row.get(c.key)) for c in columns])
    return buf.getvalue().encode(encoding)


def _csv_members(submission: Submission, encoding: str, layout: Layout) -> list[tuple[str, bytes]]:
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}; use one of {ENCODINGS}")
    return [
        (f"{sheet.name}.csv", csv_bytes(sheet, submission.get(sheet.name, ()), encoding, layout))
        for sheet in layout.sheets()
        if sheet.name in submission or sheet.required
    ]


def write_csv_dir(folder: Path, submission: Submission, encoding: str = "utf-8", layout: Layout = CLEAN) -> None:
    """Format B as a folder of CSVs named after the sheets."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in _csv_members(submission, encoding, layout):
        (folder / name).write_bytes(data)


def write_csv_zip(path: Path, submission: Submission, encoding: str = "utf-8", layout: Layout = CLEAN) -> None:
    """Format B as a .zip of CSVs; member times fixed so the archive is reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in _csv_members(submission, encoding, layout):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)


def write_submission(
    path: Path, submission: Submission, fmt: str = "xlsx", encoding: str = "utf-8", layout: Layout = CLEAN
) -> None:
    """Write in one of the formats the intake accepts: ``xlsx``, ``csv_dir`` or ``csv_zip``."""
    if fmt == "xlsx":
        write_xlsx(path, submission, layout)
    elif fmt == "csv_dir":
        write_csv_dir(path, submission, encoding, layout)
    elif fmt == "csv_zip":
        write_csv_zip(path, submission, encoding, layout)
    else:
        raise ValueError(f"unknown submission format {fmt!r}")
