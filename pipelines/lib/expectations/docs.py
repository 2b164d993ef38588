"""Data Docs for a run: plain offline HTML written from the run's GX validation results.

GX's own site needs CDN scripts and stylesheets (bootstrap, jQuery, vega); stripped of them it was a
broken page with filter buttons that filter nothing, and it identified failing rows by a pandas index.
So the pages are written here, from the validation results the runner already holds: an index of the
suites, and one page per suite naming each mart it validated, every expectation with its rule, and the
failing rows identified by the key columns GX returned for them (``unexpected_index_column_names``:
organisation code, period and, where a rule is about a person, the pseudonym). No script, no external
reference. A suite that found rows says "发现N条问题" (findings for people to follow up), not "failed":
finding problems in the filings is what the checks are for.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.exports.display import BOOL_TEXT, column_label

INDEX = "index.html"
SUITES_DIR = "suites"
# What earlier versions (GX's site builder) left in the folder: removed so no stale page is served.
_STALE = ("expectations", "validations", "static", SUITES_DIR, INDEX)
ORG_COLUMNS = frozenset({"org_code", "group_org_code", "entity_code"})

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif;margin:0;
 background:#f4f6f9;color:#222;font-size:14px;line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:20px 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-left:5px solid #2f6db5;padding-left:8px;margin:22px 0 8px}
.sub{color:#666;margin-bottom:14px}.nav{font-size:13px;margin-bottom:6px}a{color:#2f6db5}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:12px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e3e6ea;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef3fa;white-space:nowrap}td.n{text-align:right;white-space:nowrap}td.c{white-space:nowrap}
.found{font-weight:bold}.error{font-weight:bold}.muted{color:#777;font-size:12px}
code{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:12px;background:#f3f4f6;padding:0 3px}
@media print{body{background:#fff}section{box-shadow:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


@dataclass
class ExpectationDoc:
    """One expectation's outcome on one batch, as the page shows it."""

    meta: dict[str, Any]
    type: str
    kwargs: dict[str, Any]
    success: bool
    unexpected_count: int
    rows: list[dict[str, Any]]  # failing rows: the key columns and the values judged (≤ the sample size)
    error: str | None = None


@dataclass
class BatchDoc:
    """One (mart, row filter) batch a suite validated."""

    table: str
    where: tuple[tuple[str, Any], ...]
    rows_evaluated: int
    expectations: list[ExpectationDoc] = field(default_factory=list)


@dataclass
class SuiteDoc:
    name: str
    description_zh: str
    tables: tuple[str, ...]
    failing_count: int
    errors: list[str]
    batches: list[BatchDoc] = field(default_factory=list)


def suite_page(docs_dir: Path, name: str) -> Path:
    """Where a suite's page is: the link a Dagster asset check and the index point to."""
    return Path(docs_dir) / SUITES_DIR / f"{quote(name, safe='')}.html"


def _e(v: Any) -> str:
    return escape("" if v is None else str(v))


def _page(title: str, body: str, tones: dict[str, str]) -> str:
    colours = "".join(f".{cls}{{color:{colour}}}" for cls, colour in tones.items())
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}{colours}</style></head><body><main>{body}</main></body></html>\n")


def _outcome(failing: int, errors: list[str]) -> str:
    if errors:
        return f'<span class="error">校验出错（{len(errors)}处）</span>'
    if failing:
        return f'<span class="found">发现{failing:,}条问题</span>'
    return '<span class="ok">未发现问题</span>'


def _value(column: str, v: Any, labels: dict[Any, str] | None = None) -> str:
    if v is None:
        return "（空）"
    if labels and isinstance(v, str) and (column, v) in labels:
        return labels[(column, v)]
    if column in ORG_COLUMNS and isinstance(v, str):
        return format_org_code(v)
    if hasattr(v, "item"):  # numpy scalars from the batch
        v = v.item()
    if isinstance(v, bool):
        return BOOL_TEXT[v]
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _where_text(where: tuple[tuple[str, Any], ...], label, labels: dict[Any, str]) -> str:
    return "，".join(f"{label(k)} = {_value(k, v, labels)}" for k, v in where)


def _check_text(e: ExpectationDoc, label) -> str:
    kw = e.kwargs
    if "column_A" in kw:
        rel = "≥" if kw.get("or_equal") else ">"
        return f"{label(kw['column_A'])} {rel} {label(kw['column_B'])}"
    if "value_set" in kw:
        allowed = "、".join(_value(kw["column"], v) for v in kw["value_set"])
        return f"{label(kw['column'])} 为 {allowed}"
    return e.type


