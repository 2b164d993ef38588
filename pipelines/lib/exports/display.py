"""What the exports show for a code, and in which colour, read from the warehouse being exported.

The owners are the dbt seeds (``ref_tones``, ``ref_statuses``, ``ref_severities``, ``ref_rules``,
``ref_beijing_benchmark``, the ``plan_name`` rows of ``ref_policy_thresholds``) and the dbt yml column descriptions. dbt loads the seeds into schema
``reference`` and persists the descriptions as DuckDB column comments; publish copies both. The
workbook, the report and the receipts read them here, from the very file they export, so a
published warehouse and its exports never disagree, and no label or colour is typed in Python.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.lib.domain import rule_text
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import ThresholdRow

# How a boolean reads in every export (the contract's 是/否), and a finding's true/false with it.
BOOL_TEXT = {True: "是", False: "否"}
BOOL_CODE_TEXT = {"true": BOOL_TEXT[True], "false": BOOL_TEXT[False]}

# A column's header is the head of its description, up to the first full-width （ or ：. A parenthesis that
# opens with a short qualifier — a unit, a rule id — stays with it: "职工工资总额（万元；累计口径同上）" ->
# "职工工资总额（万元）", "报告期（YYYYQn；…）" -> "报告期", so an amount's header never loses its unit.
_HEAD = re.compile(r"^(?P<head>[^（：]*)(?:（(?P<qualifier>[^（）；，、/：]{1,3})[）；])?")


def column_label(comment: str | None, column: str) -> str:
    """The short header of a column: the head of its comment (see ``_HEAD``), else its name."""
    m = _HEAD.match((comment or "").strip())
    head = m.group("head").strip()
    if head and m.group("qualifier"):
        head += f"（{m.group('qualifier').strip()}）"
    return head or column


def pct(v: Any, digits: int = 1) -> str:
    """A share as people read it: 0.1234 -> "12.3%" (a rounded zero never shows as "-0.0%")."""
    return "—" if v is None else f"{round(v * 100, digits) + 0.0:.{digits}f}%"


# The one wording for a difference of shares, everywhere a person reads one (report, receipts, workbook).
PP_UNIT = "百分点"
PP_PER_YEAR_UNIT = "百分点/年"


def pp(v: Any, unit: str = PP_UNIT) -> str:
    """A difference of shares in percentage points, signed: 0.019 -> "+1.9百分点"; a rounded zero is "0.0"."""
    if v is None:
        return "—"
    x = round(v * 100, 1) + 0.0
    return f"{x:+.1f}{unit}" if x else f"0.0{unit}"


# A yearly gain that is not needed (the share is at or above its target): the one wording of every export.
NO_GAIN_NEEDED = "—（已达标）"


def gain_text(v: Any, unit: str = PP_PER_YEAR_UNIT) -> str:
    """The gain a year still needed to reach the target: "+1.2百分点/年", "—（已达标）" when none, "—" unknown."""
    if v is None:
        return "—"
    return NO_GAIN_NEEDED if round(v * 100, 1) <= 0 else pp(v, unit)


@dataclass(frozen=True)
class Tone:
    tone: str
    fill_colour: str  # Excel cell fill
    text_colour: str  # HTML text and chart colour
    label_zh: str  # name of the fill colour, for the workbook's and receipts' legends (绿色 …)
    description_zh: str
    text_label_zh: str  # name of the text/chart colour, for the report's legends (橙色 …)


@dataclass(frozen=True)
class Code:
    """One row of ref_statuses (domain, status_code) or ref_severities (domain ``severity``)."""

    domain: str
    code: str
    label_zh: str
    tone: str
    sort_order: int
    description_zh: str


@dataclass(frozen=True)
class Display:
    tones: dict[str, Tone]
    codes: tuple[Code, ...]
    rule_levels: dict[str, str]  # ref_rules: rule_id -> level (file, row, …, enterprise-year)
    rule_titles: dict[str, str]  # ref_rules: rule_id -> title_zh, a template naming thresholds ({fund_ratio_min})
    benchmark: tuple[tuple[int, float, str, str], ...]  # (year, share, source, status) of ref_beijing_benchmark
    column_comments: dict[tuple[str, str], str]  # (table of marts or reference, column) -> comment
    thresholds: tuple[ThresholdRow, ...] = ()  # ref_policy_thresholds: what the titles' placeholders read
    # (name, first quarter, last quarter) of each plan_name row of ref_policy_thresholds, oldest first
    plans: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def year_level_rules(self) -> frozenset[str]:
        """Rules judged on the year (levels enterprise-year, person-year): their flags carry <year>Q4."""
        return frozenset(r for r, level in self.rule_levels.items() if level.endswith("-year"))

    # -- codes and labels ----------------------------------------------------------------------------
    def domain(self, domain: str) -> list[Code]:
        return sorted((c for c in self.codes if c.domain == domain), key=lambda c: c.sort_order)

    def label(self, domain: str, code: Any) -> Any:
        """The Chinese label of ``code`` in ``domain``; anything unknown is returned unchanged."""
        return next((c.label_zh for c in self.codes if c.domain == domain and c.code == code), code)

    def labels(self, domain: str) -> dict[str, str]:
        return {c.code: c.label_zh for c in self.domain(domain)}

    def order(self, domain: str) -> dict[str, int]:
        """Code and label -> sort order, for sorting either."""
        return {k: c.sort_order for c in self.domain(domain) for k in (c.code, c.label_zh)}

    def finding_value(self, value: Any) -> Any:
        """A finding's observed value or threshold when it is a code: true -> 是, lagging -> 滞后,
        achieved/on_track -> 已达标/进度正常. Anything else (what a clerk typed) is returned unchanged."""
        if not isinstance(value, str):
            return value
        if value in BOOL_CODE_TEXT:
            return BOOL_CODE_TEXT[value]
        words = self.labels("trajectory")
        parts = value.split("/")
        return "/".join(words[p] for p in parts) if all(p in words for p in parts) else value

    # -- colours ------------------------------------------------------------------------------------
    def tone_of(self, text: Any) -> str | None:
        """The tone of a status or severity, by its code or its Chinese label (any domain)."""
        return self._tone_by_text.get(text) if isinstance(text, str) else None

    def text_colour(self, tone: str) -> str:
        return self.tones[tone].text_colour

    @functools.cached_property
    def _tone_by_text(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in self.codes:
            for key in (c.code, c.label_zh):
                if out.setdefault(key, c.tone) != c.tone:
                    raise ValueError(f"参考数据矛盾：“{key}”在不同所属中色调不同（ref_statuses / ref_severities）")
        return out

    def legend(self, domains: tuple[str, ...], text: bool = False) -> str:
        """"绿色：已达标/进度正常/按时；黄色：…" for the statuses of ``domains``, in tone order; named by
        the fill colour (cells) or, with ``text``, by the text and chart colour (the HTML report)."""
        parts = []
        for tone in self.tones.values():
            names = [c.label_zh for d in domains for c in self.domain(d) if c.tone == tone.tone]
            if names:
                parts.append(f"{tone.text_label_zh if text else tone.label_zh}：{'/'.join(dict.fromkeys(names))}")
        return "；".join(parts)

    def title(self, rule_id: str, period: str | Period) -> str:
        """A rule's title as it reads for ``period``: its thresholds are the rows in force then."""
        return self.text(self.rule_titles.get(rule_id, ""), period)

    def rule_title(self, rule_id: str, period: str | Period) -> str:
        """"C03 教育培训经费提取额低于职工工资总额的1.5%": a rule's id with its title for ``period``."""
        title = self.title(rule_id, period)
        return f"{rule_id} {title}" if title else rule_id

    def text(self, template: str, period: str | Period) -> str:
        """Any text naming thresholds (``{coverage_min}``), rendered with the rows in force in ``period``."""
        return rule_text.render(template, self.thresholds, period)

    def text_over(self, template: str, periods: Any) -> str:
        """A text naming thresholds, for a page or sheet that speaks of several periods."""
        return rule_text.render_over(template, self.thresholds, periods)

    # -- plans --------------------------------------------------------------------------------------
    def plan_names(self, first: str | None, last: str | None) -> list[str]:
        """The names of the plans with a quarter in ``[first, last]`` (periods 'YYYYQn' compare as text)."""
        if not first or not last:
            return []
        return [name for name, since, until in self.plans if since <= last and (until is None or until >= first)]

    def plan_words(self, first: str | None, last: str | None) -> str:
        """“十一五” or “十一五”“十二五”: how a title names the plans of its quarters; '' when none."""
        return "".join(f"“{name}”" for name in self.plan_names(first, last))

    # -- columns ------------------------------------------------------------------------------------
    def column_label(self, table: str, column: str) -> str:
        return column_label(self.column_comments.get((table, column)), column)


