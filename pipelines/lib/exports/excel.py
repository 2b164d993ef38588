"""Shared xlsxwriter helpers for everything the platform hands out as Excel.

- one set of cell formats per workbook (:class:`Formats`),
- :func:`write_cell`, the only way exports put a value in a cell: text always goes through
  ``write_string`` (a clerk's ``=HYPERLINK(...)``, ``+86…`` or ``-1`` stays literal text, never a
  formula — CSV/formula injection), numbers as numbers, dates as dates, booleans as 是/否,
- :func:`write_table`, a header row (frozen, autofiltered) plus typed rows with widths sized to the
  content, streamed through xlsxwriter's public calls in ``constant_memory`` mode,
- :func:`new_workbook`, deterministic workbooks (fixed created time) so re-runs are byte-identical,
- :func:`setup_print`, the print setup every deliverable shares (landscape, fit to one page wide,
  repeated header row, a page header and footer with the sheet name and page numbers), and
  :func:`row_height` for rows whose wrapped text neither Excel nor LibreOffice grows on opening.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipelines.lib.exports.display import BOOL_TEXT, PP_PER_YEAR_UNIT, PP_UNIT, Display

# Fixed document time: the same data gives the same file, byte for byte.
FIXED_CREATED = dt.datetime(2008, 6, 2, 0, 0, 0)
AUTHOR = "北京市国资委 高技能人才数据平台"

RATIO_FMT = "0.0%"
AMOUNT_FMT = "#,##0.00"
COUNT_FMT = "#,##0"
DECIMAL_FMT = "0.00"
DATE_FMT = "yyyy-mm-dd"
DATETIME_FMT = "yyyy-mm-dd hh:mm:ss"
# Differences (gap to the Beijing average, yearly gain, change of an income gap) carry their sign.
SIGNED_RATIO_FMT = "+0.0%;-0.0%;0.0%"
SIGNED_AMOUNT_FMT = "+#,##0.00;-#,##0.00;0.00"
# A difference of shares in percentage points (the cell holds 1.9 for +1.9百分点), and the same per year.
SIGNED_PP_FMT = f'+0.0"{PP_UNIT}";-0.0"{PP_UNIT}";0.0"{PP_UNIT}"'
SIGNED_PP_YEAR_FMT = f'+0.0"{PP_PER_YEAR_UNIT}";-0.0"{PP_PER_YEAR_UNIT}";0.0"{PP_PER_YEAR_UNIT}"'

# Cell kinds a column can have; each maps to one number format.
TEXT, RATIO, AMOUNT, COUNT, DECIMAL, DATE, DATETIME, BOOL, ORG, STATUS = (
    "text", "ratio", "amount", "count", "decimal", "date", "datetime", "bool", "org", "status",
)
SIGNED_RATIO, SIGNED_AMOUNT = "signed_ratio", "signed_amount"
SIGNED_PP, SIGNED_PP_YEAR = "signed_pp", "signed_pp_year"
# 是/否 columns where 是 is the bad news (逾期, 未报送 …) and where neither answer is (是否最新 …).
BOOL_BAD, BOOL_PLAIN = "bool_bad", "bool_plain"
NUMBER_KINDS = frozenset({RATIO, AMOUNT, COUNT, DECIMAL, SIGNED_RATIO, SIGNED_AMOUNT, SIGNED_PP, SIGNED_PP_YEAR})


def _scaler(scale: float) -> Callable[[float], float]:
    return lambda v: v * scale if type(v) in (int, float) else v


# The cell holds the exact value; its number format shows it rounded (1.457% shows "1.5%" beside C03 「否」,
# and a sum or a comparison in Excel works on 1.457%). Percentage points are stored as points (1.9 for +1.9百分点).
AS_STORED: dict[str, Callable[[float], float]] = {SIGNED_PP: _scaler(100), SIGNED_PP_YEAR: _scaler(100)}

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def new_workbook(path: Path | io.BytesIO, constant_memory: bool = True, in_memory: bool = False) -> Workbook:
    """A workbook that writes the same bytes for the same content (fixed created time), to a file or a buffer.

    ``constant_memory`` streams rows (large tables); ``in_memory`` avoids temp files (many small files).
    """
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(
        str(path) if isinstance(path, Path) else path,
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
    wb.set_properties({"created": FIXED_CREATED, "author": AUTHOR, "company": "北京市国资委"})
    wb.set_calc_mode("auto")
    return wb


@dataclass
class Formats:
    """The formats of one workbook, created once (xlsxwriter formats belong to a workbook).

    Status and severity cells take the fill of their tone (reference ``ref_tones``, via ``display``).
    """

    wb: Workbook
    display: Display

    def __post_init__(self) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "top"}
        add = self.wb.add_format
        self.header = add({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                           "valign": "vcenter", "align": "center"})
        self.title = add({**base, "bold": True, "font_size": 16, "valign": "vcenter"})
        self.subtitle = add({**base, "bold": True, "font_size": 12, "bg_color": "#DDEBF7", "valign": "vcenter"})
        self.label = add({**base, "bold": True})
        self.note = add({**base, "italic": True, "font_color": "#595959", "text_wrap": True})
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
            SIGNED_RATIO: add({**base, "num_format": SIGNED_RATIO_FMT}),
            SIGNED_AMOUNT: add({**base, "num_format": SIGNED_AMOUNT_FMT}),
            SIGNED_PP: add({**base, "num_format": SIGNED_PP_FMT}),
            SIGNED_PP_YEAR: add({**base, "num_format": SIGNED_PP_YEAR_FMT}),
        }
        self.by_kind[BOOL_BAD] = self.by_kind[BOOL_PLAIN] = self.by_kind[BOOL]
        self.fills = {t.tone: add({**base, "bg_color": t.fill_colour, "align": "center"})
                      for t in self.display.tones.values()}
        # A failed check (否) is bad news; 是 in a column where 是 is the bad news (逾期 …) needs a look.
        self.bool_false = self.fills["bad"]
        self.bool_bad_true = self.fills["warn"]

    def fmt(self, kind: str) -> Any:
        return self.by_kind.get(kind, self.by_kind[TEXT])

    def status(self, text: str | None) -> Any:
        tone = self.display.tone_of(text)
        return self.fills[tone] if tone else self.by_kind[STATUS]

    def tone(self, tone: str) -> Any:
        return self.fills[tone]


# How a column's values are written (write_table chooses one per column).
_AS_NUMBER, _AS_STATUS, _AS_BOOL, _AS_DATE, _AS_OTHER, _AS_BOOL_BAD = range(6)
# What goes into a cell: a number, a text, a date, or nothing but its format (cell_value, row_cells).
NUMBER_CELL, TEXT_CELL, DATE_CELL, BLANK_CELL = "number", "text", "date", "blank"
_INF, _NINF = float("inf"), float("-inf")


def cell_value(value: Any) -> tuple[str, Any]:
    """How a value of any type is written (write_cell, and write_table's values of no column kind): text
    stays text (``=HYPERLINK(...)``, ``-1`` never become formulas), bools are 是/否, NaN/inf and None blank,
    dates Excel dates (time zone dropped), Decimal and numpy scalars numbers."""
    if value is None:
        return BLANK_CELL, None
    if isinstance(value, bool):
        return TEXT_CELL, BOOL_TEXT[value]
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return BLANK_CELL, None
        return NUMBER_CELL, value
    if isinstance(value, dt.datetime):
        return DATE_CELL, value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return DATE_CELL, dt.datetime(value.year, value.month, value.day)
    if hasattr(value, "__float__") and not isinstance(value, str):  # Decimal, numpy scalars
        return NUMBER_CELL, float(value)
    return TEXT_CELL, str(value)


def row_cells(plan: Sequence[tuple[int, Any, Callable[[Any], Any] | None]], row: Sequence[Any], *,
              status_format: Callable[[str], Any], bool_false: Any, bool_bad_true: Any
              ) -> Iterator[tuple[int, str, Any, Any]]:
    """(column, NUMBER_CELL / TEXT_CELL / DATE_CELL / BLANK_CELL, value, format) of each cell write_table puts
    in a row, one ``plan`` entry (how, format, converter) per column; a None is no cell at all."""
    for i, v in enumerate(row):
        if v is None:
            continue
        how, fmt, conv = plan[i]
        if conv is not None:
            v = conv(v)
        kind = type(v)
        if how == _AS_NUMBER and (kind is int or kind is float):
            if v == v and v not in (_INF, _NINF):  # NaN / inf -> blank
                yield i, NUMBER_CELL, v, fmt
        elif how == _AS_STATUS and kind is str:
            yield i, TEXT_CELL, v, status_format(v)
        elif how == _AS_BOOL and kind is bool:
            yield i, TEXT_CELL, BOOL_TEXT[v], fmt if v else bool_false
        elif how == _AS_BOOL_BAD and kind is bool:
            yield i, TEXT_CELL, BOOL_TEXT[v], bool_bad_true if v else fmt
        elif kind is str:
            yield i, TEXT_CELL, v, fmt
        else:
            yield i, *cell_value(v), fmt


def write_cell(ws: Worksheet, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Write one value with its own type, never as a formula.

    str -> write_string (so ``=HYPERLINK(...)``, ``-1``, ``@x`` stay literal text); bool -> 是/否;
    int/float -> number (NaN/inf -> blank); datetime/date -> Excel date; None -> blank.
    """
    _put(ws, row, col, *cell_value(value), fmt)


def write_text(ws: Worksheet, row: int, col: int, text: str, fmt: Any = None) -> None:
    """A text as a text cell, whatever it holds.

    ``write_string`` writes a text that starts with ``<r>`` and ends with ``</r>`` into the sheet (or its shared
    strings) as raw XML, so a clerk's cell could inject markup — a formula, a broken file — into a workbook we
    publish. Such a text goes through ``write_rich_string`` instead, as three runs in the cell's own font, which
    xlsxwriter escapes: the cell reads back as the very text.
    """
    if text.startswith("<r>") and text.endswith("</r>"):
        runs = (text[:1], text[1:-1], text[-1:])
        if fmt is None:
            ws.write_rich_string(row, col, *runs)
        else:
            ws.write_rich_string(row, col, fmt, runs[0], fmt, runs[1], fmt, runs[2], fmt)
    else:
        ws.write_string(row, col, text, fmt)


def _put(ws: Worksheet, row: int, col: int, what: str, value: Any, fmt: Any) -> None:
    if what == TEXT_CELL:
        write_text(ws, row, col, value, fmt)
    elif what == NUMBER_CELL:
        ws.write_number(row, col, value, fmt)
    elif what == DATE_CELL:
        ws.write_datetime(row, col, value, fmt)
    else:
        ws.write_blank(row, col, None, fmt)


def display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# Points per line of 10-pt text, and what fits on a landscape page at 100 % (in character units).
LINE_HEIGHT = 13.5
A4_LANDSCAPE_WIDTH = 150
PAPER_A4 = 9


@functools.lru_cache(maxsize=65_536)  # receipts and pages measure the same labels and headers thousands of times
def text_lines(text: str, width: float, font_size: float = 10) -> int:
    """Lines a wrapped ``text`` takes in a cell ``width`` character units wide.

    In pixels: a column is ``width * 7 + 5`` wide (the default font's digit is 7 px), less a few
    pixels of padding; a CJK glyph is one em (10 pt = 13.3 px), a Latin one about half of that.
    """
    room = max(width * 7 + 5 - 8, 7)
    half_em = font_size * 96 / 72 / 2
    return sum(max(1, math.ceil(_quick_width(part) * half_em / room)) for part in str(text).split("\n"))


def _quick_width(text: str) -> int:
    """:func:`display_width` for row heights, without a Unicode table lookup per character: CJK and
    full-width characters are the three-byte ones in UTF-8 (one wider for each two extra bytes)."""
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


def row_height(cells: Iterable[tuple[Any, float]], min_lines: int = 1, line_height: float = LINE_HEIGHT) -> float:
    """Height in points of a row whose wrapped cells are ``(text, width)`` pairs.

    Neither Excel nor LibreOffice grows a row for wrapped text in merged cells, and LibreOffice does
    not reliably grow rows of an xlsxwriter file either, so rows with long text get an explicit height.
    """
    lines = max([min_lines] + [text_lines(t, w) for t, w in cells if t not in (None, "")])
    return lines * line_height + 3


def setup_print(ws: Worksheet, title: str = "", *, total_width: float = 0, repeat_row: int | None = None,
                landscape: bool = True, last_row: int | None = None, last_col: int | None = None) -> None:
    """The print setup every deliverable shares, so a printed table or receipt looks official.

    Landscape, A4, one page wide (the sheets show few enough columns to stay legible), centred,
    ``repeat_row`` repeated on every page, and a page header (北京市国资委 · sheet name · ``title``)
    and footer (第 N 页，共 M 页). ``last_row``/``last_col`` set the print area.
    """
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_paper(PAPER_A4)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)
    if last_row is not None and last_col is not None:
        ws.print_area(0, 0, last_row, last_col)
    ws.set_header(f"&L&9{AUTHOR}&C&12&B&A&B&R&9 {header_text(title)}", margin=0.3)
    ws.set_footer("&L&9京国资党发〔2008〕8号&C&9第 &P 页，共 &N 页&R&9&A", margin=0.3)


