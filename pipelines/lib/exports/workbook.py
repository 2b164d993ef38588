"""目标跟踪表 (named after the plans of its quarters): the analysts' workbook, one sheet per tracking table of the policy.

Reads the published warehouse (schema ``marts``) read-only, one query per table, and writes an
xlsx with Chinese headers, frozen header rows, autofilters, number formats and coloured status
cells, printable (A4 landscape, one page wide, header row on every page, sheet name and page
numbers in the page header and footer). The file is deterministic: the same marts give the same bytes.

What a person reads comes first: each sheet shows the columns of ``TrackingSheet.shown`` (in that
order); every other column of the mart — codes, hex ids, details — follows them, folded (outline level 1,
hidden; the "+" above the columns opens them) and not printed. Cells hold the exact values, and their number
format shows them rounded: "92.6%" is 0.9259163134 underneath, so a C03 「否」 beside 1.457% is not contradicted
by a stored 1.5%.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.exports import excel
from pipelines.lib.exports.display import (
    NO_GAIN_NEEDED,
    PP_PER_YEAR_UNIT,
    PP_UNIT,
    Display,
    gain_text,
    read_display,
)
from pipelines.lib.exports.receipts import flag_value
from pipelines.lib.exports.revisions import REVISION_COLUMNS, Ledger

EXCEL_MAX_ROWS = 1_048_576

# ---------------------------------------------------------------------------------------------
# Headers are the marts' column comments (the dbt yml descriptions, see display.column_label).
# Kinds for numbers come from RATIO_COLUMNS / AMOUNT_COLUMNS, else from the DuckDB type
# (integer -> count, double -> decimal, boolean -> 是/否, date, timestamp).
# ---------------------------------------------------------------------------------------------
RATIO_COLUMNS = frozenset({
    "high_skill_share", "beijing_average", "gap_to_beijing", "baseline_share", "target_share", "trajectory_share",
    "current_pace_per_year", "required_gain_per_year", "projected_target_year_share", "coverage", "coverage_min",
    "extraction_ratio", "fund_ratio_min", "frontline_share", "frontline_share_min", "equal_treatment_ratio",
    "equal_treatment_ratio_min", "model_worker_high_skill_share", "workforce_high_skill_share",
    "fund_ratio_quarter", "roster_count_gap_ratio",
})
AMOUNT_COLUMNS = frozenset({
    "payroll", "fund_extracted", "fund_spent", "fund_spent_frontline", "fund_spent_high_skill",
    "fund_school_enterprise", "innovation_rewards", "avg_income_high_skill", "avg_income_general_skill",
    "avg_income_professional", "income_gap", "income_gap_prev_year", "income_gap_change", "payroll_history_median",
    "payroll_per_employee",
})
ORG_COLUMNS = frozenset({"org_code", "group_org_code"})
# The warehouse's display form of org_code, for analysts' joins: the workbook shows org_code in that form already.
DISPLAY_TWINS = frozenset({"org_code_display"})
STATUS_COLUMNS = frozenset({"status", "status_code", "severity"})
TEXT_COLUMNS = frozenset({"year", "quarter", "target_year", "source_row", "version_no"})  # no thousands separator
# Differences of shares are percentage points with their sign (+1.9百分点 above the Beijing average), the
# yearly ones per year (+0.4百分点/年): the report's and the receipts' wording.
SIGNED_RATIO_COLUMNS = frozenset({"gap_to_beijing", "current_pace_per_year", "required_gain_per_year"})
PER_YEAR_COLUMNS = frozenset({"current_pace_per_year", "required_gain_per_year"})
SIGNED_AMOUNT_COLUMNS = frozenset({"income_gap_change"})
# 是/否 columns where 是 is the bad news (highlighted), and is_* columns where neither answer is.
BAD_WHEN_TRUE_COLUMNS = frozenset({"is_late", "is_missing", "is_rejected", "is_duplicate"})
# Long texts: wrapped in a column of this width (the row grows), or cut at this width (repeated texts).
WRAP_WIDTHS = {"message_zh": 34.0, "reasons_zh": 36.0, "moved": 40.0, "basis": 12.0, "verdict_caveat": 12.0,
               "observed_value": 11.0, "threshold": 11.0, "column_name": 11.0}
FIXED_WIDTHS = {"benchmark_source": 24.0, "flag_id": 12.0, "submission_id": 14.0, "current_submission_id": 14.0,
                "latest_submission_id": 14.0}

# Codes shown in Chinese where the column is not itself a code column (状态代码, 统计口径代码 stay codes):
# column -> domain of reference.ref_statuses / ref_severities.
DISPLAY_DOMAINS = {"period_type": "period_type", "benchmark_status": "benchmark",
                   "target_benchmark_status": "benchmark", "severity": "severity", "source": "flag_source"}
# Observed values and thresholds of the findings that are codes rather than what a clerk typed.
FINDING_VALUE_COLUMNS = frozenset({"observed_value", "threshold"})

_ORG_RE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")


def _display_org(v: Any) -> Any:
    return format_org_code(v) if isinstance(v, str) and _ORG_RE.match(v) else v


def column_kind(key: str, duck_type: str) -> str:
    t = duck_type.upper()
    if key in ORG_COLUMNS or key == "entity_code":
        return excel.ORG
    if key in STATUS_COLUMNS:
        return excel.STATUS
    if key in SIGNED_RATIO_COLUMNS:
        return excel.SIGNED_RATIO
    if key in RATIO_COLUMNS:
        return excel.RATIO
    if key in SIGNED_AMOUNT_COLUMNS:
        return excel.SIGNED_AMOUNT
    if key in AMOUNT_COLUMNS:
        return excel.AMOUNT
    if key in TEXT_COLUMNS:
        return excel.TEXT
    if t == "BOOLEAN":
        if key in BAD_WHEN_TRUE_COLUMNS:
            return excel.BOOL_BAD
        return excel.BOOL_PLAIN if key.startswith("is_") else excel.BOOL
    if t.startswith("TIMESTAMP"):
        return excel.DATETIME
    if t == "DATE":
        return excel.DATE
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return excel.COUNT
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        return excel.DECIMAL
    return excel.TEXT


def _converter(key: str, display: Display) -> Callable[[Any], Any] | None:
    if key == "required_gain_per_year":  # none needed reads as the exports' one wording, not a negative gain
        return lambda v: NO_GAIN_NEEDED if isinstance(v, int | float) and gain_text(v) == NO_GAIN_NEEDED else v
    if key in DISPLAY_DOMAINS:
        words = display.labels(DISPLAY_DOMAINS[key])
        return lambda v: words.get(v, v) if isinstance(v, str) else v
    return None


def column_specs(table: str, cols: list[tuple[str, str]], display: Display,
                 shown: tuple[str, ...] | None = None) -> list[excel.ColumnSpec]:
    """The sheet's columns: ``shown`` first in its order, then the others folded (all shown when None)."""
    names = [k for k, _ in cols]
    order = ([k for k in shown if k in names] + [k for k in names if k not in shown]) if shown else names
    types = dict(cols)
    specs = []
    for key in order:
        kind = column_kind(key, types[key])
        convert = _display_org if kind == excel.ORG else _converter(key, display)
        if kind == excel.SIGNED_RATIO:
            kind = excel.SIGNED_PP_YEAR if key in PER_YEAR_COLUMNS else excel.SIGNED_PP
        width = WRAP_WIDTHS.get(key) or FIXED_WIDTHS.get(key)
        specs.append(excel.ColumnSpec(key, display.column_label(_comment_table(table, key), key), kind, convert,
                                      width=width, wrap=key in WRAP_WIDTHS,
                                      folded=bool(shown) and key not in shown))
    return specs


