"""十一五目标跟踪表: the analysts' workbook, one sheet per table of RULES.md.

Reads the published warehouse (schema ``marts``) read-only, one query per table, and writes an
xlsx with Chinese headers, frozen header rows, autofilters, number formats and coloured status
cells, printable (landscape, one page wide, header row on every page, sheet name and page
numbers in the page header and footer). The file is deterministic: the same marts give the same bytes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.contract import SHEETS
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.exports import excel

EXCEL_MAX_ROWS = 1_048_576
SEED_BENCHMARK = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds" / "ref_beijing_benchmark.csv"

# ---------------------------------------------------------------------------------------------
# One Chinese label per mart column key (all marts share the keys). Columns without a label keep
# their key as header. Kinds for numbers come from RATIO_COLUMNS / AMOUNT_COLUMNS, else from the
# DuckDB type (integer -> count, double -> decimal, boolean -> 是/否, date, timestamp).
# ---------------------------------------------------------------------------------------------
COLUMN_LABELS: dict[str, str] = {
    # grain
    "grain": "统计口径代码", "grain_zh": "统计口径", "entity_code": "对象代码", "entity_name": "对象名称",
    "period_type": "期间类型", "period": "报告期", "year": "年度", "quarter": "季度",
    # enterprise
    "org_code": "组织机构代码", "enterprise_name": "企业名称", "group_org_code": "所属集团组织机构代码",
    "group_name": "所属集团", "industry_code": "行业代码", "sector": "重点领域", "active_from": "起始报告期",
    "active_to": "终止报告期",
    # table 1
    "skilled_workers": "技能劳动者总数", "high_skill_total": "高技能人才人数", "high_skill_share": "高技能人才占比",
    "beijing_average": "北京市平均水平", "benchmark_status": "平均水平数据状态", "benchmark_source": "平均水平来源",
    "gap_to_beijing": "与北京市平均水平差距", "baseline_period": "基期", "baseline_share": "基期占比",
    "target_year": "目标年份", "target_share": "目标年北京市平均水平", "target_benchmark_status": "目标值数据状态",
    "years_elapsed": "已过年数", "years_remaining": "剩余年数", "trajectory_share": "进度线占比",
    "current_pace_per_year": "当前年均提高", "required_gain_per_year": "达标所需年均提高",
    "projected_target_year_share": "按当前速度目标年预计占比", "status_code": "状态代码", "status": "状态",
    # table 2
    "skill_level": "技能等级", "headcount": "高技能人才人数", "trained": "本年已培训人数", "coverage": "培训覆盖率",
    "coverage_min": "覆盖率要求",
    # table 3
    "quarters_reported": "已报季度数", "payroll": "职工工资总额（万元）", "fund_extracted": "教育培训经费提取额（万元）",
    "fund_spent": "教育培训经费使用额（万元）", "fund_spent_frontline": "其中：一线职工（万元）",
    "fund_spent_high_skill": "其中：高技能人才培养（万元）", "fund_school_enterprise": "其中：校企合作（万元）",
    "extraction_ratio": "提取比例", "fund_ratio_min": "提取比例下限", "frontline_share": "一线职工使用占比",
    "frontline_share_min": "一线占比下限", "quarters_excluded_unit_error": "因疑似单位错误剔除季度数",
    # table 4
    "has_leading_group": "领导小组", "has_training_plan": "培养规划", "has_talent_database": "人才信息库",
    "c06_ok": "C06 组织与规划达标", "congress_reports_in_year": "本年向职代会报告次数", "c07_ok": "C07 职代会报告达标",
    "has_chief_technician_system": "首席技师制度", "technician_sum": "技师与高级技师人数",
    "chief_technicians": "首席技师人数", "c08_ok": "C08 首席技师达标",
    "key_trainees_without_account": "未设个人培训账户的重点培养对象", "c12_ok": "C12 培训账户达标",
    "has_technician_study_system": "技师研修制度", "has_reserve_echelon_system": "后备梯队制度",
    "c13_ok": "C13 研修与梯队达标", "in_manager_assessment": "纳入经营管理者任期考核",
    # table 5
    "avg_income_high_skill": "高技能人才年平均收入（元）", "avg_income_general_skill": "一般技能人才年平均收入（元）",
    "avg_income_professional": "同级专业技术人员年平均收入（元）", "equal_treatment_ratio": "收入比（高技能/专技）",
    "equal_treatment_ratio_min": "收入比下限", "c09_ok": "C09 同等待遇达标", "income_gap": "高技能与一般技能收入差（元）",
    "income_gap_prev_year": "上年收入差（元）", "income_gap_change": "收入差变化（元）", "c10_ok": "C10 差距未缩小",
    "model_workers_total": "劳动模范等先进人数", "model_workers_high_skill": "其中：高技能人才",
    "model_worker_high_skill_share": "先进中高技能人才比例", "workforce_high_skill_share": "职工中高技能人才比例",
    "c11_ok": "C11 先进评选倾斜达标", "cadres_from_high_skill": "选拔干部人数",
    "party_members_from_high_skill": "发展党员人数", "deputies_from_high_skill": "推荐人大代表政协委员人数",
    # table 6
    "deadline_at": "报送截止时间", "deadline_date": "报送截止日", "is_late": "逾期", "is_missing": "未报送", "is_rejected": "被退回",
    "versions_received": "收到版本数", "first_arrived_at": "首次收到时间", "current_submission_id": "采用版本编号",
    "reasons_zh": "原因",
    # table 7
    "flag_id": "问题编号", "rule_id": "规则编号", "clause": "政策条款", "severity": "严重程度",
    "person_key": "人员代号（已脱敏）", "observed_value": "填报值", "threshold": "标准", "message_zh": "问题说明",
    "source": "来源", "submission_id": "报表版本编号", "sheet": "工作表", "source_row": "行号", "column_name": "列名",
    # submission_versions (receipts)
    "file_name": "文件名", "file_format": "文件格式", "sha256": "SHA-256", "size_bytes": "文件大小（字节）",
    "arrived_at": "收到时间", "outcome": "受理结果", "fatal_count": "致命问题数", "error_count": "错误数",
    "warning_count": "警告数", "info_count": "提示数", "rows_in": "收到行数", "rows_loaded": "入库行数",
    "version_no": "版本号", "is_current": "是否采用", "is_latest": "是否最新", "is_superseded": "已被替代",
    "is_duplicate": "重复报送", "superseded_by": "替代版本编号",
    # summary
    "flag_count": "问题条数", "enterprise_count": "涉及企业数",
    # further columns the dbt marts carry
    "first_period_reported": "首次报送期", "last_period_reported": "最近报送期", "is_active": "仍在报送",
    "is_group_hq": "集团本部", "contract_version": "报表版本", "latest_submission_id": "最新版本编号",
    "enterprises_reported": "报送企业数", "trainings_per_year_min": "每年培训次数下限", "c03_ok": "C03 提取比例达标",
    "c04_ok": "C04 一线占比达标", "source_period": "数据来源报告期", "is_year_end_submission": "年末报表",
    "quarters_reported_in_year": "本年已报季度数", "submitted_on": "填报日期", "preparer": "填报人", "phone": "联系电话",
}

# every contract column keeps the header the enterprises know (基本情况, 经费情况 …)
for _sheet in SHEETS:
    for _col in _sheet.columns:
        COLUMN_LABELS.setdefault(_col.key, _col.header)

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
STATUS_COLUMNS = frozenset({"status", "status_code", "severity"})
TEXT_COLUMNS = frozenset({"year", "quarter", "target_year", "source_row", "version_no"})  # no thousands separator
# Differences carry their sign (+1.9% above the Beijing average, -0.4% a year).
SIGNED_RATIO_COLUMNS = frozenset({"gap_to_beijing", "current_pace_per_year", "required_gain_per_year"})
SIGNED_AMOUNT_COLUMNS = frozenset({"income_gap_change"})
# 是/否 columns where 是 is the bad news (highlighted), and is_* columns where neither answer is.
BAD_WHEN_TRUE_COLUMNS = frozenset({"is_late", "is_missing", "is_rejected", "is_duplicate"})
# Long texts: wrapped in a column of this width (the row grows), or cut at this width (repeated texts).
WRAP_WIDTHS = {"message_zh": 50.0, "reasons_zh": 40.0}
FIXED_WIDTHS = {"benchmark_source": 24.0, "flag_id": 12.0, "submission_id": 14.0, "current_submission_id": 14.0,
                "latest_submission_id": 14.0}

# Codes shown in Chinese where the column is not itself a code column (状态代码, 统计口径代码 stay codes).
DISPLAY_VALUES: dict[str, dict[str, str]] = {
    "period_type": {"quarter": "季度", "year": "年度"},
    "benchmark_status": {"published": "已公开", "assumed": "假设值"},
    "target_benchmark_status": {"published": "已公开", "assumed": "假设值"},
    "severity": {"error": "错误", "warning": "警告", "info": "提示"},
}
# Observed values and thresholds of the findings that are codes rather than what a clerk typed.
FLAG_VALUE_ZH = {"true": "是", "false": "否", "lagging": "滞后", "seriously_lagging": "严重滞后",
                 "achieved/on_track": "已达标/进度正常", "achieved": "已达标", "on_track": "进度正常"}
DISPLAY_VALUES["observed_value"] = DISPLAY_VALUES["threshold"] = FLAG_VALUE_ZH

_ORG_RE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")


def label(key: str) -> str:
    return COLUMN_LABELS.get(key, key)


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


def _display_code(mapping: dict[str, str]):
    def convert(v: Any) -> Any:
        return mapping.get(v, v) if isinstance(v, str) else v
    return convert


def column_specs(cols: list[tuple[str, str]]) -> list[excel.ColumnSpec]:
    specs = []
    for key, duck_type in cols:
        kind = column_kind(key, duck_type)
        convert = _display_org if kind == excel.ORG else (
            _display_code(DISPLAY_VALUES[key]) if key in DISPLAY_VALUES else None)
        width = WRAP_WIDTHS.get(key) or FIXED_WIDTHS.get(key)
        specs.append(excel.ColumnSpec(key, label(key), kind, convert, width=width, wrap=key in WRAP_WIDTHS))
    return specs


# ---------------------------------------------------------------------------------------------
# The sheets
# ---------------------------------------------------------------------------------------------
_GRAIN_ORDER = "case grain when 'system' then 0 when 'sector' then 1 when 'group' then 2 else 3 end"
_LEVEL_ORDER = "case skill_level when '全部' then 0 when '高级工' then 1 when '技师' then 2 else 3 end"


@dataclass(frozen=True)
class TrackingSheet:
    name: str
    table: str
    description: str
    order_by: str


TRACKING_SHEETS: tuple[TrackingSheet, ...] = (
    TrackingSheet("1 高技能人才比例跟踪", "high_skill_share_tracking",
                  "C05（§二）：企业、集团、重点领域、全系统按季度和年度的高技能人才占比，与北京市平均水平的差距，"
                  "2006年基期值，达到2010年目标每年需提高多少，按当前速度2010年预计占比，以及状态"
                  "（已达标/进度正常/滞后/严重滞后）。年度行的报告期记为当年Q4。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code"),
    TrackingSheet("2 培训覆盖跟踪", "training_coverage_tracking",
                  "C01/C02（§三.1 每年培训1次）：高技能人才人数、本年已培训至少1次人数、覆盖率，按技能等级（全部/高级工/技师/高级技师）。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code, {_LEVEL_ORDER}"),
    TrackingSheet("3 经费提取使用跟踪", "fund_tracking",
                  "C03/C04（§四.2）：工资总额、教育培训经费提取额及提取比例（下限1.5%）、使用额及用于一线职工的比例"
                  "（下限60%）。季度行为年初至本季累计；汇总行剔除疑似单位错误的企业季度。",
                  f"period_type desc, period, {_GRAIN_ORDER}, entity_code"),
    TrackingSheet("4 制度建设落实", "governance_matrix",
                  "C06–C08、C12、C13：领导小组、培养规划、信息库、职代会报告、首席技师制度、个人培训账户、技师研修与后备梯队制度，逐企业矩阵。",
                  "period_type desc, period, org_code"),
    TrackingSheet("5 激励待遇", "incentives_tracking",
                  "C09–C11（§三.4）：高技能人才与同级专业技术人员收入比、与一般技能人才收入差距的变化、劳动模范评选向高技能人才倾斜情况，逐企业逐年。",
                  "year, org_code"),
    TrackingSheet("6 报送情况", "filing_status",
                  "名录内每家企业每个报告期的报送情况：按时/逾期/未报送/被退回（以及名录外单位的来件），收到版本数、首次收到时间和原因。",
                  "period, case when group_org_code is null then 1 else 0 end, group_org_code, org_code"),
    TrackingSheet("7 问题清单", "compliance_flags",
                  "每一条问题：规则编号、政策条款、严重程度、企业、报告期、人员代号（已脱敏）、填报值、标准和中文说明；"
                  "工作表/行号/列名指向报表中的位置。",
                  "period, org_code, rule_id, sheet, source_row, column_name, person_key, flag_id"),
)


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position", [table]).fetchall()]


def _benchmark_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(year, share, source, status) of the Beijing benchmark as the marts used it."""
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    if "ref_beijing_benchmark" in tables:
        return con.execute("select year, high_skill_share, source, status from marts.ref_beijing_benchmark "
                           "order by year").fetchall()
    rows = con.execute("""
        select year, any_value(beijing_average), any_value(benchmark_source), any_value(benchmark_status)
        from marts.high_skill_share_tracking where beijing_average is not null
        group by year order by year""").fetchall()
    seen = {r[0] for r in rows}
    # years the marts did not use (e.g. the 2005 published anchor) from the versioned reference data
    if SEED_BENCHMARK.exists():
        with SEED_BENCHMARK.open(encoding="utf-8-sig", newline="") as fh:
            for rec in csv.DictReader(fh):
                year = int(rec["year"])
                if year not in seen:
                    rows.append((year, float(rec["high_skill_share"]), rec["source"], rec["status"]))
                    seen.add(year)
    for ty, ts, tst in con.execute("""
            select distinct target_year, target_share, target_benchmark_status
            from marts.high_skill_share_tracking where target_year is not null order by 1""").fetchall():
        if ty not in seen:
            rows.append((ty, ts, "目标年份（来源见参考数据 ref_beijing_benchmark）", tst))
    return sorted(rows, key=lambda r: r[0])


