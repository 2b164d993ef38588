"""Point-in-time verdicts: the verdict of quarter Q (every C rule, every status) depends only on data for quarters
<= Q and on the rules in force for Q. An inbox cut at Q (its registry and the period folders up to Q) is run on
the whole graph, and Q's verdicts are compared with those of the run over the whole inbox.

Cuts: the demo's plan-baseline quarter (2006Q1: every enterprise's, group's, sector's and the system's
baseline) and a year end (2007Q4), and a small inbox whose late joiner files from 2008Q3 on — its group's baseline 2008Q2, the late
joiner's first quarter 2008Q3 — against the run through 2008Q4.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.periods import Period
from tests.conftest import DEMO_INBOX, DemoRun, run_demo
from tests.factories import LATE, write_late_joiner_inbox

pytestmark = pytest.mark.slow

# Every verdict a quarter row carries: (mart, key columns, verdict columns). Year rows (period = <year>Q4) are
# part of Q4's verdicts.
VERDICTS = (
    ("high_skill_share_tracking", "grain, entity_code, period_type",
     "baseline_period, has_trajectory, trajectory_share, status_code, status, c05_ok"),
    ("training_coverage_tracking", "grain, entity_code, period_type, skill_level", "coverage, c02_ok"),
    ("fund_tracking", "grain, entity_code, period_type", "extraction_ratio, c03_ok, frontline_share, c04_ok"),
    ("governance_matrix", "org_code, period_type", "c06_ok, c07_ok, c08_ok, c12_ok, c13_ok"),
    ("incentives_tracking", "org_code", "c09_ok, c10_ok, c11_ok"),
    ("training_person_years", "org_code, person_key", "trainings_in_year, is_trained"),
    ("filing_status", "org_code", "status_code, is_late, is_missing, is_rejected"),
)
FLAG_COLUMNS = "rule_id, severity, org_code, person_key, sheet, source_row, column_name, observed_value, threshold"


def verdicts(work_db: Path, period: str) -> dict[str, list[tuple]]:
    """Every verdict of ``period`` in a run's working database (where the person-level marts and the flags'
    pseudonyms stay; the published warehouse leaves them out): the tracking statuses and the compliance flags."""
    out: dict[str, list[tuple]] = {}
    with duckdb.connect(str(work_db), read_only=True) as con:
        for table, keys, columns in VERDICTS:
            out[table] = con.execute(f"select {keys}, {columns} from marts.{table} where period = ? order by all",
                                     [period]).fetchall()
        out["compliance_flags"] = con.execute(
            f"select {FLAG_COLUMNS} from marts.compliance_flags where period = ? and rule_id like 'C%' order by all",
            [period]).fetchall()
    return out


def cut_inbox(inbox: Path, period: str, target: Path) -> Path:
    """A copy of ``inbox`` holding its registry and the period folders up to ``period``."""
    target.mkdir(parents=True)
    shutil.copy2(inbox / "registry.csv", target / "registry.csv")
    for folder in sorted(inbox.iterdir()):
        if folder.is_dir() and Period.parse(folder.name) <= Period.parse(period):
            shutil.copytree(folder, target / folder.name)
    return target


def assert_same_verdicts(cut: DemoRun, full: DemoRun, period: str) -> None:
    at_the_time, later = verdicts(cut.work_db, period), verdicts(full.work_db, period)
    assert sum(map(len, later.values())) > 0, period
    for table in later:
        assert at_the_time[table] == later[table], (period, table)


@pytest.fixture(scope="module")
def late_joiner_full(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("late_joiner_full")
    write_late_joiner_inbox(root / "inbox", ("2008Q2", "2008Q3", "2008Q4"))
    return run_demo(root, root / "inbox")


@pytest.mark.parametrize("period", ["2008Q2", "2008Q3"])
def test_the_late_joiners_cut_inbox_gives_the_verdicts_of_the_full_run(late_joiner_full: DemoRun, period: str,
                                                                        tmp_path: Path) -> None:
    cut = run_demo(tmp_path, cut_inbox(late_joiner_full.inbox, period, tmp_path / "inbox"))
    assert_same_verdicts(cut, late_joiner_full, period)


def test_the_late_joiners_first_quarter_stays_judged_against_the_beijing_average(late_joiner_full: DemoRun) -> None:
    """The issue's case: 0.5% against 18% is 无基期 and flagged C05 in 2008Q3, even once 2008Q4 is filed."""
    with duckdb.connect(str(late_joiner_full.warehouse), read_only=True) as con:
        rows = con.execute(
            "select period, has_trajectory, status_code, c05_ok from marts.high_skill_share_tracking "
            "where grain = 'enterprise' and entity_code = ? and period_type = 'quarter' order by period",
            [LATE]).fetchall()
        flagged = con.execute("select period from marts.compliance_flags where rule_id = 'C05' and org_code = ? "
                              "order by period", [LATE]).fetchall()
    assert rows == [("2008Q3", False, "no_baseline", False), ("2008Q4", True, "seriously_lagging", False)]
    assert flagged == [("2008Q3",), ("2008Q4",)]


@pytest.mark.parametrize("period", ["2006Q1", "2007Q4"])
def test_the_demos_cut_inbox_gives_the_verdicts_of_the_full_run(demo_run: DemoRun, period: str,
                                                                tmp_path: Path) -> None:
    """2006Q1: the plan's baseline quarter of every enterprise, group, sector and the system; 2007Q4: a year end,
    whose year rows (C01–C04, C06–C13) are judged then too."""
    cut = run_demo(tmp_path, cut_inbox(DEMO_INBOX, period, tmp_path / "inbox"))
    assert_same_verdicts(cut, demo_run, period)


def test_the_demos_lagging_enterprise_is_judged_against_the_average_in_its_baseline_quarter(demo_run: DemoRun) -> None:
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        # 10117472-0 at 11.36% against 14%: 无基期 in its baseline quarter, not 进度正常
        assert con.execute(
            "select status, c05_ok from marts.high_skill_share_tracking where grain = 'enterprise' "
            "and entity_code = '101174720' and period_type = 'quarter' and period = '2006Q1'").fetchone() == (
            "无基期", False)
