"""Inspection pack (检查页): one self-contained HTML page per enterprise, and one per group, for the joint
inspection the policy's closing paragraph asks of the commission, the labour bureau and the trade union.

A page gathers what is otherwise spread over the marts: the registry record, every quarter's filing status,
the high-skill share against the Beijing average and the trajectory line, the talent flows, training
coverage, the training funds against their thresholds, the governance checklist (C06–C08, C12, C13) and the
incentives (C09–C11) year by year, and every flag with its rule, clause, value and threshold. It prints on A4
in at most three pages. No script, no external fetch; every figure is read from the published warehouse.

Key figures carry ``data-field`` / ``data-period`` attributes, so a test reads the rendered DOM and compares
it with the marts. Pages are written in bulk for a run (a handful of queries for all enterprises) and
rewritten only when their inputs changed (the digest in ``<meta name="sasac-inputs-sha256">``, as for the
quarterly report).
"""

from __future__ import annotations

import functools
import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code, normalize_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.exports.display import Display, read_display
from pipelines.lib.exports.forked import map_forked
from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name
from pipelines.lib.exports.publish import content_digest, display_digest, renderer_digest
from pipelines.lib.exports.report import (
    BLUE,
    ORANGE,
    line_chart,
    page_head,
    pct,
    pp,
    write_if_changed,
)
from pipelines.lib.machine import WORKER_PROCESSES

RENDERER_MODULES = ("pipelines.lib.exports.inspection", "pipelines.lib.exports.report",
                    "pipelines.lib.exports.display", "pipelines.lib.domain.codes", "pipelines.lib.domain.periods")
# The governance checklist and the incentives, in the order of RULES.md: (rule, verdict column of the mart).
GOVERNANCE_CHECKS = (("C06", "c06_ok"), ("C07", "c07_ok"), ("C08", "c08_ok"), ("C12", "c12_ok"), ("C13", "c13_ok"))
INCENTIVE_CHECKS = (("C09", "c09_ok"), ("C10", "c10_ok"), ("C11", "c11_ok"))
# The share chart's colour for the trajectory line: a neutral grey-green, apart from the two series colours.
TRAJECTORY_COLOUR = "#5b8c5a"

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif;margin:0;
 background:#f4f6f9;color:#222;font-size:13px}
