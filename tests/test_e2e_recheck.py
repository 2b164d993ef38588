"""A rule change rolled out through the CLI, end to end (issue 15): the next run, without clearing anything,
re-judges the held files of the periods where the new value is in force, lists the change in its summary,
publishes it in marts.submission_rechecks and says so on the enterprise's receipt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.exports.receipts import receipt_name
from pipelines.lib.exports.workbook import TRACKING_SHEETS
from tests.factories import ENTERPRISE, GROUP, OTHER, clean_submission, org, registry_csv, write_submission
from tests.page_text import page_text
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


def project_and_inbox(root: Path, filings: dict[str, tuple[tuple[str, ...], Callable[[dict], Any]]]) -> Path:
    """A copy of the dbt project (its seeds are the rules to change) and an inbox in which each enterprise of
    ``filings`` files a clean submission, changed by its edit, for each of its periods; returns the project."""
    project = root / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    inbox = root / "inbox"
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    for code, (periods, edit) in filings.items():
        for period in periods:
            sub = clean_submission(code, period)
            edit(sub)
            write_submission(inbox, sub, period)
    return project


NEWCOMER = org("20000001")  # files before the commission registers it: rejected (D03)


@pytest.fixture(scope="module")
def rolled_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both rule changes of this file rolled out by one sequence of CLI runs (one scenario, three runs, not two
    scenarios of their own). The enterprises keep them apart: ENTERPRISE files 2008Q4 and 2009Q1 with 1,500
    training hours (over the tightened bound from 2009Q1), NEWCOMER files 2009Q1 before it is registered, both
    with 2.5% of their payroll as training funds (over both C03 minimums); OTHER files 2008Q4 and 2009Q4 with 1.2%
    (short of both). Each test
    reads only its own enterprises' rows and texts, and the summary's lines of its own rule."""
    root = tmp_path_factory.mktemp("recheck")
    def over_both_minimums(sub: dict) -> None:
        sub["经费情况"][0].update(fund_extracted=25.0)  # 2.5% of the payroll: no C03 under either minimum

    def long_training(sub: dict) -> None:
        over_both_minimums(sub)
        sub["培训记录"][0].update(hours=1500.0)

    project = project_and_inbox(root, {
        ENTERPRISE: (("2008Q4", "2009Q1"), long_training),
        NEWCOMER: (("2009Q1",), over_both_minimums),
        OTHER: (("2008Q4", "2009Q4"), lambda sub: sub["经费情况"][0].update(fund_extracted=12.0)),
    })
    first = cli_run(root, project)
    unchanged = cli_run(root, project)
    # The rule changes at once: a tighter hours bound and a raised C03 minimum from 2009Q1, the newcomer registered.
    set_threshold(project, "max_training_hours", [("2000", "2006Q1", "2008Q4"), ("1000", "2009Q1", "")])
    set_threshold(project, "fund_ratio_min", [("0.015", "2006Q1", "2008Q4"), ("0.021", "2009Q1", "")])
    registry_csv(root / "inbox" / "registry.csv", [(GROUP, "北京测试集团"), (ENTERPRISE, "北京测试机械厂"),
                                                  (OTHER, "北京测试服务公司"), (NEWCOMER, "北京新设企业")])
    return {"root": root, "first": first, "unchanged": unchanged, "rechecked": cli_run(root, project)}


def test_a_tightened_bound_reaches_the_summary_the_marts_and_the_receipt(rolled_out: dict[str, object]) -> None:
    """The tightened hours bound and the registration, on ENTERPRISE's and NEWCOMER's files: the summary lists
    exactly their two re-judged files (OTHER's files, judged by D rules the change left alone, are not listed),
    the marts and ENTERPRISE's receipts follow; OTHER's C03 flags are no finding and no D13 flag."""
    root = rolled_out["root"]
    assert "重新核对" not in rolled_out["first"]
    assert "无变化" in rolled_out["unchanged"], "a second run with nothing changed does nothing"

    second = rolled_out["rechecked"]
    changed = sorted(line.strip() for line in second.splitlines() if "→" in line)
    assert len(changed) == 2 and "重新核对" in second, second
    assert any("2009Q1" in line and "accepted → accepted, 问题 findings 0 → 1" in line for line in changed), changed
    assert any("2009Q1" in line and "rejected → accepted" in line for line in changed), changed

    with duckdb.connect(str(root / "marts" / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select period, outcome_before, outcome_after, findings_after - findings_before"
                           " from marts.submission_rechecks where is_changed order by outcome_before").fetchall()
        flagged = con.execute("select period from marts.compliance_flags where rule_id = 'D13'").fetchall()
        current = con.execute("select status_code from marts.filing_status where org_code = ? and period = '2009Q1'",
                              [NEWCOMER]).fetchall()
    assert rows == [("2009Q1", "accepted", "accepted", 1), ("2009Q1", "rejected", "accepted", -1)]
    assert current and current[0][0] != "rejected", "the newly accepted file is the one that counts"
    assert flagged == [("2009Q1",)], "2008Q4 keeps the rules of 2008"

    def receipt_text(period: str) -> str:
        ws = openpyxl.load_workbook(root / "marts" / "receipts" / period / receipt_name(ENTERPRISE)).active
        return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)

    assert "更新了报表核对规则" in receipt_text("2009Q1")
    assert "更新了报表核对规则" not in receipt_text("2008Q4")


