"""The inspection pack (pipelines/lib/exports/inspection.py) as an inspector sees it: rendered by Debian's
chromium, headless and offline, on screen and printed to A4, with every marked figure equal to the marts."""

from __future__ import annotations

import html
import re
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.exports.inspection import period_runs, write_inspection_page, write_inspection_pages
from pipelines.lib.exports.pages import page_name
from tests.mart_tables import insert_rows
from tests.marts_fixture import build_marts_fixture, make_code
from tests.test_report_browser import _chromium, read_png

A4_PAGES_MAX = 3
FIELD = re.compile(r'data-field="([a-z_0-9]+)" data-period="([^"]*)"(?: data-value="([^"]*)")?')


def pdf_pages(pdf: Path) -> int:
    """Pages of a chromium PDF: the page tree's /Count, checked against the page objects."""
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    objects = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)
              + re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    assert counts and max(counts) == objects, (counts, objects)
    return objects


def rendered(page: Path, tmp_path: Path) -> tuple[str, int, Path]:
    """(the DOM chromium built, A4 pages when printed, a screenshot)."""
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    pdf, shot = tmp_path / f"{page.stem}.pdf", tmp_path / f"{page.stem}.png"
    res = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert pdf.is_file(), res.stderr[-2000:]
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1100,1800", page.as_uri())
    assert shot.is_file()
    return dom, pdf_pages(pdf), shot


def fields(dom: str) -> dict[tuple[str, str], str]:
    return {(f, p): html.unescape(v or "") for f, p, v in FIELD.findall(dom)}


def expand_runs(text: str) -> list[str]:
    """"2006Q2–2006Q4、2008Q1" -> every quarter it names."""
    out = []
    for part in html.unescape(text).split("、"):
        first, _, last = part.partition("–")
        out += [str(p) for p in period_range(Period.parse(first), Period.parse(last or first))]
    return out


def _close(text: str, value: float | None) -> bool:
    if value is None:
        return text in ("", "None")
    return abs(float(text) - value) < 1e-9


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple:
    rows = con.execute(sql, params).fetchall()
    assert len(rows) == 1, (sql, params, rows)
    return rows[0]


def check_enterprise_figures(db: Path, org: str, dom: str, as_of: str) -> int:
    """Every marked figure of an enterprise page against the marts; returns how many were compared."""
    got = fields(dom)
    n = 0
    with duckdb.connect(str(db), read_only=True) as con:
        for (name, period), value in got.items():
            if name in ("share", "beijing_average", "gap", "trajectory"):
                col = {"share": "high_skill_share", "gap": "gap_to_beijing", "trajectory": "trajectory_share"}.get(
                    name, name)
                (want,) = _one(con, f"select {col} from marts.high_skill_share_tracking where grain = 'enterprise'"
                                    " and entity_code = ? and period_type = 'quarter' and period = ?", [org, period])
                assert _close(value, want), (name, period, value, want)
            elif name in ("coverage", "extraction_ratio", "frontline_share"):
                p, ptype = period.split(":")
                table = "training_coverage_tracking" if name == "coverage" else "fund_tracking"
                extra = " and skill_level = '全部'" if name == "coverage" else ""
                (want,) = _one(con, f"select {name} from marts.{table} where grain = 'enterprise' and entity_code = ?"
                                    f" and period_type = ? and period = ?{extra}", [org, ptype, p])
                assert _close(value, want), (name, period, value, want)
            elif name.startswith("flows_"):
                p, ptype = period.split(":")
                (want,) = _one(con, f"select {name[6:]} from marts.talent_flows where grain = 'enterprise'"
                                    " and entity_code = ? and period_type = ? and period = ?", [org, ptype, p])
                assert int(value) == want, (name, period, value, want)
            elif re.fullmatch(r"c\d\d_ok", name):
                table = "incentives_tracking" if name in ("c09_ok", "c10_ok", "c11_ok") else "governance_matrix"
                where = "period = ?" if table == "incentives_tracking" else "period = ? and period_type = " + (
                    "'year'" if period.endswith("Q4") else "'quarter'")
                rows = con.execute(f"select {name} from marts.{table} where org_code = ? and {where}",
                                   [org, period]).fetchall()
                want = rows[0][0] if rows else None
                assert value == ("" if want is None else str(want)), (name, period, value, want)
            else:
                continue
            n += 1
        flags = con.execute("select count(*) from marts.compliance_flags where org_code = ? and period <= ?",
                            [org, as_of]).fetchone()[0]
        filings = con.execute("select period, status from marts.filing_status where org_code = ? and period <= ?",
                              [org, as_of]).fetchall()
    # every flag is on the page: one row per rule, with all its quarters and the latest one's value
    rows = re.findall(r'data-field="flag" data-rule="([A-Z]\d\d)" data-count="(\d+)" data-period="([^"]*)"'
                      r' data-value="([^"]*)"[^>]*>.*?<td class="periods">([^<]*)</td>', dom)
    assert sum(int(r[1]) for r in rows) == flags
    with duckdb.connect(str(db), read_only=True) as con:
        for rule, count, period, value, periods in rows:
            have = con.execute("select period, observed_value from marts.compliance_flags where org_code = ?"
                               " and rule_id = ? and period <= ?", [org, rule, as_of]).fetchall()
            assert int(count) == len(have) and period == max(p for p, _ in have)
            assert html.unescape(value) in {str(v) if v is not None else "" for p, v in have if p == period}
            assert set(expand_runs(periods)) == {p for p, _ in have}
    shown = dict(re.findall(r'data-field="filing" data-period="(\d{4}Q\d)"[^>]*>([^<]+)<', dom))
    assert shown == dict(filings)
    return n


