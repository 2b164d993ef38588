"""Shared xlsxwriter helpers for everything the platform hands out as Excel.

- one set of cell formats per workbook (:class:`Formats`),
- :func:`write_cell`, the only way exports put a value in a cell: text always goes through
  ``write_string`` (a clerk's ``=HYPERLINK(...)``, ``+86…`` or ``-1`` stays literal text, never a
  formula — CSV/formula injection), numbers as numbers, dates as dates, booleans as 是/否,
- :func:`write_table`, a header row (frozen, autofiltered) plus typed rows with widths sized to the
  content, fast enough for hundreds of thousands of cells in ``constant_memory`` mode,
- :func:`new_workbook`, deterministic workbooks (fixed created time) so re-runs are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

# Fixed document time: the same data gives the same file, byte for byte.
FIXED_CREATED = dt.datetime(2008, 6, 2, 0, 0, 0)

RATIO_FMT = "0.0%"
AMOUNT_FMT = "#,##0.00"
COUNT_FMT = "#,##0"
DECIMAL_FMT = "0.00"
DATE_FMT = "yyyy-mm-dd"
DATETIME_FMT = "yyyy-mm-dd hh:mm:ss"

# Cell kinds a column can have; each maps to one number format.
TEXT, RATIO, AMOUNT, COUNT, DECIMAL, DATE, DATETIME, BOOL, ORG, STATUS = (
    "text", "ratio", "amount", "count", "decimal", "date", "datetime", "bool", "org", "status",
)

# Status words of the tracking tables and the filing status, and the fill they get.
GREEN, AMBER, RED, GREY = "#C6EFCE", "#FFEB9C", "#FFC7CE", "#EDEDED"
STATUS_COLOURS: dict[str, str] = {
    "已达标": GREEN,
    "进度正常": GREEN,
    "滞后": AMBER,
    "严重滞后": RED,
    "按时": GREEN,
    "逾期": AMBER,
    "未报送": RED,
    "被退回": RED,
    "名录外": GREY,
    "achieved": GREEN,
    "on_track": GREEN,
    "lagging": AMBER,
    "seriously_lagging": RED,
    "on_time": GREEN,
    "late": AMBER,
    "missing": RED,
    "rejected": RED,
    "error": RED,
    "warning": AMBER,
    "info": GREY,
    "已采用": GREEN,
    "已受理": GREEN,
    "未收到": RED,
    "需重新报送": RED,
}
BOOL_FALSE_FILL = RED

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_INF, _NINF = float("inf"), float("-inf")


def new_workbook(path: Path, constant_memory: bool = True, in_memory: bool = False) -> Workbook:
    """A workbook that writes the same bytes for the same content (fixed created time).

    ``constant_memory`` streams rows (large tables); ``in_memory`` avoids temp files (many small files).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": constant_memory and not in_memory,
            "in_memory": in_memory,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": DATE_FMT,
            "remove_timezone": True,
        },
    )
    wb.set_properties({"created": FIXED_CREATED, "author": "北京市国资委 高技能人才数据平台", "company": "北京市国资委"})
    wb.set_calc_mode("auto")
    return wb


