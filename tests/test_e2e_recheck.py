"""A rule change rolled out through the CLI, end to end (issue 15): the next run, without clearing anything,
re-judges the held files of the periods where the new value is in force, lists the change in its summary,
publishes it in marts.submission_rechecks and says so on the enterprise's receipt."""

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
from tests.factories import ENTERPRISE, OTHER, clean_submission, org, registry_csv, write_submission
from tests.test_recheck import set_threshold

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def cli_run(root: Path, project: Path, *extra: str) -> str:
    env = {**os.environ, "SASAC_DBT_PROJECT_DIR": str(project), "SASAC_DEMO": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--all", "--inbox", str(root / "inbox"),
         "--workdir", str(root / "work"), "--warehouse", str(root / "marts" / "warehouse.duckdb"), "--quiet", *extra],
        env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_a_tightened_bound_reaches_the_summary_the_marts_and_the_receipt(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    for period in ("2008Q4", "2009Q1"):
        sub = clean_submission(ENTERPRISE, period)
        sub["培训记录"][0]["hours"] = 1500.0
        write_submission(inbox, sub, period)
    newcomer = org("20000001")  # files before the commission registers it: rejected (D03)
    write_submission(inbox, clean_submission(newcomer, "2009Q1"), "2009Q1")

    first = cli_run(tmp_path, project)
    assert "重新核对" not in first
    assert "无变化" in cli_run(tmp_path, project), "a second run with nothing changed does nothing"

    # Two rule changes at once: a tighter bound from 2009Q1, and the newcomer registered.
    set_threshold(project, "max_training_hours", [("2000", "2006Q1", "2008Q4"), ("1000", "2009Q1", "")])
    registry_csv(inbox / "registry.csv", [(ENTERPRISE, "北京测试机械厂"), (OTHER, "北京测试服务公司"),
                                          (newcomer, "北京新设企业")])
    second = cli_run(tmp_path, project)
    changed = sorted(line.strip() for line in second.splitlines() if "→" in line)
    assert len(changed) == 2 and "重新核对" in second, second
    assert any("2009Q1" in line and "accepted → accepted, 问题 findings 0 → 1" in line for line in changed), changed
    assert any("2009Q1" in line and "rejected → accepted" in line for line in changed), changed

    with duckdb.connect(str(tmp_path / "marts" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select period, outcome_before, outcome_after, findings_after - findings_before"
                           " from marts.submission_rechecks where is_changed order by outcome_before").fetchall()
        flagged = con.execute("select period from marts.compliance_flags where rule_id = 'D13'").fetchall()
        current = con.execute("select status_code from marts.filing_status where org_code = ? and period = '2009Q1'",
                              [newcomer]).fetchall()
    assert rows == [("2009Q1", "accepted", "accepted", 1), ("2009Q1", "rejected", "accepted", -1)]
    assert current and current[0][0] != "rejected", "the newly accepted file is the one that counts"
    assert flagged == [("2009Q1",)], "2008Q4 keeps the rules of 2008"

    def receipt_text(period: str) -> str:
        ws = openpyxl.load_workbook(tmp_path / "marts" / "receipts" / period / receipt_name(ENTERPRISE)).active
        return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)

    assert "更新了报表核对规则" in receipt_text("2009Q1")
    assert "更新了报表核对规则" not in receipt_text("2008Q4")
