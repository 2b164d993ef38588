"""The whole quarterly graph on the committed demo inbox: outputs, reconciliation, ground truth, by-hand figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.domain.codes import normalize_org_code
from pipelines.lib.domain.contract import PROFILE, SHEETS
from tests.conftest import CONFUSION_REPORT, DemoRun

# Each test here runs the whole quarterly graph (intake, dbt, GX, exports): the full tier, not the quick loop.
pytestmark = pytest.mark.slow


def _truth(inbox: Path) -> list[dict[str, str]]:
    with (inbox / "ground_truth.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_run_reconciles_files_and_rows(demo_run: DemoRun) -> None:
    stats = demo_run.summary.stats
    assert stats["文件 files"] == stats["受理 accepted"] + stats["退回 rejected"]
    files_on_disk = sum(1 for p in demo_run.inbox.glob("20*/*") if p.name != "收件登记.csv")
    assert stats["文件 files"] == files_on_disk
    loaded = sum(_query(demo_run.work_db, f"select count(*) from raw.{s.table}")[0][0] for s in SHEETS)
    assert loaded == stats["入库行 rows loaded"]
    assert _query(demo_run.work_db, "select sum(rows_in) from raw.submissions where outcome = 'accepted'")[0][0] == loaded


def test_every_output_is_written(demo_run: DemoRun) -> None:
    marts = demo_run.marts_dir
    assert demo_run.warehouse.is_file()
    assert (marts / "target_tracking.xlsx").is_file()
    periods = sorted(p.name for p in demo_run.inbox.iterdir() if p.is_dir())
    assert sorted(p.stem for p in (marts / "report").glob("*.html")) == [*periods, "index"]
    index_page = (marts / "report" / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{p}.html"' in index_page for p in periods)  # the reports index lists every quarter
    for period in ("2006Q1", "2010Q4"):
        expected = _query(demo_run.warehouse, "select count(*) from marts.filing_status where period = ?", [period])[0][0]
        assert len(list((marts / "receipts" / period).glob("*.xlsx"))) == expected > 0
    index = (marts / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "http://" not in index and "https://" not in index
    assert "funds" in index and "training" in index


def test_published_warehouse_carries_marts_with_chinese_comments_and_no_personal_data(demo_run: DemoRun) -> None:
    schemas = {r[0] for r in _query(demo_run.warehouse, "select distinct schema_name from duckdb_tables()")}
    # history: the marts' dbt snapshots, which the releases read as of any release
    assert schemas == {"marts", "reference", "releases", "history"}
    cols = _query(demo_run.warehouse, "select table_name, column_name, comment from duckdb_columns()"
                                      " where schema_name in ('marts', 'reference', 'releases', 'history')")
    assert all(name not in ("id_number", "name", "preparer", "phone", "person_key") for _, name, _ in cols)
    uncommented = [(t, c) for t, c, comment in cols if not comment]
    assert uncommented == []
    # no 身份证号 typed in the demo workbooks survives anywhere in the published file
    ids = {r["id_number"] for r in _truth(demo_run.inbox) if r["id_number"]}
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        for table, column in con.execute("select table_schema || '.' || table_name, column_name"
                                         " from information_schema.columns where data_type = 'VARCHAR'").fetchall():
            values = {v for (v,) in con.execute(f'select distinct "{column}" from {table}').fetchall() if v}
            assert not any(i in v for v in values for i in ids), (table, column)


ROW_LEVEL_RULES = ("D05", "D09", "D10", "D11", "D13")


def _flag_keys(demo_run: DemoRun) -> dict[tuple[str, str, str], list[tuple]]:
    out: dict[tuple[str, str, str], list[tuple]] = defaultdict(list)
    for rule, org, period, sheet, row, source in _query(
        demo_run.warehouse,
        "select rule_id, org_code, period, sheet, source_row, source from marts.compliance_flags"
    ):
        out[(rule, org, period)].append((sheet, row, source))
    return out


def test_planted_defects_and_violations_are_all_found_and_nothing_else(demo_run: DemoRun) -> None:
    truth = [t for t in _truth(demo_run.inbox) if t["kind"] in ("defect", "violation")]
    flags = _flag_keys(demo_run)
    planted: dict[str, int] = defaultdict(int)
    found: dict[str, int] = defaultdict(int)
    missed = []
    for t in truth:
        key = (t["rule_id"], t["org_code"], t["period"])
        planted[t["rule_id"]] += 1
        hits = flags.get(key, [])
        if t["row"] and t["rule_id"] in ROW_LEVEL_RULES:  # the flag must point at the very cell
            hits = [h for h in hits if h[0] == t["sheet"] and str(h[1]) == t["row"]]
        if hits:
            found[t["rule_id"]] += 1
        else:
            missed.append(t)
    expected_keys = {(t["rule_id"], t["org_code"], t["period"]) for t in truth}
    false_flags = sorted(k for k in flags if k not in expected_keys)

    report = CONFUSION_REPORT
    report.append("planted defects and violations (demo inbox) vs flags in marts.compliance_flags")
    report.append("rule  planted  found  missed  false-flags  precision  recall")
    for rule in sorted(set(planted) | {k[0] for k in false_flags}):
        fp = sum(1 for k in false_flags if k[0] == rule)
        tp, p = found[rule], planted[rule]
        precision = tp / (tp + fp) if tp + fp else 1.0
        report.append(f"{rule:5} {p:7} {tp:6} {p - tp:7} {fp:12} {precision:10.2f} {tp / p if p else 1.0:7.2f}")
    assert missed == []
    assert false_flags == []


def test_tolerated_variants_load_without_a_single_finding(demo_run: DemoRun) -> None:
    variants = [t for t in _truth(demo_run.inbox) if t["kind"] == "variant"]
    assert {t["defect"] for t in variants} >= {"gb18030_csv", "header_whitespace_fullwidth"}
    for t in variants:
        name = Path(t["file"]).name
        rows = _query(demo_run.work_db,
                      "select s.outcome, count(f.rule_id) from raw.submissions s left join raw.findings f"
                      " using (submission_id) where s.file_name = ? group by s.outcome", [name])
        assert rows == [("accepted", 0)], (name, rows)


# --- two enterprises checked by hand from their raw workbooks ---------------------------------


def _sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    """A sheet as header -> value dicts, read with openpyxl / the csv module (not the platform's reader)."""
    if path.suffix == ".zip" or path.is_dir():
        if path.is_dir():
            data = (path / f"{sheet}.csv").read_bytes()
        else:
            with zipfile.ZipFile(path) as zf:
                data = zf.read(f"{sheet}.csv")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        return [{k.strip(): (v.strip() or None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    wb.close()
    headers = [str(h).strip() for h in rows[0]]
    return [dict(zip(headers, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def _num(v: object) -> float:
    return float(v)  # type: ignore[arg-type]


def _year_of(v: object) -> int | None:
    if isinstance(v, dt.datetime | dt.date):
        return v.year
    return int(str(v)[:4]) if v else None


def _files_of(inbox: Path, org: str) -> dict[str, Path]:
    out = {}
    for path in sorted(p for p in inbox.glob("20*/*") if p.suffix in (".xlsx", ".zip") or p.is_dir()):
        if normalize_org_code(path.name.split("_")[0]) == org:
            out[path.parent.name] = path
    return out


NEEDED = ("2006Q1", "2008Q1", "2008Q2", "2008Q3", "2008Q4")


def _clean_enterprise(inbox: Path) -> str:
    """An enterprise with one clean .xlsx for each period the by-hand figures use, and no truth row on them."""
    truth = _truth(inbox)
    with (inbox / "registry.csv").open(encoding="utf-8") as fh:
        orgs = sorted(normalize_org_code(r["组织机构代码"]) for r in csv.DictReader(fh))
    for org in orgs:
        touched = {t["period"] for t in truth if t["org_code"] == org}
        files = _files_of(inbox, org)
        single = all(len(list(inbox.glob(f"{p}/{files[p].name.split('_')[0]}*"))) == 1 for p in NEEDED if p in files)
        if all(p in files for p in NEEDED) and single and not touched & set(NEEDED):
            return org
    raise AssertionError("the demo inbox has no enterprise clean in 2006Q1 and 2008")


def test_high_skill_share_and_fund_ratio_of_a_clean_enterprise_match_its_workbooks(demo_run: DemoRun) -> None:
    org = _clean_enterprise(demo_run.inbox)
    files = _files_of(demo_run.inbox, org)
    profile = {p: _sheet_rows(f, PROFILE.name)[0] for p, f in files.items()}

    def share(period: str) -> float:
        r = profile[period]
        return (_num(r["高级工人数"]) + _num(r["技师人数"]) + _num(r["高级技师人数"])) / _num(r["技能劳动者总数"])

    bench = {int(y): float(s) for y, s, *_ in csv.reader(
        (Path(__file__).parents[1] / "dbt_project/seeds/ref_beijing_benchmark.csv").open(encoding="utf-8")) if y != "year"}
    baseline, target = share("2006Q1"), bench[2010]
    elapsed, remaining = (4 * 2008 + 1 - (4 * 2006)) / 4, (4 * 2010 + 3 - (4 * 2008 + 1)) / 4
    trajectory = baseline + (target - baseline) * elapsed / (elapsed + remaining)
    (got,) = _query(demo_run.warehouse,
                    "select high_skill_share, beijing_average, gap_to_beijing, baseline_share, trajectory_share,"
                    " required_gain_per_year, status_code from marts.high_skill_share_tracking"
                    " where grain = 'enterprise' and entity_code = ? and period_type = 'quarter' and period = '2008Q2'",
                    [org])
    assert got[0] == pytest.approx(share("2008Q2"), abs=1e-12)
    assert got[1] == bench[2008] and got[2] == pytest.approx(share("2008Q2") - bench[2008], abs=1e-12)
    assert got[3] == pytest.approx(baseline, abs=1e-12)
    assert got[4] == pytest.approx(trajectory, abs=1e-12)
    assert got[5] == pytest.approx((target - share("2008Q2")) / remaining, abs=1e-12)
    assert got[6] in ("achieved", "on_track")

    funds = {p: _sheet_rows(f, "经费情况")[0] for p, f in files.items()}
    year = [funds[f"2008Q{q}"] for q in range(1, 5)]
    # money is exact (DECIMAL in the marts): the year's sum equals the workbooks' amounts to the cent
    payroll = sum(Decimal(str(_num(r["职工工资总额"]))) for r in year)
    extracted = sum(Decimal(str(_num(r["教育培训经费提取额"]))) for r in year)
    spent = sum(Decimal(str(_num(r["教育培训经费使用额"]))) for r in year)
    frontline = sum(Decimal(str(_num(r["其中：一线职工教育培训"]))) for r in year)
    (row,) = _query(demo_run.warehouse,
                    "select payroll, fund_extracted, extraction_ratio, frontline_share, quarters_reported"
                    " from marts.fund_tracking where grain = 'enterprise' and entity_code = ?"
                    " and period_type = 'year' and period = '2008Q4'", [org])
    assert row[0] == payroll and row[1] == extracted
    assert row[2] == pytest.approx(float(extracted) / float(payroll))
    assert row[3] == pytest.approx(float(frontline) / float(spent))
    assert row[4] == 4


def test_training_coverage_and_a_planted_fund_shortfall_match_the_workbooks(demo_run: DemoRun) -> None:
    inbox = demo_run.inbox
    c03 = next(t for t in _truth(inbox) if t["rule_id"] == "C03")
    org, year = c03["org_code"], int(c03["period"][:4])
    files = _files_of(inbox, org)
    quarters = [f"{year}Q{q}" for q in range(1, 5)]
    assert all(q in files for q in quarters)  # one clean file per quarter of that year
    funds = [_sheet_rows(files[q], "经费情况")[0] for q in quarters]
    ratio = sum(_num(r["教育培训经费提取额"]) for r in funds) / sum(_num(r["职工工资总额"]) for r in funds)
    (row,) = _query(demo_run.warehouse,
                    "select extraction_ratio, fund_ratio_min from marts.fund_tracking where grain = 'enterprise'"
                    " and entity_code = ? and period_type = 'year' and period = ?", [org, f"{year}Q4"])
    assert row[0] == pytest.approx(ratio, abs=1e-12) and ratio < row[1] == 0.015
    flag = _query(demo_run.warehouse, "select clause, severity, threshold from marts.compliance_flags"
                                      " where rule_id = 'C03' and org_code = ? and period = ?", [org, f"{year}Q4"])
    assert flag == [("§四.2", "error", "0.015")]

    # coverage for that year: high-skill people on the Q4 roster trained at least once in the calendar year,
    # anywhere in the system (a training record in any enterprise's workbook of that year).
    roster = _sheet_rows(files[f"{year}Q4"], "人才信息库")
    high = {(r["身份证号"], r["技能等级"]) for r in roster if r["技能等级"] in ("高级工", "技师", "高级技师")}
    trained_ids: set[str] = set()
    for path in sorted(p for p in inbox.glob(f"{year}Q*/*") if p.suffix in (".xlsx", ".zip") or p.is_dir()):
        try:
            rows = _sheet_rows(path, "培训记录")
        except Exception:  # noqa: BLE001 - the planted corrupt file
            continue
        for r in rows:
            if _year_of(r.get("结束日期")) == year:
                trained_ids.add(str(r["身份证号"]).strip())
    headcount, trained = len(high), sum(1 for i, _ in high if i in trained_ids)
    (cov,) = _query(demo_run.warehouse,
                    "select headcount, trained, coverage from marts.training_coverage_tracking"
                    " where grain = 'enterprise' and entity_code = ? and period_type = 'year' and period = ?"
                    " and skill_level = '全部'", [org, f"{year}Q4"])
    assert cov[0] == headcount and cov[1] == trained and cov[2] == pytest.approx(trained / headcount)
