"""Data Docs for a run: plain offline HTML written from the run's GX validation results.

GX's own site needs CDN scripts and stylesheets (bootstrap, jQuery, vega); stripped of them it was a
broken page with filter buttons that filter nothing, and it identified failing rows by a pandas index.
So the pages are written here, from the validation results the runner already holds: an index of the
suites, and one page per suite naming each mart it validated, every expectation with its rule, and the
failing rows identified by the key columns GX returned for them (``unexpected_index_column_names``:
organisation code, period and, where a rule is about a person, the pseudonym). No script, no external
reference. This module works out what the pages say; ``templates/`` (the pages' one Jinja2 environment,
``exports/templating.py``) marks it up. A suite that found rows says "发现N条问题" (findings for people to follow up), not "failed":
finding problems in the filings is what the checks are for.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.reference import ThresholdRow
from pipelines.lib.domain.rule_text import render_over
from pipelines.lib.exports.display import BOOL_TEXT, column_label
from pipelines.lib.exports.templating import render

INDEX = "index.html"
SUITES_DIR = "suites"
# What earlier versions (GX's site builder) left in the folder: removed so no stale page is served.
_STALE = ("expectations", "validations", "static", SUITES_DIR, INDEX)
ORG_COLUMNS = frozenset({"org_code", "group_org_code", "entity_code"})

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


def _where_text(where: tuple[tuple[str, Any], ...], label: Callable[[str], str], labels: dict[Any, str]) -> str:
    return "，".join(f"{label(k)} = {_value(k, v, labels)}" for k, v in where)


def _check_text(e: ExpectationDoc, label: Callable[[str], str]) -> str:
    kw = e.kwargs
    if "column_A" in kw:
        rel = "≥" if kw.get("or_equal") else ">"
        return f"{label(kw['column_A'])} {rel} {label(kw['column_B'])}"
    if "value_set" in kw:
        allowed = "、".join(_value(kw["column"], v) for v in kw["value_set"])
        return f"{label(kw['column'])} 为 {allowed}"
    return e.type


def _expectation(e: ExpectationDoc, label: Callable[[str], str], severities: dict[str, str],
                 title: Callable[[str], str]) -> dict[str, Any]:
    """An expectation's line, and its failing rows' table (columns by their Chinese headers)."""
    m = e.meta
    cols = list(dict.fromkeys(k for r in e.rows for k in r))
    return {"rule_id": m.get("rule_id") or "—", "rule_id_or_blank": m.get("rule_id") or "",
            "title": title(m.get("title_zh") or ""), "severity": severities.get(m.get("severity"), m.get("severity") or ""),
            "check": _check_text(e, label), "unexpected_count": e.unexpected_count,
            "errors": [e.error] if e.error else [], "headers": [label(c) for c in cols],
            "rows": [[_value(c, r.get(c), severities) for c in cols] for r in e.rows]}


def _batch(b: BatchDoc, comments: dict[tuple[str, str], str], severities: dict[str, str],
           title: Callable[[str], str]) -> dict[str, Any]:
    def label(col: str) -> str:
        return column_label(comments.get((b.table, col)), col)

    return {"table": b.table, "filter": _where_text(b.where, label, severities), "rows_evaluated": b.rows_evaluated,
            "failing": sum(e.unexpected_count for e in b.expectations),
            "errors": [e.error for e in b.expectations if e.error],
            "expectations": [_expectation(e, label, severities, title) for e in b.expectations]}


def _suite_page(s: SuiteDoc, comments: dict[tuple[str, str], str], periods: list[str], severities: dict[str, str],
                tones: dict[str, str], thresholds: Sequence[ThresholdRow]) -> str:
    def title(template: str) -> str:  # a rule's title with the thresholds in force over the validated quarters
        return render_over(template, thresholds, periods)

    return render("expectations/suite.html.j2", title=f"校验套件 {s.name}", tones=tones, index=INDEX, suite=s,
                  periods=_periods_text(periods), batches=[_batch(b, comments, severities, title) for b in s.batches])


def _periods_text(periods: list[str]) -> str:
    if not periods:
        return "—"
    return periods[0] if len(periods) == 1 else f"{periods[0]}–{periods[-1]}（{len(periods)}个）"


def write_data_docs(docs_dir: Path, periods: list[str], suites: list[SuiteDoc],
                    comments: dict[tuple[str, str], str], tones: dict[str, str] | None = None,
                    severities: dict[str, str] | None = None, thresholds: Sequence[ThresholdRow] = ()) -> Path:
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
        page.write_text(_suite_page(s, comments, periods, severities or {}, tones, thresholds), encoding="utf-8")
        rows.append({"name": s.name, "page": page.name, "description_zh": s.description_zh, "tables": s.tables,
                     "evaluated": sum(b.rows_evaluated for b in s.batches), "failing_count": s.failing_count,
                     "errors": s.errors})
    index = docs_dir / INDEX
    index.write_text(render("expectations/index.html.j2", title="数据校验结果", tones=tones, suites=rows,
                            suites_dir=SUITES_DIR, periods=_periods_text(periods),
                            total=sum(s.failing_count for s in suites), generated=dt.datetime.now()),
                     encoding="utf-8")
    return index
