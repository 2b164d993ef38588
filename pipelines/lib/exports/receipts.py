"""回执: one xlsx per enterprise and quarter, telling the enterprise what arrived, what is wrong
with it and where, and how it stands against the policy.

``write_receipts`` reads the published marts read-only with one query per table for the period,
groups rows by enterprise in Python and writes ``<out_dir>/<period>/<XXXXXXXX-X>.xlsx`` (the organisation
code in its display form, :func:`pipelines.lib.domain.codes.format_org_code`) for every
enterprise in ``filing_status`` for the period plus every enterprise that sent a file. Every text
goes through :func:`pipelines.lib.excel.write_cell`, so a clerk's ``=HYPERLINK(...)`` stays text.

A receipt is rewritten only when what it shows changed: the digest of its inputs (the rows
``_write_one`` is given, the display reference, the code that draws it) is stored in the workbook as
the custom document property ``sasac_inputs_sha256`` and compared with the file already there
before writing. An enterprise whose rows did not move keeps its file, bytes and modification time.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.rule_text import percent_text, trimmed
from pipelines.lib.exports import excel
from pipelines.lib.exports.display import (
    BOOL_CODE_TEXT,
    Display,
    gain_text,
    pct,
    pp,
    read_display,
)
from pipelines.lib.exports.forked import map_forked
from pipelines.lib.exports.publish import content_digest, display_digest, renderer_digest
from pipelines.lib.exports.revisions import Ledger
from pipelines.lib.exports.stamped import PROPERTY_MARK, TITLE_MARK, StampedSheet, StampTemplate

# Rules judged on the year (ref_rules.level enterprise-year / person-year, Display.year_level_rules) carry
# period = <year>Q4 and appear on the Q4 receipt. Labels, severities and colours: Display, i.e. the
# warehouse's reference schema.


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _load(db_path: Path, period: str) -> dict[str, Any]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            "display": read_display(con),
            "filing": _q(con, "select * from marts.filing_status where period = ?", [period]),
            "versions": _q(con, "select * from marts.submission_versions where period = ? and org_code is not null "
                                "order by org_code, version_no, arrived_at, file_name", [period]),
            "flags": _q(con, """select f.* from marts.compliance_flags f
                                left join reference.ref_severities s on s.severity = f.severity
                                where f.period = ? and f.org_code is not null
                                order by f.org_code, s.sort_order nulls last, f.rule_id, f.sheet nulls first,
                                         f.source_row nulls first, f.column_name, f.flag_id""", [period]),
            "share": _q(con, "select * from marts.high_skill_share_tracking where grain = 'enterprise' "
                             "and period_type = 'quarter' and period = ?", [period]),
            "coverage": _q(con, "select * from marts.training_coverage_tracking where grain = 'enterprise' "
                                "and period_type = 'quarter' and period = ? and skill_level = '全部'", [period]),
            "funds": _q(con, "select * from marts.fund_tracking where grain = 'enterprise' "
                             "and period_type = 'quarter' and period = ?", [period]),
            "names": dict(con.execute("select org_code, enterprise_name from marts.dim_enterprises").fetchall()),
            "rechecks": _q(con, "select * from marts.submission_rechecks where period = ? and is_changed"
                                " and org_code is not null order by rechecked_at, file_name", [period]),
        }
    finally:
        con.close()


def _by(rows: list[dict], key: str = "org_code") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


_pct, _pp = pct, pp  # the report's wording: one way to write a share and a difference of shares


# Findings whose observed value and threshold are ratios (shown as percentages on the receipt).
RATIO_RULES = frozenset({"C02", "C03", "C04", "C05", "C09", "C11", "D12"})
# Findings of the submission itself (ref_rules level ``submission``: late, missing, superseded) have the
# flag as observed value (true): the message says it all.
FLAG_ONLY_LEVEL = "submission"
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_LONG_DECIMAL = re.compile(r"^\d+\.\d{3,}$")


def flag_value(rule_id: str, value: Any, display: Display) -> Any:
    """How a finding's observed value or threshold reads on the receipt.

    Codes become Chinese (true -> 是, seriously_lagging -> 严重滞后), fractions of ratio rules become
    percentages (0.962962963 -> 96.3%, 1 -> 100%), long decimals are rounded; anything else — what the clerk
    typed, including ``=HYPERLINK(...)`` or ``-1`` — is returned unchanged and written as text.
    """
    if not isinstance(value, str):
        return value
    if display.rule_levels.get(rule_id) == FLAG_ONLY_LEVEL and value in BOOL_CODE_TEXT:
        return None
    shown = display.finding_value(value)
    if shown != value:
        return shown
    if rule_id in RATIO_RULES and _PLAIN_NUMBER.match(value) and float(value) <= 1:
        return percent_text(float(value))
    if _LONG_DECIMAL.match(value):
        return trimmed(float(value))
    return value


def _where(fl: dict) -> str:
    """Where the finding points: sheet, row and column (the published warehouse holds no pseudonyms: the
    enterprise finds the person by the row of its own workbook)."""
    parts = []
    if fl.get("sheet"):
        parts.append(str(fl["sheet"]))
    if fl.get("source_row") is not None:
        parts.append(f"第{fl['source_row']}行")
    if fl.get("column_name"):
        parts.append(f"“{fl['column_name']}”列")
    return " ".join(parts) or "整份报表"


def _deadline_text(deadline: Any) -> Any:
    """A deadline of midnight reads as 24:00 of the day before: 2009-01-16 00:00 -> 2009-01-15 24:00."""
    if isinstance(deadline, dt.datetime) and deadline.time() == dt.time(0, 0):
        return f"{deadline - dt.timedelta(days=1):%Y-%m-%d} 24:00"
    if isinstance(deadline, dt.datetime):
        return f"{deadline:%Y-%m-%d %H:%M}"
    return deadline


# The columns of marts.submission_versions the receipt lists for every version, in its order; between
# is_late and is_current, one count per severity (ref_severities) of the findings listed below for that
# version, so the counts and the rows' 严重程度 are one source (compliance_flags) and always agree.
VERSION_COLUMNS = ("version_no", "file_name", "outcome", "arrived_at", "is_late", "is_current", "sha256")

# The receipt's grid (character units, A4 landscape): the three tables merge neighbouring columns.
WIDTHS = (8.0, 28.0, 10.0, 19.0, 9.0, 9.0, 9.0, 14.0, 16.0, 44.0)
NCOLS = len(WIDTHS)
LABEL_SPAN = 2  # labels of the heading block take columns A:B, values C:J


@dataclass
class _Styles:
    """The receipt's cell formats (fonts, borders, fills of the status tones), one set per template."""

    title: Any
    note: Any
    label: Any
    value: Any
    subtitle: Any
    header: Any
    small_note: Any
    cell: Any
    center: Any
    when: Any
    count: Any
    hash: Any
    fills: dict[str, Any]

    @classmethod
    def add_to(cls, wb: Any, display: Display) -> _Styles:
        add = wb.add_format
        font = {"font_name": "宋体", "font_size": 10, "valign": "top"}
        cell = {**font, "border": 1, "border_color": "#7F7F7F"}
        return cls(
            title=add({"font_name": "宋体", "font_size": 16, "bold": True, "align": "center", "valign": "vcenter"}),
            note=add({"font_name": "宋体", "font_size": 9, "italic": True, "font_color": "#595959",
                      "align": "center", "valign": "top", "text_wrap": True}),
            label=add({"font_name": "宋体", "font_size": 10, "valign": "top", "bold": True,
                       "bottom": 1, "bottom_color": "#BFBFBF"}),
            value=add({"font_name": "宋体", "font_size": 10, "valign": "top", "text_wrap": True,
                       "bottom": 1, "bottom_color": "#BFBFBF"}),
            subtitle=add({**font, "bold": True, "font_size": 12, "bg_color": "#DDEBF7", "valign": "vcenter"}),
            header=add({**font, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                        "valign": "vcenter", "align": "center"}),
            small_note=add({**font, "italic": True, "font_color": "#595959", "text_wrap": True}),
            cell=add({**cell, "text_wrap": True}),
            center=add({**cell, "align": "center", "text_wrap": True}),
            when=add({**cell, "align": "center", "num_format": excel.DATETIME_FMT}),
            count=add({**cell, "align": "center", "num_format": excel.COUNT_FMT}),
            # the file's SHA-256 in a monospace font at the body size, in groups of 8 on two lines (_hash_text)
            hash=add({**cell, "text_wrap": True, "font_name": "Liberation Mono", "font_size": 9}),
            fills={t.tone: add({**cell, "align": "center", "bg_color": t.fill_colour})
                   for t in display.tones.values()},
        )


