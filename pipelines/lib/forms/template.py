"""The blank workbook an enterprise fills in (高技能人才工作季度报表 填报模板).

Everything on it is derived from pipelines.lib.domain.contract: the instructions sheet is written from
the sheet descriptions and column rules, each data sheet carries the contract headers (blue for
columns that must be filled, grey for the others), drop-down lists for enum and 是/否 columns,
range checks for numbers and dates, number formats by type and a comment with the rule. Every
sheet prints landscape, one page wide, with the header row repeated and the sheet name and page
numbers in the page header and footer.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from xlsxwriter.utility import xl_col_to_name

from pipelines.lib.domain import contract
from pipelines.lib.domain.contract import Column, Sheet
from pipelines.lib.domain.periods import DEFAULT_DEADLINE_DAY, Period
from pipelines.lib.domain.reference import POLICY_TITLE, load_threshold_rows, thresholds_for_period
from pipelines.lib.domain.rule_text import render, trimmed
from pipelines.lib.exports import excel
from pipelines.lib.forms.submission_writer import (
    FIXED_CREATED,
    NUMBER_FORMATS,
    SheetFormats,
    new_workbook,
    prepare_worksheet,
)

INSTRUCTIONS_SHEET = "填报说明"

# Rows a person-level sheet gets validations and formats for (a generous quarter's worth).
LIST_SHEET_ROWS = 5000

_TYPE_ZH = {
    contract.CODE9: "组织机构代码（文本）",
    contract.TEXT: "文本",
    contract.PERIOD: "报告期 YYYYQn",
    contract.ENUM: "下拉选择",
    contract.INT: "整数（人/项）",
    contract.AMOUNT: "金额（万元，两位小数）",
    contract.YUAN: "金额（元）",
    contract.NUMBER: "数值",
    contract.BOOL: "是/否",
    contract.DATE: "日期 YYYY-MM-DD",
    contract.ID_NUMBER: "身份证号（文本）",
}

GENERAL_NOTES = (
    "一、每个企业（法人单位）每个季度报送一份，文件名为“组织机构代码_报告期.xlsx”，如 MA62K026-0_2008Q2.xlsx。",
    f"二、报送截止日：季度结束后次月{DEFAULT_DEADLINE_DAY}日（如第二季度报表于7月{DEFAULT_DEADLINE_DAY}日前报送）。逾期仍可报送，但记为逾期。",
    "三、各表第1行为列名，请勿修改、删除或合并列名单元格，勿在列名上方插入标题行；数据从第2行开始填写。",
    "四、金额单位：经费情况表为“万元”（保留两位小数），收入为“元”。请勿将“元”误填为“万元”。",
    "五、“是/否”列请从下拉列表选择“是”或“否”；日期填写为 YYYY-MM-DD（如 2008-06-30）。",
    "六、组织机构代码填写9位（如 MA62K026-0），校验位须正确；身份证号填写18位，以文本格式保存。",
    "七、高技能人才 = 高级工 + 技师 + 高级技师；人数均为季末时点数，经费为本季发生额。",
    "八、更正重报：发现错误时请修改后重新报送整份文件（可命名为“组织机构代码_报告期_v2.xlsx”），以最后收到的版本为准，历次版本均留存备查。",
    "九、身份证号、姓名属个人信息，仅用于高技能人才信息库，入库时即作假名化处理。",
    f"十、依据：{POLICY_TITLE}。",
    "十一、各表表头为蓝色的列为必填列，灰色的列可不填（“无则留空”或整列为选填列）；鼠标移到列名上可查看该列的填写要求；"
    "有下拉箭头的单元格请从下拉列表中选择，数值、日期超出范围时Excel会提示。",
)

PRINT_TITLE = f"高技能人才工作季度报表 填报模板（报表版本 {contract.CONTRACT_VERSION}）"
MANDATORY_FILL, OPTIONAL_FILL = "#DDEBF7", "#EDEDED"
INPUT_FILL = "#FFFDE7"  # the one data row of single-row sheets: where to type

# Instructions sheet: 工作表 | 列名 | 类型 | 填写 | 填写要求 | 依据 | 示例
INSTRUCTION_WIDTHS = (12.0, 24.0, 20.0, 8.0, 50.0, 11.0, 20.0)

# One example row per sheet (an invented enterprise; the figures agree with each other and with the policy:
# levels add up, 1.5 % extracted, 60 % of the spending on front-line workers). Values by column key; enum
# columns take a choice from the contract (``EXAMPLE_CHOICE``), personal data is shown as a placeholder.
EXAMPLE: dict[str, object] = {
    "org_code": "MA62K026-0", "enterprise_name": "北京某某机床有限公司", "period": "2008Q2",
    "group_org_code": "MA62K026-0", "industry_code": "C34", "employees_total": 1200, "frontline_workers": 800,
    "skilled_workers": 900, "level5_junior": 300, "level4_intermediate": 350, "level3_senior": 180,
    "level2_technician": 50, "level1_senior_technician": 20, "chief_technicians": 5, "key_trainees": 40,
    "training_accounts": 40, "preparer": "（填报人姓名）", "phone": "010-12345678", "submitted_on": dt.date(2008, 7, 10),
    "payroll": 5000.00, "fund_extracted": 75.00, "fund_spent": 60.00, "fund_spent_frontline": 40.00,
    "fund_spent_high_skill": 20.00, "fund_school_enterprise": 8.00, "innovation_rewards": 5.00,
    "congress_report_date": dt.date(2008, 6, 20),
    "avg_income_high_skill": 65000, "avg_income_general_skill": 48000, "avg_income_professional": 62000,
    "model_workers_total": 10, "model_workers_high_skill": 4, "cadres_from_high_skill": 2,
    "party_members_from_high_skill": 3, "deputies_from_high_skill": 1,
    "suggestions": 120, "innovations": 15, "best_practices": 6, "new_records": 2, "participants": 300,
    "id_number": "（身份证号，十八位）", "name": "（姓名）", "birth_date": dt.date(1975, 3, 12), "occupation": "数控车工",
    "cert_no": "0811000000123", "cert_date": dt.date(2006, 11, 30),
    "course_name": "数控加工技师研修班", "start_date": dt.date(2008, 4, 7), "end_date": dt.date(2008, 4, 18),
    "hours": 80, "cost": 3500, "provider": "北京市某职业技能培训学校",
}
# Which choice of an enum column's list the example takes (default the first): a senior worker on a
# technicians' course.
EXAMPLE_CHOICE = {"skill_level": 2, "training_type": 1}
EXAMPLE_BOOL = {"is_chief_technician": False, "certified": False}  # every other 是/否 column: 是


def example_value(column: Column) -> str:
    """The example row's value of ``column``, as a clerk would type it."""
    if column.enum:
        return column.enum[min(EXAMPLE_CHOICE.get(column.key, 0), len(column.enum) - 1)]
    if column.type == contract.BOOL:
        return "是" if EXAMPLE_BOOL.get(column.key, True) else "否"
    value = EXAMPLE.get(column.key)
    if isinstance(value, dt.date):
        return value.isoformat()
    if column.type == contract.AMOUNT and isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and column.type in (contract.YUAN, contract.INT):
        return f"{value:,}" if column.type == contract.YUAN else str(value)
    return "" if value is None else str(value)

