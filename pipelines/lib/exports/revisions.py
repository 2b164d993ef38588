"""Revisions explained where people read: what the ledger (schema ``releases`` of the published warehouse, see
``releases.py``) says about a quarter that a later release changed, for the report's 修订说明, the workbook's
修订记录 sheet, a re-issued receipt and the reports index.

Which causes of a release explain a quarter's revision: the files of that quarter and of the year's earlier
quarters (the year-to-date figures of a quarter include them), and the causes that are no file (rule change of
that quarter, registry change, forced re-check, other). Enterprises are named by their organisation code as
people read it and their registered name; no personal data is in the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.exports.charts import BLUE, GREEN, ORANGE, PURPLE, line_chart
from pipelines.lib.exports.display import PP_UNIT
from pipelines.lib.exports.headlines import Headline, headline_figures
from pipelines.lib.exports.releases import SCHEMA


@dataclass(frozen=True)
class Cause:
    code: str
    label: str
    period: str | None
    org_code: str | None
    submission_id: str | None
    rules_version: str | None

    def text(self, names: dict[str, str], period: str | None = None) -> str:
        """迟报文件：10117472-0 某某公司（报送编号 …）; the quarter when it is not ``period``'s own."""
        where = f"（{self.period}）" if self.period and self.period != period and self.org_code else ""
        if self.org_code is not None or self.submission_id is not None:
            org = self.org_code or ""
            who = " ".join(x for x in (format_org_code(org) if org else "", names.get(org, "")) if x)
            return f"{self.label}{where}：{who}（报送编号 {self.submission_id}）"
        if self.rules_version is not None:
            return f"{self.label}（规则版本 {self.rules_version}）"
        return self.label


@dataclass(frozen=True)
class Moved:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ReleaseRef:
    number: int
    released_at: dt.datetime
    causes: tuple[str, ...] = ()  # the labels of the causes explaining the quarter's figures in it


@dataclass
class RevisionNote:
    """The 修订说明 of a quarter: first published in ``first``, revised last in ``this``."""

    period: str
    first: ReleaseRef
    this: ReleaseRef
    releases: list[ReleaseRef]  # every release that changed the quarter, oldest first
    moved: list[Moved] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # texts


def has_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("select count(*) from duckdb_tables() where database_name = current_database()"
                            " and schema_name = ? and table_name = 'release_headlines'", [SCHEMA]).fetchone()[0])


def explains(cause: Cause, period: str) -> bool:
    """Whether ``cause`` of a release explains the revision of ``period``'s figures (see the module's doc)."""
    if cause.submission_id is not None:
        return cause.period is not None and cause.period[:4] == period[:4] and cause.period <= period
    return cause.period is None or cause.period == period


# Causes that by themselves change no document of a quarter unless its figures moved.
QUIET_CAUSES = frozenset({"forced_recheck", "other"})


class Ledger:
    """The releases of a published warehouse, read once."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.present = has_ledger(con)
        self.when: dict[int, dt.datetime] = {}
        self.quarters: dict[str, list[int]] = {}
        self.causes: dict[int, list[Cause]] = {}
        self.values: dict[tuple[int, str, str], float | None] = {}
        self.figures: tuple[Headline, ...] = ()
        self.names: dict[str, str] = {}
        if not self.present:
            return
        self.figures = headline_figures(con)
        self.when = dict(con.execute(f"select release_no, released_at from {SCHEMA}.releases").fetchall())
        for n, period in con.execute(f"select release_no, period from {SCHEMA}.release_quarters order by 2, 1").fetchall():
            self.quarters.setdefault(period, []).append(n)
        for n, *rest in con.execute(f"""select release_no, cause, cause_zh, period, org_code, submission_id,
                                        rules_version from {SCHEMA}.release_causes order by all""").fetchall():
            self.causes.setdefault(n, []).append(Cause(*rest))
        self.values = {(n, p, f): v for n, p, f, v in con.execute(
            f"select release_no, period, figure, value from {SCHEMA}.release_headlines").fetchall()}
        self.names = dict(con.execute("select org_code, enterprise_name from marts.dim_enterprises").fetchall())

    def explaining(self, number: int, period: str) -> list[Cause]:
        causes = self.causes.get(number, [])
        return [c for c in causes if explains(c, period)] or causes

    def ref(self, number: int, period: str) -> ReleaseRef:
        labels = dict.fromkeys(c.label for c in self.explaining(number, period))
        return ReleaseRef(number, self.when[number], tuple(labels))

    def revised_in(self, period: str) -> list[int]:
        """The quarter's first release and every later one that revised what its documents show: a headline
        figure moved, or a file, rule or registry change explains it. A re-check (or a program update) that moved
        none of them changed no page: the report is not rewritten for it, so it is no revision of the report."""
        numbers = self.quarters.get(period, [])
        kept = numbers[:1]
        for previous, number in zip(numbers, numbers[1:], strict=False):
            if self.moved(previous, number, period) or any(
                    c.code not in QUIET_CAUSES for c in self.explaining(number, period)):
                kept.append(number)
        return kept

    def releases_of(self, period: str) -> list[ReleaseRef]:
        return [self.ref(n, period) for n in self.revised_in(period)]

    def moved(self, before: int, after: int, period: str) -> list[Moved]:
        out = []
        for h in self.figures:
            old, new = self.values.get((before, period, h.figure)), self.values.get((after, period, h.figure))
            if (before, period, h.figure) in self.values and (after, period, h.figure) in self.values and old != new:
                out.append(Moved(h.label, h.text(old), h.text(new)))
        return out

    def note(self, period: str) -> RevisionNote | None:
        """The quarter's 修订说明; None for a quarter no release revised."""
        numbers = self.revised_in(period)
        if len(numbers) < 2:
            return None
        this = numbers[-1]
        previous = max(n for n in self.quarters[period] if n < this)  # the figures it replaced
        return RevisionNote(period, self.ref(numbers[0], period), self.ref(this, period), self.releases_of(period),
                            self.moved(previous, this, period),
                            [c.text(self.names, period) for c in self.explaining(this, period)])

    def revision_rows(self) -> list[tuple]:
        """The 修订记录: one row per release × quarter it revised (not its first publication) × cause."""
        rows = []
        for period, all_releases in sorted(self.quarters.items()):
            for number in self.revised_in(period)[1:]:
                previous = max(n for n in all_releases if n < number)
                moved = "；".join(f"{m.label} {m.before} → {m.after}" for m in self.moved(previous, number, period))
                for c in self.explaining(number, period):
                    rows.append((number, self.when[number], period, c.label, c.period, c.org_code,
                                 self.names.get(c.org_code or ""), c.submission_id, c.rules_version,
                                 moved or "主要数字未变"))
        return sorted(rows, key=lambda r: (r[0], r[2]))

    def reissue_text(self, number: int, period: str, org: str) -> str:
        """Why a receipt of ``org`` for ``period`` was re-issued in release ``number``: its own files first,
        then what is no file; other enterprises' files (a group's or the system's figures moved) by count."""
        causes = self.explaining(number, period)
        own = [c.text(self.names, period) for c in causes if c.org_code == org]
        other = [c.text(self.names, period) for c in causes if c.submission_id is None]
        others = sum(1 for c in causes if c.submission_id is not None and c.org_code != org)
        parts = own + other + ([f"其他企业报送的文件 {others} 份"] if others else [])
        day = self.when[number].date().isoformat()
        return f"本回执随发布版本 {number}（{day} 发布）重新出具，原因：{'；'.join(parts) or '程序更新或其他'}。"