# Columns a sheet adds to its mart (joined), whose headers are the comments of the table they come from.
EXTRA_COLUMN_TABLES = {"enterprise_name": "dim_enterprises"}


def _comment_table(table: str, key: str) -> str:
    return EXTRA_COLUMN_TABLES.get(key, table) if table == "compliance_flags" else table


# ---------------------------------------------------------------------------------------------
# The sheets
# ---------------------------------------------------------------------------------------------
_GRAIN_ORDER = "case grain when 'system' then 0 when 'sector' then 1 when 'group' then 2 else 3 end"
# 全部 first, then the levels from 高级工 up (reference.ref_skill_levels.level_no, 3 … 1).
_LEVEL_JOIN = "left join reference.ref_skill_levels lvl on lvl.skill_level = t.skill_level"
_LEVEL_ORDER = "lvl.level_no desc nulls first"


@dataclass(frozen=True)
class TrackingSheet:
    name: str
    table: str
    description: str  # {trajectory}, {filing}: the status names of reference.ref_statuses
    order_by: str
    join: str = ""
    shown: tuple[str, ...] = ()  # the columns people read and print, in order; the rest are folded
    extra: str = ""  # more select items from ``join`` (e.g. the enterprise name of a finding)


TRACKING_SHEETS: tuple[TrackingSheet, ...] = (
    TrackingSheet("1 高技能人才比例跟踪", "high_skill_share_tracking",
                  "C05（§二）：企业、集团、重点领域、全系统按季度和年度的高技能人才占比，与北京市平均水平的差距，"
                  "基期值，达到目标年目标每年需提高多少，按当前速度目标年预计占比，以及状态"
                  "（{trajectory}）。年度行的报告期记为当年Q4。每行的汇总口径和纳入企业数见其两列（分析指南“口径”一节）。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code",
                  shown=("grain_zh", "entity_code", "entity_name", "period", "basis", "enterprises_reported",
                         "high_skill_share", "beijing_average", "gap_to_beijing", "target_share", "required_gain_per_year", "projected_target_year_share", "status", "c05_ok")),
    TrackingSheet("2 培训覆盖跟踪", "training_coverage_tracking",
                  "C01/C02（§三.1 每年培训{trainings_per_year_min}次）：高技能人才人数、本年已培训至少{trainings_per_year_min}次"
                  "人数、覆盖率，全部高技能人才及按技能等级分列。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code, {_LEVEL_ORDER}", _LEVEL_JOIN,
                  shown=("grain_zh", "entity_code", "entity_name", "period", "basis", "skill_level",
                         "enterprises_reported", "headcount", "trained", "coverage", "coverage_min", "c02_ok")),
    TrackingSheet("3 经费提取使用跟踪", "fund_tracking",
                  "C03/C04（§四.2）：工资总额、教育培训经费提取额及提取比例（与提取比例下限比较）、使用额及用于一线职工的比例"
                  "（与一线职工比例下限比较）。季度行为年初至本季累计；汇总行剔除疑似单位错误的企业季度；"
                  "结论所依据的企业季度不全时，“结论依据不足的说明”列写明。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code",
                  shown=("grain_zh", "entity_code", "entity_name", "period", "basis", "enterprises_reported",
                         "payroll", "fund_extracted", "extraction_ratio", "fund_ratio_min", "c03_ok",
                         "fund_spent", "fund_spent_frontline", "frontline_share", "frontline_share_min", "c04_ok",
                         "verdict_caveat")),
    TrackingSheet("4 制度建设落实", "governance_matrix",
                  "C06–C08、C12、C13：领导小组、培养规划、信息库、职代会报告、首席技师制度、个人培训账户、技师研修与后备梯队制度，逐企业矩阵。"
                  "C07 按本年各季度的报告计数，所依据的季度不全时紧随其后的一列写明。",
                  "period_type desc, period, org_code",
                  shown=("org_code", "enterprise_name", "period_type", "period", "has_leading_group", "has_training_plan",
                         "has_talent_database", "c06_ok", "c07_ok", "verdict_caveat", "c08_ok", "c12_ok", "c13_ok",
                         "in_manager_assessment")),
    TrackingSheet("5 激励待遇", "incentives_tracking",
                  "C09–C11（§三.4）：高技能人才与同级专业技术人员收入比、与一般技能人才收入差距的变化、劳动模范评选向高技能人才倾斜情况，逐企业逐年。"
                  "C11 按本年各季度之和判定，所依据的季度不全时紧随其后的一列写明。",
                  "year, org_code",
                  shown=("org_code", "enterprise_name", "year", "avg_income_high_skill", "avg_income_professional",
                         "equal_treatment_ratio", "equal_treatment_ratio_min", "c09_ok", "income_gap",
                         "income_gap_change", "c10_ok", "model_worker_high_skill_share", "workforce_high_skill_share",
                         "c11_ok", "verdict_caveat")),
    TrackingSheet("6 报送情况", "filing_status",
                  "名录内每家企业每个报告期的报送情况（{filing}），收到版本数、首次收到时间和原因。",
                  "period, case when group_org_code is null then 1 else 0 end, group_org_code, org_code",
                  shown=("org_code", "enterprise_name", "period", "deadline_at", "status", "versions_received",
                         "first_arrived_at", "first_accepted_arrived_at", "reasons_zh")),
    TrackingSheet("7 问题清单", "compliance_flags",
                  "每一条问题：规则编号、政策条款、严重程度、企业、报告期、填报值、标准和中文说明；"
                  "工作表/行号/列名指向报表中的位置（涉及具体人员的问题由企业按行号核对，发布库不含人员假名）。",
                  "period, org_code, rule_id, sheet, source_row, column_name, flag_id",
                  "left join marts.dim_enterprises e on e.org_code = t.org_code",
                  shown=("org_code", "enterprise_name", "period", "rule_id", "clause", "severity", "sheet", "source_row",
                         "column_name", "observed_value", "threshold", "message_zh", "source"),
                  extra="e.enterprise_name"),
)


