"""A commission adopting the platform mid-plan: the registry's enterprises start in 2006Q1, the inbox holds
only 2009Q2. The first run publishes every quarter's filing rows, but writes receipts and a report for
2009Q2 only — nobody could have filed 2006Q1–2009Q1 with a platform that did not exist."""

from __future__ import annotations

import csv

import duckdb
import pytest

from pipelines.lib.generator import generate
from pipelines.lib.generator.config import GeneratorConfig
from tests.conftest import DemoRun, run_demo

PERIOD = "2009Q2"


@pytest.fixture(scope="module")
def mid_plan_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("mid_plan")
    inbox = root / "inbox"
    generate(inbox, GeneratorConfig(n_enterprises=12, first=PERIOD, last=PERIOD, workers=1))
    registry = inbox / "registry.csv"
    with registry.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    start = rows[0].index("起始报告期")
    for row in rows[1:]:
        row[start] = "2006Q1"
    with registry.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return run_demo(root, inbox, PERIOD)


@pytest.mark.slow
def test_a_mid_plan_first_run_exports_its_own_quarter_only(mid_plan_run: DemoRun) -> None:
    with duckdb.connect(str(mid_plan_run.warehouse), read_only=True) as con:
        first, quarters = con.execute("select min(period), count(distinct period) from marts.filing_status").fetchone()
        filings = con.execute("select count(*) from marts.filing_status where period = ?", [PERIOD]).fetchone()[0]
    assert (first, quarters) == ("2006Q1", 14)  # the marts do hold every quarter since the registry's start
    marts = mid_plan_run.marts_dir
    assert sorted(p.name for p in (marts / "receipts").iterdir()) == [PERIOD]
    assert len(list((marts / "receipts" / PERIOD).glob("*.xlsx"))) == filings >= 12
    # the quarter's report, the reports index and the inspection pages (one per enterprise and group)
    assert sorted(p.name for p in (marts / "report").iterdir()) == [f"{PERIOD}.html", "enterprises", "groups",
                                                                    "index.html"]
    assert (marts / "target_tracking.xlsx").is_file()