# Narrowest sensible column by type (what a typical value needs), before the header is considered.
_MIN_WIDTH = {contract.ID_NUMBER: 21, contract.CODE9: 13, contract.DATE: 12, contract.TEXT: 16, contract.PERIOD: 10,
              contract.AMOUNT: 12, contract.YUAN: 12, contract.INT: 10, contract.NUMBER: 10, contract.BOOL: 10}


def in_force_today() -> Period:
    """The quarter whose thresholds the blank template states (contract texts name them by key): today's."""
    return Period.from_date(dt.date.today())


def column_rule(column: Column, period: Period | None = None) -> str:
    """A column's rule as a clerk reads it, its thresholds those in force in ``period`` (default: today's)."""
    return render(column.rule, load_threshold_rows(), period or in_force_today())


def header_comment(sheet: Sheet, column: Column) -> str:
    parts = [f"{column.header}：{_TYPE_ZH[column.type]}"]
    if column.enum and "/".join(column.enum) not in column.rule:
        parts.append("可选：" + "/".join(column.enum))
    if column.rule:
        parts.append(column_rule(column))
    if column.mandatory:
        parts.append("必填")
    elif not column.required:
        parts.append("选填列")
    if column.clause:
        parts.append(f"依据{column.clause}")
    return "；".join(parts)


def fill_rule(column: Column) -> str:
    """必填 (every row), 无则留空 (the column is there, a value may be missing) or 选填列 (may be left out)."""
    if column.mandatory:
        return "必填"
    return "无则留空" if column.required else "选填列"