def header_text(text: str) -> str:
    """Text as it is put into a page header or footer, where ``&`` starts a code (``&P`` page number)."""
    return text.replace("&", "&&")


def _sample_text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind in (RATIO, SIGNED_RATIO) and isinstance(value, int | float):
        return f"{value * 100:+.1f}%"
    if kind in (SIGNED_PP, SIGNED_PP_YEAR) and isinstance(value, int | float):
        return f"{value * 100:+.1f}" + (PP_PER_YEAR_UNIT if kind == SIGNED_PP_YEAR else PP_UNIT)
    if kind in (AMOUNT, COUNT, SIGNED_AMOUNT) and isinstance(value, int | float):
        return f"{value:+,.2f}" if kind != COUNT else f"{value:,.0f}"
    if kind == DATETIME:
        return "2008-01-01 00:00:00"
    if kind == DATE:
        return "2008-01-01"
    if isinstance(value, bool):
        return BOOL_TEXT[True]
    return str(value)


def autosize_widths(headers: Sequence[str], kinds: Sequence[str], rows: Sequence[Sequence[Any]],
                    sample: int = 500, min_width: int = 6, max_width: int = 60, header_lines: int = 1) -> list[float]:
    """Column widths from the headers and a sample of rows.

    With ``header_lines`` > 1 a long header may wrap (the header row must then be tall enough) rather
    than make a column of short numbers as wide as its label.
    """
    data = [0] * len(headers)
    for r in rows[:sample]:
        for i, v in enumerate(r):
            w = display_width(_sample_text(v, kinds[i])) + 2
            if w > data[i]:
                data[i] = w
    widths = []
    for i, h in enumerate(headers):
        one_line = display_width(h) + 2
        if header_lines > 1 and one_line > max(data[i], min_width):
            wrapped = math.ceil(display_width(h) / header_lines) + 3
            widths.append(max(data[i], min(one_line, wrapped)))
        else:
            widths.append(max(data[i], one_line))
    return [float(max(min_width, min(max_width, w))) for w in widths]


