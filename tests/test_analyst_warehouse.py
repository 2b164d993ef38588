"""The analyst's warehouse (issue 28): what it leaves out, what it withholds, and who can open it.

A planted inbox (tests/factories.py: one enterprise whose 2008Q4 filing has exactly two high-skill workers)
runs through the whole graph; the demo run answers the questions that need many enterprises.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.exports.disclosure import Withheld
from pipelines.lib.exports.publish import PARQUET_DIR, publish_warehouse, write_parquet
from tests.conftest import DemoRun, run_demo
from tests.factories import ENTERPRISE, clean_submission, new_inbox, write_arrivals, write_submission
from tests.test_analyst_guide import SQL_BLOCKS

PSEUDONYM = r"^p_[0-9a-f]{20}$"
PLANTED_PERIOD = "2008Q4"
UNEQUAL_PERIOD = "2009Q4"
CLI_VERSION = "1.5.6"  # the newest duckdb-cli on the package index when issue 28 was filed


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("planted")
    inbox = new_inbox(root)
    sub = clean_submission(ENTERPRISE, PLANTED_PERIOD)
    assert sub["基本情况"][0]["level3_senior"] + sub["基本情况"][0]["level2_technician"] == 2
    path = write_submission(inbox, sub, period=PLANTED_PERIOD)
    write_arrivals(inbox, PLANTED_PERIOD, {path.name: f"{Period.parse(PLANTED_PERIOD).end + dt.timedelta(days=10)} 09:00:00"})
    # a year later the same two workers earn well below the professional staff: a C09 flag on withheld incomes
    sub = clean_submission(ENTERPRISE, UNEQUAL_PERIOD)
    sub["激励情况"][0]["avg_income_professional"] = 2 * sub["激励情况"][0]["avg_income_high_skill"]
    path = write_submission(inbox, sub, period=UNEQUAL_PERIOD)
    write_arrivals(inbox, UNEQUAL_PERIOD, {path.name: f"{Period.parse(UNEQUAL_PERIOD).end + dt.timedelta(days=10)} 09:00:00"})
    return run_demo(root, inbox)


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("select schema_name, table_name from duckdb_tables() where database_name = current_database()"
                       " order by 1, 2").fetchall()


@pytest.mark.slow
def test_the_published_warehouse_holds_no_pseudonym(planted: DemoRun) -> None:
    """Person-level marts stay in the working database; no published column holds a pseudonym."""
    with duckdb.connect(str(planted.work_db), read_only=True) as work:
        assert work.execute("select count(*) from marts.person_quarters where regexp_matches(person_key, ?)",
                            [PSEUDONYM]).fetchone()[0] >= 3  # the planted roster, pseudonymised, kept for the pages
    with duckdb.connect(str(planted.warehouse), read_only=True) as con:
        tables = _tables(con)
        names = {t for _, t in tables}
        assert {"person_quarters", "training_person_years", "training_events"}.isdisjoint(names)
        assert {"compliance_flags", "incentives_tracking", "retirement_outlook"} <= names
        checked = 0
        for schema, table in tables:
            for (col,) in con.execute("select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
                                      " and data_type = 'VARCHAR'", [schema, table]).fetchall():
                hits = con.execute(f'select count(*) from {schema}."{table}" where regexp_matches("{col}", ?)',
                                   [PSEUDONYM]).fetchone()[0]
                assert hits == 0, f"{schema}.{table}.{col} holds {hits} pseudonyms"
                checked += 1
        assert checked > 100


@pytest.mark.slow
def test_two_high_skill_workers_average_income_is_withheld_with_its_reason(planted: DemoRun) -> None:
    with duckdb.connect(str(planted.warehouse), read_only=True) as con:
        min_persons = int(con.execute("select value from reference.ref_policy_thresholds"
                                      " where threshold_key = 'disclosure_min_persons'").fetchone()[0])
        year = con.execute(
            "select high_skill_workers, avg_income_high_skill, avg_income_general_skill, equal_treatment_ratio,"
            " income_gap, incomes_withheld_reason, c09_ok, avg_income_professional from marts.incentives_tracking"
            " where org_code = ? and year = 2008", [ENTERPRISE]).fetchone()
        quarter = con.execute(
            "select high_skill_total, avg_income_high_skill, incomes_withheld_reason from marts.enterprise_quarter_facts"
            " where org_code = ? and period = ?", [ENTERPRISE, PLANTED_PERIOD]).fetchone()
    assert min_persons == 3
    persons, high, general, ratio, gap, reason, c09_ok, professional = year
    assert persons == 2 < min_persons  # the count of persons stays
    assert (high, general, ratio, gap) == (None, None, None, None)
    assert reason and f"不足{min_persons}人" in reason
    assert c09_ok is True and professional == 55000  # judged on the reported incomes; other figures stay
    assert quarter[0] == 2 and quarter[1] is None and f"不足{min_persons}人" in quarter[2]


@pytest.mark.slow
def test_c09_on_withheld_incomes_says_why_they_are_not_shown(planted: DemoRun) -> None:
    """C09 judged on the reported incomes; its message gives disclosure control's reason, not “—元”."""
    with duckdb.connect(str(planted.warehouse), read_only=True) as con:
        min_persons = int(con.execute("select value from reference.ref_policy_thresholds"
                                      " where threshold_key = 'disclosure_min_persons'").fetchone()[0])
        c09_ok, reason = con.execute("select c09_ok, incomes_withheld_reason from marts.incentives_tracking"
                                     " where org_code = ? and year = 2009", [ENTERPRISE]).fetchone()
        messages = [m for (m,) in con.execute("select message_zh from marts.compliance_flags where rule_id = 'C09'"
                                              " and org_code = ? and period = ?", [ENTERPRISE, UNEQUAL_PERIOD]).fetchall()]
    assert c09_ok is False and reason
    assert len(messages) == 1
    assert reason in messages[0] and f"不足{min_persons}人" in messages[0]
    assert "—" not in messages[0] and messages[0].startswith("2009年")


