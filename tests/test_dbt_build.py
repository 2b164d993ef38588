"""A real `dbt build` of dbt_project/ on the hand-built fixture (tests/dbt_fixture.py), then
assertions on the marts against numbers computed by hand."""

from __future__ import annotations

import shutil
import time

import duckdb
import pytest

from tests.dbt_fixture import A, B, C, build_fixture_db, run_dbt

# Full dbt builds of the project: the full tier (make test), not the quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbt")
    db = work / "warehouse.duckdb"
    build_fixture_db(db)
    started = time.perf_counter()
    res = run_dbt(db, work, "build", period_to="2008Q1")
    elapsed = time.perf_counter() - started
    print(f"\ndbt build on the fixture: {elapsed:.1f}s wall")
    return {"db": db, "work": work, "res": res, "elapsed": elapsed}


@pytest.fixture(scope="module")
def con(built):
    c = duckdb.connect(str(built["db"]))  # same config as dbt-duckdb's in-process connection
    yield c
    c.close()


def one(con, sql, *params):
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, (sql, rows)
    return rows[0]


def test_build_succeeds_and_every_test_passes(built):
    res = built["res"]
    assert res.exception is None, res.exception
    statuses = [(r.node.unique_id, str(r.status)) for r in res.result.results]
    bad = [s for s in statuses if s[1] not in ("pass", "success")]
    assert not bad, bad
    kinds = {uid.split(".")[0] for uid, _ in statuses}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert sum(1 for uid, _ in statuses if uid.startswith("unit_test.")) >= 4
    assert res.success
    assert built["elapsed"] < 120


def test_schemas_have_no_target_prefix(con):
    schemas = {r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    views = {r[0] for r in con.execute("select distinct schema_name from duckdb_views() where not internal").fetchall()}
    assert {"raw", "reference", "intermediate", "marts", "flags"} <= schemas
    assert "staging" in views


def test_marts_and_columns_carry_chinese_comments(con):
    marts = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]
    assert marts == sorted([
        "dim_enterprises", "submission_versions", "submission_rechecks", "filing_status", "enterprise_quarter_facts",
        "high_skill_share_tracking", "training_person_years", "training_events", "training_coverage_tracking",
        "fund_tracking", "governance_matrix", "incentives_tracking", "compliance_flags",
        "compliance_flags_summary", "talent_flows", "person_quarters", "high_skill_share_annual",
        "training_coverage_annual", "fund_annual", "governance_annual", "plan_scorecard", "repeat_offenders",
        "retirement_outlook"])
    missing = con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = 'marts' "
        "and (comment is null or comment = '')").fetchall()
    assert not missing
    assert one(con, "select comment from duckdb_tables() where schema_name = 'marts' "
                    "and table_name = 'high_skill_share_tracking'")[0].startswith("表1")
    assert one(con, "select comment from duckdb_columns() where schema_name = 'marts' "
                    "and table_name = 'filing_status' and column_name = 'status'")[0].startswith("报送状态")


def test_marts_carry_no_personal_columns(con):
    cols = {r[0] for r in con.execute(
        "select distinct column_name from duckdb_columns() where schema_name = 'marts'").fetchall()}
    assert not cols & {"id_number", "name", "birth_date", "sex", "cert_no", "preparer", "phone"}


def test_current_version_is_the_resubmission(con):
    rows = con.execute(
        "select file_name, version_no, is_current, is_latest, is_superseded from marts.submission_versions "
        "where org_code = ? and period = '2007Q4' order by version_no", [A]).fetchall()
    assert [(r[0].endswith("_更正.xlsx"), r[1], r[2], r[3], r[4]) for r in rows] == [
        (False, 1, False, False, True),
        (True, 2, True, True, False),
    ]
    dup = one(con, "select is_duplicate, is_current from marts.submission_versions "
                   "where org_code = ? and period = '2006Q2' and version_no = 2", A)
    assert dup == (True, True)
    cur = one(con, "select f.high_skill_total, v.version_no from marts.enterprise_quarter_facts as f "
                   "join marts.submission_versions as v using (submission_id) "
                   "where f.org_code = ? and f.period = '2007Q4'", A)
    assert cur == (30, 2)  # the resubmission's 22 + 5 + 3, not v1's 16 + 5 + 3


