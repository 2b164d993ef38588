"""One-sheet workbooks stamped from a template: thousands of small formatted files (the receipts).

A :class:`StampTemplate` is an xlsxwriter workbook built once through xlsxwriter's public calls, with every
format used once (so the package says which style each has) and marks where a copy differs: the print title in
the page header, the last row of the print area and the value of one custom document property. A
:class:`StampedSheet` records one copy's cells, merged ranges and row heights with the few xlsxwriter
``Worksheet`` calls the receipts make (``write_string/number/datetime/blank``, ``write_rich_string``,
``merge_range``, ``set_row``; :func:`excel.write_cell` works on it), and :meth:`StampedSheet.save` writes only
the sheet, its shared strings and the three marked parts anew; the parts no copy changes (styles, theme,
properties) are packaged once. Why the receipts are stamped rather than each written by xlsxwriter, and what
that was measured to save: docs/architecture.md, "Publication and exports".

Only documented interfaces are used: xlsxwriter's public calls to build the template, the package it wrote
(read as a zip), the style index of each format read from the template's own sheet XML.

Text is always a shared string, escaped like xlsxwriter does (control characters as ``_xHHHH_``), never a
formula and never raw XML: a clerk's ``=HYPERLINK(...)`` or ``<r>…</r>`` file name stays the text it was.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipelines.lib.exports import excel

# Marks in the template, replaced in every copy. The last row of the print area is the sheet's last row.
TITLE_MARK = "STAMP-PRINT-TITLE"
PROPERTY_MARK = "STAMP-PROPERTY-VALUE"
_PRINT_AREA_LAST_ROW = 1048574  # not the sheet's very last row: xlsxwriter writes that area as whole columns
_PRINT_AREA_END = f"${_PRINT_AREA_LAST_ROW + 1}<"
_FORMATS_ROW = 1048575
_SHEET = "xl/worksheets/sheet1.xml"
_STRINGS = "xl/sharedStrings.xml"
_WORKBOOK = "xl/workbook.xml"
_CUSTOM = "docProps/custom.xml"
_HEADER = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" '
           'uniqueCount="{unique}">')
_MAX_STRING = 32767  # Excel's limit on a cell's text (xlsxwriter truncates too)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE = 0o600 << 16  # rw------- (zipfile's own default for a member written from bytes)
_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')
_FORMATS_CELL = re.compile(rf'<c r="([A-Z]+){_FORMATS_ROW + 1}"(?: s="(\d+)")?')

# What xml_text changes: &, <, >, control characters, a literal _xHHHH_, U+FFFE/U+FFFF (most texts have none).
_NEEDS_ESCAPING = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_ESCAPED_UNDERSCORE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EDGE_SPACE = re.compile(r"^\s|\s$")
_EPOCH = dt.datetime(1899, 12, 31)
_LEAP_DAY_1900 = 59  # serial of 1900-02-28: Excel counts a 29 February 1900 after it


def xml_text(text: str) -> str:
    """A text as xlsxwriter stores it in <t> (``_xHHHH_`` for control characters, XML escapes)."""
    if _NEEDS_ESCAPING.search(text) is None:
        return text
    text = _ESCAPED_UNDERSCORE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excel_date(when: dt.datetime) -> float:
    """A naive datetime as an Excel serial date of the 1900 date system (the template's workbook), the number
    xlsxwriter's ``write_datetime`` writes: days since 1899-12-31, and from March 1900 one more for the
    29 February 1900 Excel believes in."""
    delta = when - _EPOCH
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return serial + 1 if serial > _LEAP_DAY_1900 else serial


_COLUMN_NAMES = tuple(xl_col_to_name(c) for c in range(64))


def _cell(row: int, col: int) -> str:
    return f"{_COLUMN_NAMES[col] if col < 64 else xl_col_to_name(col)}{row + 1}"


def _text(value: str) -> str:
    """A string as Excel stores it in <t>, at most Excel's length (:func:`xml_text`'s escapes)."""
    return xml_text(value[:_MAX_STRING])


def _blank_cell(row: int, col: int, style: str) -> str:
    return f'<c r="{_cell(row, col)}"{style}/>'


class _Recording:
    """The template's workbook as ``draw`` sees it: every format it adds is remembered, in order."""

    def __init__(self, wb: Workbook) -> None:
        self.wb, self.formats = wb, []

    def add_format(self, properties: dict | None = None) -> Format:
        fmt = self.wb.add_format(properties)
        self.formats.append(fmt)
        return fmt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wb, name)


