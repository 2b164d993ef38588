"""Re-runs: the same quarter twice gives the same marts; a resubmission changes only its enterprise's rows;
an analyst holding the published warehouse open neither blocks a run nor sees half of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.domain.codes import normalize_org_code
from pipelines.lib.exports.pages import page_name
from pipelines.lib.exports.receipts import receipt_name
from tests.conftest import DEMO_INBOX, DemoRun, copy_of_run, run_demo, snapshot

# Each test here runs the whole quarterly graph (intake, dbt, GX, exports): the full tier, not the quick loop.
pytestmark = pytest.mark.slow

PERIOD = "2008Q2"


def columns(warehouse: Path, table: str) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = ?"
            " order by column_index", [table]).fetchall()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("rerun")
    inbox = root / "inbox"
    shutil.copytree(DEMO_INBOX, inbox)
    first = run_demo(root, inbox, PERIOD)
    s1 = snapshot(first.warehouse)

    # An analyst opens the published warehouse and keeps it open during the next run.
    reader = duckdb.connect(str(first.warehouse), read_only=True)
    before = reader.execute("select count(*) from marts.submission_versions").fetchone()
    published = _stamps(first.marts_dir)
    unchanged = run_demo(root, inbox, PERIOD)  # nothing changed: nothing runs, nothing is rewritten
    assert unchanged.summary.unchanged and _stamps(first.marts_dir) == published
    # --recheck: the whole graph again (every held file re-read from the archive), with the reader still open
    second = run_demo(root, inbox, PERIOD, recheck=True)
    assert not second.summary.unchanged and second.summary.step_seconds
    during = reader.execute("select count(*) from marts.submission_versions").fetchone()
    reader.close()
    s2 = snapshot(second.warehouse)
    rechecked = _stamps(first.marts_dir)

    org = _resubmit(inbox)
    third = run_demo(root, inbox, PERIOD)
    return {"s1": s1, "s2": s2, "s3": snapshot(third.warehouse), "before": before, "during": during,
            "org": org, "run": third, "published": published, "rechecked": rechecked,
            "resubmitted": _stamps(first.marts_dir)}


def _stamps(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every output file's modification time and bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _resubmit(inbox: Path) -> str:
    """A corrected v2 of one clean .xlsx of the quarter: a higher 教育培训经费提取额, arriving after the deadline."""
    folder = inbox / PERIOD
    path = next(p for p in sorted(folder.glob("*.xlsx")) if "_v" not in p.name)
    wb = openpyxl.load_workbook(path)
    ws = wb["经费情况"]
    col = next(c.column for c in ws[1] if c.value == "教育培训经费提取额")
    ws.cell(row=2, column=col).value = float(ws.cell(row=2, column=col).value) + 1.0
    v2 = folder / path.name.replace(".xlsx", "_v2.xlsx")
    wb.save(v2)
    with (folder / "收件登记.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{v2.name},2008-08-01 10:00:00\n")
    return normalize_org_code(path.name.split("_")[0])


def test_rerunning_the_same_quarter_gives_identical_mart_contents(runs) -> None:
    # The forced re-check is logged, one row per re-read file; the same files under the same rules changed nothing.
    logged = runs["s2"]["submission_rechecks"]
    assert runs["s1"]["submission_rechecks"] == [] and len(logged) == len(runs["s2"]["submission_versions"])
    changed = columns(runs["run"].warehouse, "submission_rechecks").index("is_changed")
    assert not any(row[changed] for row in logged)
    assert {t: rows for t, rows in runs["s1"].items() if t != "submission_rechecks"} == \
        {t: rows for t, rows in runs["s2"].items() if t != "submission_rechecks"}
    assert sum(len(rows) for rows in runs["s1"].values()) > 300  # 12 enterprises, one quarter


def test_an_open_reader_neither_blocks_the_run_nor_sees_it_half_done(runs) -> None:
    assert runs["during"] == runs["before"]  # the held connection keeps the file it opened


def test_a_resubmission_changes_only_its_enterprise_rows(runs) -> None:
    org, run = runs["org"], runs["run"]
    assert isinstance(run, DemoRun)
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        group, sector = con.execute("select group_org_code, sector from marts.dim_enterprises where org_code = ?",
                                    [org]).fetchone()
    own = {org, group, sector, "ALL"}  # the enterprise, and the aggregates it is part of
    changed_tables = []
    for table, old in runs["s2"].items():
        new = runs["s3"][table]
        if old == new:
            continue
        changed_tables.append(table)
        cols = columns(run.warehouse, table)
        key = next(c for c in ("entity_code", "org_code", "group_org_code") if c in cols)
        idx = cols.index(key)
        diff = set(old) ^ set(new)
        strangers = sorted((row for row in diff if row[idx] not in own), key=str)
        assert not strangers, (table, strangers[:4])
    assert "submission_versions" in changed_tables and "fund_tracking" in changed_tables
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        versions = con.execute("select file_name, is_current, is_superseded from marts.submission_versions"
                               " where org_code = ? and period = ? order by version_no", [org, PERIOD]).fetchall()
        assert [v[1:] for v in versions] == [(False, True), (True, False)]
        assert versions[1][0].endswith("_v2.xlsx")
        d16 = con.execute("select severity from marts.compliance_flags where rule_id = 'D16' and org_code = ?"
                          " and period = ?", [org, PERIOD]).fetchall()
        assert d16 == [("info",)]


def _exports(stamps: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, bytes]]:
    """The receipts and reports among ``stamps``."""
    return {k: v for k, v in stamps.items() if k.startswith(("receipts/", "report/"))}


def test_receipts_and_reports_are_rewritten_only_where_what_they_show_changed(runs) -> None:
    published, rechecked, resubmitted = (_exports(runs[k]) for k in ("published", "rechecked", "resubmitted"))
    # the first publication of a run of 2008Q2 exports 2008Q2 only: no receipts for quarters nobody filed in
    assert {Path(k).parts[1] for k in published} == {PERIOD, f"{PERIOD}.html", "index.html", "enterprises", "groups"}
    with duckdb.connect(str(runs["run"].warehouse), read_only=True) as con:
        quarters, filings = con.execute("select count(distinct period), count(*) filter (where period = ?)"
                                        " from marts.filing_status", [PERIOD]).fetchone()
    assert quarters > 1 and len([k for k in published if k.startswith("receipts/")]) == filings > 0
    # --recheck ran the whole graph again on the same files: the marts are equal, so is every receipt and report
    assert rechecked == published
    # the resubmission: its enterprise's receipt and the quarter's report are new, every other receipt is kept
    assert set(resubmitted) == set(published)
    changed = {k for k in published if resubmitted[k] != published[k]}
    with duckdb.connect(str(runs["run"].warehouse), read_only=True) as con:
        group = con.execute("select group_org_code from marts.dim_enterprises where org_code = ?",
                            [runs["org"]]).fetchone()[0]
    # ... the inspection pages of the enterprise and of its group (the reports index shows the quarter's
    # headline figures: it follows them when they move)
    assert changed - {"report/index.html"} == {
        f"receipts/{PERIOD}/{receipt_name(runs['org'])}", f"report/{PERIOD}.html",
        f"report/enterprises/{page_name(runs['org'])}", f"report/groups/{page_name(group)}"}
    assert all(resubmitted[k][0] > published[k][0] for k in changed)  # written again, not only different


def test_a_resubmission_clears_the_year_flag_it_fixes_and_rewrites_that_receipt(demo_run: DemoRun,
                                                                                 tmp_path: Path) -> None:
    """Raising 2008Q2's extraction lifts the 2008 ratio over 1.5%: the C03 flag labelled 2008Q4 must go,
    although the re-run covers 2008Q2 only, and the enterprise's 2008Q4 receipt must say so. It goes on from a
    copy of the demo run (the whole demo, every quarter, published)."""
    inbox = copy_of_run(demo_run, tmp_path).inbox
    truth = (inbox / "ground_truth.csv").read_text(encoding="utf-8").splitlines()
    c03 = next(line.split(",") for line in truth if ",C03," in line and line.split(",")[1] == "2008Q4")
    org = c03[2]
    receipt = tmp_path / "marts" / "receipts" / "2008Q4" / receipt_name(org)

    def c03_flags(warehouse: Path) -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute("select period from marts.compliance_flags where rule_id = 'C03' and org_code = ?",
                               [org]).fetchall()

    def receipt_text() -> str:
        wb = openpyxl.load_workbook(receipt, read_only=True)
        text = " ".join(str(v) for row in wb.active.iter_rows(values_only=True) for v in row if v is not None)
        wb.close()
        return text

    assert c03_flags(tmp_path / "marts" / "warehouse.duckdb") == [("2008Q4",)]
    assert "教育培训经费提取比例" in receipt_text() and "低于1.5%" in receipt_text()
    with duckdb.connect(str(tmp_path / "marts" / "warehouse.duckdb"), read_only=True) as con:
        payroll, extracted = con.execute(
            "select payroll, fund_extracted from marts.fund_tracking where grain = 'enterprise'"
            " and entity_code = ? and period_type = 'year' and period = '2008Q4'", [org]).fetchone()
    # enough to lift the year over 1.5%, little enough for the quarter not to look like 元 typed for 万元
    extra = round(0.016 * float(payroll) - float(extracted), 2)  # money arrives as Decimal

    folder = inbox / "2008Q2"
    original = next(p for p in folder.iterdir() if normalize_org_code(p.name.split("_")[0]) == org)
    v2 = _xlsx_v2_with_more_extraction(original, folder, extra=extra)
    with (folder / "收件登记.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{v2.name},2008-08-01 10:00:00\n")
    run = run_demo(tmp_path, inbox, PERIOD)
    assert c03_flags(run.warehouse) == []
    assert "低于1.5%" not in receipt_text()  # the 2008Q4 receipt was written again, without the finding


def _xlsx_v2_with_more_extraction(original: Path, folder: Path, extra: float) -> Path:
    """The submission as a v2 workbook with 教育培训经费提取额 raised, whatever format the original was."""
    from pipelines.lib.forms.submission_writer import write_xlsx
    from pipelines.lib.intake.readers import classify, clean_rows, read_submission

    wb = read_submission(classify(original))
    submission = {}
    for data in wb.sheets.values():
        rows = clean_rows(data.frame, [c.key for c in data.sheet.columns]).drop("source_row").to_dicts()
        submission[data.sheet.name] = rows
    funds = submission["经费情况"][0]
    funds["fund_extracted"] = float(funds["fund_extracted"]) + extra
    v2 = folder / f"{original.name.split('.')[0]}_v2.xlsx"
    write_xlsx(v2, submission)
    return v2
