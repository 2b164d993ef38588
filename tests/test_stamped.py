"""Workbooks stamped from a template (pipelines.lib.exports.stamped), read back by openpyxl."""

from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl

from pipelines.lib.exports import excel
from pipelines.lib.exports.stamped import PROPERTY_MARK, TITLE_MARK, StampedSheet, StampTemplate


def _template():
    made = {}

    def draw(wb, ws):
        ws.hide_gridlines(2)
        ws.set_column(0, 0, 12)
        ws.set_column(1, 3, 30)
        made["bold"] = wb.add_format({"bold": True, "border": 1})
        made["fill"] = wb.add_format({"bg_color": "#FFC7CE", "align": "center"})
        made["when"] = wb.add_format({"num_format": excel.DATETIME_FMT})
        excel.setup_print(ws, TITLE_MARK, last_row=StampTemplate.TEMPLATE_LAST_ROW, last_col=3)
        wb.set_custom_property("sasac_inputs_sha256", PROPERTY_MARK)
        return list(made.values())

    return StampTemplate("回执", draw), made


HOSTILE = ["=HYPERLINK(\"http://x\",\"点我\")", "<r><t>raw</t></r>", "a & b < c", "-1", "  带空格 ", "_x0041_"]


def test_a_stamped_sheet_reads_back_with_its_values_styles_merges_and_print_setup(tmp_path):
    template, fmt = _template()
    sheet = StampedSheet(template)
    sheet.merge_range(0, 0, 0, 3, "标题 & 说明", fmt["bold"])
    sheet.set_row(0, 30)
    for i, text in enumerate(HOSTILE, start=2):
        excel.write_cell(sheet, i, 1, text, fmt["fill"])
    excel.write_cell(sheet, 9, 0, 12.5, None)
    excel.write_cell(sheet, 9, 1, dt.datetime(2008, 7, 15, 9, 30), fmt["when"])
    excel.write_cell(sheet, 9, 2, True, None)
    path = tmp_path / "one.xlsx"
    sheet.save(path, title="10110196-X　2008Q2 & 附", last_row=9, property_value="ab" * 32)

    wb = openpyxl.load_workbook(path)
    ws = wb["回执"]
    assert ws["A1"].value == "标题 & 说明" and ws["A1"].font.b and ws["A1"].border.left.style == "thin"
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    style = xml.split('<c r="A1"', 1)[1].split('"', 2)[1]
    assert f'<c r="D1" s="{style}"/>' in xml  # every cell of a merged range carries its borders
    assert [str(m) for m in ws.merged_cells.ranges] == ["A1:D1"]
    assert ws.row_dimensions[1].height == 30
    assert [ws.cell(i + 1, 2).value for i in range(2, 2 + len(HOSTILE))] == HOSTILE  # text stays text
    assert all(ws.cell(i + 1, 2).data_type == "s" for i in range(2, 2 + len(HOSTILE)))
    assert ws["B3"].fill.fgColor.rgb.endswith("FFC7CE") and ws["B3"].alignment.horizontal == "center"
    assert ws["A10"].value == 12.5 and ws["B10"].value == dt.datetime(2008, 7, 15, 9, 30) and ws["C10"].value == "是"
    assert ws["B10"].number_format == excel.DATETIME_FMT
    assert ws.column_dimensions["A"].width > 12 and ws.sheet_view.showGridLines is False
    assert ws.print_area == "'回执'!$A$1:$D$10"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == excel.PAPER_A4
    assert "10110196-X　2008Q2 && 附" in ws.oddHeader.right.text
    assert {p.name: p.value for p in wb.custom_doc_props.props} == {"sasac_inputs_sha256": "ab" * 32}
    assert ws.max_row == 10  # the template's own row of formats is not in the copy


def test_stamping_is_deterministic_and_leaves_no_mark(tmp_path):
    template, fmt = _template()
    paths = []
    for n in range(2):
        sheet = StampedSheet(template)
        sheet.write_string(0, 0, "x", fmt["bold"])
        paths.append(tmp_path / f"{n}.xlsx")
        sheet.save(paths[-1], title="t", last_row=0, property_value="v")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as zf:
        text = b"".join(zf.read(n) for n in zf.namelist())
    assert TITLE_MARK.encode() not in text and PROPERTY_MARK.encode() not in text and b"1048575" not in text



def test_a_stamped_sheet_keeps_rich_looking_text_and_refuses_a_foreign_format(tmp_path):
    import pytest
    import xlsxwriter

    template, fmt = _template()
    sheet = StampedSheet(template)
    excel.write_cell(sheet, 0, 0, "<r><t>raw</t></r>", fmt["bold"])
    sheet.save(tmp_path / "rich.xlsx", title="t", last_row=0, property_value="v")
    ws = openpyxl.load_workbook(tmp_path / "rich.xlsx")["回执"]
    assert ws["A1"].value == "<r><t>raw</t></r>" and ws["A1"].font.b
    other = xlsxwriter.Workbook(str(tmp_path / "other.xlsx")).add_format({"italic": True})
    with pytest.raises(ValueError, match="did not add"):
        sheet.write_string(1, 0, "x", other)