def _suite_body(s: SuiteDoc, comments: dict[tuple[str, str], str], periods: list[str],
                severities: dict[str, str]) -> str:
    out = [f'<div class="nav"><a href="../{INDEX}">← 全部校验套件</a></div>',
           f"<h1>校验套件 <code>{_e(s.name)}</code>：{_e(s.description_zh)}</h1>",
           f'<div class="sub">报告期 {_e(_periods_text(periods))}；结果：{_outcome(s.failing_count, s.errors)}。'
           "问题是报表中须核实或整改之处，已逐条写入问题清单（compliance_flags）和各企业回执。</div>"]
    for err in s.errors:
        out.append(f'<section><p class="error">校验出错：{_e(err)}</p></section>')
    for b in s.batches:
        def label(col: str, table: str = b.table) -> str:
            return column_label(comments.get((table, col)), col)

        filt = _where_text(b.where, label, severities)
        out.append(f"<h2>集市表 <code>marts.{_e(b.table)}</code>{f'（{_e(filt)}）' if filt else ''}</h2><section>")
        failing = sum(e.unexpected_count for e in b.expectations)
        out.append(f'<p>校验 {b.rows_evaluated:,} 行，{_outcome(failing, [e.error for e in b.expectations if e.error])}。</p>')
        out.append("<table><thead><tr><th>规则</th><th>内容</th><th>严重程度</th><th>检查</th><th>结果</th></tr></thead><tbody>")
        for e in b.expectations:
            m = e.meta
            out.append(f"<tr><td class=c>{_e(m.get('rule_id') or '—')}</td><td>{_e(m.get('title_zh') or '')}</td>"
                       f"<td class=c>{_e(severities.get(m.get('severity'), m.get('severity') or ''))}</td>"
                       f"<td>{_e(_check_text(e, label))}</td>"
                       f"<td class=c>{_outcome(e.unexpected_count, [e.error] if e.error else [])}</td></tr>")
        out.append("</tbody></table>")
        for e in b.expectations:
            if not e.rows:
                continue
            cols = list(dict.fromkeys(k for r in e.rows for k in r))
            out.append(f"<h3>{_e(e.meta.get('rule_id') or '')} {_e(e.meta.get('title_zh') or '')}：发现{e.unexpected_count:,}条问题"
                       + (f"（列出前{len(e.rows)}条）" if e.unexpected_count > len(e.rows) else "") + "</h3>")
            out.append("<table><thead><tr>" + "".join(f"<th>{_e(label(c))}</th>" for c in cols) + "</tr></thead><tbody>")
            for r in e.rows:
                out.append("<tr>" + "".join(f"<td class=c>{_e(_value(c, r.get(c), severities))}</td>" for c in cols) + "</tr>")
            out.append("</tbody></table>")
        out.append("</section>")
    return "\n".join(out)


def _periods_text(periods: list[str]) -> str:
    if not periods:
        return "—"
    return periods[0] if len(periods) == 1 else f"{periods[0]}–{periods[-1]}（{len(periods)}个）"


def write_data_docs(docs_dir: Path, periods: list[str], suites: list[SuiteDoc],
                    comments: dict[tuple[str, str], str], tones: dict[str, str] | None = None,
                    severities: dict[str, str] | None = None) -> Path:
    """Write ``docs_dir/index.html`` and one page per suite (previous pages removed); returns the index.

    ``comments``: (mart, column) -> the column's comment, for Chinese headers; ``tones``: CSS class ->
    text colour (``ok``, ``found``, ``error``), from the warehouse's reference.ref_tones when it has one;
    ``severities``: severity -> its Chinese label (reference.ref_severities), and (column, code) -> label
    for coded values shown in the pages (period types).
    """
    docs_dir = Path(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name in _STALE:
        p = docs_dir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    tones = tones or {}
    (docs_dir / SUITES_DIR).mkdir()
    rows = []
    for s in suites:
        page = suite_page(docs_dir, s.name)
        page.write_text(_page(f"校验套件 {s.name}", _suite_body(s, comments, periods, severities or {}), tones), encoding="utf-8")
        evaluated = sum(b.rows_evaluated for b in s.batches)
        rows.append(f'<tr><td class=c><a href="{SUITES_DIR}/{page.name}"><code>{_e(s.name)}</code></a></td>'
                    f"<td>{_e(s.description_zh)}</td>"
                    f"<td>{'<br>'.join(f'<code>marts.{_e(t)}</code>' for t in s.tables)}</td>"
                    f"<td class=n>{evaluated:,}</td><td class=c>{_outcome(s.failing_count, s.errors)}</td></tr>")
    total = sum(s.failing_count for s in suites)
    body = ("<h1>数据校验结果（Great Expectations 校验套件）</h1>"
            f'<div class="sub">报告期 {_e(_periods_text(periods))}；共 {len(suites)} 个套件，'
            f"发现{total:,}条问题；生成时间 {dt.datetime.now():%Y-%m-%d %H:%M}。"
            "“发现N条问题”指被校验的集市表中不符合规则的行数，每一条都已写入问题清单和企业回执，"
            "不表示数据平台运行失败。</div>"
            "<section><table><thead><tr><th>套件</th><th>说明</th><th>集市表</th><th>校验行数</th><th>结果</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")
    index = docs_dir / INDEX
    index.write_text(_page("数据校验结果", body, tones), encoding="utf-8")
    return index
