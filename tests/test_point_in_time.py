"""Point-in-time verdicts: the verdict of quarter Q (every C rule, every status, the D08/D12 checks of its row) depends only on data for quarters
<= Q and on the rules in force for Q. An inbox cut at Q holds its registry and the period folders up to Q; Q's
verdicts after a run over it must equal those of the run over the whole inbox.

Every quarter of the demo (2006Q1–2010Q4) is cut, without a whole-graph run per cut (twenty of them would cost
CI minutes): the walk takes a copy of the full run's working database and goes back one quarter at a time —
delete the raw rows of every file of a later quarter (an inbox cut never held them; the registry stays, as in
the cut), rebuild with dbt the models that hold verdicts (every ancestor of the verdict marts and of the GX
suites' tables; the staging views read the raw tables as they now are), run the GX suites on Q, rebuild the flag
marts, and compare Q with the full run. The verdict logic lives in those dbt models and suites, so the walk runs
exactly it, on real DuckDB; its first step (2010Q4, nothing deleted) shows that rebuilding this way reproduces the
full run. What a cut run adds is the intake, which judges each file of a quarter <= Q alone: whole-graph cuts
still run it at the demo's plan-baseline quarter (2006Q1: every enterprise's, group's, sector's and the
system's baseline) and on a small inbox whose late joiner files from 2008Q3 on — its group's baseline 2008Q2,
the late joiner's first quarter 2008Q3 — against the run through 2008Q4.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.dbt.runner import DbtSession
from pipelines.defs.dbt.vars import dbt_env
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.warehouse import RAW_SCHEMA, connect, raw_tables
from pipelines.lib.expectations.runner import run_expectations
from pipelines.lib.expectations.suites import load_suites
from tests.conftest import DEMO_INBOX, DemoRun, cut_inbox, run_demo
from tests.factories import LATE

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
    # the data-quality verdicts a quarter's row carries, with the history D08 compares against
    ("enterprise_quarter_facts", "org_code",
     "payroll_history_median, payroll_change_factor, d08_fund_ratio_ok, d08_payroll_per_employee_ok,"
     " d08_payroll_history_ok, d12_ok, quarters_reported_in_year"),
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


def assert_same_verdicts(at_the_time: dict[str, list[tuple]], full: DemoRun, period: str) -> None:
    later = verdicts(full.work_db, period)
    assert sum(map(len, later.values())) > 0, period
    for table in later:
        assert at_the_time[table] == later[table], (period, table)


@pytest.mark.parametrize("period", ["2008Q2", "2008Q3"])
def test_the_late_joiners_cut_inbox_gives_the_verdicts_of_the_full_run(late_joiner_full: DemoRun,
                                                                        late_joiner_cut: Callable[[str], DemoRun],
                                                                        period: str) -> None:
    assert_same_verdicts(verdicts(late_joiner_cut(period).work_db, period), late_joiner_full, period)


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


def test_the_demos_cut_inbox_gives_the_verdicts_of_the_full_run(demo_run: DemoRun, tmp_path: Path) -> None:
    """2006Q1, through the whole graph: the plan's baseline quarter of every enterprise, group, sector and the
    system."""
    cut = run_demo(tmp_path, cut_inbox(DEMO_INBOX, "2006Q1", tmp_path / "inbox"))
    assert_same_verdicts(verdicts(cut.work_db, "2006Q1"), demo_run, "2006Q1")


DEMO_PERIODS = sorted(str(Period.parse(folder.name)) for folder in DEMO_INBOX.iterdir() if folder.is_dir())


def drop_quarters_after(work_db: Path, period: str) -> None:
    """Delete the raw rows of every file of a quarter after ``period``: its submission and everything loaded or
    found in it (each raw table but the registry carries the file's submission_id)."""
    later = f"select submission_id from {RAW_SCHEMA}.submissions where period > ?"
    with connect(work_db) as con:
        for table, columns in raw_tables().items():
            if table != "submissions" and "submission_id" in dict(columns):
                con.execute(f"delete from {RAW_SCHEMA}.{table} where submission_id in ({later})", [period])
        con.execute(f"delete from {RAW_SCHEMA}.submissions where period > ?", [period])


def rebuild_verdicts(dbt: DbtSession, work_db: Path, period: str) -> None:
    """The run's verdict path on the working database, as for a run whose last quarter is ``period``: the core
    models that hold verdicts, the GX suites on ``period``, the flag marts."""
    verdict_tables = sorted({table for table, _, _ in VERDICTS} | {t for s in load_suites() for t in s.tables})
    target = work_db.parent / "dbt_target"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SASAC_BUILD_DB", str(work_db))
        for name, value in dbt_env([Period.parse(period)]).items():
            env.setenv(name, value)
        core = dbt.invoke(["run", "--select", *(f"+{t}" for t in verdict_tables),
                           "--exclude", "tag:flags", "config.materialized:view"], dbt_project(), target)
        assert core.success, core.exception
        run_expectations(work_db, [period])
        flags = dbt.invoke(["run", "--select", "tag:flags", "--exclude", "config.materialized:view"],
                           dbt_project(), target)
        assert flags.success, flags.exception


@pytest.fixture(scope="module")
def walked_verdicts(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each demo quarter's verdicts at the time, from the walk back through the cuts (the module docstring)."""
    work_db = tmp_path_factory.mktemp("cut_walk") / demo_run.work_db.name
    shutil.copy2(demo_run.work_db, work_db)
    dbt, found = DbtSession(), {}
    for period in reversed(DEMO_PERIODS):
        drop_quarters_after(work_db, period)
        rebuild_verdicts(dbt, work_db, period)
        found[period] = verdicts(work_db, period)
    return found


@pytest.mark.parametrize("period", DEMO_PERIODS)
def test_every_demo_quarters_cut_gives_the_verdicts_of_the_full_run(walked_verdicts: dict[str, dict],
                                                                    demo_run: DemoRun, period: str) -> None:
    assert_same_verdicts(walked_verdicts[period], demo_run, period)


def test_the_walk_covers_every_quarter_of_the_plan() -> None:
    assert DEMO_PERIODS[0] == "2006Q1" and DEMO_PERIODS[-1] == "2010Q4" and len(DEMO_PERIODS) == 20


def test_the_demos_lagging_enterprise_is_judged_against_the_average_in_its_baseline_quarter(demo_run: DemoRun) -> None:
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        # 10117472-0 at 11.36% against 14%: 无基期 in its baseline quarter, not 进度正常
        assert con.execute(
            "select status, c05_ok from marts.high_skill_share_tracking where grain = 'enterprise' "
            "and entity_code = '101174720' and period_type = 'quarter' and period = '2006Q1'").fetchone() == (
            "无基期", False)
