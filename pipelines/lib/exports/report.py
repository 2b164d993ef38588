"""Quarterly report for the SASAC leadership: one self-contained HTML page per period.

No CDN, no script, no external fetch: inline CSS and inline SVG charts generated here from the
published marts (read-only, a handful of queries for the period).

A page is rewritten only when what it shows changed: the digest of its inputs (the rows read for the
period, the display reference, the code that draws it) sits in ``<meta name="sasac-inputs-sha256">`` at
the top of the page and is compared with the page already there before writing.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.exports.display import PP_PER_YEAR_UNIT, PP_UNIT, Display, pct, pp, read_display
from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name
from pipelines.lib.exports.publish import content_digest, display_digest, renderer_digest

# Series colours of the charts. Good / needs a look / bad are tones (reference.ref_tones, text_colour):
# status text is classed by its tone, and bars take their tone's colour.
BLUE, ORANGE = "#2f6db5", "#e67e22"
TOP_N = 20

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif;margin:0;
 background:#f4f6f9;color:#222;font-size:14px}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;border-left:5px solid #2f6db5;padding-left:8px;margin:28px 0 10px}
.sub{color:#666;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.card{background:#fff;border-radius:6px;padding:12px 14px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card .k{color:#666;font-size:13px}.card .v{font-size:26px;font-weight:bold;margin:4px 0}.card .d{font-size:12px;color:#666}
section{background:#fff;border-radius:6px;padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:14px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e3e6ea;padding:4px 6px;text-align:left}
th{background:#eef3fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.c{white-space:nowrap}
.status{font-weight:bold}
.note{font-size:12px;color:#8a6d3b;background:#fcf8e3;border:1px solid #faebcc;padding:6px 10px;border-radius:4px;margin:8px 0}
.charts{display:grid;grid-template-columns:1fr;gap:6px}
svg{max-width:100%;height:auto}svg text{font-family:inherit}
details summary{cursor:pointer;color:#2f6db5;margin:6px 0}
footer{color:#888;font-size:12px;margin-top:20px}
.nav{font-size:13px;margin-bottom:8px}.nav a{color:#2f6db5}
.block{margin-bottom:14px}
@page{size:A4;margin:14mm 12mm}
@media print{
 body{background:#fff;font-size:11px}main{max-width:none;padding:0}.nav{display:none}
 h1{font-size:20px}h2{font-size:15px;margin:10px 0 6px;break-after:avoid;page-break-after:avoid}
 .cards{grid-template-columns:repeat(4,1fr);gap:6px}.card{box-shadow:none;border:1px solid #ccd;padding:6px 8px}
 .card .v{font-size:18px}
 section{box-shadow:none;padding:4px 0;margin-bottom:6px}
 .block.keep,svg,.card,.note,tr{break-inside:avoid;page-break-inside:avoid}
 thead{display:table-header-group}
 table{font-size:9.5px}th,td{padding:2px 3px}td.n,td.c,th{white-space:nowrap}th{white-space:normal}
 details>summary{display:none}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def text_px(text: str, size: float = 11) -> float:
    """Width in pixels of ``text`` at ``size`` px: a CJK or full-width glyph is one em, others about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def clip(text: str, max_px: float, size: float = 11) -> str:
    """``text`` shortened with "…" to fit ``max_px`` (the full text stays in the bar's tooltip)."""
    if text_px(text, size) <= max_px:
        return text
    while text and text_px(text + "…", size) > max_px:
        text = text[:-1]
    return text + "…"


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ------------------------------------------------------------------------------------------------
# SVG charts
# ------------------------------------------------------------------------------------------------
def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def _ticks(vmin: float, vmax: float, n: int = 5) -> list[float]:
    return [vmin + (vmax - vmin) * i / n for i in range(n + 1)]


# How many steps divide a _nice_max evenly into round numbers, by its leading digits (2.5% -> 0.5% steps).
_STEPS = {1: 5, 1.2: 4, 1.5: 5, 2: 4, 2.5: 5, 3: 6, 4: 4, 5: 5, 6: 6, 8: 4, 10: 5}


def _round_steps(vmax: float) -> int:
    if vmax <= 0:
        return 5
    mantissa = round(vmax / 10 ** math.floor(math.log10(vmax)), 6)
    return _STEPS.get(mantissa, 5)