@pytest.mark.slow
def test_org_code_display_is_the_formatter_of_the_documents(demo_run: DemoRun) -> None:
    """The dbt macro and pipelines.lib.domain.codes.format_org_code agree on every code of every published mart."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute("select table_name from duckdb_columns() where schema_name = 'marts'"
                                            " and column_name = 'org_code_display'").fetchall()]
        with_code = {t for (t,) in con.execute("select table_name from duckdb_columns() where schema_name = 'marts'"
                                               " and column_name = 'org_code'").fetchall()}
        assert with_code <= set(tables)  # wherever org_code is published, its display form is beside it
        pairs = {p for t in tables for p in con.execute(
            f"select distinct org_code, org_code_display from marts.{t} where org_code is not null").fetchall()}
    assert len({c for c, _ in pairs}) >= 12 and any(c.endswith("X") for c, _ in pairs)
    assert all(display == format_org_code(code) for code, display in pairs)


@pytest.mark.slow
def test_parquet_beside_the_warehouse_rewritten_only_when_changed(demo_run: DemoRun) -> None:
    out = demo_run.marts_dir / PARQUET_DIR
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        tables = _tables(con)
        for schema, table in tables:
            path = out / f"{schema}.{table}.parquet"
            assert con.execute(f"select count(*) from read_parquet('{path}')").fetchone() == \
                con.execute(f'select count(*) from {schema}."{table}"').fetchone()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    assert len(before) == len(tables)
    assert write_parquet(demo_run.warehouse, out) == (0, len(tables))
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")} == before


def test_publication_leaves_out_withheld_marts_and_columns(tmp_path: Path) -> None:
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.person_rows (person_key varchar, period varchar, hours double)")
        con.execute("insert into marts.person_rows values ('p_0123456789abcdef0123', '2008Q1', 8)")
        con.execute("create table marts.flags (flag_id varchar, period varchar, person_key varchar)")
        con.execute("insert into marts.flags values ('f1', '2008Q1', 'p_0123456789abcdef0123')")
        con.execute("comment on column marts.flags.flag_id is '问题编号'")
    target = tmp_path / "marts" / "warehouse.duckdb"
    published = publish_warehouse(work, target, withheld=Withheld(frozenset({"person_rows"}),
                                                                  frozenset({("flags", "person_key")})))
    assert set(published.counts) == {"marts.flags"}
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select column_name, comment from duckdb_columns() where table_name = 'flags'"
                           " order by column_index").fetchall() == [("flag_id", "问题编号"), ("period", None)]
    assert sorted(p.name for p in (target.parent / PARQUET_DIR).iterdir()) == ["marts.flags.parquet"]


@pytest.fixture(scope="module")
def duckdb_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The command-line DuckDB an office installs, from the package index into a throwaway venv."""
    venv = tmp_path_factory.mktemp("duckdb_cli") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"duckdb-cli=={CLI_VERSION}"],
                   check=True)
    return venv / "bin" / "duckdb"