HEADER_LINES = 4


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    kind: str = TEXT
    convert: Callable[[Any], Any] | None = None  # e.g. org code display form
    width: float | None = None  # fixed width instead of the sized one (long texts)
    wrap: bool = False  # wrap the text and grow the row to show it whole
    folded: bool = False  # hidden in a collapsed column group (codes, ids): not read, not printed


def write_table(ws: Worksheet, formats: Formats, columns: Sequence[ColumnSpec], rows: Iterable[Sequence[Any]],
                first_row: int = 0, widths_from: Sequence[Sequence[Any]] | None = None,
                row_convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
                print_title: str | None = None) -> int:
    """Header + rows, frozen header, autofilter, sized columns. Returns the number of data rows.

    ``rows`` are tuples in ``columns`` order; they are streamed (constant_memory friendly).
    ``widths_from`` is a list of rows used to size columns (default: none beyond the headers).
    Long headers wrap on two lines. With ``print_title`` the sheet gets :func:`setup_print` with the
    header row repeated on every page. Rows go through xlsxwriter's public calls (``write_string`` …, the
    workbook's shared :class:`Formats`), a row at a time in ``constant_memory`` mode.
    """
    headers = [c.label for c in columns]
    kinds = [c.kind for c in columns]
    sample = list(widths_from or [])
    # Headers wrap on up to HEADER_LINES lines, so a column of 是/否 or short numbers stays narrow and a sheet
    # prints one page wide on A4 at a legible size.
    widths = autosize_widths(headers, kinds, sample, header_lines=HEADER_LINES)
    widths = [c.width if c.width else w for c, w in zip(columns, widths, strict=True)]
    for i, w in enumerate(widths):
        if columns[i].folded:
            ws.set_column(i, i, w, None, {"level": 1, "hidden": True})
        else:
            ws.set_column(i, i, w)
    if any(c.folded for c in columns):
        ws.set_column(len(columns), len(columns), None, None, {"collapsed": True})
        ws.outline_settings(True, False, False, False)  # the "+" sits left of the folded group
    ws.set_row(first_row, row_height([(h, w) for h, w in zip(headers, widths, strict=True)], min_lines=2))
    for i, h in enumerate(headers):
        ws.write_string(first_row, i, h, formats.header)
    ws.freeze_panes(first_row + 1, 0)
    if print_title is not None:
        setup_print(ws, print_title, total_width=sum(w for c, w in zip(columns, widths, strict=True) if not c.folded),
                    repeat_row=first_row)
    wrapped = [(i, widths[i]) for i, c in enumerate(columns) if c.wrap]

    # One writer per column, chosen once by kind: the inner loop runs once per cell of the largest export, so
    # nothing is decided again per cell that a column decides once. Blank cells are simply skipped.
    plan = []
    for c in columns:
        # folded text wraps: it never spills out of its hidden column onto the printed page
        fmt = formats.wrap if (c.wrap or c.folded) and c.kind in (TEXT, ORG) else formats.fmt(c.kind)
        if c.kind in NUMBER_KINDS:
            scale = AS_STORED.get(c.kind)
            conv = c.convert if scale is None else scale if c.convert is None else (
                lambda v, f=c.convert, r=scale: r(f(v)))
            plan.append((_AS_NUMBER, fmt, conv))
        elif c.kind == STATUS:
            plan.append((_AS_STATUS, fmt, c.convert))
        elif c.kind == BOOL:
            plan.append((_AS_BOOL, fmt, c.convert))
        elif c.kind == BOOL_BAD:
            plan.append((_AS_BOOL_BAD, fmt, c.convert))
        elif c.kind in (DATE, DATETIME):
            plan.append((_AS_DATE, fmt, c.convert))
        else:
            plan.append((_AS_OTHER, fmt, c.convert))

    def height(row: Sequence[Any]) -> float | None:
        """A row's height when its wrapped text needs more than one line."""
        if wrapped:
            lines = max(text_lines(row[i], w) if type(row[i]) is str else 1 for i, w in wrapped)
            if lines > 1:
                return lines * LINE_HEIGHT + 3
        return None

    r = _write_rows(ws, formats, plan, rows, first_row, row_convert, height)
    n = r - first_row
    ws.autofilter(first_row, 0, max(r, first_row), len(columns) - 1)
    if print_title is not None and any(c.folded for c in columns):
        # only the unfolded columns print: a folded cell's text must not spill onto the page beside them
        ws.print_area(0, 0, max(r, first_row), max(i for i, c in enumerate(columns) if not c.folded))
    return n