@pytest.fixture(scope="module")
def fixture_pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    base = tmp_path_factory.mktemp("inspection")
    db = build_marts_fixture(base / "warehouse.duckdb")
    org = make_code(0)
    with duckdb.connect(str(db)) as con:  # the fixture has no flows: one year of them for the HQ
        insert_rows(con, "talent_flows", [dict(
            grain="enterprise", entity_code=org, period_type="year", period="2007Q4", year=2007,
            high_skill_start=40, promoted_in=5, promoted_trained=4, transfer_in=2, returned_in=0, new_in=1,
            first_filing_in=0, refiling_in=0, in_total=8, transfer_out=1, retired=2, left_otherwise=0,
            unreported_out=0, out_total=3, high_skill_end=45, upgraded=3,
            skilled_workers_start=200, skilled_workers_end=210, share_start=0.2, share_end=45 / 210)])
    pages = {code: write_inspection_page(db, code, base / "pages" / f"{code}.html", "2007Q4")
             for code in (org, make_code(3))}
    return db, pages


def test_two_enterprise_pages_render_print_on_a4_and_show_the_marts(fixture_pages, tmp_path: Path) -> None:
    db, pages = fixture_pages
    for org, page in pages.items():
        dom, n_pages, shot = rendered(page, tmp_path)
        assert 1 <= n_pages <= A4_PAGES_MAX, (org, n_pages)
        width, _, rows = read_png(shot, max_rows=600)
        bpp = len(rows[0]) // width
        colours = {r[i:i + 3] for r in rows[::3] for i in range(0, len(r), bpp * 3)}
        assert len(colours) > 30 and any(sum(c) < 200 for c in colours), "blank or unstyled page"
        assert '<html lang="zh-CN">' in dom and "检查页" in dom and "<svg" in dom
        for heading in ("名录信息与报送情况", "北京市平均水平", "人才流动", "培训覆盖", "制度建设", "问题清单"):
            assert heading in dom, heading
        # self-contained: nothing fetched, no script (a flag's text may quote a URL: it stays text)
        assert not re.search(r'(?:href|src)="(?:https?:)?//', dom) and "<script" not in dom and "<link" not in dom
        assert check_enterprise_figures(db, org, dom, "2007Q4") >= 10
    hq_dom = _chromium(tmp_path, "--dump-dom", pages[make_code(0)].as_uri()).stdout
    got = fields(hq_dom)
    assert got[("flows_high_skill_end", "2007Q4:year")] == "45"
    assert got[("flows_promoted_trained", "2007Q4:year")] == "4"
    # the missing 2007Q4 of the fourth enterprise shows as such
    missing = _chromium(tmp_path, "--dump-dom", pages[make_code(3)].as_uri()).stdout
    with duckdb.connect(str(db), read_only=True) as con:
        label = con.execute("select status from marts.filing_status where org_code = ? and period = '2007Q4'",
                            [make_code(3)]).fetchone()[0]
    assert fields(missing)[("filing", "2007Q4")] == "" and f">{label}<" in missing