def receipt_template(display: Display) -> StampTemplate:
    """What every receipt shares: the sheet 回执 with its column widths, no gridlines, the print setup and
    the formats (``drawn``: _Styles). Built once per ``write_receipts`` (the tones' fills come from the
    warehouse)."""

    def draw(wb: Any, ws: Any) -> _Styles:
        ws.hide_gridlines(2)
        for col, width in enumerate(WIDTHS):
            ws.set_column(col, col, width)
        excel.setup_print(ws, TITLE_MARK, total_width=sum(WIDTHS), last_row=StampTemplate.TEMPLATE_LAST_ROW,
                          last_col=NCOLS - 1)
        wb.set_custom_property(DIGEST_PROPERTY, PROPERTY_MARK)
        return _Styles.add_to(wb, display)

    return StampTemplate("回执", draw)


class _Receipt:
    """Writes one receipt sheet top to bottom."""

    def __init__(self, path: Path, display: Display, template: StampTemplate) -> None:
        self.path, self.display = path, display
        self.ws = StampedSheet(template)
        self.styles: _Styles = template.drawn
        self.r = 0

    def __getattr__(self, name: str) -> Any:  # the formats: rc.cell, rc.center … (_Styles)
        return getattr(self.styles, name)

    def status(self, text: str | None) -> Any:
        """The cell of a status or severity (code or label) in its tone's fill."""
        return self.tone(self.display.tone_of(text))

    def tone(self, tone: str | None) -> Any:
        return self.fills[tone] if tone else self.center

    def _span(self, row: int, first: int, last: int, value: Any, fmt: Any) -> None:
        if last > first:
            self.ws.merge_range(row, first, row, last, "", fmt)
        excel.write_cell(self.ws, row, first, value, fmt)

    def line(self, label: str | None, value: Any, fmt: Any = None, value_span: int | None = None) -> None:
        """A labelled line (label A:B, value C:J or C:…); without a label, one text over the full width."""
        fmt = fmt or self.value
        first = 0 if label is None else LABEL_SPAN
        last = NCOLS - 1 if value_span is None else first + value_span - 1
        if label is not None:
            self._span(self.r, 0, LABEL_SPAN - 1, label, self.label)
        self._span(self.r, first, last, value, fmt)
        if last < NCOLS - 1 and label is not None:
            self._span(self.r, last + 1, NCOLS - 1, None, self.value)
        text = value if isinstance(value, str) else ""
        self.ws.set_row(self.r, excel.row_height([(text, sum(WIDTHS[first:last + 1]))]))
        self.r += 1

    def heading(self, text: str) -> None:
        self.r += 1
        self.ws.set_row(self.r, 21)
        self._span(self.r, 0, NCOLS - 1, text, self.subtitle)
        self.r += 1

    def table(self, headers: list[str], spans: list[int], rows: list[list[tuple[Any, Any]]],
              min_lines: int = 1) -> None:
        """A bordered table; logical column i covers ``spans[i]`` grid columns, rows are (value, format) pairs."""
        assert sum(spans) == NCOLS and len(headers) == len(spans)
        bounds, first = [], 0
        for n in spans:
            bounds.append((first, first + n - 1))
            first += n
        widths = [sum(WIDTHS[a:b + 1]) for a, b in bounds]
        self.ws.set_row(self.r, excel.row_height([(h, w) for h, w in zip(headers, widths, strict=True)]))
        for (a, b), h in zip(bounds, headers, strict=True):
            self._span(self.r, a, b, h, self.header)
        self.r += 1
        for row in rows:
            for (a, b), (v, fmt) in zip(bounds, row, strict=True):
                self._span(self.r, a, b, v, fmt or self.cell)
            self.ws.set_row(self.r, excel.row_height(
                [(v, w) for (v, fmt), w in zip(row, widths, strict=True) if isinstance(v, str) and fmt is not self.hash],
                min_lines=min_lines))
            self.r += 1

    def close(self, print_title: str, digest: str) -> None:
        self.ws.save(self.path, title=print_title, last_row=self.r - 1, property_value=digest)