def requirement(column: Column) -> str:
    """What the instructions table says about a column, without repeating its name and type."""
    parts = []
    options = "/".join(column.enum)
    if column.enum and options not in column.rule:
        parts.append("可选：" + options)
    if column.rule == "元":
        parts.append("单位为元（不是万元）")
    elif column.rule:
        parts.append(column_rule(column))
    return "；".join(parts) or "—"


def _write_instructions(wb, formats: SheetFormats) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ws.hide_gridlines(2)
    font = {"font_size": 10, "valign": "top"}
    add = wb.add_format
    title = add({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    note = add({**font, "italic": True, "font_color": "#595959", "align": "center"})
    section = add({**font, "bold": True, "font_size": 12, "bg_color": MANDATORY_FILL, "valign": "vcenter"})
    header = add({**font, "bold": True, "text_wrap": True, "align": "center", "valign": "vcenter", "border": 1,
                  "bg_color": MANDATORY_FILL})
    para = add({**font, "text_wrap": True})
    cell = add({**font, "text_wrap": True, "border": 1, "border_color": "#A6A6A6"})
    centre = add({**font, "text_wrap": True, "border": 1, "border_color": "#A6A6A6", "align": "center"})
    must = add({**font, "border": 1, "border_color": "#A6A6A6", "align": "center", "bold": True,
                "bg_color": MANDATORY_FILL})
    may = add({**font, "border": 1, "border_color": "#A6A6A6", "align": "center", "bg_color": OPTIONAL_FILL})
    widths = INSTRUCTION_WIDTHS
    last = len(widths) - 1
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)

    def span(r: int, a: int, b: int, text: str, fmt) -> None:
        if b > a:
            ws.merge_range(r, a, r, b, "", fmt)
        ws.write_string(r, a, text, fmt)

    def height(r: int, cells: list[tuple[str, float]], minimum: float = 0) -> None:
        ws.set_row(r, max(minimum, excel.row_height(cells, line_height=13.5)))

    ws.set_row(0, 32)
    span(0, 0, last, f"高技能人才工作季度报表 填报说明（报表版本 {contract.CONTRACT_VERSION}）", title)
    span(1, 0, last, "北京市国资委 依据京国资党发〔2008〕8号制定；本工作簿即报送模板，请在各工作表中填写后按下列要求报送。", note)
    row = 3
    ws.set_row(row, 21)
    span(row, 0, last, "填报要求", section)
    row += 1
    for text in GENERAL_NOTES:
        span(row, 0, last, text, para)
        height(row, [(text, sum(widths))])
        row += 1

    row += 1
    ws.set_row(row, 21)
    span(row, 0, last, "工作表一览", section)
    row += 1
    for a, b, text in ((0, 0, "工作表"), (1, 1, "是否必报"), (2, 3, "填写方式"), (4, last, "内容")):
        span(row, a, b, text, header)
    row += 1
    for sheet in contract.SHEETS:
        text = sheet.description + (f"（依据{sheet.clause}）" if sheet.clause else "")
        span(row, 0, 0, sheet.name, centre)
        span(row, 1, 1, "必报" if sheet.required else "选报（可不报此表）", must if sheet.required else may)
        span(row, 2, 3, "仅一行数据（第2行）" if sheet.single_row else "一人（一次）一行，从第2行起", cell)
        span(row, 4, last, text, cell)
        height(row, [(text, sum(widths[4:]))])
        row += 1

    row += 1
    ws.set_row(row, 21)
    span(row, 0, last, "各列填写要求及示例（表头为蓝色的列必填；“示例”一列自上而下即各表的一行示例数据，为虚构企业）", section)
    row += 1
    for i, text in enumerate(("工作表", "列名", "类型", "填写", "填写要求", "政策依据", "示例")):
        span(row, i, i, text, header)
    rules_header = row
    row += 1
    for sheet in contract.SHEETS:
        for column in sheet.columns:
            need = fill_rule(column)
            text = requirement(column)
            span(row, 0, 0, sheet.name, centre)
            span(row, 1, 1, column.header, cell)
            span(row, 2, 2, _TYPE_ZH[column.type], cell)
            span(row, 3, 3, need, must if need == "必填" else may)
            span(row, 4, 4, text, cell)
            span(row, 5, 5, column.clause or "—", centre)
            example = example_value(column)
            span(row, 6, 6, example, cell)
            height(row, [(column.header, widths[1]), (text, widths[4]), (_TYPE_ZH[column.type], widths[2]),
                         (example, widths[6])])
            row += 1
    excel.setup_print(ws, PRINT_TITLE, total_width=sum(widths), last_row=row - 1, last_col=last,
                      repeat_row=rules_header)


def _validate(ws, col: int, first: int, last: int, column: Column) -> None:
    """Drop-down lists for enum/bool columns; simple range checks for numbers and dates."""
    if column.type == contract.BOOL or column.enum:
        source = ["是", "否"] if column.type == contract.BOOL else list(column.enum)
        ws.data_validation(first, col, last, col, {
            "validate": "list", "source": source, "error_title": column.header,
            "error_message": "请从下拉列表中选择：" + "/".join(source),
        })
    elif column.type == contract.INT:
        ws.data_validation(first, col, last, col, {
            "validate": "integer", "criteria": ">=", "value": 0, "error_title": column.header,
            "error_message": "请填写不小于0的整数",
        })
    elif column.type in (contract.AMOUNT, contract.YUAN):
        unit = "万元" if column.type == contract.AMOUNT else "元"
        ws.data_validation(first, col, last, col, {
            "validate": "decimal", "criteria": ">=", "value": 0, "error_title": column.header,
            "error_message": f"请填写不小于0的金额（单位：{unit}）",
        })
    elif column.type == contract.NUMBER:
        most = thresholds_for_period(load_threshold_rows(), in_force_today(), {"max_training_hours"})["max_training_hours"]
        ws.data_validation(first, col, last, col, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": most,
            "error_title": column.header, "error_message": f"请填写0—{trimmed(most)}之间的数值",
        })
    elif column.type == contract.DATE:
        ws.data_validation(first, col, last, col, {
            "validate": "date", "criteria": "between", "minimum": dt.date(1900, 1, 1),
            "maximum": dt.date(2099, 12, 31), "error_title": column.header,
            "error_message": "请填写日期，格式 YYYY-MM-DD（如 2008-06-30）",
        })


