"""The blank template: opens in openpyxl and in polars/calamine, carries every contract header,
drop-downs for enum and 是/否 columns, text format for codes and IDs, a comment per header."""

from __future__ import annotations

import datetime as dt
import hashlib

import openpyxl
import polars as pl
import pytest

from pipelines.lib.domain import contract
from pipelines.lib.forms.submission_writer import write_submission
from pipelines.lib.forms.template import INSTRUCTIONS_SHEET, column_rule, write_template


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "模板.xlsx"
    write_template(path)
    return path


def test_sheets_in_order(template):
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == [INSTRUCTIONS_SHEET] + [s.name for s in contract.SHEETS]


def test_headers_with_openpyxl_and_calamine(template):
    wb = openpyxl.load_workbook(template)
    for sheet in contract.SHEETS:
        ws = wb[sheet.name]
        assert [c.value for c in ws[1]] == list(sheet.headers)
        assert ws.freeze_panes == "A2"
        assert all(c.font.bold for c in ws[1])
        df = pl.read_excel(template, sheet_name=sheet.name, engine="calamine")
        assert df.columns == list(sheet.headers)
        assert df.height == 0  # the prepared blank row of single-row sheets holds no value


def _validated_columns(ws) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            letter = rng.coord.split(":")[0].rstrip("0123456789")
            out[letter] = [dv.type, dv.formula1 or ""]
    return out


def test_validations_for_enum_and_bool(template):
    wb = openpyxl.load_workbook(template)
    for sheet in contract.SHEETS:
        ws = wb[sheet.name]
        validations = _validated_columns(ws)
        for i, column in enumerate(sheet.columns):
            letter = openpyxl.utils.get_column_letter(i + 1)
            if column.type == contract.BOOL:
                assert validations[letter] == ["list", '"是,否"'], column.header
            elif column.enum:
                assert validations[letter][0] == "list"
                assert all(v in validations[letter][1] for v in column.enum)
            elif column.type == contract.INT:
                assert validations[letter][0] == "whole"


def test_formats_comments_and_blank_row(template):
    wb = openpyxl.load_workbook(template)
    for sheet in contract.SHEETS:
        ws = wb[sheet.name]
        for i, column in enumerate(sheet.columns, start=1):
            header = ws.cell(row=1, column=i)
            assert header.comment is not None and column.header in header.comment.text
            if column.rule:  # thresholds named by key in the contract, by value (today's) in the template
                assert column_rule(column) in header.comment.text and "{" not in header.comment.text
            fmt = ws.column_dimensions[openpyxl.utils.get_column_letter(i)]
            assert fmt.width and fmt.width >= 10
            if sheet.single_row:
                cell = ws.cell(row=2, column=i)
                expected = {contract.CODE9: "@", contract.ID_NUMBER: "@", contract.INT: "0",
                            contract.AMOUNT: "0.00", contract.DATE: "yyyy-mm-dd"}.get(column.type)
                if expected:
                    assert cell.number_format == expected, (sheet.name, column.header)
        if sheet.single_row:
            assert ws.max_row == 2


def test_instructions_cover_every_sheet_and_column(template):
    ws = openpyxl.load_workbook(template)[INSTRUCTIONS_SHEET]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    for sheet in contract.SHEETS:
        assert sheet.name in text and sheet.description in text
        for column in sheet.columns:
            assert column.header in text
    for word in ("万元", "元", "是", "否", "截止", "重新报送"):
        assert word in text


def test_template_is_reproducible(template, tmp_path):
    again = tmp_path / "again.xlsx"
    write_template(again)
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(template.read_bytes()).digest()


def test_written_ids_stay_text(tmp_path):
    """An 18-digit ID and a code with leading zeros survive a round trip through both readers."""
    sub = {
        contract.PROFILE.name: [{"org_code": "00000001-8", "period": "2008Q2", "employees_total": 300,
                                 "submitted_on": dt.date(2008, 7, 3)}],
        contract.ROSTER.name: [{"id_number": "110101198001011234", "name": "张三", "is_frontline": True}],
    }
    path = tmp_path / "s.xlsx"
    write_submission(path, sub)
    df = pl.read_excel(path, sheet_name=contract.ROSTER.name, engine="calamine")
    assert df["身份证号"][0] == "110101198001011234" and df["是否一线"][0] == "是"
    prof = openpyxl.load_workbook(path)[contract.PROFILE.name]
    assert prof["A2"].value == "00000001-8" and prof["G2"].value == 300
    assert prof.cell(row=2, column=20).value.date() == dt.date(2008, 7, 3)
    for enc in ("utf-8", "utf-8-sig", "gb18030"):
        folder = tmp_path / enc
        write_submission(folder, sub, "csv_dir", enc)
        text = (folder / "人才信息库.csv").read_bytes().decode(enc)
        assert "110101198001011234,张三" in text


# --- how the template looks and prints ------------------------------------------------------------
def test_every_sheet_prints_landscape_one_page_wide_with_header_and_footer(template):
    wb = openpyxl.load_workbook(template)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # 1 is the default
        assert "&A" in ws.oddHeader.center.text
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    for sheet in contract.SHEETS:
        assert wb[sheet.name].print_title_rows == "$1:$1"  # the header row on every printed page


def test_header_colour_tells_mandatory_from_optional(template):
    from pipelines.lib.forms.template import MANDATORY_FILL, OPTIONAL_FILL
    wb = openpyxl.load_workbook(template)
    for sheet in contract.SHEETS:
        ws = wb[sheet.name]
        for i, column in enumerate(sheet.columns, start=1):
            fill = ws.cell(row=1, column=i).fill.fgColor.rgb
            expected = MANDATORY_FILL if column.mandatory else OPTIONAL_FILL
            assert fill.endswith(expected.lstrip("#")), (sheet.name, column.header)