def _recheck_text(rechecks: list[dict], label) -> str:
    """What a rule change did to this enterprise-quarter's files, in words a clerk reads."""
    day = max(r["rechecked_at"] for r in rechecks).date().isoformat()
    parts = []
    for r in rechecks:
        change = f"问题由{r['findings_before']}条变为{r['findings_after']}条"
        if r["outcome_before"] != r["outcome_after"]:
            change = (f"受理结果由“{label('receipt', r['outcome_before'])}”改为“{label('receipt', r['outcome_after'])}”，"
                      + change)
        parts.append(f"“{r['file_name']}”{change}")
    return f"市国资委于{day}更新了报表核对规则，本期已收报表已按新规则重新核对：{'；'.join(parts)}。以下内容均按新规则列出。"


def _write_one(path: Path, display: Display, period: str, org: str, name: str | None, filing: dict | None,
               versions: list[dict], flags: list[dict], share: dict | None, coverage: dict | None,
               funds: dict | None, rechecks: list[dict], digest: str, template: StampTemplate,
               reissue: str | None = None) -> None:
    rc = _Receipt(path, display, template)
    label = display.label
    ws = rc.ws
    cell, center = rc.cell, rc.center
    ws.set_row(0, 32)
    rc._span(0, 0, NCOLS - 1, "北京市国资委 高技能人才工作季度报表 回执", rc.title)
    rc.r = 1
    rc.line(None, "依据京国资党发〔2008〕8号及《高技能人才工作季度报表》报送要求出具。", rc.note)
    rc.r += 1
    rc.line("企业名称", name or "（名录中无此企业）")
    rc.line("组织机构代码", format_org_code(org))
    rc.line("报告期", period)
    deadline = (filing or {}).get("deadline_at") or (versions[0]["deadline_at"] if versions else
                                                     Period.parse(period).deadline())
    rc.line("报送截止时间", _deadline_text(deadline))

    current = next((v for v in versions if v.get("is_current")), None)
    status_code = (filing or {}).get("status_code")
    if not versions:
        status, conclusion = label("receipt", "not_received"), "未收到本期报表。请尽快报送，需重新报送（补报）本期报表。"
    elif current is None:
        status = label("receipt", "rejected")
        conclusion = "收到的报表未被受理（被退回），需重新报送：请按下列问题修改后重新报送本期报表。"
    else:
        # Lateness is judged on the first accepted version (filing_status): a correction sent after the
        # deadline does not make an on-time filing late.
        late = status_code == "late" if filing else bool(current.get("is_late"))
        status = (filing or {}).get("status") or label("filing", "late" if late else "on_time")
        conclusion = f"已受理，以第{current['version_no']}版（{current['file_name']}）为准。"
        if late:
            conclusion += "本期报表逾期报送。"
        # D-rules: the data is wrong, so correct and resubmit. C-rules: the data is credible and shows a
        # shortfall against the policy, which is remedied in the work itself, not by changing the figures.
        if any(fl["severity"] == "error" and fl["rule_id"].startswith("D") for fl in flags):
            conclusion += "报表数据存在须改正的错误，请按下列说明更正，在下期报送时一并改正或重新报送本期报表。"
        if any(fl["rule_id"].startswith("C") and fl["severity"] in ("error", "warning") for fl in flags):
            conclusion += (f"部分指标未达到政策要求（见“发现的问题”中处理方式为“{IMPROVE}”的各项），请对照政策条款改进工作，"
                           "这类问题无须修改报表；只有数据本身填报有误时，才需更正后重新报送。")
    if status_code == "unexpected":
        status = filing.get("status") or label("filing", "unexpected")
        conclusion = "本单位不在报送名录中，报表未被受理；如属应报送单位，请联系市国资委更新名录。"
    rc.line("报送情况", status, rc.status(status), value_span=2)
    rc.line("处理结论", conclusion)
    if rechecks:
        rc.line("规则变更", _recheck_text(rechecks, label))
    if reissue:
        rc.line("重新出具", reissue)
    if filing and filing.get("reasons_zh"):
        rc.line("退回/缺报原因", filing["reasons_zh"])

    # --- 一、收到的文件 ---------------------------------------------------------------------------
    rc.heading("一、收到的文件（每个版本）")
    if versions:
        severities = display.domain("severity")
        found: dict[tuple[str, str], int] = defaultdict(int)
        for fl in flags:
            if fl.get("submission_id"):
                found[(fl["submission_id"], fl["severity"])] += 1
        rows = []
        for v in versions:
            if v.get("is_current"):
                counts = f"{label('receipt', 'adopted')}（以此版为准）"
            elif v.get("is_duplicate"):
                counts = "重复报送，不采用"
            elif v.get("is_superseded"):
                counts = "已被更新版本替代"
            else:
                counts = "不采用"
            outcome = label("receipt", v["outcome"])
            late = v["is_late"]
            rows.append([(v["version_no"], center), (v["file_name"], cell), (outcome, rc.status(outcome)),
                         (v["arrived_at"], rc.when), (late, rc.status("late") if late else center),
                         *((found[(v["submission_id"], sev.code)], rc.count) for sev in severities),
                         (counts, center), (_hash_text(v["sha256"]), rc.hash)])
        # headers: the column comments of marts.submission_versions (its dbt descriptions) and the severities
        head = [display.column_label("submission_versions", c) for c in VERSION_COLUMNS]
        head[5:5] = [f"{sev.label_zh}（条）" for sev in severities]
        spans = [1] * len(head)
        spans[1] = NCOLS - (len(head) - 1)  # the file name takes what the severities leave
        rc.table(head, spans, rows, min_lines=2)
    else:
        rc.line(None, "未收到本期任何文件。", rc.status("not_received"))

    # --- 二、发现的问题 ---------------------------------------------------------------------------
    rc.heading("二、发现的问题及修改要求")
    if flags:
        rows = []
        for fl in flags:
            sev, rule = fl["severity"], fl["rule_id"]
            sev_zh = label("severity", sev)
            scope = label("period_type", "year") if rule in display.year_level_rules else "本季"
            action = f"{IMPROVE}（{scope}）" if rule.startswith("C") else f"{CORRECT}（{scope}）"
            rows.append([(rule, center), (_where(fl), cell), (sev_zh, rc.status(sev_zh)),
                         (flag_value(rule, fl.get("observed_value"), display), cell),
                         (flag_value(rule, fl.get("threshold"), display), cell), (action, center),
                         (fl.get("clause"), center), (fl.get("message_zh") or "", cell)])
        rc.table(["规则", "位置（工作表 行 列）", "严重程度", "填报值", "标准", "处理方式", "政策条款", "问题说明及修改要求"],
                 [1, 1, 1, 1, 2, 1, 1, 2], rows)
    else:
        rc.line(None, "未发现问题。" if current else "报表未受理，无法进行逐项检查。")

    # --- 三、合规情况 -----------------------------------------------------------------------------
    rc.heading("三、合规情况（本期，按已受理报表）")
    if share or coverage or funds:
        rows = []
        if share:
            status = share.get("status")
            rows.append([("C05", center), ("高技能人才占技能劳动者比例", cell), (_pct(share.get("high_skill_share")), center),
                         ("北京市平均水平\n" + _pct(share.get("beijing_average")) +
                          ("（假设值）" if share.get("benchmark_status") == "assumed" else ""), cell),
                         ("差距 " + _pp(share.get("gap_to_beijing")), cell), (status, rc.status(status)),
                         (_target_text(share), cell)])
        if coverage:
            word, tone = _verdict(coverage.get("c02_ok"))
            rows.append([("C02", center), ("高技能人才本年培训覆盖率", cell), (_pct(coverage.get("coverage")), center),
                         ("要求 " + _threshold_pct(coverage.get("coverage_min")), cell),
                         (f"已培训/人数 {coverage.get('trained') or 0}/{coverage.get('headcount') or 0}", cell),
                         (word, rc.tone(tone)), (display.text(COVERAGE_NOTE, period), cell)])
        if funds:
            for rule, label, v, mn, ok in (
                    ("C03", "教育培训经费提取比例（年初至今）", funds.get("extraction_ratio"), funds.get("fund_ratio_min"),
                     funds.get("c03_ok")),
                    ("C04", "一线职工培训经费占使用额比例（年初至今）", funds.get("frontline_share"),
                     funds.get("frontline_share_min"), funds.get("c04_ok"))):
                word, tone = _verdict(ok)
                rows.append([(rule, center), (label, cell), (_pct(v), center), ("下限 " + _threshold_pct(mn), cell),
                             ("", cell), (word, rc.tone(tone)), ("按年度考核（§四.2），本季为年初至今累计", cell)])
        rc.table(["规则", "指标", "本单位", "标准", "差距或明细", "结果", "说明"], [1, 1, 1, 1, 3, 1, 2], rows)
    else:
        rc.line(None, "本期无已受理报表，无法计算合规情况。")

    rc.r += 1
    rc.line("如何更正", "请按“问题说明及修改要求”修改报表（文件名 组织机构代码_报告期.xlsx），在原报送渠道重新报送；"
                     "以最后受理的版本为准，历次版本均留档。")
    rc.close(f"{format_org_code(org)}　{period}", digest)


