"""Quarterly report for the SASAC leadership: one self-contained HTML page per period.

No CDN, no script, no external fetch: inline CSS and inline SVG charts, from the published marts (read-only, a
handful of queries for the period). This module reads the rows and works out what each part of the page shows
(the charts' geometry in ``charts.py``); ``templates/report.html.j2`` and ``index.html.j2`` mark it up.

A page is rewritten only when what it shows changed: the digest of its inputs (the rows read for the
period, the display reference, the code that draws it) sits in ``<meta name="sasac-inputs-sha256">`` at
the top of the page and is compared with the page already there before writing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.domain.rule_text import percent_text
from pipelines.lib.exports.charts import BLUE, ORANGE, Bar, hbar_chart, line_chart
from pipelines.lib.exports.display import PP_PER_YEAR_UNIT, PP_UNIT, Display, gain_text, pct, pp, read_display
from pipelines.lib.exports.headlines import COVERAGE, FRONTLINE, FUND_RATIO, SHARE
from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name
from pipelines.lib.exports.publish import content_digest, display_digest, renderer_digest
from pipelines.lib.exports.revisions import NO_REVISIONS, Ledger, index_revisions
from pipelines.lib.exports.rows import dict_rows
from pipelines.lib.exports.templating import render, templates_digest

TOP_N = 20


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
def _load(db_path: Path, period: str) -> dict[str, Any]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        d: dict[str, Any] = {"display": read_display(con)}
        d["system"] = dict_rows(con, """select * from marts.high_skill_share_tracking where grain = 'system'
                                 and period_type = 'quarter' and period <= ? order by period""", [period])
        d["enterprises"] = dict_rows(con, """select t.*, coalesce(t.entity_name, e.enterprise_name) as name
                                      from marts.high_skill_share_tracking t
                                      left join marts.dim_enterprises e on e.org_code = t.entity_code
                                      where t.grain = 'enterprise' and t.period_type = 'quarter' and t.period = ?
                                      order by t.gap_to_beijing nulls last, t.entity_code""", [period])
        d["coverage"] = dict_rows(con, """select * from marts.training_coverage_tracking where period_type = 'quarter'
                                   and period = ? and skill_level = '全部' and grain in ('group', 'system')
                                   order by grain, entity_code""", [period])
        d["funds"] = dict_rows(con, """select * from marts.fund_tracking where period_type = 'quarter' and period = ?
                                and grain in ('group', 'system') order by grain, entity_code""", [period])
        d["flags_by_rule"] = dict_rows(con, """select f.rule_id, any_value(f.clause) as clause,
                                          arg_min(f.severity, s.sort_order) as severity,
                                          count(*) as n, count(distinct f.org_code) as orgs
                                        from marts.compliance_flags f
                                        left join reference.ref_severities s on s.severity = f.severity
                                        where f.period = ? group by f.rule_id
                                        order by f.rule_id""", [period])
        d["filing"] = dict_rows(con, """select status_code, status, count(*) as n from marts.filing_status
                                 where period = ? group by all order by status_code""", [period])
        # Not filed, rejected, and files from outside the registry: what someone has to follow up.
        d["not_filed"] = dict_rows(con, """select f.*, coalesce(f.group_org_code, '') as g from marts.filing_status f
                                    left join reference.ref_statuses s
                                      on s.domain = 'filing' and s.status_code = f.status_code
                                    where f.period = ? and f.status_code in ('missing', 'rejected', 'unexpected')
                                    order by s.sort_order, g, f.org_code""", [period])
        # group display names: the group rows' entity_name, else the HQ enterprise's own name
        names = dict(con.execute("select org_code, enterprise_name from marts.dim_enterprises").fetchall())
        names.update({r[0]: r[1] for r in con.execute(
            "select entity_code, any_value(entity_name) from marts.high_skill_share_tracking "
            "where grain = 'group' and entity_name is not null group by 1").fetchall()})
        d["group_names"] = names
        d["horizon"] = con.execute("select max(period) from marts.filing_status").fetchone()[0]
        # The data cut-off: the last file received for this quarter or an earlier one (the report's figures
        # cannot move without a later file or a rule change).
        d["cutoff"] = con.execute("select max(arrived_at) from marts.submission_versions where period <= ?",
                                  [period]).fetchone()[0]
        # A quarter a later release changed says so at the top (修订说明): from the ledger, None when never revised.
        d["revision"] = Ledger(con).note(period)
        return d
    finally:
        con.close()


def rule_ranges(rules: frozenset[str] | set[str]) -> str:
    """C01, C02, C03, C06 -> "C01–C03、C06": consecutive rule numbers of a family as one range."""
    runs: list[list[str]] = []
    for rule in sorted(rules):
        prev = runs[-1][-1] if runs else None
        if prev and prev[0] == rule[0] and int(prev[1:]) + 1 == int(rule[1:]):
            runs[-1].append(rule)
        else:
            runs.append([rule])
    return "、".join(r[0] if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


# ------------------------------------------------------------------------------------------------
# Page: what each part shows, computed here; report.html.j2 marks it up
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    key: str
    value: str
    detail: str = ""
    cls: str = ""


def _met(verdict: bool | None) -> str:
    """The tone of dbt's verdict column (c03_ok …): the report shows it, it never decides again."""
    return "ok" if verdict else "bad"