def template_column_width(column: Column) -> float:
    """Wide enough for a typical value (or the longest drop-down choice) and the header on at most two lines."""
    width = float(_MIN_WIDTH.get(column.type, 10))
    if column.enum:
        width = max(width, max(excel.display_width(v) for v in column.enum) + 4)  # room for the arrow
    header = excel.display_width(column.header)
    if header + 3 > width:
        width = max(width, min(header + 3, math.ceil(header / 2) + 4))
    return width


def _sheet_formats(wb) -> dict[str, object]:
    head = {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center", "border": 1}
    fmts: dict[str, object] = {
        "must": wb.add_format({**head, "bg_color": MANDATORY_FILL}),
        "may": wb.add_format({**head, "bg_color": OPTIONAL_FILL, "font_color": "#404040"}),
    }
    for kind, num_format in NUMBER_FORMATS.items():
        fmts[kind] = wb.add_format({"num_format": num_format, "border": 1, "border_color": "#BFBFBF",
                                    "bg_color": INPUT_FILL})
    return fmts


def write_template(path: Path) -> None:
    """Write the blank workbook: 填报说明 first, then one sheet per contract sheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = new_workbook(path)
    wb.set_properties({"created": FIXED_CREATED, "author": "北京市国资委", "company": "北京市国资委",
                       "title": PRINT_TITLE})
    formats = SheetFormats(wb)
    own = _sheet_formats(wb)
    _write_instructions(wb, formats)
    for sheet in contract.SHEETS:
        ws, columns, first = prepare_worksheet(wb, formats, sheet)
        last = first if sheet.single_row else first + LIST_SHEET_ROWS - 1
        widths = []
        for i, column in enumerate(columns):
            widths.append(template_column_width(column))
            ws.set_column(i, i, widths[-1], formats.by_type[column.type])
            # blue header: must be filled on every row; grey: may stay blank or the column may be left out
            ws.write_string(first - 1, i, column.header, own["must"] if column.mandatory else own["may"])
            ws.write_comment(first - 1, i, header_comment(sheet, column), {"x_scale": 2, "y_scale": 1.5})
            _validate(ws, i, first, last, column)
            if sheet.single_row:
                # The one prepared data row: formatted, blank, so the clerk types into the right cells.
                ws.write_blank(first, i, None, own[column.type])
        # codes, IDs and phone numbers are text on purpose: no green "number stored as text" triangles
        ws.ignore_errors({"number_stored_as_text": f"A{first + 1}:{xl_col_to_name(len(columns) - 1)}{last + 1}"})
        excel.setup_print(ws, PRINT_TITLE, total_width=sum(widths), repeat_row=first - 1)
    wb.close()