def _integer_axis(vmax: float, n: int = 5) -> tuple[float, list[float]]:
    """An axis of counts: whole-number ticks 1, 2 or 5 × 10^k apart, at most ``n`` steps, and its upper end."""
    vmax, exp = max(vmax, 1.0), 0
    while True:
        step = next((m * 10 ** exp for m in (1, 2, 5) if math.ceil(vmax / (m * 10 ** exp)) <= n), None)
        if step:
            break
        exp += 1
    top = step * math.ceil(vmax / step)
    return float(top), [float(t) for t in range(0, top + 1, step)]


def _svg_open(w: int, h: int, title: str, desc: str = "") -> list[str]:
    return [f'<svg role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
            f"<title>{_e(title)}</title>" + (f"<desc>{_e(desc)}</desc>" if desc else ""),
            f'<text x="{w / 2:.0f}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{_e(title)}</text>']


def line_chart(title: str, x_labels: list[str], series: list[dict], y_label: str, x_label: str = "报告期",
               hlines: Sequence[tuple[float, str, str]] = (), w: int = 1100, h: int = 360) -> str:
    """Lines over quarters. ``series``: {name, values (None = gap), colour, dash}; hlines: (y, label, colour)."""
    left, right, top, bottom = 64, 150, 34, 56
    pw, ph = w - left - right, h - top - bottom
    vals = [v for s in series for v in s["values"] if v is not None] + [y for y, _, _ in hlines]
    ymax = _nice_max(max(vals) * 1.1 if vals else 1)
    n = max(1, len(x_labels) - 1)

    def x(i: int) -> float:
        return left + pw * i / n if len(x_labels) > 1 else left + pw / 2

    def y(v: float) -> float:
        return top + ph * (1 - v / ymax)

    out = _svg_open(w, h, title)
    for t in _ticks(0, ymax, _round_steps(ymax)):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11">{pct(t, 0)}</text>')
    step = max(1, math.ceil(len(x_labels) / 14))
    for i, lab in enumerate(x_labels):
        if i % step == 0 or i == len(x_labels) - 1:
            out.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">{_e(lab)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#333"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 12}" text-anchor="middle" font-size="12">{_e(x_label)}</text>')
    out.append(f'<text transform="translate(16 {top + ph / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="12">{_e(y_label)}</text>')
    for yv, _lab, colour in hlines:
        out.append(f'<line class="ref" x1="{left}" x2="{left + pw}" y1="{y(yv):.1f}" y2="{y(yv):.1f}" '
                   f'stroke="{colour}" stroke-width="2" stroke-dasharray="8 4"/>')
    end_labels: list[list] = [[left + pw, y(yv), colour, lab] for yv, lab, colour in hlines]
    for s in series:
        pts = [(x(i), y(v)) for i, v in enumerate(s["values"]) if v is not None]
        if not pts:
            continue
        dash = f' stroke-dasharray="{s["dash"]}"' if s.get("dash") else ""
        poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(f'<polyline class="series" fill="none" stroke="{s["colour"]}" stroke-width="2.5"{dash} '
                   f'points="{poly}"/>')
        for a, b in pts:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{s["colour"]}"/>')
        last = next(v for v in reversed(s["values"]) if v is not None)
        end_labels.append([pts[-1][0], pts[-1][1], s["colour"], f"{s['name']} {pct(last)}"])
    end_labels.sort(key=lambda t: t[1])
    for i in range(1, len(end_labels)):  # keep end-of-line labels from overlapping
        end_labels[i][1] = max(end_labels[i][1], end_labels[i - 1][1] + 14)
    for lx, ly, colour, text in end_labels:
        out.append(f'<text x="{lx + 8:.1f}" y="{ly + 4:.1f}" font-size="11" fill="{colour}">{_e(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass
class Bar:
    label: str
    value: float | None
    colour: str = BLUE
    text: str | None = None  # value label; default percent


def hbar_chart(title: str, bars: list[Bar], x_label: str, ref: tuple[float, str] | None = None,
               w: int = 560, label_w: int | None = None, fmt=pct, diverging: bool = False, ref_colour: str = ORANGE,
               integer: bool = False) -> str:
    """Horizontal bars, one per row; ``ref`` draws a dashed reference line (value, label) in ``ref_colour``.

    The label column is as wide as the longest label (at most 45 % of the chart; longer ones end in "…",
    whole in the bar's tooltip), so no name runs off the left edge. A reference label gets its own line
    under the title. ``integer``: counts, whole-number ticks.
    """
    row_h, bottom, right = 20, 46, 90
    top = 52 if ref else 34
    h = top + bottom + row_h * max(1, len(bars))
    max_label = w * 0.45
    labels = [clip(b.label, max_label) for b in bars]
    if label_w is None:
        label_w = int(min(max_label, max([text_px(t) for t in labels] or [40])) + 12)
    pw = w - label_w - right
    vals = [b.value for b in bars if b.value is not None] + ([ref[0]] if ref else [])
    if integer:
        vmax, ticks = _integer_axis(max(vals or [1]))
        vmin = 0.0
    else:
        vmax = _nice_max(max([abs(v) for v in vals] or [1]) * 1.05)
        vmin = -vmax if diverging and any(v < 0 for v in vals) else 0.0
        if diverging and vmin == 0 and vals and max(vals) <= 0:
            vmin, vmax = -vmax, 0.0
        ticks = _ticks(vmin, vmax, 4 if vmin < 0 else _round_steps(vmax))

    def x(v: float) -> float:
        return label_w + pw * (v - vmin) / (vmax - vmin)

    out = _svg_open(w, h, title)
    for t in ticks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{h - bottom}" stroke="#eee"/>')
        out.append(f'<text class="tick" x="{x(t):.1f}" y="{h - bottom + 14}" text-anchor="middle" font-size="10">'
                   f'{_e(fmt(t))}</text>')
    out.append(f'<text x="{label_w + pw / 2:.0f}" y="{h - 10}" text-anchor="middle" font-size="12">{_e(x_label)}</text>')
    zero = x(0)
    for i, (b, lab) in enumerate(zip(bars, labels, strict=True)):
        yy = top + i * row_h
        out.append(f'<text class="label" x="{label_w - 6}" y="{yy + 14}" text-anchor="end" font-size="11">'
                   f'<title>{_e(b.label)}</title>{_e(lab)}</text>')
        if b.value is None:
            out.append(f'<text x="{zero + 4:.1f}" y="{yy + 14}" font-size="11" fill="#999">无数据</text>')
            continue
        x0, x1 = sorted((zero, x(b.value)))
        out.append(f'<rect class="bar" x="{x0:.1f}" y="{yy + 3}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 6}" '
                   f'fill="{b.colour}"><title>{_e(b.label)}：{_e(b.text or fmt(b.value))}</title></rect>')
        # a negative bar's value goes beside the zero line, never over the names at the left
        tx = x1 + 4 if b.value >= 0 else zero + 4
        out.append(f'<text x="{tx:.1f}" y="{yy + 14}" font-size="10">{_e(b.text or fmt(b.value))}</text>')
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{h - bottom}" stroke="#333"/>')
    if ref:
        out.append(f'<line class="ref" x1="{x(ref[0]):.1f}" x2="{x(ref[0]):.1f}" y1="{top - 4}" y2="{h - bottom}" '
                   f'stroke="{ref_colour}" stroke-width="2" stroke-dasharray="6 3"/>')
        anchor = "end" if x(ref[0]) > label_w + pw * 0.7 else "start" if x(ref[0]) < label_w + pw * 0.3 else "middle"
        out.append(f'<text class="ref-label" x="{x(ref[0]):.1f}" y="{top - 8}" text-anchor="{anchor}" font-size="10" '
                   f'fill="{ref_colour}">{_e(ref[1])}</text>')
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
def _load(db_path: Path, period: str) -> dict[str, Any]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        d: dict[str, Any] = {"display": read_display(con)}
        d["system"] = _q(con, """select * from marts.high_skill_share_tracking where grain = 'system'
                                 and period_type = 'quarter' and period <= ? order by period""", [period])
        d["enterprises"] = _q(con, """select t.*, coalesce(t.entity_name, e.enterprise_name) as name
                                      from marts.high_skill_share_tracking t
                                      left join marts.dim_enterprises e on e.org_code = t.entity_code
                                      where t.grain = 'enterprise' and t.period_type = 'quarter' and t.period = ?
                                      order by t.gap_to_beijing nulls last, t.entity_code""", [period])
        d["coverage"] = _q(con, """select * from marts.training_coverage_tracking where period_type = 'quarter'
                                   and period = ? and skill_level = '全部' and grain in ('group', 'system')
                                   order by grain, entity_code""", [period])
        d["funds"] = _q(con, """select * from marts.fund_tracking where period_type = 'quarter' and period = ?
                                and grain in ('group', 'system') order by grain, entity_code""", [period])
        d["flags_by_rule"] = _q(con, """select f.rule_id, any_value(f.clause) as clause,
                                          arg_min(f.severity, s.sort_order) as severity,
                                          count(*) as n, count(distinct f.org_code) as orgs
                                        from marts.compliance_flags f
                                        left join reference.ref_severities s on s.severity = f.severity
                                        where f.period = ? group by f.rule_id
                                        order by f.rule_id""", [period])
        d["filing"] = _q(con, """select status_code, status, count(*) as n from marts.filing_status
                                 where period = ? group by all order by status_code""", [period])
        # Not filed, rejected, and files from outside the registry: what someone has to follow up.
        d["not_filed"] = _q(con, """select f.*, coalesce(f.group_org_code, '') as g from marts.filing_status f
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
        return d
    finally:
        con.close()


def _css(display: Display) -> str:
    """The page's style: the layout, and one text colour per tone of reference.ref_tones."""
    return CSS + "".join(f".{t.tone}{{color:{t.text_colour}}}" for t in display.tones.values()) + "\n"


def _status_span(text: Any, display: Display) -> str:
    return f'<span class="status {display.tone_of(text) or ""}">{_e(text)}</span>'


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


def _card(key: str, value: str, detail: str = "", cls: str = "") -> str:
    return (f'<div class="card"><div class="k">{_e(key)}</div><div class="v {cls}">{value}</div>'
            f'<div class="d">{detail}</div></div>')


# ------------------------------------------------------------------------------------------------
# Page
# ------------------------------------------------------------------------------------------------
def _block(title: str, keep: bool = True) -> str:
    """A heading with its section: ``keep`` blocks are small and never split over two printed pages."""
    return f'<div class="block{" keep" if keep else ""}"><h2>{title}</h2><section>'


def render_report(d: dict[str, Any], period: str, digest: str = "", generated: dt.date | None = None) -> str:
    p = Period.parse(period)
    system_now = next((r for r in d["system"] if r["period"] == period), None)
    filing = {r["status_code"]: r["n"] for r in d["filing"]}
    expected = sum(n for code, n in filing.items() if code != "unexpected")
    received = filing.get("on_time", 0) + filing.get("late", 0)
    sys_cov = next((r for r in d["coverage"] if r["grain"] == "system"), None)
    sys_fund = next((r for r in d["funds"] if r["grain"] == "system"), None)
    ents = d["enterprises"]
    status_counts: dict[str, int] = {}
    for r in ents:
        status_counts[r["status"]] = status_counts.get(r["status"], 0) + 1
    n_flags = sum(r["n"] for r in d["flags_by_rule"])
    n_errors = sum(r["n"] for r in d["flags_by_rule"] if r["severity"] == "error")
    display: Display = d["display"]
    trajectory_order = display.order("trajectory")
    assumed_years = sorted({r["year"] for r in d["system"] if r.get("benchmark_status") == "assumed"})
    gn = d["group_names"]
    ok, warn, bad = (display.text_colour(t) for t in ("ok", "warn", "bad"))

    parts: list[str] = []
    a = parts.append
    parts += page_head(f"高技能人才工作季度报告 {period}", _css(display), digest)
    a('<div class="nav"><a href="index.html">← 全部季度报告</a></div>')
    a(f"<h1>市属国有企业高技能人才工作季度报告（{p.year}年第{p.quarter}季度，{_e(period)}）</h1>")
    cutoff = d.get("cutoff")
    a(f'<div class="sub">依据{POLICY_TITLE}；数据来源：已发布数据库（报告期至 {_e(d["horizon"])}）；'
      f"数据截止：{_e(f'{cutoff:%Y-%m-%d %H:%M}' if cutoff else '—')}（最后收到报表时间）；"
      f"生成日期：{_e(f'{generated or dt.date.today():%Y-%m-%d}')}。</div>")

    # headline -----------------------------------------------------------------------------------
    a('<div class="cards">')
    a(_card("应报企业", f"{expected:,}", f"已受理 {received:,}（按时 {filing.get('on_time', 0):,}，逾期 "
                                        f"{filing.get('late', 0):,}）"))
    a(_card("未报送 / 被退回", f"{filing.get('missing', 0):,} / {filing.get('rejected', 0):,}",
            f"名录外来件 {filing.get('unexpected', 0):,}", "bad" if filing.get("missing") or filing.get("rejected") else "ok"))
    if system_now:
        a(_card("全系统高技能人才占比", pct(system_now["high_skill_share"]),
                f"北京市平均水平 {pct(system_now['beijing_average'])}"
                f"{'（假设值）' if system_now.get('benchmark_status') == 'assumed' else ''}，差距 "
                f"{pp(system_now['gap_to_beijing'])}", display.tone_of(system_now["status"]) or ""))
        a(_card("全系统进度状态", _e(system_now["status"]),
                f"{system_now['target_year']}年目标 {pct(system_now['target_share'])}；按当前速度预计 "
                f"{pct(system_now['projected_target_year_share'])}", display.tone_of(system_now["status"]) or ""))
    else:
        a(_card("全系统高技能人才占比", "—", "本期无已受理报表"))
        a(_card("全系统进度状态", "—"))
    a(_card("高技能人才培训覆盖率（年初至今）", pct(sys_cov["coverage"]) if sys_cov else "—",
            f"已培训 {sys_cov['trained']:,} / {sys_cov['headcount']:,} 人，要求 {pct(sys_cov['coverage_min'], 0)}"
            if sys_cov else ""))
    a(_card("经费提取比例（年初至今）", pct(sys_fund["extraction_ratio"], 2) if sys_fund else "—",
            f"下限 {pct(sys_fund['fund_ratio_min'])}" if sys_fund else "",
            ("ok" if sys_fund["extraction_ratio"] is not None and sys_fund["extraction_ratio"] >= sys_fund["fund_ratio_min"]
             else "bad") if sys_fund else ""))
    a(_card("一线职工经费占比（年初至今）", pct(sys_fund["frontline_share"]) if sys_fund else "—",
            f"下限 {pct(sys_fund['frontline_share_min'], 0)}" if sys_fund else "",
            ("ok" if sys_fund["frontline_share"] is not None and sys_fund["frontline_share"] >= sys_fund["frontline_share_min"]
             else "bad") if sys_fund else ""))
    a(_card("本期问题", f"{n_flags:,}", f"其中错误 {n_errors:,} 条；企业进度：" + "，".join(
        f"{k} {v}" for k, v in sorted(status_counts.items(), key=lambda kv: (trajectory_order.get(kv[0], 99), kv[0])))))
    a("</div>")

    # share over time --------------------------------------------------------------------------
    a(_block("一、全系统高技能人才占比与北京市平均水平"))
    if d["system"]:
        labels = [r["period"] for r in d["system"]]
        target = d["system"][-1].get("target_share")
        target_year = d["system"][-1].get("target_year")
        hl = [(target, f"{target_year}年目标 {pct(target)}", bad)] if target is not None else []
        a(line_chart("全系统高技能人才占技能劳动者比例", labels, [
            {"name": "全系统", "values": [r["high_skill_share"] for r in d["system"]], "colour": BLUE},
            {"name": "北京市平均", "values": [r["beijing_average"] for r in d["system"]], "colour": ORANGE, "dash": "4 3"},
        ], "高技能人才占比", hlines=hl))
        if assumed_years or d["system"][-1].get("target_benchmark_status") == "assumed":
            src = next((r["benchmark_source"] for r in d["system"] if r.get("benchmark_status") == "assumed"), "")
            a(f'<div class="note">注意：{"、".join(str(y) for y in assumed_years) or str(target_year)}年的北京市平均水平'
              f"{'及' + str(target_year) + '年目标值' if d['system'][-1].get('target_benchmark_status') == 'assumed' else ''}"
              f"为假设值（{_e(src)}），差距与进度判断须谨慎解读。</div>")
    else:
        a("<p>暂无数据。</p>")
    a("</section></div>")

    # ranking ------------------------------------------------------------------------------------
    a(_block(f"二、各企业与北京市平均水平的差距（{_e(period)}）", keep=len(d["enterprises"]) <= 15))
    if ents:
        ranked = [r for r in ents if r["gap_to_beijing"] is not None]
        worst = ranked[:TOP_N]
        bars = [Bar(r["name"] or format_org_code(r["entity_code"]), r["gap_to_beijing"],
                    bad if r["gap_to_beijing"] < 0 else ok, pp(r["gap_to_beijing"])) for r in worst]
        caption = (f"全部{len(bars)}家企业" if len(bars) == len(ents) else
                   f"差距最大的{len(bars)}家企业（共{len(ents):,}家）")
        a(hbar_chart(f"{caption}：高技能人才占比 − 北京市平均水平", bars, f"差距（{PP_UNIT}）", w=1100,
                     diverging=True, fmt=lambda v: f"{round(v * 100) + 0:+.0f}" if round(v * 100) else "0"))
        a(f"<details{' open' if len(ents) <= 40 else ''}><summary>全部 {len(ents):,} 家企业排名"
          "（按差距从小到大：落后北京市平均水平最多的在前）</summary>")
        a("<table><thead><tr><th>排名</th><th>组织机构代码</th><th>企业名称</th><th>所属集团</th><th>高技能人才占比</th>"
          f"<th>北京市平均</th><th>差距</th><th>达标每年需提高（{PP_PER_YEAR_UNIT}）</th>"
          f"<th>{_e(ents[0]['target_year'] or '')}年预计</th><th>状态</th></tr></thead><tbody>")
        for i, r in enumerate(ents, start=1):
            gain = r["required_gain_per_year"]
            gain_text = "—" if gain is None else "无需提高" if round(gain * 100, 1) <= 0 else pp(gain, "")
            a(f"<tr><td class=n>{i}</td><td class=c><a href=\"{ENTERPRISE_DIR}/{_e(page_name(r['entity_code']))}\">{_e(format_org_code(r['entity_code']))}</a></td><td>{_e(r['name'])}</td>"
              f"<td>{_e(gn.get(r['group_org_code'], format_org_code(r['group_org_code'] or '')))}</td>"
              f"<td class=n>{pct(r['high_skill_share'])}</td><td class=n>{pct(r['beijing_average'])}</td>"
              f"<td class=n>{pp(r['gap_to_beijing'])}</td><td class=n>{gain_text}</td>"
              f"<td class=n>{pct(r['projected_target_year_share'])}</td><td class=c>{_status_span(r['status'], display)}</td></tr>")
        a("</tbody></table></details>")
    else:
        a("<p>本期无已受理报表。</p>")
    a("</section></div>")

    # by group -----------------------------------------------------------------------------------
    a(_block("三、培训覆盖与经费使用（按集团，年初至今）"))
    cov = [r for r in d["coverage"] if r["grain"] == "group"]
    funds = [r for r in d["funds"] if r["grain"] == "group"]

    def gname(code: str) -> str:
        return gn.get(code) or format_org_code(code)

    a('<div class="charts">')
    if cov:
        mn = cov[0]["coverage_min"]
        a(hbar_chart("高技能人才培训覆盖率", [Bar(gname(r["entity_code"]), r["coverage"],
                                               ok if (r["coverage"] or 0) >= (mn or 1) else warn) for r in cov],
                     "覆盖率", ref=(mn, f"要求 {pct(mn, 0)}") if mn is not None else None, w=1100,
                     ref_colour=bad, fmt=lambda v: pct(v, 0)))
    if funds:
        mn = funds[0]["fund_ratio_min"]
        a(hbar_chart("经费提取比例", [Bar(gname(r["entity_code"]), r["extraction_ratio"],
                                       ok if (r["extraction_ratio"] or 0) >= (mn or 0) else bad,
                                       pct(r["extraction_ratio"], 2)) for r in funds],
                     "提取额 / 工资总额", ref=(mn, f"下限 {pct(mn)}") if mn is not None else None, w=1100,
                     ref_colour=bad, fmt=lambda v: pct(v, 1)))
        mn2 = funds[0]["frontline_share_min"]
        a(hbar_chart("一线职工经费占比", [Bar(gname(r["entity_code"]), r["frontline_share"],
                                         ok if (r["frontline_share"] or 0) >= (mn2 or 0) else bad) for r in funds],
                     "一线职工使用额 / 使用额", ref=(mn2, f"下限 {pct(mn2, 0)}") if mn2 is not None else None, w=1100,
                     ref_colour=bad, fmt=lambda v: pct(v, 0)))
    a("</div>")
    if cov or funds:
        fby = {r["entity_code"]: r for r in funds}
        a("<table><thead><tr><th>集团</th><th>高技能人才</th><th>已培训</th><th>覆盖率</th><th>工资总额（万元）</th>"
          "<th>提取额（万元）</th><th>提取比例</th><th>使用额（万元）</th><th>一线占比</th></tr></thead><tbody>")
        codes = sorted({r["entity_code"] for r in cov} | set(fby))
        cby = {r["entity_code"]: r for r in cov}
        for c in codes:
            cr, fr = cby.get(c, {}), fby.get(c, {})
            a(f"<tr><td>{_e(gname(c))}</td><td class=n>{cr.get('headcount', '') or 0:,}</td>"
              f"<td class=n>{cr.get('trained', '') or 0:,}</td><td class=n>{pct(cr.get('coverage'))}</td>"
              f"<td class=n>{fr.get('payroll') or 0:,.2f}</td><td class=n>{fr.get('fund_extracted') or 0:,.2f}</td>"
              f"<td class=n>{pct(fr.get('extraction_ratio'), 2)}</td><td class=n>{fr.get('fund_spent') or 0:,.2f}</td>"
              f"<td class=n>{pct(fr.get('frontline_share'))}</td></tr>")
        a("</tbody></table>")
        excl = sum((r.get("quarters_excluded_unit_error") or 0) for r in funds)
        if excl:
            a(f'<div class="note">汇总时剔除了 {excl} 个疑似单位错误（元误填为万元）的企业季度。</div>')
    a("</section></div>")

    # flags ------------------------------------------------------------------------------------------
    a(_block(f"四、问题数量（按规则，{_e(period)}）"))
    if d["flags_by_rule"]:
        bars = [Bar(display.rule_title(r["rule_id"]), float(r["n"]),
                    display.text_colour(display.tone_of(r["severity"]) or "muted"),
                    f"{r['n']:,} 条 / {r['orgs']:,} 家") for r in d["flags_by_rule"]]
        a(hbar_chart("各规则问题条数", bars, "问题条数", w=1100, integer=True, fmt=lambda v: f"{v:,.0f}"))
        a(f'<p class="muted">条形颜色表示严重程度：{_e(display.legend(("severity",), text=True))}。'
          f"年度规则（{_e(rule_ranges(display.year_level_rules))}）的问题记在第四季度。</p>")
        a("<table><thead><tr><th>规则</th><th>内容</th><th>政策条款</th><th>严重程度</th><th>问题条数</th><th>涉及企业</th>"
          "</tr></thead><tbody>")
        for r in d["flags_by_rule"]:
            a(f"<tr><td>{_e(r['rule_id'])}</td><td>{_e(display.rule_titles.get(r['rule_id'], ''))}</td>"
              f"<td>{_e(r['clause'] or '')}</td><td>{_status_span(display.label('severity', r['severity']), display)}</td>"
              f"<td class=n>{r['n']:,}</td><td class=n>{r['orgs']:,}</td></tr>")
        a("</tbody></table>")
    else:
        a("<p>本期未发现问题。</p>")
    a("</section></div>")

    # non filers ---------------------------------------------------------------------------------
    nf = d["not_filed"]
    n_outside = sum(1 for r in nf if r["status_code"] == "unexpected")
    a(_block(f"五、未报送或被退回的企业（{_e(period)}，共 {len(nf) - n_outside:,} 家）"
             + (f"及名录外来件（{n_outside:,} 家）" if n_outside else ""), keep=len(nf) <= 15))
    if nf:
        head = [display.column_label("filing_status", c) for c in ("org_code", "enterprise_name")] + ["所属集团"] + [
            display.column_label("filing_status", c) for c in ("status", "versions_received", "reasons_zh")]
        a("<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>")
        for r in nf:
            code = _e(format_org_code(r['org_code']))
            if r["org_code"] in gn:  # registered: it has an inspection page
                code = f'<a href="{ENTERPRISE_DIR}/{_e(page_name(r["org_code"]))}">{code}</a>'
            a(f"<tr><td>{code}</td><td>{_e(r['enterprise_name'])}</td>"
              f"<td>{_e(gname(r['group_org_code']) if r['group_org_code'] else '')}</td><td>{_status_span(r['status'], display)}</td>"
              f"<td class=n>{r['versions_received'] or 0}</td><td>{_e(r['reasons_zh'])}</td></tr>")
        a("</tbody></table>")
    else:
        a('<p class="ok">本期应报企业均已报送并被受理。</p>')
    a("</section></div>")
    a("<footer>本报告由数据平台根据已发布数据库自动生成，不含个人身份信息；比例为占比，"
      f"占比之差以{PP_UNIT}表示，金额单位万元；组织机构代码显示为 XXXXXXXX-X 形式。</footer>")
    a("</main></body></html>")
    return "\n".join(parts)


# The <meta> that holds the digest of a page's inputs; it is on the page's first line, read without parsing it.
DIGEST_META = "sasac-inputs-sha256"
_DIGEST_RE = re.compile(rf'<meta name="{DIGEST_META}" content="([0-9a-f]{{64}})">')
# The modules whose code decides what a report looks like.
RENDERER_MODULES = ("pipelines.lib.exports.report", "pipelines.lib.exports.display", "pipelines.lib.domain.codes",
                    "pipelines.lib.domain.periods", "pipelines.lib.domain.reference")


def page_head(title: str, css: str, digest: str) -> list[str]:
    """A page's first two lines: the digest <meta> (where ``stored_digest`` reads it) and the title and style."""
    return ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            + (f'<meta name="{DIGEST_META}" content="{_e(digest)}">' if digest else ""),
            f"<title>{_e(title)}</title><style>{css}</style></head><body><main>"]


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
    digest = content_digest(renderer_digest(*RENDERER_MODULES), display_digest(d["display"]), period, rows,
                            sorted(d["group_names"].items(), key=str))
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
# Issue 12's per-enterprise inspection pages, beside the quarterly reports.
_REPORT_NAME = re.compile(r"^(\d{4}Q[1-4])\.html$")


def _index_rows(db_path: Path, periods: list[str]) -> tuple[Display, dict[str, dict[str, Any]]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        display = read_display(con)
        if not periods:
            return display, {}
        marks = ", ".join("?" for _ in periods)
        rows = {r["period"]: r for r in _q(con, f"""
            select period, high_skill_share, beijing_average, gap_to_beijing, status
            from marts.high_skill_share_tracking
            where grain = 'system' and period_type = 'quarter' and period in ({marks})""", periods)}
        for r in _q(con, f"""select period, count(*) filter (where status_code <> 'unexpected') as expected,
                                    count(*) filter (where status_code in ('on_time', 'late')) as received,
                                    count(*) filter (where status_code in ('missing', 'rejected')) as not_filed
                             from marts.filing_status where period in ({marks}) group by period""", periods):
            rows.setdefault(r["period"], {"period": r["period"]}).update(r)
        for r in _q(con, f"""select period, count(*) as flags from marts.compliance_flags
                             where period in ({marks}) group by period""", periods):
            rows.setdefault(r["period"], {"period": r["period"]}).update(r)
        return display, rows
    finally:
        con.close()


def render_index(display: Display, periods: list[str], rows: dict[str, dict[str, Any]], enterprise_pages: list[str],
                 digest: str = "", generated: dt.date | None = None) -> str:
    """The page that lists every quarter's report (newest first), with the quarter's headline figures."""
    parts: list[str] = []
    a = parts.append
    parts += page_head("高技能人才工作季度报告 目录", _css(display), digest)
    a("<h1>市属国有企业高技能人才工作季度报告 · 目录</h1>")
    a(f'<div class="sub">依据{POLICY_TITLE}；共 {len(periods)} 个季度；'
      f"生成日期：{_e(f'{generated or dt.date.today():%Y-%m-%d}')}。</div>")
    a('<div class="block"><h2>各季度报告</h2><section>')
    if periods:
        a("<table><thead><tr><th>报告期</th><th>应报企业</th><th>已受理</th><th>未报送 / 被退回</th>"
          "<th>全系统高技能人才占比</th><th>北京市平均</th><th>差距</th><th>进度状态</th><th>问题条数</th>"
          "</tr></thead><tbody>")
        for period in sorted(periods, reverse=True):
            r = rows.get(period, {})
            status = r.get("status")
            a(f'<tr><td><a href="{_e(period)}.html">{_e(period)}</a></td>'
              f"<td class=n>{r.get('expected') or 0:,}</td><td class=n>{r.get('received') or 0:,}</td>"
              f"<td class=n>{r.get('not_filed') or 0:,}</td><td class=n>{pct(r.get('high_skill_share'))}</td>"
              f"<td class=n>{pct(r.get('beijing_average'))}</td><td class=n>{pp(r.get('gap_to_beijing'))}</td>"
              f"<td>{_status_span(status, display) if status else '—'}</td><td class=n>{r.get('flags') or 0:,}</td></tr>")
        a("</tbody></table>")
    else:
        a("<p>尚无季度报告。</p>")
    a("</section></div>")
    a(f'<div class="block" id="{ENTERPRISE_DIR}"><h2>各企业与集团检查页</h2><section>')
    if enterprise_pages:
        a("<ul>" + "".join(f'<li><a href="{_e(name)}">{_e(title)}</a></li>'
                           for name, title in enterprise_pages) + "</ul>")
    else:
        a(f"<p>各企业的检查页生成后列在此处（目录 {ENTERPRISE_DIR}/、{GROUP_DIR}/）。</p>")
    a("</section></div>")
    a("<footer>本目录由数据平台在每次发布时自动更新，不含个人身份信息。</footer>")
    a("</main></body></html>")
    return "\n".join(parts)


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
    display, rows = _index_rows(Path(db_path), periods)
    pages = _enterprise_pages(report_dir)
    digest = content_digest(renderer_digest(*RENDERER_MODULES), display_digest(display), periods,
                            [rows.get(p) for p in periods], pages)
    return write_if_changed(report_dir / INDEX_NAME, digest, lambda dg: render_index(display, periods, rows, pages, dg))
