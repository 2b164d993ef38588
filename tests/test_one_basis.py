"""One basis, stated (issue 28, item 1): every system and group figure of the quarterly reports, the tracking
workbook and the group inspection pages is the mart row of the basis (口径) printed beside it, with the
enterprise count printed beside it too. Two documents may show different numbers for one quarter or year only
under different basis labels.

Reads the shared demo run (tests/conftest.py): every quarterly report, the workbook's tables 1–3 and every
group page, against marts.high_skill_share_tracking, training_coverage_tracking and fund_tracking.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from pipelines.lib.domain.codes import normalize_org_code
from pipelines.lib.exports.display import pct, read_display
from pipelines.lib.exports.report import INDEX_NAME
from tests.conftest import DemoRun
from tests.page_text import page_text

pytestmark = pytest.mark.slow

# measure -> (mart, column, how a page prints it)
MEASURES = {
    "share": ("high_skill_share_tracking", "high_skill_share", lambda v: pct(v)),
    "headcount": ("training_coverage_tracking", "headcount", lambda v: f"{v:,}"),
    "trained": ("training_coverage_tracking", "trained", lambda v: f"{v:,}"),
    "coverage": ("training_coverage_tracking", "coverage", lambda v: pct(v)),
    "extraction_ratio": ("fund_tracking", "extraction_ratio", lambda v: pct(v, 2)),
    "frontline_share": ("fund_tracking", "frontline_share", lambda v: pct(v)),
    "payroll": ("fund_tracking", "payroll", lambda v: f"{v:,.2f}"),
}
BASIS_COUNT = re.compile(r"口径：(?P<basis>[^，]+)，(?P<n>[\d,]+) 家企业(?:；(?P<caveat>.+))?$")
FIELD = re.compile(r'data-field="(\w+)" data-period="([^"]*)"(?: data-value="([^"]*)")?[^>]*>([^<]*)<')


@dataclass(frozen=True)
class Shown:
    """One figure as a document shows it, with the basis and enterprise count shown beside it."""
    source: str
    measure: str
    grain: str
    entity: str
    period: str  # the label a reader sees: a quarter, or a year row's Q4
    basis: str
    enterprises: int
    value: Any  # the printed text, or the exact cell value of the workbook


class Marts:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.rows: dict[tuple, dict[str, Any]] = {}
        for table in {m[0] for m in MEASURES.values()}:
            level = " and skill_level = '全部'" if table == "training_coverage_tracking" else ""
            cur = con.execute(f"select * from marts.{table} where grain in ('system', 'group'){level}")
            names = [d[0] for d in cur.description]
            for r in cur.fetchall():
                row = dict(zip(names, r, strict=True))
                key = (table, row["grain"], row["entity_code"], row["period"], row["basis"])
                assert key not in self.rows, f"{key}: the basis label does not single out one row"
                self.rows[key] = row
        self.bases = {r[0] for r in con.execute(
            "select label_zh from reference.ref_statuses where domain = 'basis'").fetchall()}

    def row(self, s: Shown) -> dict[str, Any]:
        table = MEASURES[s.measure][0]
        row = self.rows.get((table, s.grain, s.entity, s.period, s.basis))
        assert row is not None, f"{s}: no {table} row of that basis"
        return row


class _Tables(HTMLParser):
    """Every <table>'s rows as lists of their cells' text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _cards(text: list[str]) -> dict[str, tuple[str, str]]:
    """The report's cards: title -> (value, detail line)."""
    return {text[i]: (text[i + 1], text[i + 2]) for i in range(len(text) - 2)
            if text[i].startswith(("全系统高技能人才占比", "高技能人才培训覆盖率", "经费提取比例", "一线职工经费占比"))}


def _from_report(path: Path, period: str, group_codes: dict[str, str]) -> list[Shown]:
    dom = path.read_text(encoding="utf-8")
    text = page_text(dom).splitlines()
    out: list[Shown] = []
    cards = _cards(text)
    for title, measure in (("全系统高技能人才占比", "share"), ("高技能人才培训覆盖率（年初至今）", "coverage"),
                           ("经费提取比例（年初至今）", "extraction_ratio"), ("一线职工经费占比（年初至今）", "frontline_share")):
        if title not in cards or cards[title][0] == "—":
            continue
        value, detail = cards[title]
        m = BASIS_COUNT.search(detail)
        assert m, f"{path.name} {title}: no basis and enterprise count beside the figure: {detail}"
        out.append(Shown(f"report {period}", measure, "system", "ALL", period, m["basis"],
                         int(m["n"].replace(",", "")), value))
    note = next((line for line in text if line.startswith("口径：企业数")), None)
    parser = _Tables()
    parser.feed(dom)
    groups = next((t for t in parser.tables if t and t[0][:2] == ["集团", "企业数"]), None)
    if groups is None:
        return out
    m = re.match(r"口径：企业数、高技能人才、已培训、覆盖率为(.+)；经费企业数及经费各列为(.+)。$", note or "")
    assert m, f"{path.name}: the group table does not state its bases"
    cov_basis, fund_basis = m.groups()
    for cells in groups[1:]:
        code = group_codes[cells[0]]
        if cells[1] != "—":
            for measure, i in (("headcount", 2), ("trained", 3), ("coverage", 4)):
                out.append(Shown(f"report {period}", measure, "group", code, period, cov_basis, int(cells[1]), cells[i]))
        if cells[5] != "—":
            for measure, i in (("payroll", 6), ("extraction_ratio", 8), ("frontline_share", 10)):
                out.append(Shown(f"report {period}", measure, "group", code, period, fund_basis, int(cells[5]),
                                 cells[i]))
    return out