def test_filing_status(con):
    def status(org, period):
        return one(con, "select status_code, status, is_late, is_missing, is_rejected from marts.filing_status "
                        "where org_code = ? and period = ?", org, period)

    assert status(B, "2007Q3") == ("late", "逾期", True, False, False)
    assert status(C, "2007Q2") == ("missing", "未报送", False, True, False)
    assert status(C, "2006Q4") == ("rejected", "被退回", False, False, True)
    assert status(A, "2007Q4") == ("on_time", "按时", False, False, False)
    # period_to = 2008Q1 is beyond the data horizon (2007Q4): everybody is 未报送 there
    assert con.execute("select count(*) from marts.filing_status where period = '2008Q1' "
                       "and status = '未报送'").fetchone()[0] == 3
    reasons = one(con, "select reasons_zh from marts.filing_status where org_code = ? and period = '2006Q4'", C)[0]
    assert "职工总数" in reasons
    deadline = one(con, "select deadline_at from marts.filing_status where org_code = ? and period = '2007Q3'", B)[0]
    assert str(deadline) == "2007-10-16 00:00:00"
    # 3 enterprises × 9 periods (2006Q1–2008Q1)
    assert con.execute("select count(*) from marts.filing_status").fetchone()[0] == 27


def test_high_skill_share_of_enterprise_a(con):
    row = one(con, """
        select high_skill_share, beijing_average, benchmark_status, gap_to_beijing, baseline_period,
               baseline_share, years_elapsed, years_remaining, trajectory_share, required_gain_per_year,
               projected_target_year_share, status_code, status
        from marts.high_skill_share_tracking
        where grain = 'enterprise' and entity_code = ? and period_type = 'year' and period = '2007Q4'""", A)
    share, avg, bstatus, gap, bper, bshare, elapsed, remaining, traj, required, projected, code, status = row
    assert share == pytest.approx(30 / 200)
    assert avg == pytest.approx(0.16) and bstatus == "assumed"
    assert gap == pytest.approx(-0.01)
    assert (bper, bshare) == ("2006Q1", pytest.approx(0.10))
    assert (elapsed, remaining) == (1.75, 3.0)
    assert traj == pytest.approx(0.10 + 0.12 * 1.75 / 4.75)
    assert required == pytest.approx(0.07 / 3)
    assert projected == pytest.approx(0.15 + 0.05 / 1.75 * 3)
    assert (code, status) == ("on_track", "进度正常")
    # group A = A + B: (30 + 40) / 400
    g = one(con, "select high_skill_share, status from marts.high_skill_share_tracking where grain = 'group' "
                 "and entity_code = ? and period_type = 'quarter' and period = '2007Q4'", A)
    assert g[0] == pytest.approx(0.175)
    # year rows only for complete years within the data horizon
    years = {r[0] for r in con.execute(
        "select distinct period from marts.high_skill_share_tracking where period_type = 'year'").fetchall()}
    assert years == {"2006Q4", "2007Q4"}


def test_fund_tracking_year_to_date(con):
    # C misses 2007Q2: 2007Q3 year to date = Q1 + Q3
    row = one(con, "select quarters_reported, payroll, fund_extracted, extraction_ratio, c03_ok "
                   "from marts.fund_tracking where grain = 'enterprise' and entity_code = ? "
                   "and period_type = 'quarter' and period = '2007Q3'", C)
    assert row == (2, 1000.0, 10.0, pytest.approx(0.01), False)
    # B 2006Q3 typed 元 as 万元: left out of the sums, counted apart and not as reported; the verdict says so
    row = one(con, "select quarters_reported, quarters_excluded_unit_error, payroll, fund_extracted, verdict_caveat "
                   "from marts.fund_tracking where grain = 'enterprise' and entity_code = ? "
                   "and period_type = 'year' and period = '2006Q4'", B)
    assert row == (3, 1, 3000.0, 60.0, "仅依据3个季度（应有4个）")


def test_training_coverage_and_person_years(con):
    rows = dict(con.execute(
        "select skill_level, [headcount, trained] from marts.training_coverage_tracking "
        "where grain = 'enterprise' and entity_code = ? and period_type = 'year' and period = '2007Q4'",
        [A]).fetchall())
    assert rows == {"全部": [4, 3], "高级工": [2, 2], "技师": [1, 1], "高级技师": [1, 0]}
    cov = one(con, "select coverage from marts.training_coverage_tracking where grain = 'enterprise' "
                   "and entity_code = ? and period_type = 'quarter' and period = '2007Q1' and skill_level = '全部'", A)
    assert cov[0] == pytest.approx(1 / 3)
    persons = dict(con.execute(
        "select person_key, is_trained from marts.training_person_years where org_code = ? and year = 2007",
        [A]).fetchall())
    # p_a1 trained on 31 December, p_a4 joined in Q4 and was trained in Q4, p_a3 not trained in 2007
    assert persons == {"p_a1": True, "p_a2": True, "p_a3": False, "p_a4": True}
    on_roster = dict(con.execute("select person_key, trainee_on_roster from marts.training_events").fetchall())
    assert on_roster["p_x9"] is False and on_roster["p_a2"] is True