README_WIDTHS = (24.0, 84.0, 10.0, 12.0)


def _write_readme(wb, fmts: excel.Formats, horizon: str | None, counts: dict[str, int],
                  truncated: dict[str, int], benchmark: list[tuple]) -> None:
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
    excel.write_cell(ws, 0, 0, "北京市国资委 高技能人才“十一五”目标跟踪表", fmts.title)
    ws.merge_range(1, 0, 1, last, "", fmts.note)
    excel.write_cell(ws, 1, 0, f"依据：{POLICY_TITLE}", fmts.note)
    r = 3
    excel.write_cell(ws, r, 0, "数据截至报告期", fmts.label)
    excel.write_cell(ws, r, 1, horizon or "（无数据）", cell)
    r += 1
    pair(r, "生成说明", "由已发布数据库 data/marts/warehouse.duckdb（marts 模式）自动生成；同一数据重复生成结果完全一致。"
                    "比例以百分比显示（差距、年均提高带正负号），金额单位万元（收入为元），"
                    "组织机构代码显示为 XXXXXXXX-X 形式。每个工作表首行冻结并可筛选；打印时横向、按页宽缩放，每页重复表头。")
    r += 2
    excel.write_cell(ws, r, 0, "工作表", fmts.header)
    ws.merge_range(r, 1, r, 2, "", fmts.header)
    excel.write_cell(ws, r, 1, "内容", fmts.header)
    excel.write_cell(ws, r, 3, "行数", fmts.header)
    r += 1
    for s in TRACKING_SHEETS:
        text = s.description
        if s.table in truncated:
            text += f"（超出Excel行数上限，仅列出前{EXCEL_MAX_ROWS - 1:,}行，共{truncated[s.table]:,}行，完整数据见数据库 marts.{s.table}）"
        excel.write_cell(ws, r, 0, s.name, fmts.label)
        ws.merge_range(r, 1, r, 2, "", fmts.wrap)
        excel.write_cell(ws, r, 1, text, fmts.wrap)
        excel.write_cell(ws, r, 3, counts.get(s.table, 0), fmts.fmt(excel.COUNT))
        ws.set_row(r, excel.row_height([(text, README_WIDTHS[1] + README_WIDTHS[2])]))
        r += 1
    r += 1
    ws.set_row(r, 20)
    ws.merge_range(r, 0, r, last, "", fmts.subtitle)
    excel.write_cell(ws, r, 0, "北京市平均水平（高技能人才占技能劳动者比例）", fmts.subtitle)
    r += 1
    for i, h in enumerate(("年度", "来源", "占比", "数据状态")):
        excel.write_cell(ws, r, i, h, fmts.header)
    r += 1
    for year, share, source, status in benchmark:
        status_zh = {"published": "已公开", "assumed": "假设值"}.get(status or "", status)
        excel.write_cell(ws, r, 0, str(year), cell)
        excel.write_cell(ws, r, 1, source, fmts.wrap)
        excel.write_cell(ws, r, 2, share, fmts.fmt(excel.RATIO))
        excel.write_cell(ws, r, 3, status_zh, fmts.status("滞后" if status == "assumed" else "已达标"))
        ws.set_row(r, excel.row_height([(source or "", README_WIDTHS[1])]))
        r += 1
    r += 1
    pair(r, "注意", "标为“假设值”的年份未找到公开的北京市年度数据，所用数值为假设，"
                  "依赖这些数值的差距、进度和状态须谨慎解读；找到公开数据后只需更新参考数据。")
    r += 1
    pair(r, "状态颜色", "绿色：已达标/进度正常/按时；黄色：滞后/逾期；红色：严重滞后/未报送/被退回/未达标（“否”）；"
                     "“逾期”“未报送”“被退回”列中的“是”以黄色标出。")
    excel.setup_print(ws, f"十一五目标跟踪表（数据截至{horizon or '—'}）", total_width=sum(README_WIDTHS),
                      last_row=r, last_col=last)