def test_group_page_sets_its_enterprises_side_by_side(fixture_pages, tmp_path: Path) -> None:
    db, _ = fixture_pages
    report_dir = tmp_path / "report"
    result = write_inspection_pages(db, report_dir)
    with duckdb.connect(str(db), read_only=True) as con:
        orgs = {r[0] for r in con.execute("select org_code from marts.dim_enterprises").fetchall()}
        groups = {r[0] for r in con.execute("select distinct group_org_code from marts.dim_enterprises").fetchall()}
        members = [r[0] for r in con.execute("select org_code from marts.dim_enterprises where group_org_code = ?"
                                             " order by org_code", [make_code(0)]).fetchall()]
        shares = dict(con.execute("select entity_code, high_skill_share from marts.high_skill_share_tracking"
                                  " where grain = 'enterprise' and period_type = 'quarter' and period = '2007Q4'")
                      .fetchall())
    assert {p.name for p in (report_dir / "enterprises").glob("*.html")} == {page_name(o) for o in orgs}
    assert {p.name for p in (report_dir / "groups").glob("*.html")} == {page_name(g) for g in groups}
    assert result.written == len(orgs) + len(groups) and result.unchanged == 0
    page = report_dir / "groups" / page_name(make_code(0))
    dom, n_pages, _ = rendered(page, tmp_path)
    assert 1 <= n_pages <= A4_PAGES_MAX
    for org in members:
        assert f'href="../enterprises/{page_name(org)}"' in dom
        shown = fields(dom).get(("member_share", f"{org}:2007Q4"))
        assert shown is not None and _close(shown, shares.get(org)), (org, shown, shares.get(org))
    # Nothing changed: a second pass rewrites nothing, and a page of a code no longer registered goes.
    stale = report_dir / "enterprises" / "ZZZZZZZZ9.html"
    stale.write_text("old", encoding="utf-8")
    before = {p: p.stat().st_mtime_ns for p in report_dir.rglob("*.html") if p != stale}
    again = write_inspection_pages(db, report_dir)
    assert (again.written, again.unchanged, again.removed) == (0, len(before), 1) and not stale.exists()
    assert {p: p.stat().st_mtime_ns for p in report_dir.rglob("*.html")} == before