main{max-width:1000px;margin:0 auto;padding:18px}
h1{font-size:21px;margin:0 0 2px}h2{font-size:15px;border-left:4px solid #2f6db5;padding-left:7px;margin:14px 0 6px}
.sub{color:#666;margin-bottom:8px;font-size:12px}
section{background:#fff;border-radius:5px;padding:8px 12px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:8px}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{border-bottom:1px solid #e3e6ea;padding:2px 5px;text-align:left}
th{background:#eef3fa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.c,th.c{text-align:center}
.kv td{border:none;padding:1px 8px 1px 0}.kv td.k{color:#666;white-space:nowrap}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.status{font-weight:bold;white-space:nowrap}
.note{font-size:11px;color:#666;margin:4px 0}
svg{max-width:100%;height:auto}svg text{font-family:inherit}
footer{color:#888;font-size:11px;margin-top:8px}
a{color:#2f6db5;text-decoration:none}
@page{size:A4;margin:10mm}
@media print{
 body{background:#fff;font-size:10px}main{max-width:none;padding:0}
 section{box-shadow:none;border:1px solid #ddd;padding:5px 8px;margin-bottom:5px;break-inside:avoid}
 h2{font-size:12.5px;margin:8px 0 4px;break-after:avoid}h1{font-size:17px}
 table{font-size:9.5px}th,td{padding:1px 4px}.sub,.note,footer{font-size:9px}
 section.flags{break-inside:auto}
}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}" if isinstance(v, float) or digits else f"{v:,}"


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


# ------------------------------------------------------------------------------------------------
# Data: every mart read once for all the pages of a run
# ------------------------------------------------------------------------------------------------
@dataclass
class Inspection:
    as_of: str
    display: Display
    enterprises: dict[str, dict[str, Any]]  # org_code -> dim_enterprises row
    rules: dict[str, dict[str, Any]]  # rule_id -> ref_rules row
    rows: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # part -> entity -> rows

    @functools.cached_property
    def members(self) -> dict[str, list[str]]:
        """group org_code -> its enterprises, sorted."""
        out: dict[str, list[str]] = defaultdict(list)
        for org in sorted(self.enterprises):
            out[self.enterprises[org]["group_org_code"]].append(org)
        return out

    @functools.cached_property
    def base_digest(self) -> str:
        """What every page shares: the drawing code, the display reference and the rules (hashed once here,
        not into each of 11,000 pages' digests)."""
        return content_digest(renderer_digest(*RENDERER_MODULES), display_digest(self.display),
                              sorted(self.rules.items()))

    def of(self, part: str, entity: str) -> list[dict[str, Any]]:
        return self.rows.get(part, {}).get(entity, [])

    @property
    def last_year_end(self) -> str | None:
        """The latest year row a page can show: the as-of year's Q4 when as-of is a Q4, else the year before's."""
        p = Period.parse(self.as_of)
        year = p.year if p.quarter == 4 else p.year - 1
        return f"{year}Q4"


def horizon(con: duckdb.DuckDBPyConnection) -> str | None:
    return con.execute("select max(period) from marts.filing_status").fetchone()[0]


def load_inspection(con: duckdb.DuckDBPyConnection, as_of: str, orgs: Sequence[str] | None = None) -> Inspection:
    """The rows of every page up to ``as_of``; ``orgs`` limits the enterprise and group rows read (None = all)."""
    as_of = str(Period.parse(as_of))
    filt = "" if orgs is None else " and {col} in (select unnest(?))"
    extra: list[Any] = [] if orgs is None else [list(orgs)]

    def rows(sql: str, col: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return _q(con, sql + filt.format(col=col), [*params, *extra])

    d = Inspection(as_of, read_display(con),
                   {r["org_code"]: r for r in _q(con, "select * from marts.dim_enterprises")},
                   {r["rule_id"]: r for r in _q(con, "select * from reference.ref_rules")})
    parts = {
        "filing": rows("select * from marts.filing_status where period <= ?", "org_code", [as_of]),
        "share": rows("select * from marts.high_skill_share_tracking where period_type = 'quarter' and period <= ?"
                      " and grain in ('enterprise', 'group')", "entity_code", [as_of]),
        "flows": rows("select * from marts.talent_flows where period <= ? and grain in ('enterprise', 'group')"
                      " and (period_type = 'year' or period = ?)", "entity_code", [as_of, as_of]),
        "coverage": rows("select * from marts.training_coverage_tracking where skill_level = '全部' and period <= ?"
                         " and grain in ('enterprise', 'group') and (period_type = 'year' or period = ?)",
                         "entity_code", [as_of, as_of]),
        "funds": rows("select * from marts.fund_tracking where period <= ? and grain in ('enterprise', 'group')"
                      " and (period_type = 'year' or period = ?)", "entity_code", [as_of, as_of]),
        "governance": rows("select * from marts.governance_matrix where period <= ?"
                           " and (period_type = 'year' or period = ?)", "org_code", [as_of, as_of]),
        "incentives": rows("select * from marts.incentives_tracking where period <= ?", "org_code", [as_of]),
        "flags": rows("select * from marts.compliance_flags where period <= ?", "org_code", [as_of]),
    }
    entity_col = {"share": "entity_code", "flows": "entity_code", "coverage": "entity_code", "funds": "entity_code"}
    for part, part_rows in parts.items():
        key = entity_col.get(part, "org_code")
        if key == "entity_code":
            part_rows = [{**r, "_key": f"{r['grain']}:{r['entity_code']}"} for r in part_rows]
            d.rows[part] = _by(part_rows, "_key")
        else:
            d.rows[part] = _by(part_rows, key)
    return d


def _ordered(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


# ------------------------------------------------------------------------------------------------
# Pieces
# ------------------------------------------------------------------------------------------------
def _mark(ok: Any, display: Display) -> str:
    """A verdict as a coloured mark: ✓ met, ✗ not met, — not judged."""
    if ok is None:
        return '<span class="muted">—</span>'
    tone = "ok" if ok else "bad"
    return f'<span class="status" style="color:{display.text_colour(tone)}">{"✓" if ok else "✗"}</span>'


def _status(text: Any, display: Display, field_name: str = "", period: str = "") -> str:
    attrs = f' data-field="{field_name}" data-period="{_e(period)}"' if field_name else ""
    tone = display.tone_of(text)
    colour = f' style="color:{display.text_colour(tone)}"' if tone else ""
    return f'<span class="status"{attrs}{colour}>{_e(text)}</span>'


def _f(field_name: str, period: str, text: str, raw: Any = None) -> str:
    """A figure with the attributes a test compares with the marts (``data-value``: the raw number)."""
    value = "" if raw is None else f' data-value="{_e(raw)}"'
    return f'<span data-field="{field_name}" data-period="{_e(period)}"{value}>{text}</span>'


def _head(d: Inspection, title: str, digest: str) -> list[str]:
    css = CSS + "".join(f".{t.tone}{{color:{t.text_colour}}}" for t in d.display.tones.values())
    return page_head(title, css, digest)


def _filing_grid(rows: list[dict[str, Any]], display: Display) -> str:
    by_year: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        p = Period.parse(r["period"])
        by_year[p.year][p.quarter] = r
    out = ['<table><thead><tr><th>年份</th>' + "".join(f'<th class="c">第{q}季度</th>' for q in range(1, 5))
           + "</tr></thead><tbody>"]
    for year in sorted(by_year):
        cells = []
        for q in range(1, 5):
            r = by_year[year].get(q)
            if r is None:
                cells.append('<td class="c muted">—</td>')
                continue
            title = f' title="{_e(r["reasons_zh"])}"' if r.get("reasons_zh") else ""
            cells.append(f'<td class="c"{title}>{_status(r["status"], display, "filing", r["period"])}</td>')
        out.append(f"<tr><td>{year}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _share_section(d: Inspection, key: str, name: str) -> list[str]:
    share = _ordered(d.of("share", key), "period")
    out = ["<h2>二、高技能人才占比与北京市平均水平、进度线</h2><section>"]
    if not share:
        return [*out, "<p>暂无已受理的报表。</p></section>"]
    now = share[-1]
    bad = d.display.text_colour("bad")
    target = now.get("target_share")
    hl = [(target, f"{now.get('target_year')}年目标 {pct(target)}", bad)] if target is not None else []
    out.append(line_chart(f"{name} 高技能人才占技能劳动者比例", [r["period"] for r in share], [
        {"name": "本单位", "values": [r["high_skill_share"] for r in share], "colour": BLUE},
        {"name": "北京市平均", "values": [r["beijing_average"] for r in share], "colour": ORANGE, "dash": "4 3"},
        {"name": "进度线", "values": [r["trajectory_share"] for r in share], "colour": TRAJECTORY_COLOUR,
         "dash": "2 3"},
    ], "高技能人才占比", hlines=hl, w=1000, h=250))
    p = now["period"]
    assumed = "（假设值）" if now.get("benchmark_status") == "assumed" else ""
    out.append('<table class="kv"><tr>'
               f'<td class="k">{_e(p)} 占比</td><td>{_f("share", p, pct(now["high_skill_share"]), now["high_skill_share"])}</td>'
               f'<td class="k">北京市平均{assumed}</td><td>{_f("beijing_average", p, pct(now["beijing_average"]), now["beijing_average"])}</td>'
               f'<td class="k">差距</td><td>{_f("gap", p, pp(now["gap_to_beijing"]), now["gap_to_beijing"])}</td>'
               f'<td class="k">进度线</td><td>{_f("trajectory", p, pct(now["trajectory_share"]), now["trajectory_share"])}</td>'
               f'<td class="k">状态</td><td>{_status(now["status"], d.display, "share_status", p)}</td></tr>'
               f'<tr><td class="k">基期</td><td>{_e(now["baseline_period"])} {pct(now["baseline_share"])}</td>'
               f'<td class="k">达标每年需提高</td><td>{pct(now["required_gain_per_year"])}</td>'
               f'<td class="k">{_e(now.get("target_year"))}年预计</td><td>{pct(now["projected_target_year_share"])}</td>'
               f'<td class="k">高技能人才 / 技能劳动者</td><td colspan="3">{_num(now["high_skill_total"])} / '
               f'{_num(now["skilled_workers"])}</td></tr></table>')
    out.append("</section>")
    return out


def _flows_section(d: Inspection, key: str) -> list[str]:
    rows = d.of("flows", key)
    years = _ordered([r for r in rows if r["period_type"] == "year"], "period")
    quarter = [r for r in rows if r["period_type"] == "quarter" and r["period"] == d.as_of]
    shown = years + quarter
    out = ["<h2>三、高技能人才流动（期初 + 流入 − 流出 = 期末）与占比变动分解</h2><section>"]
    if not shown:
        return [*out, "<p>尚无可比较的相邻两期花名册。</p></section>"]
    out.append('<table><thead><tr><th>期间</th><th class="n">期初</th><th class="n">晋升</th><th class="n">其中受训</th>'
               '<th class="n">调入</th><th class="n">新进入</th><th class="n">调出</th><th class="n">退休</th>'
               '<th class="n">其他离开</th><th class="n">期末</th><th class="n">内部晋级</th><th class="n">占比变动</th>'
               '<th class="n">培养</th><th class="n">招聘</th><th class="n">调动</th><th class="n">离开</th>'
               '<th class="n">分母</th></tr></thead><tbody>')
    for r in shown:
        p = r["period"]
        label = f"{r['year']}年" if r["period_type"] == "year" else f"{p}（季度）"

        def c(col: str, r: dict = r, p: str = p) -> str:
            return f'<td class="n">{_f("flows_" + col, p + ":" + r["period_type"], _num(r[col]), r[col])}</td>'

        def s(col: str, r: dict = r) -> str:
            v = r[col]
            return f'<td class="n">{"—" if v is None else f"{v * 100:+.2f}"}</td>'

        out.append(f"<tr><td>{_e(label)}</td>{c('high_skill_start')}{c('promoted_in')}{c('promoted_trained')}"
                   f"{c('transfer_in')}{c('new_in')}{c('transfer_out')}{c('retired')}{c('left_otherwise')}"
                   f"{c('high_skill_end')}{c('upgraded')}{s('share_change')}{s('share_from_promotion')}"
                   f"{s('share_from_hiring')}{s('share_from_transfers')}{s('share_from_departures')}"
                   f"{s('share_from_skilled_workers')}</tr>")
    out.append('</tbody></table><div class="note">年度行比较上年末与本年末的花名册。占比变动及各项贡献单位为百分点，'
               "五项之和等于变动；“其中受训”为晋升者在截至期末的四个季度内参加过培训的人数。</div></section>")
    return out


def _coverage_funds_section(d: Inspection, key: str) -> list[str]:
    # A Q4 as-of quarter is the year row already: show it once.
    cov = {r["period"] + r["period_type"]: r for r in d.of("coverage", key)
           if r["period_type"] == "year" or not d.as_of.endswith("Q4")}
    funds = {r["period"] + r["period_type"]: r for r in d.of("funds", key)
             if r["period_type"] == "year" or not d.as_of.endswith("Q4")}
    keys = sorted(set(cov) | set(funds))
    out = ["<h2>四、培训覆盖（C02）与培训经费（C03 提取≥1.5%，C04 一线≥60%）</h2><section>"]
    if not keys:
        return [*out, "<p>暂无数据。</p></section>"]
    out.append('<table><thead><tr><th>期间</th><th class="n">高技能人才</th><th class="n">已培训</th>'
               '<th class="n">覆盖率</th><th class="c">C02</th><th class="n">工资总额（万元）</th><th class="n">提取额</th>'
               '<th class="n">提取比例</th><th class="c">C03</th><th class="n">使用额</th><th class="n">一线占比</th>'
               '<th class="c">C04</th></tr></thead><tbody>')
    for k in keys:
        c, f = cov.get(k, {}), funds.get(k, {})
        r = c or f
        p, ptype = r["period"], r["period_type"]
        label = f"{r['year']}年" if ptype == "year" else f"{p}（年初至今）"
        tag = f"{p}:{ptype}"
        out.append(
            f"<tr><td>{_e(label)}</td><td class=n>{_num(c.get('headcount'))}</td><td class=n>{_num(c.get('trained'))}</td>"
            f"<td class=n>{_f('coverage', tag, pct(c.get('coverage')), c.get('coverage'))}</td>"
            f"<td class=c>{_mark(c.get('c02_ok'), d.display)}</td>"
            f"<td class=n>{_num(f.get('payroll'), 2)}</td><td class=n>{_num(f.get('fund_extracted'), 2)}</td>"
            f"<td class=n>{_f('extraction_ratio', tag, pct(f.get('extraction_ratio'), 2), f.get('extraction_ratio'))}</td>"
            f"<td class=c>{_mark(f.get('c03_ok'), d.display)}</td><td class=n>{_num(f.get('fund_spent'), 2)}</td>"
            f"<td class=n>{_f('frontline_share', tag, pct(f.get('frontline_share')), f.get('frontline_share'))}</td>"
            f"<td class=c>{_mark(f.get('c04_ok'), d.display)}</td></tr>")
    ratio_min = next((f["fund_ratio_min"] for f in funds.values() if f.get("fund_ratio_min") is not None), None)
    front_min = next((f["frontline_share_min"] for f in funds.values() if f.get("frontline_share_min") is not None), None)
    out.append(f'</tbody></table><div class="note">阈值取自参考数据：经费提取比例下限 {pct(ratio_min)}，'
               f"一线职工使用占比下限 {pct(front_min, 0)}；覆盖率要求 100%。</div></section>")
    return out


def _checklist_section(d: Inspection, org: str) -> list[str]:
    gov = {r["year"]: r for r in d.of("governance", org) if r["period_type"] == "year"}
    now = next((r for r in d.of("governance", org) if r["period_type"] == "quarter" and r["period"] == d.as_of), None)
    inc = {r["year"]: r for r in d.of("incentives", org)}
    years = sorted(set(gov) | set(inc))
    out = ["<h2>五、制度建设（C06–C08、C12、C13）与激励待遇（C09–C11），逐年</h2><section>"]
    if not years and now is None:
        return [*out, "<p>暂无数据。</p></section>"]
    cols = [(str(y), gov.get(y, {}), inc.get(y, {}), f"{y}Q4") for y in years]
    if now is not None and now["period"] != f"{now['year']}Q4":
        cols.append((f"{now['period']}（至今）", now, {}, now["period"]))
    out.append("<table><thead><tr><th>规则</th><th>要求</th>"
               + "".join(f'<th class="c">{_e(c[0])}</th>' for c in cols) + "</tr></thead><tbody>")
    for rule, col in (*GOVERNANCE_CHECKS, *INCENTIVE_CHECKS):
        source = 1 if rule in dict(GOVERNANCE_CHECKS) else 2
        title = d.rules.get(rule, {}).get("title_zh", "")
        clause = d.rules.get(rule, {}).get("clause", "")
        cells = "".join(
            f'<td class="c" data-field="{col}" data-period="{_e(c[3])}" data-value="{_e(c[source].get(col))}">'
            f"{_mark(c[source].get(col), d.display)}</td>" for c in cols)
        out.append(f"<tr><td>{rule} {_e(clause)}</td><td>{_e(title)}</td>{cells}</tr>")
    out.append('</tbody></table><div class="note">✓ 已落实　✗ 未落实　— 无数据或无需判断；'
               "季度列为本年截至本季度的情况。</div></section>")
    return out


def period_runs(periods: Iterable[str]) -> str:
    """2006Q2, 2006Q3, 2006Q4, 2008Q1 -> "2006Q2–2006Q4、2008Q1": consecutive quarters as one run."""
    runs: list[list[Period]] = []
    for p in sorted({Period.parse(x) for x in periods}):
        if runs and runs[-1][-1].next() == p:
            runs[-1].append(p)
        else:
            runs.append([p])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _flags_section(d: Inspection, org: str) -> list[str]:
    """Every flag, one row per rule (so the page stays within three A4 pages whatever the history): the
    quarters it was raised in, how many, and the latest one's value, threshold and explanation."""
    flags = d.of("flags", org)
    year_rules = d.display.year_level_rules
    latest_year = d.last_year_end
    # A rule is open when it is still flagged in the latest period it can be judged for (the as-of quarter,
    # or the latest complete year for the year-level rules); else its flags are closed.
    still = {f["rule_id"] for f in flags
             if f["period"] == (latest_year if f["rule_id"] in year_rules else d.as_of)}
    state = {code: d.display.label("flag_state", code) for code in ("open", "closed")}
    n_open = sum(1 for f in flags if f["rule_id"] in still)
    out = [f'<h2>六、问题清单（共 {len(flags)} 条，其中{_e(state["open"])} {n_open} 条）</h2><section class="flags">']
    if not flags:
        return [*out, "<p>未发现问题。</p></section>"]
    sev_order = d.display.order("severity")
    by_rule = _by(flags, "rule_id")
    out.append("<table><thead><tr><th>状态</th><th>规则</th><th>条款</th><th>规则说明</th><th>严重程度</th>"
               '<th>报告期</th><th class="n">条数</th><th>最近一条：实际值</th><th>阈值</th><th>说明</th></tr></thead><tbody>')
    for rule_id in sorted(by_rule, key=lambda r: (r not in still, r)):
        rows = sorted(by_rule[rule_id], key=lambda f: (f["period"], sev_order.get(f["severity"], 9),
                                                       f["source_row"] or 0, f["flag_id"]))
        latest = max(rows, key=lambda f: f["period"])
        in_latest = sum(1 for f in rows if f["period"] == latest["period"])
        worst = min((f["severity"] for f in rows), key=lambda v: sev_order.get(v, 9))
        rule = d.rules.get(rule_id, {})
        more = f"（该期共 {in_latest} 条）" if in_latest > 1 else ""
        st = state["open"] if rule_id in still else state["closed"]
        out.append(f'<tr data-field="flag" data-rule="{_e(rule_id)}" data-count="{len(rows)}"'
                   f' data-period="{_e(latest["period"])}" data-value="{_e(latest["observed_value"])}">'
                   f"<td>{_status(st, d.display)}</td><td>{_e(rule_id)}</td><td>{_e(latest['clause'])}</td>"
                   f"<td>{_e(rule.get('title_zh'))}</td>"
                   f"<td>{_status(d.display.label('severity', worst), d.display)}</td>"
                   f'<td class="periods">{_e(period_runs(f["period"] for f in rows))}</td>'
                   f'<td class="n">{len(rows)}</td>'
                   f"<td>{_e(d.display.finding_value(latest['observed_value']))}</td><td>{_e(latest['threshold'])}</td>"
                   f"<td>{_e(latest['message_zh'])}{_e(more)}</td></tr>")
    out.append('</tbody></table><div class="note">每条规则一行：列出该规则出现问题的全部报告期和条数，以及最近一条的'
               "实际值、阈值和说明；逐条明细见发布库 marts.compliance_flags。</div></section>")
    return out


# ------------------------------------------------------------------------------------------------
# Pages
# ------------------------------------------------------------------------------------------------
def render_enterprise(d: Inspection, org: str, digest: str = "") -> str:
    e = d.enterprises[org]
    name = e["enterprise_name"] or format_org_code(org)
    group = d.enterprises.get(e["group_org_code"], {})
    parts = _head(d, f"企业检查页 {name} {d.as_of}", digest)
    a = parts.append
    a(f"<h1>{_e(name)} · 高技能人才工作检查页</h1>")
    a(f'<div class="sub">截至 {_e(d.as_of)}；依据{POLICY_TITLE}（第五部分：国资委、劳动保障局和工会组织对各企业'
      "落实情况进行检查）；数据来源：已发布数据库。</div>")
    a("<h2>一、名录信息与报送情况</h2><section>")
    group_link = (f'<a href="../{GROUP_DIR}/{_e(page_name(e["group_org_code"]))}">{_e(group.get("enterprise_name") or e["group_name"])}'
                  f"（{_e(format_org_code(e['group_org_code']))}）</a>") if e["group_org_code"] else "—"
    a('<table class="kv"><tr>'
      f'<td class="k">组织机构代码</td><td data-field="org_code">{_e(format_org_code(org))}</td>'
      f'<td class="k">所属集团</td><td>{group_link}</td>'
      f'<td class="k">重点领域</td><td>{_e(e["sector"])}</td><td class="k">行业代码</td><td>{_e(e["industry_code"])}</td>'
      f'</tr><tr><td class="k">报送起止期</td><td>{_e(e["active_from"])} – {_e(e["active_to"] or "至今")}</td>'
      f'<td class="k">首次/最近报送</td><td>{_e(e["first_period_reported"])} / {_e(e["last_period_reported"])}</td>'
      f'<td class="k">集团总部</td><td colspan="3">{"是" if e["is_group_hq"] else "否"}</td></tr></table>')
    a(_filing_grid(d.of("filing", org), d.display))
    a("</section>")
    parts += _share_section(d, f"enterprise:{org}", name)
    parts += _flows_section(d, f"enterprise:{org}")
    parts += _coverage_funds_section(d, f"enterprise:{org}")
    parts += _checklist_section(d, org)
    parts += _flags_section(d, org)
    a("<footer>本页由数据平台根据已发布数据库自动生成，不含个人身份信息；比例为占比，金额单位万元。</footer>")
    a("</main></body></html>")
    return "\n".join(parts)


def members_of(d: Inspection, group: str) -> list[str]:
    return d.members.get(group, [])


def render_group(d: Inspection, group: str, digest: str = "") -> str:
    hq = d.enterprises.get(group, {})
    name = next((e["group_name"] for e in d.enterprises.values() if e["group_org_code"] == group), None) \
        or hq.get("enterprise_name") or format_org_code(group)
    members = members_of(d, group)
    parts = _head(d, f"集团检查页 {name} {d.as_of}", digest)
    a = parts.append
    a(f"<h1>{_e(name)} · 高技能人才工作检查页（集团）</h1>")
    a(f'<div class="sub">截至 {_e(d.as_of)}；集团组织机构代码 {_e(format_org_code(group))}，所属企业 {len(members)} 家；'
      f"依据{POLICY_TITLE}。</div>")
    a(f"<h2>一、所属企业对照（{_e(d.as_of)}；经费、培训为 {_e(d.last_year_end)} 年度）</h2><section>")
    a('<table><thead><tr><th>企业</th><th>报送</th><th class="n">占比</th><th class="n">差距</th><th>进度</th>'
      '<th class="n">年度流入</th><th class="n">年度流出</th><th class="n">培训覆盖</th><th class="n">经费提取</th>'
      '<th class="n">一线占比</th>' + "".join(f'<th class="c">{r}</th>' for r, _ in (*GOVERNANCE_CHECKS, *INCENTIVE_CHECKS))
      + '<th class="n">未解决问题</th></tr></thead><tbody>')
    year_end = d.last_year_end
    for org in members:
        e = d.enterprises[org]
        filing = next((r for r in d.of("filing", org) if r["period"] == d.as_of), {})
        share = next((r for r in d.of("share", f"enterprise:{org}") if r["period"] == d.as_of), {})
        flow = next((r for r in d.of("flows", f"enterprise:{org}") if r["period_type"] == "year"
                     and r["period"] == year_end), {})
        cov = next((r for r in d.of("coverage", f"enterprise:{org}") if r["period_type"] == "year"
                    and r["period"] == year_end), {})
        fund = next((r for r in d.of("funds", f"enterprise:{org}") if r["period_type"] == "year"
                     and r["period"] == year_end), {})
        gov = next((r for r in d.of("governance", org) if r["period_type"] == "year" and r["period"] == year_end), {})
        inc = next((r for r in d.of("incentives", org) if r["period"] == year_end), {})
        flags = d.of("flags", org)
        open_n = sum(1 for f in flags if f["period"] == (year_end if f["rule_id"] in d.display.year_level_rules
                                                         else d.as_of))
        checks = "".join(f'<td class="c">{_mark(gov.get(col), d.display)}</td>' for _, col in GOVERNANCE_CHECKS) + \
            "".join(f'<td class="c">{_mark(inc.get(col), d.display)}</td>' for _, col in INCENTIVE_CHECKS)
        tag = f"{org}:{d.as_of}"
        a(f'<tr><td><a href="../{ENTERPRISE_DIR}/{_e(page_name(org))}">{_e(e["enterprise_name"])}</a></td>'
          f"<td>{_status(filing.get('status'), d.display)}</td>"
          f"<td class=n>{_f('member_share', tag, pct(share.get('high_skill_share')), share.get('high_skill_share'))}</td>"
          f"<td class=n>{pp(share.get('gap_to_beijing'))}</td>"
          f"<td>{_status(share.get('status'), d.display)}</td>"
          f"<td class=n>{_num(flow.get('in_total'))}</td><td class=n>{_num(flow.get('out_total'))}</td>"
          f"<td class=n>{pct(cov.get('coverage'))}</td><td class=n>{pct(fund.get('extraction_ratio'), 2)}</td>"
          f"<td class=n>{pct(fund.get('frontline_share'))}</td>{checks}<td class=n>{open_n}</td></tr>")
    a("</tbody></table></section>")
    parts += _share_section(d, f"group:{group}", name)
    parts += _flows_section(d, f"group:{group}")
    parts += _coverage_funds_section(d, f"group:{group}")
    a('<div class="note">集团口径：集团内企业之间的调动不计为流动；占比、培训、经费为所属企业之和。</div>')
    a("<footer>本页由数据平台根据已发布数据库自动生成，不含个人身份信息；比例为占比，金额单位万元。</footer>")
    a("</main></body></html>")
    return "\n".join(parts)


def _page_rows(d: Inspection, org: str, group: bool) -> list[Any]:
    # A group's code is also its head office's org code: an enterprise page depends on the enterprise's rows
    # only, a group page on the group's and its members'.
    keys = [org, f"enterprise:{org}"]
    if group:
        keys = [f"group:{org}"]
        for m in members_of(d, org):
            keys += [m, f"enterprise:{m}"]
    return [d.as_of, group, sorted(keys), {part: {k: rows.get(k, []) for k in keys} for part, rows in d.rows.items()},
            {k: d.enterprises.get(k) for k in [org, *(members_of(d, org) if group else [])]}]


def write_page(d: Inspection, org: str, path: Path, group: bool = False) -> bool:
    """Write one enterprise's (or group's) page at ``path`` unless it already shows these inputs."""
    digest = content_digest(d.base_digest, _page_rows(d, org, group))
    if group:
        return write_if_changed(path, digest, lambda dg: render_group(d, org, dg))
    return write_if_changed(path, digest, lambda dg: render_enterprise(d, org, dg))


class UnknownEntityError(LookupError):
    pass


def write_inspection_page(db_path: Path, org_code: str, out_path: Path, period: str | None = None,
                          group: bool = False) -> Path:
    """The CLI's page: one enterprise (or, with ``group``, the group with that code) as of ``period``."""
    org = normalize_org_code(org_code)
    with duckdb.connect(str(db_path), read_only=True) as con:
        as_of = str(Period.parse(period)) if period else horizon(con)
        if as_of is None:
            raise UnknownEntityError("发布库中没有任何报告期的数据")
        members = [r[0] for r in con.execute("select org_code from marts.dim_enterprises where group_org_code = ?",
                                             [org]).fetchall()]
        if group and not members:
            raise UnknownEntityError(f"名录中没有以 {format_org_code(org)} 为集团代码的企业")
        if not group and not con.execute("select 1 from marts.dim_enterprises where org_code = ?", [org]).fetchone():
            raise UnknownEntityError(f"名录中没有组织机构代码为 {format_org_code(org)} 的企业")
        d = load_inspection(con, as_of, [org, *members] if group else [org])
    write_page(d, org, Path(out_path), group=group)
    return Path(out_path)


@dataclass
class PagesWritten:
    written: int = 0
    unchanged: int = 0
    removed: int = 0


def write_inspection_pages(db_path: Path, report_dir: Path, workers: int = WORKER_PROCESSES) -> PagesWritten:
    """Every registered enterprise's and group's page, as of the warehouse's horizon, under ``report_dir``
    (``enterprises/10117472-0.html``, ``groups/<group code>.html``: ``pages.page_name``); pages of codes no longer registered
    are removed. ``workers``: how many forked children write them (see ``forked.map_forked``)."""
    result = PagesWritten()
    with duckdb.connect(str(db_path), read_only=True) as con:
        as_of = horizon(con)
        if as_of is None:
            return result
        d = load_inspection(con, as_of)
    groups = sorted({e["group_org_code"] for e in d.enterprises.values() if e["group_org_code"]})
    d.base_digest  # noqa: B018 - computed once here, before the children fork, not once in each
    for folder, codes, is_group in ((ENTERPRISE_DIR, sorted(d.enterprises), False), (GROUP_DIR, groups, True)):
        target = Path(report_dir) / folder
        # forked children inherit the loaded marts: ~10 ms a page, 1,250 pages for 1,000 enterprises
        written = map_forked(lambda code, target=target, is_group=is_group:
                             write_page(d, code, target / page_name(code), group=is_group), codes, workers)
        result.written += sum(written)
        result.unchanged += len(written) - sum(written)
        if target.is_dir():
            names = {page_name(code) for code in codes}
            for stale in target.glob("*.html"):
                if stale.name not in names:
                    stale.unlink()
                    result.removed += 1
    return result