_SAFE_CODE = re.compile(r"[0-9A-Z]{9}")
# What a clerk does about a finding: a data error (D rules) is corrected in the form; a shortfall against the
# policy (C rules) is remedied in the work, the figures stay as they are.
CORRECT, IMPROVE = "更正报表", "改进工作"


def _hash_text(sha256: Any) -> Any:
    """A SHA-256 a person can read aloud and compare: 8 groups of 8 hex digits, 4 to a line."""
    if not isinstance(sha256, str) or len(sha256) != 64:
        return sha256
    groups = [sha256[i:i + 8] for i in range(0, 64, 8)]
    return " ".join(groups[:4]) + "\n" + " ".join(groups[4:])


# The C02 line's explanation: the rule in its own words, with the thresholds in force for the receipt's quarter.
COVERAGE_NOTE = "每名高技能人才每年至少培训{trainings_per_year_min}次（按年度考核，本季为年初至今进度）"


def _verdict(ok: bool | None) -> tuple[str, str]:
    """dbt's verdict column (c02_ok …) in words and tone: the receipt shows it, it never decides again."""
    if ok is None:
        return "—", "muted"
    return ("达到", "ok") if ok else ("未达到", "warn")


def _threshold_pct(v: Any) -> str:
    return "—" if v is None else percent_text(v)