class StampTemplate:
    """The fixed parts of a one-sheet workbook, taken from xlsxwriter once.

    ``draw(workbook, worksheet)`` sets the sheet up (columns, gridlines, print setup with ``TITLE_MARK`` as
    title and ``last_row=TEMPLATE_LAST_ROW``, ``set_custom_property(name, PROPERTY_MARK)``), adds the formats
    copies will use (``workbook.add_format``) and returns whatever holds them (``drawn``). Each format it added
    is written once here, in a row no copy keeps, and the style index xlsxwriter gave it is read back from that
    row of the sheet XML.
    """

    TEMPLATE_LAST_ROW = _PRINT_AREA_LAST_ROW

    def __init__(self, sheet_name: str, draw: Callable[[Workbook, Worksheet], Any]) -> None:
        buffer = io.BytesIO()
        wb = excel.new_workbook(buffer, in_memory=True)
        ws = wb.add_worksheet(sheet_name)
        recording = _Recording(wb)
        self.drawn = draw(recording, ws)
        # A row no copy keeps: it gives every format its style index and the package its shared strings part.
        ws.write_string(_FORMATS_ROW, 0, TITLE_MARK)
        for col, fmt in enumerate(recording.formats, start=1):
            ws.write_blank(_FORMATS_ROW, col, None, fmt)
        wb.close()
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zf:
            self.order = zf.namelist()
            parts = {name: zf.read(name) for name in self.order}
        sheet = parts[_SHEET].decode()
        styles = {col: index for col, index in _FORMATS_CELL.findall(sheet)}
        # ' s="N"' of each format by id (formats live as long as the template, in self.formats)
        self.formats = recording.formats
        self.styles = {id(fmt): f' s="{styles[_COLUMN_NAMES[col]]}"' if styles[_COLUMN_NAMES[col]] not in ("", "0")
                       else "" for col, fmt in enumerate(self.formats, start=1)}
        self.head, rest = sheet.split("<sheetData>", 1)
        self.tail = rest.split("</sheetData>", 1)[1]
        # mergeCells go between sheetData and the print setup: nothing else may stand there
        assert self.tail.startswith("<printOptions") or self.tail.startswith("<pageMargins"), self.tail[:40]
        assert TITLE_MARK in self.tail and _PRINT_AREA_END in parts[_WORKBOOK].decode()
        assert PROPERTY_MARK in parts[_CUSTOM].decode()
        self.workbook_xml, self.custom_xml = parts[_WORKBOOK], parts[_CUSTOM]
        # The parts no copy changes.
        self.fixed = {name: data for name, data in parts.items() if name not in (_SHEET, _STRINGS, _WORKBOOK, _CUSTOM)}