def _filing_cards(d: dict[str, Any]) -> list[Card]:
    filing = {r["status_code"]: r["n"] for r in d["filing"]}
    expected = sum(n for code, n in filing.items() if code != "unexpected")
    received = filing.get("on_time", 0) + filing.get("late", 0)
    return [Card("应报企业", f"{expected:,}",
                 f"已受理 {received:,}（按时 {filing.get('on_time', 0):,}，逾期 {filing.get('late', 0):,}）"),
            Card("未报送 / 被退回", f"{filing.get('missing', 0):,} / {filing.get('rejected', 0):,}",
                 f"名录外来件 {filing.get('unexpected', 0):,}",
                 "bad" if filing.get("missing") or filing.get("rejected") else "ok")]


def basis_text(row: dict[str, Any] | None) -> str:
    """A figure's basis and how many enterprises it sums, as every page states it beside the figure."""
    if not row or not row.get("basis"):
        return ""
    caveat = f"；{row['verdict_caveat']}" if row.get("verdict_caveat") else ""
    return f"口径：{row['basis']}，{row['enterprises_reported']:,} 家企业{caveat}"


def _system_cards(d: dict[str, Any], period: str, display: Display) -> list[Card]:
    now = next((r for r in d["system"] if r["period"] == period), None)
    if not now:
        return [Card(SHARE.label, "—", "本期无已受理报表"), Card("全系统进度状态", "—")]
    tone = display.tone_of(now["status"]) or ""
    assumed = "（假设值）" if now.get("benchmark_status") == "assumed" else ""
    return [Card(SHARE.label, SHARE.text(now["high_skill_share"]),
                 f"北京市平均水平 {pct(now['beijing_average'])}{assumed}，差距 {pp(now['gap_to_beijing'])}；"
                 f"{basis_text(now)}", tone),
            Card("全系统进度状态", now["status"],
                 f"{now['target_year']}年目标 {pct(now['target_share'])}；按当前速度预计 "
                 f"{pct(now['projected_target_year_share'])}", tone)]


def _training_cards(d: dict[str, Any]) -> list[Card]:
    cov = next((r for r in d["coverage"] if r["grain"] == "system"), None)
    fund = next((r for r in d["funds"] if r["grain"] == "system"), None)
    cards = [Card(COVERAGE.label, COVERAGE.text(cov["coverage"]) if cov else "—",
                  f"已培训 {cov['trained']:,} / {cov['headcount']:,} 人，要求 {percent_text(cov['coverage_min'])}；"
                  f"{basis_text(cov)}"
                  if cov else "")]
    if not fund:
        return [*cards, Card(FUND_RATIO.label, "—"), Card(FRONTLINE.label, "—")]
    return [*cards,
            Card(FUND_RATIO.label, FUND_RATIO.text(fund["extraction_ratio"]),
                 f"下限 {percent_text(fund['fund_ratio_min'])}；{basis_text(fund)}", _met(fund["c03_ok"])),
            Card(FRONTLINE.label, FRONTLINE.text(fund["frontline_share"]),
                 f"下限 {percent_text(fund['frontline_share_min'])}；{basis_text(fund)}", _met(fund["c04_ok"]))]