def _target_text(share: dict[str, Any]) -> str:
    """The C05 row's plan part: “十一五”2010年预计 …，目标 …；达标每年需提高 …, named by the row's plan (the
    plan_name reference row); a quarter outside every plan says only that (its status says 无规划期)."""
    if not share.get("plan_name"):
        return "本期不在任何规划期内，不计算进度与目标"
    return (f"“{share['plan_name']}”{share.get('target_year') or ''}年预计 "
            f"{_pct(share.get('projected_target_year_share'))}，目标 {_pct(share.get('target_share'))}；"
            f"{_gain_text(share.get('required_gain_per_year'))}")


def _gain_text(gain: Any) -> str:
    """What reaching the target takes a year: "达标每年需提高 +1.2百分点/年", or "—（已达标）" when none is needed."""
    return f"达标每年需提高 {gain_text(gain)}"


def receipt_name(org: str) -> str:
    """A receipt's file name: the organisation code as people read it, 10117472-0.xlsx."""
    return f"{format_org_code(org)}.xlsx"

# The custom document property (docProps/custom.xml) that holds the digest of a receipt's inputs.
DIGEST_PROPERTY = "sasac_inputs_sha256"
# The modules whose code decides what a receipt looks like.
RENDERER_MODULES = ("pipelines.lib.exports.receipts", "pipelines.lib.exports.stamped", "pipelines.lib.exports.excel",
                    "pipelines.lib.exports.display", "pipelines.lib.exports.revisions",
                    "pipelines.lib.domain.codes", "pipelines.lib.domain.periods", "pipelines.lib.domain.rule_text")