def _from_group_page(path: Path) -> list[Shown]:
    dom = path.read_text(encoding="utf-8")
    code = normalize_org_code(path.stem)
    fields = {(f, p): (html.unescape(v) if v else None, html.unescape(t)) for f, p, v, t in FIELD.findall(dom)}
    out: list[Shown] = []
    for (field, tag), (value, _text) in fields.items():
        if field == "share":
            basis, n = fields[("basis", tag)][1], fields[("enterprises", tag)][0]
            out.append(Shown(f"group page {path.stem}", "share", "group", code, tag, basis, int(n), float(value)))
        kind = {"coverage": "coverage", "extraction_ratio": "fund", "frontline_share": "fund"}.get(field)
        if kind and value is not None:
            period, _period_type = tag.split(":")
            basis, n = fields[(f"{kind}_basis", tag)][1], fields[(f"{kind}_enterprises", tag)][0]
            out.append(Shown(f"group page {path.stem}", field, "group", code, period, basis, int(n), float(value)))
    return out


def _from_workbook(path: Path, con: duckdb.DuckDBPyConnection) -> list[Shown]:
    display = read_display(con)
    wb = openpyxl.load_workbook(path, read_only=True)
    sheets = {"1 高技能人才比例跟踪": ("high_skill_share_tracking", ("share",)),
              "2 培训覆盖跟踪": ("training_coverage_tracking", ("headcount", "trained", "coverage")),
              "3 经费提取使用跟踪": ("fund_tracking", ("payroll", "extraction_ratio", "frontline_share"))}
    out: list[Shown] = []
    for sheet, (table, measures) in sheets.items():
        rows = wb[sheet].iter_rows(values_only=True)
        header = next(rows)
        cols = [k for (k,) in con.execute("select column_name from duckdb_columns() where schema_name = 'marts'"
                                          " and table_name = ?", [table]).fetchall()]
        by_label = {display.column_label(table, k): k for k in cols}
        index = {by_label[h]: i for i, h in enumerate(header) if h in by_label}
        for r in rows:
            grain = r[index["grain"]]
            if grain not in ("system", "group") or (table == "training_coverage_tracking"
                                                    and r[index["skill_level"]] != "全部"):
                continue
            entity = normalize_org_code(r[index["entity_code"]]) if grain == "group" else r[index["entity_code"]]
            for measure in measures:
                out.append(Shown("workbook", measure, grain, entity, r[index["period"]], r[index["basis"]],
                                 r[index["enterprises_reported"]], r[index[MEASURES[measure][1]]]))
    return out


def _check_against_mart(s: Shown, marts: Marts) -> None:
    assert s.basis in marts.bases, f"{s}: the basis label is not one of reference.ref_statuses' basis rows"
    row = marts.row(s)
    assert s.enterprises == row["enterprises_reported"], f"{s}: the enterprise count is not the mart's"
    exact = row[MEASURES[s.measure][1]]
    if isinstance(s.value, str):
        assert s.value == MEASURES[s.measure][2](exact), f"{s}: printed {s.value}, the mart has {exact}"
    elif isinstance(exact, float):
        assert s.value == pytest.approx(exact, rel=1e-12, abs=1e-12), f"{s}: the mart has {exact}"
    else:
        assert s.value == float(exact), f"{s}: the mart has {exact}"


def test_every_figure_is_the_mart_row_of_the_basis_printed_beside_it(demo_run: DemoRun) -> None:
    report_dir = demo_run.marts_dir / "report"
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        marts = Marts(con)
        # the report names a group as the group rows do, else by its head office's name
        names = dict(con.execute("select org_code, enterprise_name from marts.dim_enterprises").fetchall())
        names.update(con.execute("select entity_code, any_value(entity_name) from marts.high_skill_share_tracking"
                                 " where grain = 'group' and entity_name is not null group by 1").fetchall())
        groups = {g for (g,) in con.execute("select distinct group_org_code from marts.dim_enterprises").fetchall()}
        group_codes = {names.get(g) or g: g for g in groups}
        shown = _from_workbook(demo_run.marts_dir / "target_tracking.xlsx", con)
    periods = sorted(p.stem for p in report_dir.glob("*.html") if p.name != INDEX_NAME)
    assert len(periods) == 20
    for period in periods:
        shown += _from_report(report_dir / f"{period}.html", period, group_codes)
    pages = sorted((report_dir / "groups").glob("*.html"))
    assert pages
    for page in pages:
        shown += _from_group_page(page)

    sources = {s.source.split(" ")[0] for s in shown}
    assert sources == {"report", "workbook", "group"}
    for s in shown:
        _check_against_mart(s, marts)

    # Side by side: one quarter or year, one entity, one measure. Where two documents show it under one basis
    # they agree (checked above against the one mart row); where the numbers differ, so do the labels.
    by_figure: dict[tuple, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for s in shown:
        row = marts.row(s)
        by_figure[(s.grain, s.entity, s.period, s.measure)][s.basis].add(
            (row["enterprises_reported"], row[MEASURES[s.measure][1]]))
    differing = {k: v for k, v in by_figure.items() if len({x for vals in v.values() for x in vals}) > 1}
    for key, bases in by_figure.items():
        for basis, values in bases.items():
            assert len(values) == 1, f"{key} under {basis}: {values}"
    assert all(len(bases) > 1 for bases in differing.values())
    # the example: system 2009 — the report's quarter row (11 enterprises) and the workbook's year row (12)
    system_2009 = by_figure[("system", "ALL", "2009Q4", "share")]
    assert {n for vals in system_2009.values() for n, _ in vals} == {11, 12} and len(system_2009) == 2
