"""A quarter in which no enterprise filed: the registry and an empty quarter folder. The run still publishes the
quarter (every enterprise 未报送, a D15 error each), its documents (report, urging receipts, workbook) and its first
release, whose cause says it is a first publication without files."""

from __future__ import annotations

import shutil

import duckdb
import openpyxl
import pytest

from pipelines.lib.exports.releases import CAUSES
from tests.conftest import DEMO_INBOX, run_demo

PERIOD = "2008Q2"


@pytest.mark.slow
def test_a_quarter_without_any_file_is_published_with_its_documents_and_its_release(tmp_path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / PERIOD).mkdir(parents=True)
    shutil.copy(DEMO_INBOX / "registry.csv", inbox / "registry.csv")
    run = run_demo(tmp_path, inbox, PERIOD)
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        registered, missing = con.execute("select count(*), count(*) filter (where is_missing) from marts.filing_status"
                                          " where period = ?", [PERIOD]).fetchone()
        flags = con.execute("select rule_id, count(*) from marts.compliance_flags where period = ? group by 1",
                            [PERIOD]).fetchall()
        releases = con.execute("select q.period, c.cause, c.cause_zh from releases.release_quarters q "
                               "join releases.release_causes c using (release_no)").fetchall()
        con.execute("select * from releases.mean_absolute_revisions").fetchall()
    assert registered == missing >= 12 and flags == [("D15", missing)]
    assert releases == [(PERIOD, "first_publication", CAUSES["first_publication"])]
    marts = run.marts_dir
    assert len(list((marts / "receipts" / PERIOD).glob("*.xlsx"))) == missing
    assert PERIOD in (marts / "report" / "index.html").read_text(encoding="utf-8")
    assert (marts / "report" / f"{PERIOD}.html").is_file()
    assert openpyxl.load_workbook(marts / "target_tracking.xlsx", read_only=True).sheetnames
    assert list((marts / "releases" / "1").rglob("*.html")), "release 1 keeps the report it published"
