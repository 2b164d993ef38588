"""One-sheet workbooks stamped from a template: thousands of small formatted files (the receipts) fast.

xlsxwriter spends most of a receipt's time packaging parts that are the same in every copy (styles,
theme, properties, the sheet's columns and print setup) and creating the same 19 formats again. A
:class:`StampTemplate` is an xlsxwriter workbook built once, with every format used once (so each has its
style index) and marks where a copy differs: the print title in the page header, the last row of the print
area and the value of one custom document property. A :class:`StampedSheet` records one copy's cells,
merged ranges and row heights with the few xlsxwriter ``Worksheet`` calls the receipts make
(``write_string/number/datetime/blank``, ``merge_range``, ``set_row``; :func:`excel.write_cell` works on
it), and :meth:`StampedSheet.save` writes only the sheet, its shared strings and the three marked parts
anew.

Text is always a shared string, escaped like xlsxwriter does (control characters as ``_xHHHH_``), never a
formula and never raw XML: a clerk's ``=HYPERLINK(...)`` or ``<r>…</r>`` file name stays the text it was.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipelines.lib.exports import excel, streamed

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
_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')


_COLUMN_NAMES = tuple(xl_col_to_name(c) for c in range(64))


def _cell(row: int, col: int) -> str:
    return f"{_COLUMN_NAMES[col] if col < 64 else xl_col_to_name(col)}{row + 1}"


def _text(value: str) -> str:
    """A string as Excel stores it in <t>, at most Excel's length (streamed.xml_text's escapes)."""
    return streamed.xml_text(value[:_MAX_STRING])


def _blank_cell(row: int, col: int, style: str) -> str:
    return f'<c r="{_cell(row, col)}"{style}/>'



_EXCEL_EPOCH = dt.datetime(1899, 12, 31)


def excel_serial(when: dt.datetime) -> float:
    """The number ``Worksheet.write_datetime`` stores for ``when`` in the template's workbook
    (``excel.new_workbook``: the 1900 date system, time zones removed), computed as xlsxwriter computes it:
    days since 1899-12-31 and the fraction of the day, less one on 1900-01-01, plus one after 1900-02-28
    (Excel counts a 29 February 1900)."""
    when = when.replace(tzinfo=None)
    delta = when - _EXCEL_EPOCH
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
    if when.isocalendar() == (1900, 1, 1):
        serial -= 1
    return serial + 1 if serial > 59 else serial

class StampTemplate:
    """The fixed parts of a one-sheet workbook, taken from xlsxwriter once.

    ``draw(workbook, worksheet)`` sets the sheet up (columns, gridlines, print setup with ``TITLE_MARK`` as
    title and ``last_row=TEMPLATE_LAST_ROW``, ``set_custom_property(name, PROPERTY_MARK)``), adds the formats
    copies will use and returns whatever holds them (``drawn``). Each format it added is written once here, so
    xlsxwriter gives it a style index.
    """

    TEMPLATE_LAST_ROW = _PRINT_AREA_LAST_ROW

    def __init__(self, sheet_name: str, draw: Callable[[Workbook, Worksheet], Any]) -> None:
        buffer = io.BytesIO()
        wb = excel.new_workbook(buffer, in_memory=True)
        ws = wb.add_worksheet(sheet_name)
        before = len(wb.formats)
        self.drawn = draw(wb, ws)
        # A row no copy keeps: it gives every format its style index and the package its shared strings part.
        ws.write_string(_FORMATS_ROW, 0, TITLE_MARK)
        for col, fmt in enumerate(wb.formats[before:], start=1):
            ws.write_blank(_FORMATS_ROW, col, None, fmt)
        wb.close()
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zf:
            self.order = zf.namelist()
            parts = {name: zf.read(name) for name in self.order}
        sheet = parts[_SHEET].decode()
        self.head, rest = sheet.split("<sheetData>", 1)
        self.tail = rest.split("</sheetData>", 1)[1]
        # mergeCells go between sheetData and the print setup: nothing else may stand there
        assert self.tail.startswith("<printOptions") or self.tail.startswith("<pageMargins"), self.tail[:40]
        assert TITLE_MARK in self.tail and _PRINT_AREA_END in parts[_WORKBOOK].decode()
        assert PROPERTY_MARK in parts[_CUSTOM].decode()
        self.workbook_xml, self.custom_xml = parts[_WORKBOOK], parts[_CUSTOM]
        # The parts no copy changes, compressed once.
        self.fixed = {name: ZipMember.of(name, data) for name, data in parts.items()
                      if name not in (_SHEET, _STRINGS, _WORKBOOK, _CUSTOM)}


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
        self._put(row, col, f'<c r="{_cell(row, col)}"{_style(fmt)} t="s"><v>{index}</v></c>')

    def write_number(self, row: int, col: int, number: float, fmt: Format | None = None) -> None:
        self._put(row, col, f'<c r="{_cell(row, col)}"{_style(fmt)}><v>{number:.16G}</v></c>')

    def write_datetime(self, row: int, col: int, when: dt.datetime, fmt: Format | None = None) -> None:
        self.write_number(row, col, excel_serial(when), fmt)

    def write_blank(self, row: int, col: int, _blank: Any = None, fmt: Format | None = None) -> None:
        if fmt is None:  # xlsxwriter, too, ignores a blank cell without a format
            return
        self._put(row, col, _blank_cell(row, col, _style(fmt)))

    def merge_range(self, first_row: int, first_col: int, last_row: int, last_col: int, data: Any,
                    fmt: Format | None = None) -> None:
        if fmt is not None:  # every cell of the range carries the format (its borders); the first gets ``data``
            style = _style(fmt)
            for row in range(first_row, last_row + 1):
                cells = self.cells.setdefault(row, {})
                for col in range(first_col, last_col + 1):
                    cells[col] = _blank_cell(row, col, style)
        excel.write_cell(self, first_row, first_col, data, fmt)
        self.merges.append(f"{_cell(first_row, first_col)}:{_cell(last_row, last_col)}")

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
            space = ' xml:space="preserve"' if streamed.EDGE_SPACE.search(escaped) else ""
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
        path.write_bytes(zip_archive([t.fixed[n] if n in t.fixed else ZipMember.of(n, copy[n]) for n in t.order]))


@dataclass(frozen=True)
class ZipMember:
    """One deflated member of a zip, ready to be written (name, CRC-32, sizes)."""

    name: bytes
    crc: int
    size: int
    deflated: bytes

    @classmethod
    def of(cls, name: str, data: bytes) -> ZipMember:
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # what zipfile uses
        return cls(name.encode(), zlib.crc32(data), len(data), deflate.compress(data) + deflate.flush())


_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_OF_DIRECTORY = struct.Struct("<IHHHHIIH")
_DOS_DATE = (_ZIP_TIME[0] - 1980) << 9 | _ZIP_TIME[1] << 5 | _ZIP_TIME[2]  # 1980-01-01, time 00:00
_MADE_BY_UNIX = 3 << 8 | 20
ZIP_FILE_MODE = 0o600 << 16


def zip_archive(members: list[ZipMember]) -> bytes:
    """The zip ``zipfile`` writes for these members (deflated, 1980-01-01, mode 600), byte for byte, without
    compressing the members again: a template's fixed parts are compressed once for every copy."""
    out, directory = bytearray(), bytearray()
    for m in members:
        offset = len(out)
        out += _LOCAL_HEADER.pack(0x04034B50, 20, 0, zipfile.ZIP_DEFLATED, 0, _DOS_DATE, m.crc, len(m.deflated),
                                  m.size, len(m.name), 0) + m.name + m.deflated
        directory += _CENTRAL_HEADER.pack(0x02014B50, _MADE_BY_UNIX, 20, 0, zipfile.ZIP_DEFLATED, 0, _DOS_DATE,
                                          m.crc, len(m.deflated), m.size, len(m.name), 0, 0, 0, 0, ZIP_FILE_MODE,
                                          offset) + m.name
    start = len(out)
    out += directory + _END_OF_DIRECTORY.pack(0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0)
    return bytes(out)


def _style(fmt: Format | None) -> str:
    index = fmt.xf_index if fmt is not None else None
    return f' s="{index}"' if index else ""