def says(text: str, figure: str) -> bool:
    """``figure`` (1.5%) standing alone in ``text``: not the tail of 11.5%."""
    return re.search(r"(?<![\d.])" + re.escape(figure), text) is not None


def test_a_raised_minimum_reads_in_every_text_of_its_quarters_and_in_none_before(rolled_out: dict[str, object]) -> None:
    """The README's rule change (C03's minimum to 2.1% from 2009Q1), on OTHER's files: every text that names C03's
    minimum for 2009 — the terminal summary, the report, the workbook, the inspection page, the receipt, the Data
    Docs — says 2.1%, and every text for 2008 says 1.5%. The texts are grepped in the outputs of real CLI runs.
    OTHER is the only enterprise short of either minimum, so every C03 text is its."""
    summary = rolled_out["rechecked"]
    # the terminal summary: one line per limit, each with the count of its own quarters
    assert f"C03 {OLD_C03}：1" in summary and f"C03 {NEW_C03}：1" in summary, summary
    texts_follow_the_raised_minimum(rolled_out["root"] / "marts", OTHER)


C03_TITLE = "教育培训经费提取额低于职工工资总额的"
OLD_C03, NEW_C03 = C03_TITLE + "1.5%", C03_TITLE + "2.1%"


def texts_follow_the_raised_minimum(marts: Path, code: str) -> None:
    old, new = OLD_C03, NEW_C03
    # the quarterly reports: each quarter's title and limit, nothing of the other's (chart ticks are no limit)
    report = {p: (marts / "report" / f"{p}.html").read_text(encoding="utf-8") for p in ("2008Q4", "2009Q4")}
    assert old in report["2008Q4"] and new not in report["2008Q4"] and "下限 2.1%" not in report["2008Q4"]
    assert new in report["2009Q4"] and old not in report["2009Q4"] and "下限 1.5%" not in report["2009Q4"]
    assert "下限 1.5%" in report["2008Q4"] and "下限 2.1%" in report["2009Q4"]

    # the receipts: the finding's message, its standard, and the compliance line's minimum
    def receipt_text(period: str) -> str:
        ws = openpyxl.load_workbook(marts / "receipts" / period / receipt_name(code)).active
        return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)

    r2008, r2009 = receipt_text("2008Q4"), receipt_text("2009Q4")
    assert "低于1.5%" in r2008 and "下限 1.5%" in r2008 and not says(r2008, "2.1%")
    assert "低于2.1%" in r2009 and "下限 2.1%" in r2009 and not says(r2009, "1.5%")

    # the workbook's findings sheet: each C03 finding's standard as in force in its year
    wb = openpyxl.load_workbook(marts / "target_tracking.xlsx", read_only=True)
    findings = [[c for c in row] for row in wb[TRACKING_SHEETS[-1].name].iter_rows(values_only=True)]
    c03 = {next(v for v in row if v in ("2008Q4", "2009Q4")): row for row in findings if "C03" in row}
    assert "1.5%" in c03["2008Q4"] and not says(" ".join(map(str, c03["2008Q4"])), "2.1%"), c03
    assert "2.1%" in c03["2009Q4"] and not says(" ".join(map(str, c03["2009Q4"])), "1.5%"), c03

    # the inspection page (as of 2009Q4): the flag's title for its latest quarter, each year's minimum in the note
    page = page_text((marts / "report" / "enterprises" / f"{format_org_code(code)}.html").read_text(encoding="utf-8"))
    assert new in page and old not in page
    assert "经费提取比例下限 1.5%" in page and "经费提取比例下限 2.1%" in page
    note = next(line for line in page.splitlines() if "经费提取比例下限" in line)
    assert note.index("1.5%") < note.index("2008Q4") < note.index("2.1%") < note.index("2009Q4"), note

    # the Data Docs (every quarter the run validated): the funds suite's C03 line names both limits, each with
    # the quarters it held for
    docs = page_text((marts / "data_docs" / "suites" / "funds.html").read_text(encoding="utf-8"))
    assert re.search(re.escape(old) + "（[^）]*2008Q4）", docs) and f"{new}（2009Q1–2009Q4）" in docs, docs