def _flags_card(d: dict[str, Any], display: Display) -> Card:
    order = display.order("trajectory")
    status_counts: dict[str, int] = {}
    for r in d["enterprises"]:
        status_counts[r["status"]] = status_counts.get(r["status"], 0) + 1
    n_flags = sum(r["n"] for r in d["flags_by_rule"])
    n_errors = sum(r["n"] for r in d["flags_by_rule"] if r["severity"] == "error")
    progress = "，".join(f"{k} {v}" for k, v in sorted(status_counts.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
    return Card("本期问题", f"{n_flags:,}", f"其中错误 {n_errors:,} 条；企业进度：{progress}")


def _share_part(d: dict[str, Any], bad: str) -> dict[str, Any]:
    """Part one: the system's share over the quarters against the Beijing average, and a note on assumed values."""
    system = d["system"]
    if not system:
        return {"share_chart": None, "share_note": None}
    last = system[-1]
    target, target_year = last.get("target_share"), last.get("target_year")
    hl = [(target, f"{target_year}年目标 {pct(target)}", bad)] if target is not None else []
    chart = line_chart("全系统高技能人才占技能劳动者比例", [r["period"] for r in system], [
        {"name": "全系统", "values": [r["high_skill_share"] for r in system], "colour": BLUE},
        {"name": "北京市平均", "values": [r["beijing_average"] for r in system], "colour": ORANGE, "dash": "4 3"},
    ], "高技能人才占比", hlines=hl)
    assumed_years = sorted({r["year"] for r in system if r.get("benchmark_status") == "assumed"})
    target_assumed = last.get("target_benchmark_status") == "assumed"
    note = None
    if assumed_years or target_assumed:
        src = next((r["benchmark_source"] for r in system if r.get("benchmark_status") == "assumed"), "")
        note = (f"注意：{'、'.join(str(y) for y in assumed_years) or str(target_year)}年的北京市平均水平"
                f"{'及' + str(target_year) + '年目标值' if target_assumed else ''}"
                f"为假设值（{src}），差距与进度判断须谨慎解读。")
    return {"share_chart": chart, "share_note": note}


def _gap_tick(v: float) -> str:
    return f"{round(v * 100) + 0:+.0f}" if round(v * 100) else "0"


def _ranking_part(d: dict[str, Any], ok: str, bad: str) -> dict[str, Any]:
    """Part two: the enterprises furthest behind the Beijing average as bars, and every enterprise ranked."""
    ents = d["enterprises"]
    worst = [r for r in ents if r["gap_to_beijing"] is not None][:TOP_N]
    bars = [Bar(r["name"] or format_org_code(r["entity_code"]), r["gap_to_beijing"],
                bad if r["gap_to_beijing"] < 0 else ok, pp(r["gap_to_beijing"])) for r in worst]
    caption = (f"全部{len(bars)}家企业" if len(bars) == len(ents) else
               f"差距最大的{len(bars)}家企业（共{len(ents):,}家）")
    chart = hbar_chart(f"{caption}：高技能人才占比 − 北京市平均水平", bars, f"差距（{PP_UNIT}）", w=1100,
                       diverging=True, fmt=_gap_tick)

    ranking = [{**r, "page": page_name(r["entity_code"]), "gain": gain_text(r["required_gain_per_year"], ""),
                "group": d["group_names"].get(r["group_org_code"], format_org_code(r["group_org_code"] or ""))}
               for r in ents]
    return {"gap_chart": chart, "ranking": ranking}


def _groups_part(d: dict[str, Any], gname: Callable[[str], str], ok: str, warn: str, bad: str) -> dict[str, Any]:
    """Part three: training coverage and the training funds of each group, as bars and a table."""
    cov = [r for r in d["coverage"] if r["grain"] == "group"]
    funds = [r for r in d["funds"] if r["grain"] == "group"]
    charts = []
    if cov:
        mn = cov[0]["coverage_min"]
        charts.append(hbar_chart("高技能人才培训覆盖率", [Bar(gname(r["entity_code"]), r["coverage"],
                                                        ok if r.get("c02_ok") else warn) for r in cov],
                                 "覆盖率", ref=(mn, f"要求 {percent_text(mn)}") if mn is not None else None, w=1100,
                                 ref_colour=bad, fmt=lambda v: pct(v, 0)))
    if funds:
        mn = funds[0]["fund_ratio_min"]
        charts.append(hbar_chart("经费提取比例", [Bar(gname(r["entity_code"]), r["extraction_ratio"],
                                                ok if r.get("c03_ok") else bad,
                                                pct(r["extraction_ratio"], 2)) for r in funds],
                                 "提取额 / 工资总额", ref=(mn, f"下限 {percent_text(mn)}") if mn is not None else None, w=1100,
                                 ref_colour=bad, fmt=lambda v: pct(v, 1)))
        mn2 = funds[0]["frontline_share_min"]
        charts.append(hbar_chart("一线职工经费占比", [Bar(gname(r["entity_code"]), r["frontline_share"],
                                                  ok if r.get("c04_ok") else bad) for r in funds],
                                 "一线职工使用额 / 使用额", ref=(mn2, f"下限 {percent_text(mn2)}") if mn2 is not None else None,
                                 w=1100, ref_colour=bad, fmt=lambda v: pct(v, 0)))
    cby, fby = {r["entity_code"]: r for r in cov}, {r["entity_code"]: r for r in funds}
    rows = [{"name": gname(c), "cov": cby.get(c, {}), "fund": fby.get(c, {})} for c in sorted(set(cby) | set(fby))]
    bases = {"cov": next((r["basis"] for r in cov), ""), "fund": next((r["basis"] for r in funds), "")}
    return {"group_charts": charts, "group_rows": rows, "group_bases": bases,
            "excluded": sum((r.get("quarters_excluded_unit_error") or 0) for r in funds)}


def _flags_part(d: dict[str, Any], period: str, display: Display) -> dict[str, Any]:
    """Part four: the quarter's flags by rule, coloured by severity; titles with the quarter's thresholds."""
    rows = [{**r, "title": display.title(r["rule_id"], period)} for r in d["flags_by_rule"]]
    bars = [Bar(display.rule_title(r["rule_id"], period), float(r["n"]),
                display.text_colour(display.tone_of(r["severity"]) or "muted"),
                f"{r['n']:,} 条 / {r['orgs']:,} 家") for r in rows]
    chart = hbar_chart("各规则问题条数", bars, "问题条数", w=1100, integer=True, fmt=lambda v: f"{v:,.0f}") if rows else None
    return {"flags_by_rule": rows, "flags_chart": chart, "year_rules": rule_ranges(display.year_level_rules)}


def _not_filed_part(d: dict[str, Any], period: str, gname: Callable[[str], str], display: Display) -> dict[str, Any]:
    """Part five: who has not filed or was turned away, and the files from outside the registry."""
    nf = d["not_filed"]
    n_outside = sum(1 for r in nf if r["status_code"] == "unexpected")
    title = (f"五、未报送或被退回的企业（{period}，共 {len(nf) - n_outside:,} 家）"
             + (f"及名录外来件（{n_outside:,} 家）" if n_outside else ""))
    head = [display.column_label("filing_status", c) for c in ("org_code", "enterprise_name")] + ["所属集团"] + [
        display.column_label("filing_status", c) for c in ("status", "versions_received", "reasons_zh")]
    # registered enterprises have an inspection page to link to
    rows = [{**r, "page": page_name(r["org_code"]) if r["org_code"] in d["group_names"] else None,
             "group": gname(r["group_org_code"]) if r["group_org_code"] else ""} for r in nf]
    return {"not_filed": rows, "not_filed_title": title, "not_filed_head": head}


def render_report(d: dict[str, Any], period: str, digest: str = "", generated: dt.date | None = None) -> str:
    display: Display = d["display"]
    ok, warn, bad = (display.text_colour(t) for t in ("ok", "warn", "bad"))
    gn = d["group_names"]

    def gname(code: str) -> str:
        return gn.get(code) or format_org_code(code)

    cards = [*_filing_cards(d), *_system_cards(d, period, display), *_training_cards(d), _flags_card(d, display)]
    return render(
        "exports/report.html.j2", title=f"高技能人才工作季度报告 {period}", css="exports/report.css", digest=digest,
        display=display, period=period, p=Period.parse(period), policy_title=POLICY_TITLE, horizon=d["horizon"],
        plan=display.plan_words(period, period) or display.label("trajectory", "no_plan"),
        cutoff=d.get("cutoff"), generated=generated or dt.date.today(), cards=cards, enterprise_dir=ENTERPRISE_DIR,
        revision=d.get("revision"),
        pp_unit=PP_UNIT, pp_per_year_unit=PP_PER_YEAR_UNIT, **_share_part(d, bad), **_ranking_part(d, ok, bad),
        **_groups_part(d, gname, ok, warn, bad), **_flags_part(d, period, display),
        **_not_filed_part(d, period, gname, display))

# The <meta> that holds the digest of a page's inputs; it is on the page's first line, read without parsing it.
DIGEST_META = "sasac-inputs-sha256"
_DIGEST_RE = re.compile(rf'<meta name="{DIGEST_META}" content="([0-9a-f]{{64}})">')
# The modules whose code decides what a report looks like.
RENDERER_MODULES = ("pipelines.lib.exports.report", "pipelines.lib.exports.charts", "pipelines.lib.exports.revisions",
                    "pipelines.lib.exports.headlines", "pipelines.lib.exports.templating",
                    "pipelines.lib.exports.display", "pipelines.lib.domain.codes", "pipelines.lib.domain.periods",
                    "pipelines.lib.domain.reference", "pipelines.lib.domain.rule_text")


def stored_digest(path: Path) -> str | None:
    """The inputs digest a page was written with; None when there is no page or no digest."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512).decode("utf-8", errors="replace")
    except OSError:
        return None
    m = _DIGEST_RE.search(head)
    return m.group(1) if m else None


def write_if_changed(path: Path, digest: str, render: Callable[[str], str]) -> bool:
    """Write ``render(digest)`` to ``path`` atomically unless the page there already shows these inputs;
    True when (re)written. The reports, the reports index and the inspection pages all go through here."""
    if stored_digest(path) == digest:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(digest), encoding="utf-8")
    tmp.replace(path)
    return True


def update_report(db_path: Path, period: str, out_path: Path) -> bool:
    """Bring the quarterly HTML report for ``period`` at ``out_path`` up to date; True when it was (re)written,
    False when the page there already shows these inputs (it is left untouched)."""
    period = str(Period.parse(period))
    d = _load(Path(db_path), period)
    # group_names may hold a NULL code, which JSON cannot sort among text keys: as sorted pairs instead.
    rows = {k: v for k, v in d.items() if k not in ("display", "group_names")}
    digest = content_digest(renderer_digest(*RENDERER_MODULES), templates_digest(), display_digest(d["display"]),
                            period, rows, sorted(d["group_names"].items(), key=str))
    return write_if_changed(Path(out_path), digest, lambda dg: render_report(d, period, dg))


def write_report(db_path: Path, period: str, out_path: Path) -> Path:
    """Write the self-contained quarterly HTML report for ``period`` (unless the page there is up to date, see
    :func:`update_report`); returns ``out_path``."""
    update_report(db_path, period, out_path)
    return Path(out_path)


# ------------------------------------------------------------------------------------------------
# The reports index: every quarter's report on one page
# ------------------------------------------------------------------------------------------------
INDEX_NAME = "index.html"
# A quarterly report's name; the inspection pages beside the reports are in their own folders (GROUP_DIR, …).
_REPORT_NAME = re.compile(r"^(\d{4}Q[1-4])\.html$")


def _index_rows(db_path: Path, periods: list[str]) -> tuple[Display, dict[str, dict[str, Any]], dict[str, Any]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        display = read_display(con)
        if not periods:
            return display, {}, index_revisions(con)
        marks = ", ".join("?" for _ in periods)
        rows = {r["period"]: r for r in dict_rows(con, f"""
            select period, high_skill_share, beijing_average, gap_to_beijing, status, basis, enterprises_reported
            from marts.high_skill_share_tracking
            where grain = 'system' and period_type = 'quarter' and period in ({marks})""", periods)}
        for r in dict_rows(con, f"""select period, count(*) filter (where status_code <> 'unexpected') as expected,
                                    count(*) filter (where status_code in ('on_time', 'late')) as received,
                                    count(*) filter (where status_code in ('missing', 'rejected')) as not_filed
                             from marts.filing_status where period in ({marks}) group by period""", periods):
            rows.setdefault(r["period"], {"period": r["period"]}).update(r)
        for r in dict_rows(con, f"""select period, count(*) as flags from marts.compliance_flags
                             where period in ({marks}) group by period""", periods):
            rows.setdefault(r["period"], {"period": r["period"]}).update(r)
        return display, rows, index_revisions(con)
    finally:
        con.close()


def render_index(display: Display, periods: list[str], rows: dict[str, dict[str, Any]],
                 enterprise_pages: list[tuple[str, str]], digest: str = "", generated: dt.date | None = None,
                 revisions: dict[str, Any] | None = None) -> str:
    """The page that lists every quarter's report (newest first), with the quarter's headline figures, its
    releases, and the revisions triangle (``revisions.index_revisions``)."""
    return render("exports/index.html.j2", title="高技能人才工作季度报告 目录", css="exports/report.css", digest=digest,
                  display=display, policy_title=POLICY_TITLE, generated=generated or dt.date.today(),
                  periods=sorted(periods, reverse=True), rows=rows, enterprise_pages=enterprise_pages,
                  share_basis=next((r["basis"] for r in rows.values() if r.get("basis")), ""),
                  enterprise_dir=ENTERPRISE_DIR, group_dir=GROUP_DIR, pp_unit=PP_UNIT,
                  **(revisions or NO_REVISIONS))


def _enterprise_pages(report_dir: Path) -> list[tuple[str, str]]:
    """(path under report_dir, link text) of every group's and enterprise's inspection page, groups first.

    The pages are named by organisation code as people read it (pages.page_name): the name is the text."""
    pages = []
    for folder, kind in ((GROUP_DIR, "集团"), (ENTERPRISE_DIR, "企业")):
        if (report_dir / folder).is_dir():
            pages += [(f"{folder}/{p.name}", f"{kind} {p.stem}") for p in sorted((report_dir / folder).glob("*.html"))]
    return pages


def update_report_index(db_path: Path, report_dir: Path) -> bool:
    """Bring ``report_dir/index.html`` up to date with the quarterly reports beside it; True when (re)written."""
    report_dir = Path(report_dir)
    periods = sorted(m.group(1) for p in report_dir.glob("*.html") if (m := _REPORT_NAME.match(p.name)))
    display, rows, revisions = _index_rows(Path(db_path), periods)
    pages = _enterprise_pages(report_dir)
    digest = content_digest(renderer_digest(*RENDERER_MODULES), templates_digest(), display_digest(display), periods,
                            [rows.get(p) for p in periods], pages, revisions)
    return write_if_changed(report_dir / INDEX_NAME, digest,
                            lambda dg: render_index(display, periods, rows, pages, dg, revisions=revisions))