_CUSTOM_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"


@dataclass
class ReceiptsWritten:
    """What ``write_receipts`` did for one period: receipts written, left as they were, removed."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Every receipt of the period, written or not."""
        return sorted(self.written + self.unchanged)


def stored_digest(path: Path) -> str | None:
    """The inputs digest a receipt was written with; None when there is no readable receipt or no digest."""
    try:
        with zipfile.ZipFile(path) as zf:
            root = ElementTree.fromstring(zf.read("docProps/custom.xml"))
    except (OSError, KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    for prop in root.iter(f"{_CUSTOM_NS}property"):
        if prop.get("name") == DIGEST_PROPERTY and len(prop):
            return prop[0].text
    return None


def write_receipts(db_path: Path, period: str, out_dir: Path, release: int | None = None) -> ReceiptsWritten:
    """Bring every receipt for ``period`` under ``out_dir/<period>/`` up to date with the warehouse.

    A receipt whose stored inputs digest equals that of the warehouse's rows is left untouched, the others are
    written; receipts of enterprises no longer listed for the period are removed. ``release``: the release the
    run published (``releases.release_of_run``); a receipt it re-issues (there was one before) says which release
    and why (``revisions.Ledger.reissue_text``), outside the digest: the same rows never rewrite it.

    Receipts are stamped from one template (``stamped``) by forked children that inherit the rows
    (``forked.map_forked``).
    """
    period = str(Period.parse(period))
    data = _load(Path(db_path), period)
    ledger = None
    if release is not None:
        with duckdb.connect(str(db_path), read_only=True) as con:
            ledger = Ledger(con)
        ledger = ledger if release in ledger.when else None
    filing = {r["org_code"]: r for r in data["filing"]}
    versions = _by(data["versions"])
    flags = _by(data["flags"])
    share = {r["entity_code"]: r for r in data["share"]}
    coverage = {r["entity_code"]: r for r in data["coverage"]}
    funds = {r["entity_code"]: r for r in data["funds"]}
    rechecks = _by(data["rechecks"])
    # A receipt is named by a 组织机构代码 and nothing else: a value that is not one never becomes a path.
    orgs = sorted(o for o in set(filing) | set(versions) if o and _SAFE_CODE.fullmatch(o))

    target = Path(out_dir) / period
    target.mkdir(parents=True, exist_ok=True)
    result = ReceiptsWritten()
    keep = {receipt_name(o) for o in orgs}
    for old in sorted(target.glob("*.xlsx")):
        if old.name not in keep:
            old.unlink()
            result.removed.append(old)
    display = data["display"]
    shared = (renderer_digest(*RENDERER_MODULES), display_digest(display))
    template = receipt_template(display)  # before the fork: the children share it

    resolved_target = target.resolve()

    def bring_up_to_date(org: str) -> tuple[Path, bool] | None:
        fs = filing.get(org)
        name = (fs or {}).get("enterprise_name") or data["names"].get(org)
        path = target / receipt_name(org)
        if path.resolve().parent != resolved_target:
            return None
        rows = (fs, versions.get(org, []), flags.get(org, []), share.get(org), coverage.get(org), funds.get(org),
                rechecks.get(org, []))
        digest = content_digest(*shared, period, org, name, *rows)
        stored = stored_digest(path)
        if stored == digest:
            return path, False
        reissue = ledger.reissue_text(release, period, org) if ledger is not None and stored is not None else None
        _write_one(path, display, period, org, name, *rows, digest, template, reissue)
        return path, True

    for done in map_forked(bring_up_to_date, orgs):
        if done is not None:
            (result.written if done[1] else result.unchanged).append(done[0])
    return result
