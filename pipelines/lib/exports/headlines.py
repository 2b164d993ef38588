"""The headline figures of a quarter: the one list of them, read from the marts the quarterly report reads.

A release records them for every quarter it changed (``releases.release_headlines``), so a revised report can say
which of them moved and the reports index can show the revisions triangle. Each figure is read from the same mart
row and column as the report's card (``report._system_cards`` …), never computed again; the flag counts are one
figure per severity of ``reference.ref_severities``, counted from ``marts.compliance_flags`` like the report's
part four.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.lib.exports.display import PP_UNIT, pct


@dataclass(frozen=True)
class Headline:
    figure: str  # code
    label: str  # the report card's title: 全系统高技能人才占比 …
    short: str  # where room is short (a chart's line ends)
    sql: str = ""  # one value per period (a ``?`` list of periods is bound): period, value
    digits: int | None = 1  # a share shown with this many decimals; None: a count

    def text(self, value: float | None) -> str:
        """The value as the report shows it: 12.3%, 1,234."""
        if value is None:
            return "—"
        return pct(value, self.digits) if self.digits is not None else f"{round(value):,}"

    def change_text(self, change: float | None) -> str:
        """A revision as people read it: +0.12百分点 for a share, +3 for a count; 0 unsigned."""
        if change is None:
            return "—"
        if self.digits is None:
            return f"{round(change):+,}" if round(change) else "0"
        x = round(change * 100, 2) + 0.0
        return f"{x:+.2f}{PP_UNIT}" if x else f"0.00{PP_UNIT}"


# The report's cards, in its order. {periods}: the ? marks of the periods read.
SHARE = Headline("system_share", "全系统高技能人才占比", "全系统占比", """
    select period, high_skill_share from marts.high_skill_share_tracking
    where grain = 'system' and period_type = 'quarter' and period in ({periods})""")
COVERAGE = Headline("coverage", "高技能人才培训覆盖率（年初至今）", "培训覆盖率", """
    select period, coverage from marts.training_coverage_tracking
    where grain = 'system' and period_type = 'quarter' and skill_level = '全部' and period in ({periods})""")
FUND_RATIO = Headline("fund_ratio", "经费提取比例（年初至今）", "经费提取比例", """
    select period, extraction_ratio from marts.fund_tracking
    where grain = 'system' and period_type = 'quarter' and period in ({periods})""", 2)
FRONTLINE = Headline("frontline_share", "一线职工经费占比（年初至今）", "一线职工占比", """
    select period, frontline_share from marts.fund_tracking
    where grain = 'system' and period_type = 'quarter' and period in ({periods})""")
SHARE_FIGURES = (SHARE, COVERAGE, FUND_RATIO, FRONTLINE)
FLAGS_PREFIX = "flags_"
FLAGS_LABEL = "问题条数（{severity}）"


def flag_figures(con: duckdb.DuckDBPyConnection) -> tuple[Headline, ...]:
    """One figure per severity of the warehouse's reference (错误, 警告, 提示), in its order."""
    return tuple(Headline(FLAGS_PREFIX + code, FLAGS_LABEL.format(severity=label), label, digits=None)
                 for code, label in con.execute("select severity, label_zh from reference.ref_severities"
                                                " order by sort_order, severity").fetchall())


def headline_figures(con: duckdb.DuckDBPyConnection) -> tuple[Headline, ...]:
    return (*SHARE_FIGURES, *flag_figures(con))


def read_headlines(con: duckdb.DuckDBPyConnection, periods: list[str]) -> list[tuple[str, str, str, float | None]]:
    """(period, figure, label, value) of every headline figure of ``periods`` in the warehouse ``con`` uses;
    a figure the marts do not have for a quarter is None, a severity without flags 0."""
    if not periods:
        return []
    marks = ", ".join("?" for _ in periods)
    values: dict[tuple[str, str], float | None] = {}
    for h in SHARE_FIGURES:
        for period, value in con.execute(h.sql.format(periods=marks), periods).fetchall():
            values[(period, h.figure)] = value
    flags = flag_figures(con)
    for period, severity, n in con.execute(f"""select period, severity, count(*) from marts.compliance_flags
                                               where period in ({marks}) group by all""", periods).fetchall():
        values[(period, FLAGS_PREFIX + severity)] = n
    return [(p, h.figure, h.label, values.get((p, h.figure), 0 if h.digits is None else None))
            for p in sorted(periods) for h in (*SHARE_FIGURES, *flags)]