def _finding_values(specs: list[excel.ColumnSpec], display: Display) -> Callable[[tuple], tuple]:
    """A finding's observed value and threshold as the receipt shows them (96.3%, 是, 严重滞后)."""
    keys = [s.key for s in specs]
    rule, cols = keys.index("rule_id"), [keys.index(k) for k in FINDING_VALUE_COLUMNS if k in keys]

    def convert(row: tuple) -> tuple:
        row = list(row)
        for i in cols:
            row[i] = flag_value(row[rule], row[i], display)
        return row

    return convert


def _description(sheet: TrackingSheet, display: Display, periods: list[str]) -> str:
    """A sheet's description: its thresholds as in force over the workbook's periods, its status names."""
    names = {d: "/".join(display.labels(d).values()) for d in ("trajectory", "filing")}
    return display.text_over(sheet.description, periods).format(**names)


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position", [table]).fetchall()
        if r[0] not in DISPLAY_TWINS]


README_WIDTHS = (24.0, 84.0, 10.0, 12.0)


def workbook_title(display, first: str | None, horizon: str | None) -> str:
    """「高技能人才“十一五”目标跟踪表」: named after the plans of the quarters it holds (ref_policy_thresholds'
    plan_name rows), so the 12th plan's rows rename it; no plan name when no quarter is in a plan."""
    return f"高技能人才{display.plan_words(first, horizon)}目标跟踪表"


