"""回执: one xlsx per enterprise and quarter, telling the enterprise what arrived, what is wrong
with it and where, and how it stands against the policy.

``write_receipts`` reads the published marts read-only with one query per table for the period,
groups rows by enterprise in Python and writes ``<out_dir>/<period>/<org_code>.xlsx`` for every
enterprise in ``filing_status`` for the period plus every enterprise that sent a file. Every text
goes through :func:`pipelines.lib.excel.write_cell`, so a clerk's ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import excel
from pipelines.lib.codes import format_org_code
from pipelines.lib.periods import Period

# Rules judged on the year (RULES.md levels enterprise-year / person-year): their flags carry
# period = <year>Q4 and appear on the Q4 receipt.
YEAR_LEVEL_RULES = frozenset({"C01", "C02", "C03", "C04", "C06", "C07", "C08", "C09", "C10", "C11", "C13"})
SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
NCOLS = 10


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _load(db_path: Path, period: str) -> dict[str, Any]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            "filing": _q(con, "select * from marts.filing_status where period = ?", [period]),
            "versions": _q(con, "select * from marts.submission_versions where period = ? and org_code is not null "
                                "order by org_code, version_no, arrived_at, file_name", [period]),
            "flags": _q(con, """select * from marts.compliance_flags where period = ? and org_code is not null
                                order by org_code, case severity when 'error' then 0 when 'warning' then 1 else 2 end,
                                         rule_id, sheet nulls first, source_row nulls first, column_name,
                                         person_key, flag_id""", [period]),
            "share": _q(con, "select * from marts.high_skill_share_tracking where grain = 'enterprise' "
                             "and period_type = 'quarter' and period = ?", [period]),
            "coverage": _q(con, "select * from marts.training_coverage_tracking where grain = 'enterprise' "
                                "and period_type = 'quarter' and period = ? and skill_level = '全部'", [period]),
            "funds": _q(con, "select * from marts.fund_tracking where grain = 'enterprise' "
                             "and period_type = 'quarter' and period = ?", [period]),
            "names": dict(con.execute("select org_code, enterprise_name from marts.dim_enterprises").fetchall()),
        }
    finally:
        con.close()


def _by(rows: list[dict], key: str = "org_code") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _pp(v: Any) -> str:
    return "—" if v is None else f"{v * 100:+.1f}个百分点"


class _Receipt:
    """Writes one receipt sheet top to bottom."""

    def __init__(self, path: Path) -> None:
        self.wb = excel.new_workbook(path, constant_memory=False, in_memory=True)
        self.f = excel.Formats(self.wb)
        self.ws = self.wb.add_worksheet("回执")
        self.ws.set_landscape()
        self.ws.set_paper(9)
        self.ws.fit_to_pages(1, 0)
        self.ws.hide_gridlines(2)
        for col, width in enumerate((8, 30, 12, 22, 10, 10, 12, 14, 18, 50)):
            self.ws.set_column(col, col, width)
        self.r = 0

    def line(self, label: str | None, value: Any, fmt: Any = None) -> None:
        if label is not None:
            self.ws.merge_range(self.r, 0, self.r, 1, "", self.f.label)
            excel.write_cell(self.ws, self.r, 0, label, self.f.label)
        self.ws.merge_range(self.r, 2, self.r, NCOLS - 1, "", fmt or self.f.wrap)
        excel.write_cell(self.ws, self.r, 2, value, fmt or self.f.wrap)
        self.r += 1

    def heading(self, text: str) -> None:
        self.r += 1
        self.ws.merge_range(self.r, 0, self.r, NCOLS - 1, "", self.f.subtitle)
        excel.write_cell(self.ws, self.r, 0, text, self.f.subtitle)
        self.r += 1

    def table(self, headers: list[str], rows: list[list[tuple[Any, Any]]]) -> None:
        """``rows`` of (value, format) pairs, at most NCOLS wide; the last column takes the rest."""
        for i, h in enumerate(headers):
            excel.write_cell(self.ws, self.r, i, h, self.f.header)
        self.r += 1
        for row in rows:
            for i, (v, fmt) in enumerate(row):
                excel.write_cell(self.ws, self.r, i, v, fmt or self.f.wrap)
            self.r += 1

    def close(self) -> None:
        self.wb.close()


def _write_one(path: Path, period: str, org: str, name: str | None, filing: dict | None, versions: list[dict],
               flags: list[dict], share: dict | None, coverage: dict | None, funds: dict | None) -> None:
    rc = _Receipt(path)
    f, ws = rc.f, rc.ws
    text, wrap = f.fmt(excel.TEXT), f.wrap
    dtf, cnt = f.fmt(excel.DATETIME), f.fmt(excel.COUNT)
    ws.set_row(0, 28)
    ws.merge_range(0, 0, 0, NCOLS - 1, "", f.title)
    excel.write_cell(ws, 0, 0, "北京市国资委 高技能人才工作季度报表 回执", f.title)
    rc.r = 1
    rc.line(None, "依据京国资党发〔2008〕8号及《高技能人才工作季度报表》报送要求出具。", f.note)
    rc.r += 1
    rc.line("企业名称", name or "（名录中无此企业）")
    rc.line("组织机构代码", format_org_code(org))
    rc.line("报告期", period)
    deadline = (filing or {}).get("deadline_at") or (versions[0]["deadline_at"] if versions else
                                                     Period.parse(period).deadline())
    rc.line("报送截止时间", deadline, f.fmt(excel.DATETIME))

    current = next((v for v in versions if v.get("is_current")), None)
    status_code = (filing or {}).get("status_code")
    if not versions:
        status, conclusion = "未收到", "未收到本期报表。请尽快报送，需重新报送（补报）本期报表。"
    elif current is None:
        status = "被退回"
        conclusion = "收到的报表未被受理（被退回），需重新报送：请按下列问题修改后重新报送本期报表。"
    else:
        status = (filing or {}).get("status") or ("逾期" if current.get("is_late") else "按时")
        conclusion = f"已受理，以第{current['version_no']}版（{current['file_name']}）为准。"
        if status_code == "late" or current.get("is_late"):
            conclusion += "本期报表逾期报送。"
        if any(fl["severity"] == "error" for fl in flags):
            conclusion += "存在须改正的错误，请按下列说明更正，在下期报送时一并改正或重新报送本期报表。"
    if status_code == "unexpected":
        conclusion = "本单位不在报送名录中，报表未被受理；如属应报送单位，请联系市国资委更新名录。"
    rc.line("报送情况", status, f.status(status))
    rc.line("处理结论", conclusion)
    if filing and filing.get("reasons_zh"):
        rc.line("退回/缺报原因", filing["reasons_zh"])

    # --- 一、收到的文件 ---------------------------------------------------------------------------
    rc.heading("一、收到的文件（每个版本）")
    if versions:
        rows = []
        for v in versions:
            if v.get("is_current"):
                counts = "采用（以此版为准）"
            elif v.get("is_duplicate"):
                counts = "重复报送，不采用"
            elif v.get("is_superseded"):
                counts = "已被更新版本替代"
            else:
                counts = "不采用"
            outcome = {"accepted": "已受理", "rejected": "被退回"}.get(v["outcome"], v["outcome"])
            rows.append([(v["version_no"], text), (v["file_name"], wrap), (outcome, f.status(outcome)),
                         (v["arrived_at"], dtf), (v["is_late"], f.fmt(excel.BOOL)),
                         (v["fatal_count"], cnt), (v["error_count"], cnt), (v["warning_count"], cnt),
                         (counts, wrap), (v["sha256"], text)])
        rc.table(["版本号", "文件名", "受理结果", "收到时间", "是否逾期", "致命问题", "错误", "警告", "是否采用",
                  "SHA-256"], rows)
    else:
        rc.line(None, "未收到本期任何文件。", f.status("未收到"))

    # --- 二、发现的问题 ---------------------------------------------------------------------------
    rc.heading("二、发现的问题及修改要求")
    if flags:
        rows = []
        for fl in flags:
            sev = fl["severity"]
            scope = "年度" if fl["rule_id"] in YEAR_LEVEL_RULES else "本季"
            rows.append([(fl["rule_id"], text), (fl.get("clause"), wrap),
                         (SEVERITY_ZH.get(sev, sev), f.status(sev)), (scope, text), (fl.get("sheet"), wrap),
                         (fl.get("source_row"), text), (fl.get("column_name"), wrap),
                         (fl.get("observed_value"), wrap), (fl.get("threshold"), wrap),
                         (fl.get("message_zh") or "", wrap)])
        rc.table(["规则", "政策条款", "严重程度", "范围", "工作表", "行号", "列名", "填报值", "标准",
                  "问题说明及修改要求"], rows)
        persons = sorted({fl["person_key"] for fl in flags if fl.get("person_key")})
        if persons:
            rc.line(None, f"涉及人员 {len(persons)} 人，以脱敏代号列示；请对照本单位人才信息库核对。", f.note)
    else:
        rc.line(None, "未发现问题。" if current else "报表未受理，无法进行逐项检查。", wrap)

    # --- 三、合规情况 -----------------------------------------------------------------------------
    rc.heading("三、合规情况（本期，按已受理报表）")
    if share or coverage or funds:
        rows = []
        if share:
            rows.append([("C05", text), ("高技能人才占技能劳动者比例", wrap), (_pct(share.get("high_skill_share")), text),
                         ("北京市平均水平", wrap),
                         (_pct(share.get("beijing_average")) +
                          ("（假设值）" if share.get("benchmark_status") == "assumed" else ""), wrap),
                         ("差距", wrap), (_pp(share.get("gap_to_beijing")), text), ("状态", wrap),
                         (share.get("status"), f.status(share.get("status"))),
                         (f"2010年预计 {_pct(share.get('projected_target_year_share'))}，目标 "
                          f"{_pct(share.get('target_share'))}；达标每年需提高 "
                          f"{_pp(share.get('required_gain_per_year'))}", wrap)])
        if coverage:
            cov, mn = coverage.get("coverage"), coverage.get("coverage_min")
            ok = cov is not None and mn is not None and cov >= mn
            rows.append([("C02", text), ("高技能人才本年培训覆盖率", wrap), (_pct(cov), text), ("要求", wrap),
                         (_pct(mn), text), ("已培训/人数", wrap),
                         (f"{coverage.get('trained') or 0}/{coverage.get('headcount') or 0}", text),
                         ("状态", wrap), ("达到" if ok else "未达到", f.status("已达标" if ok else "滞后")),
                         ("每名高技能人才每年至少培训1次（按年度考核，本季为年初至今进度）", wrap)])
        if funds:
            for rule, label, v, mn in (
                    ("C03", "教育培训经费提取比例（年初至今）", funds.get("extraction_ratio"), funds.get("fund_ratio_min")),
                    ("C04", "一线职工培训经费占使用额比例（年初至今）", funds.get("frontline_share"),
                     funds.get("frontline_share_min"))):
                ok = v is not None and mn is not None and v >= mn
                rows.append([(rule, text), (label, wrap), (_pct(v), text), ("下限", wrap), (_pct(mn), text),
                             ("", text), ("", text), ("状态", wrap),
                             ("达到" if ok else "未达到", f.status("已达标" if ok else "滞后")),
                             ("按年度考核（§四.2），本季为年初至今累计", wrap)])
        rc.table(["规则", "指标", "本单位", "", "标准", "", "", "", "结果", "说明"], rows)
    else:
        rc.line(None, "本期无已受理报表，无法计算合规情况。", wrap)

    rc.r += 1
    rc.line("如何更正", "请按“问题说明及修改要求”修改报表（文件名 组织机构代码_报告期.xlsx），在原报送渠道重新报送；"
                     "以最后受理的版本为准，历次版本均留档。")
    rc.close()


def write_receipts(db_path: Path, period: str, out_dir: Path) -> list[Path]:
    """Write every receipt for ``period`` under ``out_dir/<period>/``; returns the paths written."""
    period = str(Period.parse(period))
    data = _load(Path(db_path), period)
    filing = {r["org_code"]: r for r in data["filing"]}
    versions = _by(data["versions"])
    flags = _by(data["flags"])
    share = {r["entity_code"]: r for r in data["share"]}
    coverage = {r["entity_code"]: r for r in data["coverage"]}
    funds = {r["entity_code"]: r for r in data["funds"]}
    orgs = sorted(set(filing) | set(versions))

    target = Path(out_dir) / period
    target.mkdir(parents=True, exist_ok=True)
    keep = {f"{o}.xlsx" for o in orgs}
    for old in target.glob("*.xlsx"):
        if old.name not in keep:
            old.unlink()
    paths = []
    for org in orgs:
        fs = filing.get(org)
        name = (fs or {}).get("enterprise_name") or data["names"].get(org)
        path = target / f"{org}.xlsx"
        _write_one(path, period, org, name, fs, versions.get(org, []), flags.get(org, []), share.get(org),
                   coverage.get(org), funds.get(org))
        paths.append(path)
    return paths

