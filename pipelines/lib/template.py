"""The blank workbook an enterprise fills in (高技能人才工作季度报表 填报模板).

Everything on it is derived from pipelines.lib.contract: the instructions sheet is written from
the sheet descriptions and column rules, each data sheet carries the contract headers, drop-down
lists for enum and 是/否 columns, number formats by type and a comment with the rule.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.lib import contract
from pipelines.lib.contract import Column, Sheet
from pipelines.lib.periods import DEFAULT_DEADLINE_DAY
from pipelines.lib.submission_writer import SheetFormats, new_workbook, prepare_worksheet

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
    "十、依据：京国资党发〔2008〕8号《关于加强国有企业高技能人才工作的意见》。",
)


def header_comment(sheet: Sheet, column: Column) -> str:
    parts = [f"{column.header}：{_TYPE_ZH[column.type]}"]
    if column.enum:
        parts.append("可选：" + "/".join(column.enum))
    if column.rule:
        parts.append(column.rule)
    if column.mandatory:
        parts.append("必填")
    elif not column.required:
        parts.append("选填列")
    if column.clause:
        parts.append(f"依据{column.clause}")
    return "；".join(parts)


def _write_instructions(wb, formats: SheetFormats) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 16)
    ws.set_column(2, 2, 22)
    ws.set_column(3, 3, 70)
    ws.merge_range(0, 0, 0, 3, f"高技能人才工作季度报表 填报说明（报表版本 {contract.CONTRACT_VERSION}）", formats.title)
    row = 2
    for note in GENERAL_NOTES:
        ws.merge_range(row, 0, row, 3, note, wrap)
        ws.set_row(row, 30)
        row += 1
    row += 1
    for i, text in enumerate(("工作表", "是否必报", "行数", "说明")):
        ws.write_string(row, i, text, formats.header)
    row += 1
    for sheet in contract.SHEETS:
        ws.write_string(row, 0, sheet.name, wrap)
        ws.write_string(row, 1, "必报" if sheet.required else "选报", wrap)
        ws.write_string(row, 2, "仅一行数据" if sheet.single_row else "一人（一次）一行", wrap)
        ws.write_string(row, 3, sheet.description + (f"（依据{sheet.clause}）" if sheet.clause else ""), wrap)
        row += 1
    row += 1
    for i, text in enumerate(("工作表", "列名", "类型", "填写要求")):
        ws.write_string(row, i, text, formats.header)
    row += 1
    for sheet in contract.SHEETS:
        for column in sheet.columns:
            ws.write_string(row, 0, sheet.name, wrap)
            ws.write_string(row, 1, column.header, wrap)
            ws.write_string(row, 2, _TYPE_ZH[column.type], wrap)
            ws.write_string(row, 3, header_comment(sheet, column), wrap)
            row += 1
    ws.freeze_panes(1, 0)


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
        ws.data_validation(first, col, last, col, {
            "validate": "decimal", "criteria": ">=", "value": 0, "error_title": column.header,
            "error_message": "请填写不小于0的金额",
        })
    elif column.type == contract.NUMBER:
        ws.data_validation(first, col, last, col, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 2000,
            "error_title": column.header, "error_message": "请填写0—2000之间的数值",
        })


def write_template(path: Path) -> None:
    """Write the blank workbook: 填报说明 first, then one sheet per contract sheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = new_workbook(path)
    formats = SheetFormats(wb)
    _write_instructions(wb, formats)
    for sheet in contract.SHEETS:
        ws, columns, first = prepare_worksheet(wb, formats, sheet)
        last = first if sheet.single_row else first + LIST_SHEET_ROWS - 1
        for i, column in enumerate(columns):
            ws.write_comment(first - 1, i, header_comment(sheet, column), {"x_scale": 2, "y_scale": 1.5})
            _validate(ws, i, first, last, column)
            if sheet.single_row:
                # The one prepared data row: formatted, blank, so the clerk types into the right cells.
                ws.write_blank(first, i, None, formats.by_type[column.type])
    wb.close()
