"""The plan is data (README, "How it runs in production"): adding the 12th plan's three reference rows and its five
Beijing-average rows tracks 2011 against 2011/2015 and names 十二五 wherever a plan is named — the workbook's
title, the 2011 reports, the receipts — while 2010 stays 十一五; and no projection leaves 0–100%, even for an
enterprise whose share leaps (a straight line from its pace would reach several hundred per cent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.exports.receipts import receipt_name
from tests.factories import ENTERPRISE, OTHER, clean_submission, registry_csv, write_submission

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
PLAN_ROWS = ("plan_name,十二五,2011Q1,2015Q4,text,§二,规划名称\n"
             "baseline_year,2011,2011Q1,2015Q4,year,§二,规划基期年份（基期值取该年首个报告期）\n"
             "target_year,2015,2011Q1,2015Q4,year,§二,规划目标年份：高技能人才占比达到北京市平均水平之上\n")
BENCHMARK_ROWS = "".join(f"{year},{share},假设值：测试用,assumed\n"
                         for year, share in ((2011, 0.24), (2012, 0.26), (2013, 0.28), (2014, 0.30), (2015, 0.32)))
PERIODS = ("2010Q4", "2011Q1", "2011Q2", "2011Q3", "2011Q4")


def _with_12th_plan(tmp_path: Path) -> Path:
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    for name, rows in (("ref_policy_thresholds.csv", PLAN_ROWS), ("ref_beijing_benchmark.csv", BENCHMARK_ROWS)):
        with (project / "seeds" / name).open("a", encoding="utf-8") as fh:
            fh.write(rows)
    return project


def _inbox(inbox: Path) -> None:
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    for period in PERIODS:
        for code in (ENTERPRISE, OTHER):
            sub = clean_submission(code, period)
            if code == ENTERPRISE and period >= "2011Q2":
                # 2 of 800 at the 2011 baseline, then 402 of 800: a pace of ~2 a year
                sub["基本情况"][0].update(level4_intermediate=0, level3_senior=401, level5_junior=300)
            write_submission(inbox, sub, period, name=f"{sub['基本情况'][0]['org_code']}_{period}.xlsx")


def test_the_12th_plans_rows_name_it_everywhere_and_projections_stay_within_0_and_100(tmp_path: Path) -> None:
    project = _with_12th_plan(tmp_path)
    _inbox(tmp_path / "inbox")
    marts = tmp_path / "marts"
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--all", "--inbox", str(tmp_path / "inbox"),
         "--workdir", str(tmp_path / "work"), "--warehouse", str(marts / "warehouse.duckdb"), "--quiet"],
        env={**os.environ, "SASAC_DBT_PROJECT_DIR": str(project), "SASAC_DEMO": "1"},
        capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    with duckdb.connect(str(marts / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select period, plan_name, baseline_period, target_year, status_code, projected_target_year_share "
            "from marts.high_skill_share_tracking where grain = 'enterprise' and entity_code = ? "
            "and period_type = 'quarter' order by period", [ENTERPRISE]).fetchall()
        worst = con.execute("select max(projected_target_year_share), min(projected_target_year_share) "
                            "from marts.high_skill_share_tracking").fetchone()
    assert [r[:5] for r in rows] == [
        ("2010Q4", "十一五", "2010Q4", 2010, "no_baseline"),
        ("2011Q1", "十二五", "2011Q1", 2015, "no_baseline"),
        ("2011Q2", "十二五", "2011Q1", 2015, "achieved"),
        ("2011Q3", "十二五", "2011Q1", 2015, "achieved"),
        ("2011Q4", "十二五", "2011Q1", 2015, "achieved")]
    assert rows[2][5] == 1.0  # 0.5 + ~2/year × 4.5 years, clamped
    assert 0 <= worst[1] and worst[0] <= 1, worst

    title = openpyxl.load_workbook(marts / "target_tracking.xlsx")["说明"]["A1"].value
    assert title == "北京市国资委 高技能人才“十一五”“十二五”目标跟踪表"
    for period, plan in (("2011Q4", "十二五"), ("2011Q1", "十二五"), ("2010Q4", "十一五")):
        report = (marts / "report" / f"{period}.html").read_text(encoding="utf-8")
        assert f"规划期：“{plan}”" in report, period
        receipt = openpyxl.load_workbook(marts / "receipts" / period / receipt_name(ENTERPRISE)).active
        cells = " ".join(str(c.value) for row in receipt.iter_rows() for c in row if c.value is not None)
        assert f"“{plan}”" in cells, period
        if period == "2011Q4":  # 50% against a 2015 target of 32%: no gain needed, said in words
            assert "达标每年需提高 —（已达标）" in cells
    tracking = openpyxl.load_workbook(marts / "target_tracking.xlsx")["1 高技能人才比例跟踪"]
    assert "—（已达标）" in {c.value for row in tracking.iter_rows() for c in row}