def read_display(con: duckdb.DuckDBPyConnection) -> Display:
    """The display reference of the warehouse ``con`` is connected to (schemas ``reference``, ``marts``)."""
    q = con.execute
    tones = {r[0]: Tone(*r) for r in q(
        "select tone, fill_colour, text_colour, label_zh, description_zh, text_label_zh from reference.ref_tones "
        "order by case tone when 'ok' then 0 when 'warn' then 1 when 'bad' then 2 else 3 end, tone").fetchall()}
    codes = tuple(Code(*r) for r in q("""
        select domain, status_code, label_zh, tone, sort_order, description_zh from reference.ref_statuses
        union all
        select 'severity', severity, label_zh, tone, sort_order, description_zh from reference.ref_severities
        order by 1, 5, 2""").fetchall())
    rules = q("select rule_id, level, title_zh from reference.ref_rules order by rule_id").fetchall()
    rule_levels = {r: level for r, level, _ in rules}
    rule_titles = {r: title for r, _, title in rules if title}
    benchmark = tuple(q("select year, high_skill_share, source, status from reference.ref_beijing_benchmark "
                        "order by year").fetchall())
    comments = {(t, c): m for t, c, m in q(
        "select table_name, column_name, comment from duckdb_columns() where database_name = current_database() "
        "and schema_name in ('marts', 'reference') and comment is not null").fetchall()}
    plans = tuple(q("select value, effective_from, effective_to from reference.ref_policy_thresholds "
                    "where threshold_key = 'plan_name' order by effective_from").fetchall())
    display = Display(tones, codes, rule_levels, rule_titles, benchmark, comments, rule_text.threshold_rows_in(con),
                      plans)
    display.tone_of("")  # fail early on contradicting reference rows
    return display