@dataclass
class Formats:
    """The formats of one workbook, created once (xlsxwriter formats belong to a workbook)."""

    wb: Workbook

    def __post_init__(self) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "top"}
        add = self.wb.add_format
        self.header = add({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"})
        self.title = add({**base, "bold": True, "font_size": 16})
        self.subtitle = add({**base, "bold": True, "font_size": 12, "bg_color": "#DDEBF7"})
        self.label = add({**base, "bold": True})
        self.note = add({**base, "italic": True, "font_color": "#595959"})
        self.wrap = add({**base, "text_wrap": True})
        self.by_kind: dict[str, Any] = {
            TEXT: add(base),
            ORG: add(base),
            STATUS: add(base),
            BOOL: add({**base, "align": "center"}),
            RATIO: add({**base, "num_format": RATIO_FMT}),
            AMOUNT: add({**base, "num_format": AMOUNT_FMT}),
            COUNT: add({**base, "num_format": COUNT_FMT}),
            DECIMAL: add({**base, "num_format": DECIMAL_FMT}),
            DATE: add({**base, "num_format": DATE_FMT}),
            DATETIME: add({**base, "num_format": DATETIME_FMT}),
        }
        self.fills: dict[str, Any] = {}
        for colour in sorted(set(STATUS_COLOURS.values()) | {BOOL_FALSE_FILL}):
            self.fills[colour] = add({**base, "bg_color": colour, "align": "center"})
        self.bool_false = self.fills[BOOL_FALSE_FILL]

    def fmt(self, kind: str) -> Any:
        return self.by_kind.get(kind, self.by_kind[TEXT])

    def status(self, text: str | None) -> Any:
        colour = STATUS_COLOURS.get(text or "")
        return self.fills[colour] if colour else self.by_kind[STATUS]


def write_cell(ws: Worksheet, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Write one value with its own type, never as a formula.

    str -> write_string (so ``=HYPERLINK(...)``, ``-1``, ``@x`` stay literal text); bool -> 是/否;
    int/float -> number (NaN/inf -> blank); datetime/date -> Excel date; None -> blank.
    """
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            ws.write_blank(row, col, None, fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value.replace(tzinfo=None), fmt)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), fmt)
    elif hasattr(value, "__float__") and not isinstance(value, str):  # Decimal, numpy scalars
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _sample_text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == RATIO and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if kind in (AMOUNT, COUNT) and isinstance(value, int | float):
        return f"{value:,.2f}" if kind == AMOUNT else f"{value:,.0f}"
    if kind == DATETIME:
        return "2008-01-01 00:00:00"
    if kind == DATE:
        return "2008-01-01"
    if isinstance(value, bool):
        return "是"
    return str(value)


def autosize_widths(headers: Sequence[str], kinds: Sequence[str], rows: Sequence[Sequence[Any]],
                    sample: int = 500, min_width: int = 6, max_width: int = 60) -> list[float]:
    widths = [display_width(h) + 2 for h in headers]
    for r in rows[:sample]:
        for i, v in enumerate(r):
            w = display_width(_sample_text(v, kinds[i])) + 2
            if w > widths[i]:
                widths[i] = w
    return [float(max(min_width, min(max_width, w))) for w in widths]


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    kind: str = TEXT
    convert: Callable[[Any], Any] | None = None  # e.g. org code display form


def write_table(ws: Worksheet, formats: Formats, columns: Sequence[ColumnSpec], rows: Iterable[Sequence[Any]],
                first_row: int = 0, widths_from: Sequence[Sequence[Any]] | None = None,
                row_convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None) -> int:
    """Header + rows, frozen header, autofilter, sized columns. Returns the number of data rows.

    ``rows`` are tuples in ``columns`` order; they are streamed (constant_memory friendly).
    ``widths_from`` is a list of rows used to size columns (default: none beyond the headers).
    """
    headers = [c.label for c in columns]
    kinds = [c.kind for c in columns]
    sample = list(widths_from or [])
    for i, w in enumerate(autosize_widths(headers, kinds, sample)):
        ws.set_column(i, i, w)
    ws.set_row(first_row, 30)
    for i, h in enumerate(headers):
        ws.write_string(first_row, i, h, formats.header)
    ws.freeze_panes(first_row + 1, 0)

    # One writer per column, chosen once by kind: the inner loop is the hot path of every export
    # (about a million cells for 1,000 enterprises × 8 quarters). Blank cells are simply skipped.
    write_number, write_string = ws.write_number, ws.write_string
    plan = []
    for c in columns:
        fmt = formats.fmt(c.kind)
        if c.kind in (RATIO, AMOUNT, COUNT, DECIMAL):
            plan.append((0, fmt, c.convert))
        elif c.kind == STATUS:
            plan.append((1, fmt, c.convert))
        elif c.kind == BOOL:
            plan.append((2, fmt, c.convert))
        elif c.kind in (DATE, DATETIME):
            plan.append((3, fmt, c.convert))
        else:
            plan.append((4, fmt, c.convert))
    status_fmt = formats.status
    bool_false = formats.bool_false
    r = first_row
    for r, row in enumerate(rows, start=first_row + 1):
        if row_convert is not None:
            row = row_convert(row)
        for i, v in enumerate(row):
            if v is None:
                continue
            how, fmt, conv = plan[i]
            if conv is not None:
                v = conv(v)
            if how == 0 and type(v) in (int, float):
                if v == v and v not in (_INF, _NINF):  # NaN / inf -> blank
                    write_number(r, i, v, fmt)
            elif how == 1 and type(v) is str:
                write_string(r, i, v, status_fmt(v))
            elif how == 2 and type(v) is bool:
                write_string(r, i, "是" if v else "否", fmt if v else bool_false)
            elif type(v) is str:
                write_string(r, i, v, fmt)
            else:
                write_cell(ws, r, i, v, fmt)
    n = r - first_row
    ws.autofilter(first_row, 0, max(r, first_row), len(columns) - 1)
    return n