# The 修订记录 sheet's columns: (key, header) in the order of Ledger.revision_rows.
REVISION_COLUMNS = (
    ("release_no", "发布版本"), ("released_at", "发布时间"), ("period", "修订的报告期"), ("cause_zh", "原因"),
    ("cause_period", "文件报告期"), ("org_code", "组织机构代码"), ("enterprise_name", "企业名称"),
    ("submission_id", "报送编号"), ("rules_version", "规则版本"), ("moved", "主要数字变化（修订前 → 修订后）"),
)


# --------------------------------------------------------------------------------------------------
# The reports index: releases per quarter, the revisions triangle and its mean absolute revisions
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriangleRow:
    period: str
    label: str
    first_release: int
    first: str  # the value first published
    later: tuple[tuple[int, str], ...]  # (release, value) of every later release that changed its value
    revision: str  # after the last release, against the first


@dataclass(frozen=True)
class MeanRow:
    label: str
    by_delay: tuple[str, ...]  # per delay 0 … max, "" where no quarter has that delay


def _triangle_rows(con: duckdb.DuckDBPyConnection, figures: dict[str, Headline]) -> list[TriangleRow]:
    out = []
    rows = con.execute(f"""select period, figure, release_no, is_revision, value, first_value, revision
                           from {SCHEMA}.revisions_triangle order by period desc, figure, release_no""").fetchall()
    cells: dict[tuple[str, str], list[tuple]] = {}
    for r in rows:
        cells.setdefault((r[0], r[1]), []).append(r)
    for period in sorted({p for p, _ in cells}, reverse=True):
        for h in figures.values():
            seq = cells.get((period, h.figure))
            if not seq:
                continue
            later = tuple((r[2], h.text(r[4])) for r, prev in zip(seq[1:], seq, strict=False) if r[4] != prev[4])
            out.append(TriangleRow(period, h.label, seq[0][2], h.text(seq[0][5]), later, h.change_text(seq[-1][6])))
    return out


# A warehouse without a ledger: no release to list, nothing revised.
NO_REVISIONS: dict = {"releases_of": {}, "triangle": [], "delays": [], "mean_rows": [], "revision_chart": None}


def index_revisions(con: duckdb.DuckDBPyConnection) -> dict:
    """What the reports index shows of the releases: per quarter its releases, the triangle, the mean absolute
    revision per quarter of delay (a table, and a chart of the shares' when any quarter was revised)."""
    ledger = Ledger(con)
    if not ledger.present:
        return NO_REVISIONS
    figures = {h.figure: h for h in ledger.figures}
    means = con.execute(f"""select figure, delay_quarters, mean_absolute_revision
                            from {SCHEMA}.mean_absolute_revisions order by all""").fetchall()
    delays = list(range(max((d for _, d, _ in means), default=-1) + 1))
    by = {(f, d): v for f, d, v in means}
    mean_rows = [MeanRow(h.label, tuple(h.change_text(by[(h.figure, d)]).lstrip("+") if (h.figure, d) in by else ""
                                        for d in delays)) for h in figures.values()]
    chart = None
    if any(v for _, _, v in means):
        shares = [h for h in figures.values() if h.digits is not None]
        series = [{"name": h.short, "values": [by.get((h.figure, d)) for d in delays], "colour": colour}
                  for h, colour in zip(shares, (BLUE, ORANGE, GREEN, PURPLE), strict=False)]
        chart = line_chart("主要比例的平均绝对修订幅度（相对首次发布值）", [str(d) for d in delays], series,
                           f"平均绝对修订（{PP_UNIT}）", x_label="延迟季度数", w=760, h=300,
                           fmt=lambda v: f"{v * 100:.2f}")
    return {"releases_of": {p: ledger.releases_of(p) for p in ledger.quarters},
            "triangle": _triangle_rows(con, figures), "delays": delays, "mean_rows": mean_rows,
            "revision_chart": chart}