def test_dates_are_range_checked_and_headers_fit_on_two_lines(template):
    from pipelines.lib.exports.excel import display_width
    wb = openpyxl.load_workbook(template)
    for sheet in contract.SHEETS:
        ws = wb[sheet.name]
        validations = _validated_columns(ws)
        for i, column in enumerate(sheet.columns):
            letter = openpyxl.utils.get_column_letter(i + 1)
            if column.type == contract.DATE:
                assert validations[letter][0] == "date"
            width = ws.column_dimensions[letter].width
            assert width * 2 >= display_width(column.header), (sheet.name, column.header, width)


def test_instructions_rows_are_tall_enough_and_not_repetitive(template):
    from pipelines.lib.exports.excel import text_lines
    from pipelines.lib.forms.template import INSTRUCTION_WIDTHS, requirement
    ws = openpyxl.load_workbook(template)[INSTRUCTIONS_SHEET]
    notes = [c for row in ws.iter_rows(max_col=1) for c in row if isinstance(c.value, str) and c.value[:2] in
             ("一、", "八、", "十一")]
    assert len(notes) == 3
    for c in notes:
        lines = text_lines(c.value, sum(INSTRUCTION_WIDTHS))
        assert ws.row_dimensions[c.row].height >= lines * 13, c.value
    sector = contract.PROFILE.column("sector")
    assert requirement(sector).count("现代制造业") == 1


def test_instructions_page_is_landscape_and_fits_a4():
    from pipelines.lib.exports.excel import A4_LANDSCAPE_WIDTH
    from pipelines.lib.forms.template import INSTRUCTION_WIDTHS
    assert sum(INSTRUCTION_WIDTHS) <= A4_LANDSCAPE_WIDTH


def test_skill_level_drop_down_lists_the_seed_levels(template, tmp_path):
    """技能等级 offers exactly ref_skill_levels.csv's levels, lowest first; the seed file is the one owner
    (the contract derives its lists from it through domain.reference.skill_levels)."""
    import csv

    from pipelines.lib.domain.reference import SKILL_LEVELS_CSV, skill_levels
    with SKILL_LEVELS_CSV.open(encoding="utf-8-sig", newline="") as fh:
        seed = sorted(csv.DictReader(fh), key=lambda r: -int(r["level_no"]))
    assert contract.SKILL_LEVELS == tuple(r["skill_level"] for r in seed)
    assert contract.HIGH_SKILL_LEVELS == tuple(r["skill_level"] for r in seed if r["is_high_skill"] == "true")
    assert contract.TECHNICIAN_LEVELS == tuple(r["skill_level"] for r in seed if r["is_technician"] == "true")
    roster = next(s for s in contract.SHEETS if any(c.key == "skill_level" for c in s.columns))
    i = next(i for i, c in enumerate(roster.columns) if c.key == "skill_level")
    ws = openpyxl.load_workbook(template)[roster.name]
    formula = _validated_columns(ws)[openpyxl.utils.get_column_letter(i + 1)][1]
    assert formula.strip('"').split(",") == list(contract.SKILL_LEVELS)
    # A changed seed changes what the reader gives (a 12th-plan level, say), with no code change.
    changed = tmp_path / "ref_skill_levels.csv"
    changed.write_text(SKILL_LEVELS_CSV.read_text(encoding="utf-8")
                       + "特级技师,国家职业资格特级,0,true,true\n", encoding="utf-8")
    levels = skill_levels(changed)
    assert levels.all[-1] == "特级技师" and levels.technician[-1] == "特级技师"
    assert levels.all[:-1] == contract.SKILL_LEVELS


def test_instructions_give_an_example_row_for_every_sheet(template):
    """The 示例 column: a value for every column of every sheet, typed as the template expects it, and
    figures that pass the contract's own relations (levels within the skilled workers, the fund split)."""
    import datetime as dt

    from pipelines.lib.domain.reference import thresholds_for
    from pipelines.lib.forms.template import EXAMPLE, example_value
    ws = openpyxl.load_workbook(template)[INSTRUCTIONS_SHEET]
    header = next(row for row in ws.iter_rows() if row[0].value == "工作表" and row[-1].value == "示例")
    examples = {(r[0].value, r[1].value): r[len(header) - 1].value for r in ws.iter_rows(min_row=header[0].row + 1)}
    for sheet in contract.SHEETS:
        for column in sheet.columns:
            value = examples.get((sheet.name, column.header))
            assert value and value == example_value(column), (sheet.name, column.header)
            if column.enum:
                assert value in column.enum
            elif column.type == contract.BOOL:
                assert value in ("是", "否")
            elif column.type == contract.DATE:
                dt.date.fromisoformat(value)
            elif column.type in (contract.INT, contract.AMOUNT, contract.YUAN, contract.NUMBER):
                assert float(value.replace(",", "")) >= 0
            elif column.type == contract.ID_NUMBER:
                assert not any(ch.isdigit() for ch in value)  # a placeholder, never a number that looks real
    n = {c.key: float(example_value(c).replace(",", "")) for s in contract.SHEETS for c in s.columns
         if c.type in (contract.INT, contract.AMOUNT)}
    levels = [n[k] for k in n if k.startswith("level")]
    assert sum(levels) <= n["skilled_workers"] <= n["employees_total"]
    limits = thresholds_for(EXAMPLE["period"])  # the policy's limits of the example's quarter (the seed's)
    assert n["fund_extracted"] >= limits["fund_ratio_min"] * n["payroll"]
    assert n["fund_spent_frontline"] >= limits["frontline_share_min"] * n["fund_spent"]