def _write_readme(wb, fmts: excel.Formats, title: str, horizon: str | None, counts: dict[str, int],
                  truncated: dict[str, int], periods: list[str], revisions: int | None = None) -> None:
    display = fmts.display
    ws = wb.add_worksheet("说明")
    for i, w in enumerate(README_WIDTHS):
        ws.set_column(i, i, w)
    last = len(README_WIDTHS) - 1
    text_width = sum(README_WIDTHS[1:])
    cell = fmts.fmt(excel.TEXT)

    def pair(r: int, key: str, value: str) -> None:
        """A label in A and a wrapped text over B:D, the row as tall as the text."""
        ws.merge_range(r, 1, r, last, "", fmts.wrap)
        excel.write_cell(ws, r, 0, key, fmts.label)
        excel.write_cell(ws, r, 1, value, fmts.wrap)
        ws.set_row(r, excel.row_height([(value, text_width)]))

    ws.set_row(0, 30)
    ws.merge_range(0, 0, 0, last, "", fmts.title)
    excel.write_cell(ws, 0, 0, f"北京市国资委 {title}", fmts.title)
    ws.merge_range(1, 0, 1, last, "", fmts.note)
    excel.write_cell(ws, 1, 0, f"依据：{POLICY_TITLE}", fmts.note)
    r = 3
    excel.write_cell(ws, r, 0, "数据截至报告期", fmts.label)
    excel.write_cell(ws, r, 1, horizon or "（无数据）", cell)
    r += 1
    pair(r, "生成说明", "由已发布数据库 data/marts/warehouse.duckdb（marts 模式；状态名称、颜色、北京市平均水平取自其 reference 模式，列名取自列注释）自动生成；同一数据重复生成结果完全一致。"
                    "比例以百分比显示（差距、年均提高带正负号），金额单位万元（收入为元），"
                    f"占比之差以{PP_UNIT}表示（每年的以{PP_PER_YEAR_UNIT}），单元格中的数值即显示的数值（已按显示位数取整）；"
                    "组织机构代码显示为 XXXXXXXX-X 形式。每个工作表首行冻结并可筛选；各表只展开阅读和打印所需的列，"
                    "代码、编号等其余列折叠在右侧（点击列标上方的“+”展开）。打印时A4横向、按页宽缩放，每页重复表头。")
    r += 2
    excel.write_cell(ws, r, 0, "工作表", fmts.header)
    ws.merge_range(r, 1, r, 2, "", fmts.header)
    excel.write_cell(ws, r, 1, "内容", fmts.header)
    excel.write_cell(ws, r, 3, "行数", fmts.header)
    r += 1
    for s in TRACKING_SHEETS:
        text = _description(s, display, periods)
        if s.table in truncated:
            text += f"（超出Excel行数上限，仅列出前{EXCEL_MAX_ROWS - 1:,}行，共{truncated[s.table]:,}行，完整数据见数据库 marts.{s.table}）"
        excel.write_cell(ws, r, 0, s.name, fmts.label)
        ws.merge_range(r, 1, r, 2, "", fmts.wrap)
        excel.write_cell(ws, r, 1, text, fmts.wrap)
        excel.write_cell(ws, r, 3, counts.get(s.table, 0), fmts.fmt(excel.COUNT))
        ws.set_row(r, excel.row_height([(text, README_WIDTHS[1] + README_WIDTHS[2])]))
        r += 1
    if revisions is not None:
        excel.write_cell(ws, r, 0, REVISIONS_SHEET, fmts.label)
        ws.merge_range(r, 1, r, 2, "", fmts.wrap)
        excel.write_cell(ws, r, 1, REVISIONS_TEXT, fmts.wrap)
        excel.write_cell(ws, r, 3, revisions, fmts.fmt(excel.COUNT))
        ws.set_row(r, excel.row_height([(REVISIONS_TEXT, README_WIDTHS[1] + README_WIDTHS[2])]))
        r += 1
    r += 1
    ws.set_row(r, 20)
    ws.merge_range(r, 0, r, last, "", fmts.subtitle)
    excel.write_cell(ws, r, 0, "北京市平均水平（高技能人才占技能劳动者比例）", fmts.subtitle)
    r += 1
    for i, col in enumerate(("year", "source", "high_skill_share", "status")):
        excel.write_cell(ws, r, i, display.column_label("ref_beijing_benchmark", col), fmts.header)
    r += 1
    for year, share, source, status in display.benchmark:
        status_zh = display.label("benchmark", status)
        excel.write_cell(ws, r, 0, str(year), cell)
        excel.write_cell(ws, r, 1, source, fmts.wrap)
        excel.write_cell(ws, r, 2, share, fmts.fmt(excel.RATIO))
        excel.write_cell(ws, r, 3, status_zh, fmts.status(status))
        ws.set_row(r, excel.row_height([(source or "", README_WIDTHS[1])]))
        r += 1
    r += 1
    assumed = next((c for c in display.domain("benchmark") if c.code == "assumed"), None)
    if assumed is not None:
        pair(r, "注意", f"标为“{assumed.label_zh}”的年份：{assumed.description_zh}。找到公开数据后只需更新参考数据。")
    r += 1
    bad_when_true = "".join(f"“{display.column_label('filing_status', k)}”" for k in sorted(BAD_WHEN_TRUE_COLUMNS)
                            if ("filing_status", k) in display.column_comments)
    pair(r, "状态颜色", f"{display.legend(('trajectory', 'filing', 'severity'))}。"
                     f"检查项为“否”（未达标）以{display.tones['bad'].label_zh}标出"
                     + (f"；{bad_when_true}列中的“是”以{display.tones['warn'].label_zh}标出。" if bad_when_true else "。"))
    excel.setup_print(ws, f"{title}（数据截至{horizon or '—'}）", total_width=sum(README_WIDTHS),
                      last_row=r, last_col=last)