def test_cli_writes_the_page_or_says_in_one_line_what_is_wrong(fixture_pages, tmp_path: Path) -> None:
    from tests.test_cli import cli

    db, _ = fixture_pages
    org = make_code(1)
    out = tmp_path / "page.html"
    ok = cli("enterprise", f"{org[:8]}-{org[8]}", "--period", "2007Q3", "--warehouse", str(db), "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert out.is_file() and "截至 2007Q3" in out.read_text(encoding="utf-8")
    default = cli("enterprise", make_code(0), "--group", "--warehouse", str(db))
    assert default.returncode == 0 and (db.parent / "report" / "groups" / page_name(make_code(0))).is_file()
    unknown = cli("enterprise", "12345678-9", "--warehouse", str(db))
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert [line for line in unknown.stderr.splitlines() if line.strip()][-1].startswith("Error: 名录中没有")
    no_db = cli("enterprise", org, "--warehouse", str(tmp_path / "nope.duckdb"))
    assert no_db.returncode == 1 and "找不到发布库" in no_db.stderr


@pytest.mark.slow
def test_the_run_writes_a_page_per_enterprise_and_group_linked_from_the_report(demo_run, tmp_path: Path) -> None:
    report_dir = demo_run.marts_dir / "report"
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        orgs = sorted(r[0] for r in con.execute("select org_code from marts.dim_enterprises").fetchall())
        groups = {r[0] for r in con.execute("select distinct group_org_code from marts.dim_enterprises").fetchall()}
        lagging = con.execute("select org_code from marts.compliance_flags where rule_id = 'C05'"
                              " group by 1 order by count(*) desc limit 1").fetchone()[0]
        horizon = con.execute("select max(period) from marts.filing_status").fetchone()[0]
    assert sorted(p.name for p in (report_dir / "enterprises").glob("*.html")) == sorted(map(page_name, orgs))
    assert {p.name for p in (report_dir / "groups").glob("*.html")} == {page_name(g) for g in groups}
    quarterly = (report_dir / f"{horizon}.html").read_text(encoding="utf-8")
    assert {org for org in orgs if f'href="enterprises/{page_name(org)}"' in quarterly} == set(orgs)
    # two enterprises (the one with the most flags, and another group's) and a group, as printed
    other = next(o for o in orgs if o != lagging)
    for org in (lagging, other):
        dom, n_pages, _ = rendered(report_dir / "enterprises" / page_name(org), tmp_path)
        assert 1 <= n_pages <= A4_PAGES_MAX, (org, n_pages)
        assert check_enterprise_figures(demo_run.warehouse, org, dom, horizon) >= 40
        assert any(k[0].startswith("flows_") for k in fields(dom))
    dom, n_pages, _ = rendered(report_dir / "groups" / page_name(sorted(groups)[0]), tmp_path)
    assert 1 <= n_pages <= A4_PAGES_MAX


def test_period_runs_merge_consecutive_quarters() -> None:
    assert period_runs(["2006Q3", "2006Q2", "2006Q4", "2008Q1", "2006Q3"]) == "2006Q2–2006Q4、2008Q1"
    assert period_runs(["2009Q4", "2010Q1"]) == "2009Q4–2010Q1"
    assert expand_runs(period_runs(["2006Q2", "2007Q1", "2007Q2"])) == ["2006Q2", "2007Q1", "2007Q2"]


def test_the_flag_list_reads_values_and_thresholds_as_the_receipt_does(fixture_pages, tmp_path: Path) -> None:
    """问题清单's 实际值 and 阈值 (issue 25, item 7): a verdict's true/false reads 是/否, a count of the rule's own
    threshold row reads as counted, a ratio rule's fraction as a percentage — never the raw mart text."""
    import shutil

    from tests.page_text import page_text

    db = tmp_path / "warehouse.duckdb"
    shutil.copy(fixture_pages[0], db)
    org = make_code(1)
    with duckdb.connect(str(db)) as con:
        insert_rows(con, "compliance_flags", [
            dict(flag_id="t-c13", rule_id="C13", clause="§三.2", severity="warning", org_code=org, period="2007Q4",
                 observed_value="false", threshold="true", message_zh="2007年后备梯队制度否", source="governance"),
            dict(flag_id="t-c11", rule_id="C11", clause="§三.4", severity="info", org_code=org, period="2007Q4",
                 observed_value="0.1111111111", threshold="0.22", message_zh="劳模中高技能人才比例低", source="incentives"),
            dict(flag_id="t-c07", rule_id="C07", clause="§三.1", severity="warning", org_code=org, period="2007Q4",
                 observed_value="0", threshold="1", message_zh="2007年报告0次", source="governance")])
    page = page_text(write_inspection_page(db, org, tmp_path / "page.html", "2007Q4").read_text(encoding="utf-8"))
    cells = page[page.index("问题清单"):].splitlines()

    def row(rule: str) -> list[str]:
        at = cells.index(rule)
        return cells[at:at + 12]

    assert "否" in row("C13") and "是" in row("C13"), row("C13")
    assert "11.11%" in row("C11") and "22%" in row("C11"), row("C11")
    assert "0" in row("C07") and "1" in row("C07") and "本年度向职工代表大会报告高技能人才工作少于1次" in row("C07")
    assert not {"true", "false", "0.1111111111", "0.22"} & set(cells), cells