def _write_rows(ws: Worksheet, formats: Formats, plan: list[tuple[int, Any, Any]], rows: Iterable[Sequence[Any]],
                first_row: int, row_convert: Callable[[Sequence[Any]], Sequence[Any]] | None,
                height: Callable[[Sequence[Any]], float | None]) -> int:
    """write_table's rows below ``first_row``, cell by cell through xlsxwriter: the last row index used."""
    write_string, write_number, write_datetime, write_blank = (ws.write_string, ws.write_number, ws.write_datetime,
                                                               ws.write_blank)
    status, bool_false, bool_bad_true = formats.status, formats.bool_false, formats.bool_bad_true
    r = first_row
    for r, row in enumerate(rows, start=first_row + 1):
        if row_convert is not None:
            row = row_convert(row)
        h = height(row)
        if h is not None:
            ws.set_row(r, h)
        for i, what, v, fmt in row_cells(plan, row, status_format=status, bool_false=bool_false,
                                         bool_bad_true=bool_bad_true):
            if what == TEXT_CELL:
                if v.startswith("<r>") and v.endswith("</r>"):
                    write_text(ws, r, i, v, fmt)
                else:
                    write_string(r, i, v, fmt)
            elif what == NUMBER_CELL:
                write_number(r, i, v, fmt)
            elif what == DATE_CELL:
                write_datetime(r, i, v, fmt)
            else:
                write_blank(r, i, None, fmt)
    return r