def write_tracking_workbook(db_path: Path, out_path: Path) -> Path:
    """Write the 十一五目标跟踪表 from the published marts; returns ``out_path``."""
    db_path, out_path = Path(db_path), Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    wb = excel.new_workbook(tmp)
    fmts = excel.Formats(wb)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        horizon = con.execute("select max(period) from marts.filing_status").fetchone()[0]
        benchmark = _benchmark_rows(con)
        counts = {s.table: con.execute(f"select count(*) from marts.{s.table}").fetchone()[0] for s in TRACKING_SHEETS}
        truncated = {t: n for t, n in counts.items() if n > EXCEL_MAX_ROWS - 1}
        _write_readme(wb, fmts, horizon, counts, truncated, benchmark)
        for s in TRACKING_SHEETS:
            cols = _table_columns(con, s.table)
            specs = column_specs(cols)
            cur = con.execute(f"select * from marts.{s.table} order by {s.order_by} limit {EXCEL_MAX_ROWS - 1}")
            ws = wb.add_worksheet(s.name)
            head = cur.fetchmany(2000)

            def stream(cur=cur, head=head):
                yield from head
                while batch := cur.fetchmany(20_000):
                    yield from batch

            excel.write_table(ws, fmts, specs, stream(), widths_from=head,
                              print_title=f"十一五目标跟踪表（数据截至{horizon or '—'}）")
    finally:
        con.close()
    wb.close()
    tmp.replace(out_path)
    return out_path
