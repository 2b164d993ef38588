"""Thresholds in prose: the one renderer of rule titles and of every text that names a limit.

A rule's title in ``ref_rules.csv`` (and the suites' copies of it) names a threshold by its key, never by its
value: 「教育培训经费提取额低于职工工资总额的{fund_ratio_min}」. The text a person reads is rendered here with the
row of ``ref_policy_thresholds`` in force for the period it speaks of, so a rule change (a new row from 2009Q1)
changes every title, heading and note of 2009 at once and leaves 2008's as they were. Every Python text that
names a threshold goes through ``render`` (or ``render_over`` for a text that spans periods); dbt decides the
verdicts and writes no prose of its own.

How a value reads follows its row's unit: a ratio as a percentage (at most two decimals, trailing zeros
dropped: 1.5%, 60%, 1.49%, the one format of percentages in messages), anything else as a person writes it
(2000, not 2000.0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import TEXT_UNIT, ThresholdError, ThresholdRow

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
PERCENT_DECIMALS = 2
RATIO_UNIT = "ratio"


def trimmed(x: float, places: int = PERCENT_DECIMALS) -> str:
    """At most ``places`` decimals, trailing zeros dropped: 1.50 -> "1.5", 2000.0 -> "2000"."""
    text = f"{x:.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def percent_text(v: float) -> str:
    """A fraction as a percentage in a message: 0.015 -> "1.5%", 0.019974 -> "2%", 1 -> "100%"."""
    return f"{trimmed(float(v) * 100)}%"


def threshold_text(value: float | str, unit: str) -> str:
    """A threshold as its row's unit says it reads: a ratio as a percentage, a count, year or hour whole, a
    text row (a plan's name) as written."""
    if unit == TEXT_UNIT:
        return str(value)
    if unit == RATIO_UNIT:
        return percent_text(value)
    return trimmed(value) if math.isfinite(value) else str(value)


def placeholders(template: str) -> list[str]:
    """The threshold keys a text names: 「…的{fund_ratio_min}」 -> ["fund_ratio_min"]."""
    return PLACEHOLDER.findall(template or "")


def render(template: str, rows: Sequence[ThresholdRow], period: str | Period) -> str:
    """``template`` with every ``{threshold_key}`` replaced by the value in force in ``period``; a placeholder
    that names no threshold (``{trajectory}`` of a workbook's description) is left for its own owner."""
    known = {row.key for row in rows}
    keys = set(placeholders(template)) & known
    if not keys:
        return template or ""
    p = period if isinstance(period, Period) else Period.parse(str(period))
    in_force: dict[str, ThresholdRow] = {}
    for row in rows:
        if row.key in keys and row.covers(p):
            if row.key in in_force:
                raise ThresholdError(f"阈值 {row.key} 在报告期 {p} 有多行生效，请检查 ref_policy_thresholds")
            in_force[row.key] = row

    def value(m: re.Match[str]) -> str:
        if m.group(1) not in keys:
            return m.group(0)
        row = in_force.get(m.group(1))
        if row is None:
            raise ThresholdError(f"报告期 {p} 缺少生效的阈值: {m.group(1)}（ref_policy_thresholds）")
        return threshold_text(row.value, row.unit)

    return PLACEHOLDER.sub(value, template)


def period_runs(periods: Iterable[str | Period]) -> str:
    """2006Q2, 2006Q3, 2006Q4, 2008Q1 -> "2006Q2–2006Q4、2008Q1": consecutive quarters as one run."""
    runs: list[list[Period]] = []
    for p in sorted({x if isinstance(x, Period) else Period.parse(str(x)) for x in periods}):
        if runs and runs[-1][-1].next() == p:
            runs[-1].append(p)
        else:
            runs.append([p])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def render_over(template: str, rows: Sequence[ThresholdRow], periods: Iterable[str | Period]) -> str:
    """``template`` for a text that speaks of several periods (a workbook, a run's summary, the Data Docs): the
    one rendering when the values agree, else each rendering with the quarters it holds for
    (「…的1.5%（2008Q1–2008Q4）；…的2.1%（2009Q1–2009Q4）」)."""
    by_text: dict[str, list[str]] = {}
    for p in sorted({str(x) for x in periods}):
        by_text.setdefault(render(template, rows, p), []).append(p)
    if not by_text:  # no period to speak of: the limits are unknown, not made up
        known = {row.key for row in rows}
        return PLACEHOLDER.sub(lambda m: "—" if m.group(1) in known else m.group(0), template or "")
    if len(by_text) == 1:
        return next(iter(by_text))
    return "；".join(f"{text}（{period_runs(ps)}）" for text, ps in by_text.items())


def threshold_rows_in(con: Any) -> tuple[ThresholdRow, ...]:
    """The rows of ``reference.ref_policy_thresholds`` as dbt loaded them into the DuckDB database ``con``
    (a published warehouse or the working database): what its marts were judged by."""
    return tuple(
        ThresholdRow(key=key, value=value if unit == TEXT_UNIT else float(value), effective_from=Period.parse(since) if since else None,
                     effective_to=Period.parse(until) if until else None, unit=unit or "", clause=clause or "",
                     description_zh=description or "")
        for key, value, since, until, unit, clause, description in con.execute(
            "select threshold_key, value, effective_from, effective_to, unit, clause, description_zh"
            " from reference.ref_policy_thresholds order by threshold_key, effective_from").fetchall())