@pytest.mark.slow
def test_the_duckdb_cli_opens_the_published_warehouse(demo_run: DemoRun, duckdb_cli: Path) -> None:
    version = subprocess.run([str(duckdb_cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"v{CLI_VERSION}")
    sql = next(body for _, body in SQL_BLOCKS if "marts.plan_scorecard" in body)
    done = subprocess.run([str(duckdb_cli), "-readonly", "-csv", str(demo_run.warehouse), "-c", sql],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1 and re.search(r"\d{8}-[0-9X]", done.stdout), done.stdout


@pytest.mark.slow
def test_the_shapes_leadership_asks_for_agree_with_the_tracking_marts(demo_run: DemoRun) -> None:
    """Scorecard = Table 1's latest quarter in the plan; annual tables = the year rows; flags carry their year;
    the retirement outlook spans the five years after the plan's target year (the seed holds no next plan)."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        mismatched = con.execute("""
            select count(*) from marts.plan_scorecard s
            join marts.high_skill_share_tracking t
              on t.grain = s.grain and t.entity_code = s.entity_code and t.period_type = 'quarter'
             and t.period = s.latest_period
            where s.latest_share is distinct from t.high_skill_share or s.status is distinct from t.status
               or abs(s.gap_to_target - (t.high_skill_share - t.target_share)) > 1e-12""").fetchone()[0]
        scored, entities = con.execute(
            "select (select count(*) from marts.plan_scorecard), count(distinct (grain, entity_code))"
            " from marts.high_skill_share_tracking where target_year is not null").fetchone()
        for annual, tracking in (("high_skill_share_annual", "high_skill_share_tracking"),
                                 ("training_coverage_annual", "training_coverage_tracking"),
                                 ("fund_annual", "fund_tracking"), ("governance_annual", "governance_matrix")):
            assert con.execute(f"select count(*) from (select * from marts.{annual} except all"
                               f" select * from marts.{tracking} where period_type = 'year')").fetchone()[0] == 0
            assert con.execute(f"select count(*) from marts.{annual}").fetchone() == \
                con.execute(f"select count(*) from marts.{tracking} where period_type = 'year'").fetchone()
        assert con.execute("select count(*) from marts.compliance_flags where year is distinct from"
                           " cast(left(period, 4) as integer)").fetchone()[0] == 0
        target = int(con.execute("select max(value) from reference.ref_policy_thresholds"
                                 " where threshold_key = 'target_year'").fetchone()[0])
        years = [y for (y,) in con.execute("select distinct year from marts.retirement_outlook order by 1").fetchall()]
        reaching = con.execute("select sum(reaching_retirement_age) from marts.retirement_outlook").fetchone()[0]
    assert mismatched == 0 and scored == entities > 12
    assert years == list(range(target + 1, target + 6)) and reaching > 0