class StampedSheet:
    """One copy's cells, merges and row heights, written as a workbook by :meth:`save`."""

    def __init__(self, template: StampTemplate) -> None:
        self.template = template
        self.cells: dict[int, dict[int, str]] = {}
        self.heights: dict[int, float] = {}
        self.merges: list[str] = []
        self.strings: dict[str, int] = {}
        self.string_cells = 0

    # --- the xlsxwriter Worksheet calls the receipts make ------------------------------------------
    def _put(self, row: int, col: int, xml: str) -> None:
        self.cells.setdefault(row, {})[col] = xml

    def write_string(self, row: int, col: int, text: str, fmt: Format | None = None) -> None:
        if text == "":
            self.write_blank(row, col, None, fmt)
            return
        index = self.strings.setdefault(text, len(self.strings))
        self.string_cells += 1
        self._put(row, col, f'<c r="{_cell(row, col)}"{self._style(fmt)} t="s"><v>{index}</v></c>')

    def write_number(self, row: int, col: int, number: float, fmt: Format | None = None) -> None:
        self._put(row, col, f'<c r="{_cell(row, col)}"{self._style(fmt)}><v>{number:.16G}</v></c>')

    def write_datetime(self, row: int, col: int, when: dt.datetime, fmt: Format | None = None) -> None:
        # the template's workbook (excel.new_workbook): 1900 dates, time zones removed
        self.write_number(row, col, excel_date(when.replace(tzinfo=None)), fmt)

    def write_blank(self, row: int, col: int, _blank: Any = None, fmt: Format | None = None) -> None:
        if fmt is None:  # xlsxwriter, too, ignores a blank cell without a format
            return
        self._put(row, col, _blank_cell(row, col, self._style(fmt)))

    def merge_range(self, first_row: int, first_col: int, last_row: int, last_col: int, data: Any,
                    fmt: Format | None = None) -> None:
        if fmt is not None:  # every cell of the range carries the format (its borders); the first gets ``data``
            style = self._style(fmt)
            for row in range(first_row, last_row + 1):
                cells = self.cells.setdefault(row, {})
                for col in range(first_col, last_col + 1):
                    cells[col] = _blank_cell(row, col, style)
        excel.write_cell(self, first_row, first_col, data, fmt)
        self.merges.append(f"{_cell(first_row, first_col)}:{_cell(last_row, last_col)}")

    def write_rich_string(self, row: int, col: int, *runs: Any) -> None:
        """A text given as runs (excel.write_text's way with a text that looks like rich-text XML): the runs'
        text, as one plain shared string in the cell's format (the last argument when it is a format)."""
        fmt = runs[-1] if runs and isinstance(runs[-1], Format) else None
        self.write_string(row, col, "".join(r for r in runs if isinstance(r, str)), fmt)

    def _style(self, fmt: Format | None) -> str:
        if fmt is None:
            return ""
        try:
            return self.template.styles[id(fmt)]
        except KeyError:
            raise ValueError("a format the template's draw did not add") from None

    def set_row(self, row: int, height: float) -> None:
        self.heights[row] = height

    # --- the package ---------------------------------------------------------------------------------
    def _sheet_xml(self) -> str:
        rows = sorted(set(self.cells) | set(self.heights))
        out = [self.template.head]
        if self.cells:
            first_col = min(min(r) for r in self.cells.values())
            last_col = max(max(r) for r in self.cells.values())
            ref = f"{_cell(min(self.cells), first_col)}:{_cell(max(self.cells), last_col)}"
            out[0] = _DIMENSION.sub(f'<dimension ref="{ref}"/>', out[0], count=1)
        out.append("<sheetData>")
        for row in rows:
            height = self.heights.get(row)
            attrs = f' ht="{height:.16G}" customHeight="1"' if height is not None else ""
            cells = self.cells.get(row)
            if cells:
                out.append(f'<row r="{row + 1}"{attrs}>')
                out.extend(cells[c] for c in sorted(cells))
                out.append("</row>")
            else:
                out.append(f'<row r="{row + 1}"{attrs}/>')
        out.append("</sheetData>")
        if self.merges:
            out.append(f'<mergeCells count="{len(self.merges)}">')
            out.extend(f'<mergeCell ref="{m}"/>' for m in self.merges)
            out.append("</mergeCells>")
        out.append(self.template.tail)
        return "".join(out)

    def _strings_xml(self) -> str:
        out = [_HEADER.format(count=self.string_cells, unique=len(self.strings))]
        for text in self.strings:
            escaped = _text(text)
            space = ' xml:space="preserve"' if _EDGE_SPACE.search(escaped) else ""
            out.append(f"<si><t{space}>{escaped}</t></si>")
        out.append("</sst>")
        return "".join(out)

    def save(self, path: Path, *, title: str, last_row: int, property_value: str) -> None:
        """Write the workbook: ``title`` in the page header, rows 1..``last_row + 1`` printed, the custom
        property set to ``property_value``."""
        t = self.template
        copy = {
            _SHEET: self._sheet_xml().replace(TITLE_MARK, _text(excel.header_text(title))).encode(),
            _STRINGS: self._strings_xml().encode(),
            _WORKBOOK: t.workbook_xml.replace(_PRINT_AREA_END.encode(), f"${last_row + 1}<".encode()),
            _CUSTOM: t.custom_xml.replace(PROPERTY_MARK.encode(), _text(property_value).encode()),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in t.order:  # the template's order, a fixed date: the same receipt is the same bytes
                info = zipfile.ZipInfo(name, _ZIP_TIME)
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, _ZIP_FILE_MODE
                zf.writestr(info, t.fixed[name] if name in t.fixed else copy[name])
        path.write_bytes(buffer.getvalue())