def test_governance_and_incentives(con):
    g = one(con, "select congress_reports_in_year, c07_ok, c06_ok, key_trainees_without_account, c12_ok "
                 "from marts.governance_matrix where org_code = ? and period_type = 'year' and period = '2007Q4'", A)
    assert g == (1, True, True, 1, False)
    assert one(con, "select c08_ok from marts.governance_matrix where org_code = ? and period_type = 'quarter' "
                    "and period = '2007Q1'", C)[0] is False
    i = one(con, "select income_gap, income_gap_prev_year, c10_ok, model_worker_high_skill_share, c11_ok "
                 "from marts.incentives_tracking where org_code = ? and year = 2007", A)
    assert i == (18000.0, 20000.0, False, 0.25, True)
    # C misses 2007Q2: its yearly C07 (reports counted per quarter) and C11 (model workers summed over the
    # quarters) rest on three quarters and say so in fund_tracking's words; A filed every quarter
    caveats = {(org, table): one(con, f"select verdict_caveat from marts.{table} where org_code = ? and year = 2007"
                                      + (" and period_type = 'year'" if table == "governance_matrix" else ""), org)[0]
               for org in (A, C) for table in ("governance_matrix", "incentives_tracking")}
    assert caveats == {(A, "governance_matrix"): None, (A, "incentives_tracking"): None,
                       (C, "governance_matrix"): "仅依据3个季度（应有4个）",
                       (C, "incentives_tracking"): "仅依据3个季度（应有4个）"}


def test_compliance_flags(con):
    rows = con.execute("select rule_id, source, org_code, group_org_code, clause, severity "
                       "from marts.compliance_flags order by rule_id").fetchall()
    # D11 of A's superseded 2007Q4 v1 and D02 of B's rejected-then-corrected 2007Q3 v1 are left out
    assert rows == [
        ("C03", "fund_tracking", C, C, "§四.2", "error"),
        ("D02", "intake", C, C, "报送要求", "error"),
        ("D10", "intake", A, A, "§三.1", "warning"),
    ]
    ids = [r[0] for r in con.execute("select flag_id from marts.compliance_flags").fetchall()]
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)


@pytest.fixture(scope="module")
def second_selection(built, con):
    """A copy of the built warehouse: rebuild without vars, then the `flags` selection alone."""
    work = built["work"]
    con.execute("checkpoint")  # dbt-duckdb keeps its in-process connection open: flush the WAL first
    # same file name: views are stored with the catalog name (= file stem) in their SQL
    db = work / "copy" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copy(built["db"], db)
    res_core = run_dbt(db, work, "run", "--select", "int_periods", "int_thresholds_by_period", "filing_status")
    c = duckdb.connect(str(db))
    c.execute("insert into flags.expectation_flags (rule_id, severity, org_code, period, message_zh, source) "
              "values ('C07', 'warning', ?, '2007Q4', '本年度未向职工代表大会报告', 'governance_matrix')", [B])
    c.close()
    res_flags = run_dbt(db, work, "build", "--select", "tag:flags")
    return db, res_core, res_flags


def test_default_vars_stop_filing_status_at_the_data_horizon(second_selection):
    db, res_core, _ = second_selection
    assert res_core.success
    c = duckdb.connect(str(db))
    try:
        assert c.execute("select max(period) from marts.filing_status").fetchone()[0] == "2007Q4"
    finally:
        c.close()


def test_flags_selection_rebuilds_the_flag_models_only(second_selection):
    db, _, res_flags = second_selection
    assert res_flags.success
    built_nodes = {r.node.name for r in res_flags.result.results if r.node.resource_type == "model"}
    assert built_nodes == {"stg_flags__expectation_flags", "compliance_flags", "compliance_flags_summary",
                           "repeat_offenders"}
    c = duckdb.connect(str(db))
    try:
        assert c.execute("select count(*) from marts.compliance_flags").fetchone()[0] == 4
        assert c.execute("select clause from marts.compliance_flags where rule_id = 'C07'").fetchone()[0] == "§三.1"
    finally:
        c.close()
