"""The data rows of a ``constant_memory`` worksheet, written as sheet XML directly.

xlsxwriter spends ~13 µs a cell on its way from ``write_string`` to the XML (argument checks, a cell
tuple, a row table, attribute lists, three escaping passes); the tracking workbook holds 1.8 million
cells at 9,000 enterprises, 13 s of one core. Here each row is one joined string holding the very
bytes xlsxwriter writes for it (a test compares whole files), with one exception: xlsxwriter writes a
text that starts with ``<r>`` and ends with ``</r>`` as raw rich-text XML, so a clerk's cell could
inject markup (a formula, a broken file) into a workbook we publish. Here every text is escaped.

The worksheet is left as xlsxwriter would leave it after the same rows (its dimension, the row it
holds open), so what follows (autofilter, print area, close) is xlsxwriter's own.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet, _utf16_len, _utf16_truncate

from pipelines.lib.exports.display import BOOL_TEXT

# How a column's values are written (excel.write_table chooses one per column).
NUMBER, STATUS, BOOL, DATE, OTHER, BOOL_BAD = range(6)

# What xml_text changes: &, <, >, control characters, a literal _xHHHH_, U+FFFE/U+FFFF (most texts have none).
_NEEDS_ESCAPING = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
# ... and what an inline cell also has to look at: leading/trailing whitespace (xml:space="preserve").
_NEEDS_CARE = re.compile(_NEEDS_ESCAPING.pattern + r"|^\s|\s$")
_ESCAPED_UNDERSCORE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
EDGE_SPACE = re.compile(r"^\s|\s$")
_STRING_MAX = 32767
_INF, _NINF = float("inf"), float("-inf")


def xml_text(text: str) -> str:
    """A text as xlsxwriter stores it in <t> (``_xHHHH_`` for control characters, XML escapes): the one escaping
    of every cell text the exports write themselves (here and in exports/stamped.py)."""
    if _NEEDS_ESCAPING.search(text) is None:
        return text
    text = _ESCAPED_UNDERSCORE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_cell(attrs: str, text: str) -> str:
    """An inline-string cell, as xlsxwriter writes it in constant_memory mode (but never as raw rich text)."""
    if len(text) > _STRING_MAX // 2 and _utf16_len(text) > _STRING_MAX:
        text = _utf16_truncate(text, _STRING_MAX)
    if _NEEDS_CARE.search(text) is None:
        return f'<c{attrs} t="inlineStr"><is><t>{text}</t></is></c>'
    text = xml_text(text)
    space = ' xml:space="preserve"' if EDGE_SPACE.search(text) else ""
    return f'<c{attrs} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _number_cell(attrs: str, number: float) -> str:
    return f"<c{attrs}><v>{number:.16G}</v></c>"


def _row_open(ws: Worksheet, row: int, height_points: float | None) -> str:
    """The <row> tag xlsxwriter writes after ``set_row(row, height_points)`` (or none)."""
    if height_points is None:
        return f'<row r="{row + 1}">'
    pixels = int(height_points * 4.0 / 3.0 + 0.5)
    if pixels == ws.default_row_height == ws.original_row_height:
        return f'<row r="{row + 1}">'
    return f'<row r="{row + 1}" ht="{pixels * 0.75:.16g}" customHeight="1">'


# What goes into a cell: a number, a text, a date, or nothing but its format (cell_value, row_cells).
NUMBER_CELL, TEXT_CELL, DATE_CELL, BLANK_CELL = "number", "text", "date", "blank"


def cell_value(value: Any) -> tuple[str, Any]:
    """How a value of any type is written (excel.write_cell, and write_table's values of no column kind): text
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
    """(column, NUMBER_CELL / TEXT_CELL / DATE_CELL / BLANK_CELL, value, format) of each cell write_table puts in a
    row: the one decision both ways of writing it (XML here, or cell by cell through xlsxwriter) follow."""
    for i, v in enumerate(row):
        if v is None:
            continue
        how, fmt, conv = plan[i]
        if conv is not None:
            v = conv(v)
        kind = type(v)
        if how == NUMBER and (kind is int or kind is float):
            if v == v and v not in (_INF, _NINF):  # NaN / inf -> blank
                yield i, NUMBER_CELL, v, fmt
        elif how == STATUS and kind is str:
            yield i, TEXT_CELL, v, status_format(v)
        elif how == BOOL and kind is bool:
            yield i, TEXT_CELL, BOOL_TEXT[v], fmt if v else bool_false
        elif how == BOOL_BAD and kind is bool:
            yield i, TEXT_CELL, BOOL_TEXT[v], bool_bad_true if v else fmt
        elif kind is str:
            yield i, TEXT_CELL, v, fmt
        else:
            yield i, *cell_value(v), fmt


def write_rows(ws: Worksheet, plan: Sequence[tuple[int, Any, Callable[[Any], Any] | None]],
               rows: Iterable[Sequence[Any]], first_row: int, *, status_format: Callable[[str], Any],
               bool_false: Any, bool_bad_true: Any, row_convert: Callable[[Sequence[Any]], Sequence[Any]] | None,
               row_height: Callable[[Sequence[Any]], float | None]) -> int:
    """Rows below ``first_row`` (already written through xlsxwriter), one ``plan`` entry per column: the last row
    index used (``first_row`` when there was none)."""
    if not ws.constant_memory:
        raise ValueError("only a constant_memory worksheet streams its rows")
    ws._write_single_row(first_row + 1)  # the header row goes out as xlsxwriter sends it when a next row begins
    fh, convert_date = ws.fh, ws._convert_date_time
    letters = [xl_col_to_name(i) for i in range(len(plan))]
    xf: dict[int, str] = {}

    def style(fmt: Any) -> str:
        """' s="N"' of a format, indices given in order of first use as xlsxwriter gives them."""
        key = id(fmt)
        got = xf.get(key)
        if got is None:
            got = xf[key] = f' s="{fmt._get_xf_index()}"' if fmt is not None else ""
        return got

    last_with_cells = None
    r = first_row
    out: list[str] = []
    for r, row in enumerate(rows, start=first_row + 1):
        if r >= ws.xls_rowmax:
            break
        if row_convert is not None:
            row = row_convert(row)
        cells: list[str] = []
        number = str(r + 1)
        for i, what, v, fmt in row_cells(plan, row, status_format=status_format, bool_false=bool_false,
                                         bool_bad_true=bool_bad_true):
            attrs = f' r="{letters[i]}{number}"{style(fmt)}'
            if what == NUMBER_CELL:
                cells.append(_number_cell(attrs, v))
            elif what == TEXT_CELL:
                cells.append(_text_cell(attrs, v))
            elif what == DATE_CELL:
                cells.append(_number_cell(attrs, convert_date(v)))
            elif fmt is not None:  # a blank cell keeps its format; xlsxwriter drops one without
                cells.append(f"<c{attrs}/>")
        if not cells:
            continue
        last_with_cells = r
        out.append(_row_open(ws, r, row_height(row)))
        out.extend(cells)
        out.append("</row>")
        if len(out) > 4096:
            fh.write("".join(out))
            out.clear()
    fh.write("".join(out))
    if last_with_cells is not None:
        ws.dim_rowmax = max(ws.dim_rowmax or 0, last_with_cells)
        ws.previous_row = last_with_cells
    return r