REVISIONS_SHEET = "修订记录"
REVISIONS_TEXT = ("已发布季度被后来的发布版本修订的记录：每个版本、每个被修订的季度、每个原因一行（迟报或更正文件带企业和报送编号，"
                  "规则变更带规则版本），以及主要数字修订前后的数值。数据库 releases 模式。")
_REVISION_KINDS = {"release_no": excel.TEXT, "released_at": excel.DATETIME, "org_code": excel.ORG}


def _write_revisions(wb, fmts: excel.Formats, rows: list[tuple], print_title: str) -> None:
    """The 修订记录 sheet: ``rows`` of revisions.Ledger.revision_rows, one per release × quarter it revised × cause."""
    specs = [excel.ColumnSpec(key, label, _REVISION_KINDS.get(key, excel.TEXT),
                              _display_org if key == "org_code" else None,
                              width=WRAP_WIDTHS.get(key) or FIXED_WIDTHS.get(key), wrap=key in WRAP_WIDTHS)
             for key, label in REVISION_COLUMNS]
    excel.write_table(wb.add_worksheet(REVISIONS_SHEET), fmts, specs, rows, widths_from=rows[:2000],
                      print_title=print_title)


def write_tracking_workbook(db_path: Path, out_path: Path) -> Path:
    """Write the 目标跟踪表 from the published marts; returns ``out_path``."""
    db_path, out_path = Path(db_path), Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    wb = excel.new_workbook(tmp)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        fmts = excel.Formats(wb, read_display(con))
        first, horizon = con.execute("select min(period), max(period) from marts.filing_status").fetchone()
        title = workbook_title(fmts.display, first, horizon)
        counts = {s.table: con.execute(f"select count(*) from marts.{s.table}").fetchone()[0] for s in TRACKING_SHEETS}
        truncated = {t: n for t, n in counts.items() if n > EXCEL_MAX_ROWS - 1}
        periods = [p for (p,) in con.execute("select distinct period from marts.filing_status order by 1").fetchall()]
        ledger = Ledger(con)
        # a warehouse published with releases: every revision of a quarter, and why
        revisions = ledger.revision_rows() if ledger.present else None
        _write_readme(wb, fmts, title, horizon, counts, truncated, periods, None if revisions is None else len(revisions))
        for s in TRACKING_SHEETS:
            cols = _table_columns(con, s.table)
            if s.extra:
                cols.insert(next(i for i, (k, _) in enumerate(cols) if k == "org_code") + 1, ("enterprise_name", "VARCHAR"))
            specs = column_specs(s.table, cols, fmts.display, s.shown or None)
            select = ", ".join(s.extra if spec.key == "enterprise_name" and s.extra else f't."{spec.key}"'
                               for spec in specs)
            order = s.order_by if not s.extra else ", ".join(f"t.{c.strip()}" for c in s.order_by.split(","))
            cur = con.execute(f"select {select} from marts.{s.table} t {s.join} order by {order} "
                              f"limit {EXCEL_MAX_ROWS - 1}")
            ws = wb.add_worksheet(s.name)
            head = cur.fetchmany(2000)

            def stream(cur=cur, head=head):
                yield from head
                while batch := cur.fetchmany(20_000):
                    yield from batch

            excel.write_table(ws, fmts, specs, stream(), widths_from=head,
                              print_title=f"{title}（数据截至{horizon or '—'}）",
                              row_convert=_finding_values(specs, fmts.display) if s.table == "compliance_flags" else None)
        if revisions is not None:
            _write_revisions(wb, fmts, revisions, f"{title}（数据截至{horizon or '—'}）")
    finally:
        con.close()
    wb.close()
    tmp.replace(out_path)
    return out_path
