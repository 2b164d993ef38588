"""Every rule C01–C13 and D06–D08, D12, D14–D16 on hand-built mart tables: flagged vs neighbour not flagged.

The tables have the dbt contracts' columns, and the rows carry the verdicts (``c03_ok`` …) and the
period's limits as dbt states them (the verdicts themselves are tested on real dbt builds in
tests/test_dbt_verdicts.py). One real GX run (module-scoped) over one small DuckDB file; the rules
are read back from ``flags.expectation_flags``: which rows are flagged, and that each flag's value,
limit and message come from the row's own columns.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.reference import THRESHOLDS_CSV, load_rules  # noqa: E402
from pipelines.lib.expectations import FLAG_COLUMNS, run_expectations  # noqa: E402
from tests.mart_tables import create_marts, insert_rows  # noqa: E402

PERIODS = ["2008Q3", "2008Q4"]
Y = {"period": "2008Q4", "year": 2008}
ENT_Y = {"grain": "enterprise", "period_type": "year", **Y}
ENT_Q3 = {"grain": "enterprise", "period_type": "quarter", "period": "2008Q3", "year": 2008}

# (0.1 + 5.6) / 380 is 1.5% on paper but 0.014999999999999998 in floating point; dbt's verdict passes it
FLOAT_NOISE_RATIO = (0.1 + 5.6) / 380


def build_marts(con: duckdb.DuckDBPyConnection) -> None:
    create_marts(con)
    insert_rows(
        con,
        "training_person_years",
        [
            {
                "org_code": "ORG000001",
                "person_key": "p_once_on_dec31",
                "skill_level": "技师",
                "trainings_in_year": 1,
                "trainings_per_year_min": 1,
                "is_trained": True,
                "last_training_end_date": dt.date(2008, 12, 31),
                **Y,
            },
            {
                "org_code": "ORG000001",
                "person_key": "p_never",
                "roster_submission_id": "2008Q4-org1",
                "roster_source_row": 7,
                "skill_level": "高级工",
                "trainings_in_year": 0,
                "trainings_per_year_min": 1,
                "is_trained": False,
                **Y,
            },
            {
                "org_code": "ORG000001",
                "person_key": "p_old_year",
                "skill_level": "高级工",
                "trainings_in_year": 0,
                "trainings_per_year_min": 1,
                "is_trained": False,
                "period": "2007Q4",
                "year": 2007,
            },
        ],
    )
    insert_rows(
        con,
        "training_coverage_tracking",
        [
            {
                "entity_code": "ORG000001",
                "skill_level": "全部",
                "headcount": 10,
                "trained": 10,
                "coverage": 1.0,
                "coverage_min": 1.0,
                "c02_ok": True,
                **ENT_Y,
            },
            {
                "entity_code": "ORG000002",
                "skill_level": "全部",
                "headcount": 50,
                "trained": 49,
                "coverage": 0.98,
                "coverage_min": 1.0,
                "c02_ok": False,
                **ENT_Y,
            },
            {
                "entity_code": "ORG000002",
                "skill_level": "技师",
                "headcount": 2,
                "trained": 1,
                "coverage": 0.5,
                "coverage_min": 1.0,
                "c02_ok": False,
                **ENT_Y,
            },
            {
                "entity_code": "ORG000003",
                "skill_level": "全部",
                "headcount": 0,
                "trained": 0,
                "coverage": None,
                "coverage_min": 1.0,
                "c02_ok": None,
                **ENT_Y,
            },
            {
                "entity_code": "ORG000004",
                "skill_level": "全部",
                "headcount": 4,
                "trained": 1,
                "coverage": 0.25,
                "coverage_min": 1.0,
                "c02_ok": False,
                **ENT_Q3,
            },
            {
                "entity_code": "GRP000001",
                "skill_level": "全部",
                "headcount": 4,
                "trained": 1,
                "coverage": 0.25,
                "coverage_min": 1.0,
                "c02_ok": False,
                **{**ENT_Y, "grain": "group"},
            },
        ],
    )
    limits = {"fund_ratio_min": 0.015, "frontline_share_min": 0.6}
    insert_rows(
        con,
        "fund_tracking",
        [
            {**limits, "entity_code": "ORG000001", "extraction_ratio": 0.015, "c03_ok": True,
             "frontline_share": 0.60, "c04_ok": True, **ENT_Y},
            {**limits, "entity_code": "ORG000002", "extraction_ratio": 0.0149, "c03_ok": False,
             "frontline_share": 0.599, "c04_ok": False, **ENT_Y},
            {
                **limits,
                "entity_code": "ORG000003",
                "extraction_ratio": FLOAT_NOISE_RATIO,
                "c03_ok": True,
                "frontline_share": None,
                "c04_ok": None,
                "fund_spent": 0.0,
                **ENT_Y,
            },
            {**limits, "entity_code": "ORG000004", "extraction_ratio": 0.001, "c03_ok": False,
             "frontline_share": 0.1, "c04_ok": False, **ENT_Q3},
            {
                **limits,
                "entity_code": "GRP000001",
                "extraction_ratio": 0.001,
                "c03_ok": False,
                "frontline_share": 0.1,
                "c04_ok": False,
                **{**ENT_Y, "grain": "group"},
            },
        ],
    )
    hs = {
        "grain": "enterprise",
        "period_type": "quarter",
        "period": "2008Q3",
        "year": 2008,
        "high_skill_share": 0.2,
        "trajectory_share": 0.25,
        "target_share": 0.3,
        "target_year": 2010,
        "beijing_average": 0.18,
        "has_trajectory": True,
    }
    insert_rows(
        con,
        "high_skill_share_tracking",
        [
            {**hs, "entity_code": "ORG000001", "status_code": "achieved", "status": "已达标", "c05_ok": True},
            {**hs, "entity_code": "ORG000002", "status_code": "on_track", "status": "进度正常", "c05_ok": True},
            {**hs, "entity_code": "ORG000003", "status_code": "lagging", "status": "滞后", "c05_ok": False},
            {**hs, "entity_code": "ORG000004", "status_code": "seriously_lagging", "status": "严重滞后",
             "c05_ok": False},
            {
                **hs,
                "entity_code": "ORG000005",
                "status_code": "lagging",
                "status": "滞后",
                "c05_ok": False,
                "period_type": "year",
                "period": "2008Q4",
            },
            {**hs, "entity_code": "GRP000001", "status_code": "lagging", "status": "滞后", "c05_ok": False,
             "grain": "group"},
            # a late joiner with its first and only quarter: no trajectory, judged on the Beijing average
            {**hs, "entity_code": "ORG000006", "high_skill_share": 0.05, "trajectory_share": None,
             "has_trajectory": False, "gap_to_beijing": 0.05 - 0.18, "status_code": "no_baseline",
             "status": "无基期", "c05_ok": False},
            {**hs, "entity_code": "ORG000007", "high_skill_share": 0.2, "trajectory_share": None,
             "has_trajectory": False, "gap_to_beijing": 0.02, "status_code": "on_track",
             "status": "进度正常", "c05_ok": True},
        ],
    )
    ok = {
        "c06_ok": True,
        "c07_ok": True,
        "c08_ok": True,
        "c12_ok": True,
        "c13_ok": True,
        "has_leading_group": True,
        "has_training_plan": True,
        "has_talent_database": True,
        "has_chief_technician_system": True,
        "technician_sum": 0,
        "chief_technicians": 0,
        "congress_reports_in_year": 1,
        "key_trainees_without_account": 0,
        "has_technician_study_system": True,
        "has_reserve_echelon_system": True,
    }
    gy = {"period_type": "year", **Y}
    gq = {"period_type": "quarter", "period": "2008Q3", "year": 2008}
    insert_rows(
        con,
        "governance_matrix",
        [
            {**ok, **gy, "org_code": "ORG000001"},  # no 技师 at all: no chief needed
            {**ok, **gy, "org_code": "ORG000002", "c06_ok": False, "has_talent_database": False},
            {**ok, **gy, "org_code": "ORG000003", "c07_ok": False, "congress_reports_in_year": 0},
            {
                **ok,
                **gy,
                "org_code": "ORG000004",
                "c08_ok": False,
                "technician_sum": 3,
                "chief_technicians": 0,
            },
            {**ok, **gy, "org_code": "ORG000005", "c13_ok": False, "has_reserve_echelon_system": False},
            {**ok, **gy, "org_code": "ORG000006", "c12_ok": False, "key_trainees_without_account": 2},
            {**ok, **gq, "org_code": "ORG000006", "c12_ok": False, "key_trainees_without_account": 2},
            {
                **ok,
                **gq,
                "org_code": "ORG000007",
                "c06_ok": False,
                "c07_ok": False,
                "c08_ok": False,
                "c13_ok": False,
            },
        ],
    )
    inc = {
        **Y,
        "equal_treatment_ratio": 1.0,
        "equal_treatment_ratio_min": 1.0,
        "c09_ok": True,
        "income_gap": 5000.0,
        "income_gap_prev_year": None,
        "c10_ok": True,
        "c11_ok": True,
        "avg_income_high_skill": 60000.0,
        "avg_income_professional": 60000.0,
    }
    insert_rows(
        con,
        "incentives_tracking",
        [
            {**inc, "org_code": "ORG000001"},  # no previous year: C10 not flagged
            {**inc, "org_code": "ORG000002", "equal_treatment_ratio": 0.95, "c09_ok": False,
             "avg_income_high_skill": 57000.0},
            {**inc, "org_code": "ORG000003", "income_gap_prev_year": 5000.0},
            {**inc, "org_code": "ORG000004", "income_gap": 4000.0, "income_gap_prev_year": 5000.0, "c10_ok": False},
            {
                **inc,
                "org_code": "ORG000005",
                "c11_ok": False,
                "model_workers_total": 10,
                "model_workers_high_skill": 1,
                "model_worker_high_skill_share": 0.1,
                "workforce_high_skill_share": 0.3,
            },
        ],
    )
    good = {
        "period": "2008Q3",
        "year": 2008,
        "employees_total": 100,
        "skilled_workers": 80,
        "level_sum": 80,
        "frontline_workers": 60,
        "technician_sum": 5,
        "chief_technicians": 1,
        "fund_spent": 10.0,
        "fund_spent_frontline": 6.0,
        "fund_spent_high_skill": 3.0,
        "fund_school_enterprise": 1.0,
        "model_workers_total": 2,
        "model_workers_high_skill": 1,
        "fund_ratio_quarter": 0.02,
        "payroll_per_employee": 2.0,
        "payroll_change_factor": 1.1,
        "roster_count_gap_ratio": 0.0,
    }
    cases = {
        "EQF000000": {},
        "EQF000001": {"level_sum": 81},
        "EQF000002": {"skilled_workers": 101, "level_sum": 101},
        "EQF000003": {"frontline_workers": 101},
        "EQF000004": {"chief_technicians": 6},
        "EQF000005": {"fund_spent_frontline": 10.5},
        "EQF000006": {"fund_spent_high_skill": 11.0},
        "EQF000007": {"fund_school_enterprise": 12.0},
        "EQF000008": {"model_workers_high_skill": 3},
        "EQF000009": {
            "fund_ratio_quarter": 0.20,
            "payroll_per_employee": 0.05,
            "payroll_change_factor": 1000.0,
            "roster_count_gap_ratio": 0.05,
            "level_sum": 80,
            "chief_technicians": 5,
            "fund_spent_frontline": 10.0,
        },
        "EQF000010": {"fund_ratio_quarter": 0.25},
        "EQF000011": {"payroll_per_employee": 0.04},
        "EQF000012": {"payroll_per_employee": 51.0},
        "EQF000013": {"payroll_change_factor": 1001.0},
        "EQF000014": {"roster_count_gap_ratio": 0.06},
        "EQF000015": {"payroll_per_employee": 50.0, "payroll_change_factor": None},
    }
    insert_rows(
        con,
        "enterprise_quarter_facts",
        [_with_d08_d12_verdicts({**good, **v, "org_code": k, "submission_id": f"2008Q3-{k}"})
         for k, v in cases.items()],
    )
    insert_rows(
        con,
        "training_events",
        [
            {
                "submission_id": "2008Q3-EQF000000",
                "source_row": 2,
                "org_code": "EQF000000",
                "period": "2008Q3",
                "person_key": "p_on_roster",
                "trainee_on_roster": True,
            },
            {
                "submission_id": "2008Q3-EQF000000",
                "source_row": 3,
                "org_code": "EQF000000",
                "period": "2008Q3",
                "person_key": "p_stranger",
                "trainee_on_roster": False,
            },
        ],
    )
    deadline = dt.datetime(2008, 10, 16)
    insert_rows(
        con,
        "filing_status",
        [
            {
                "org_code": "FIL000001",
                "period": "2008Q3",
                "is_missing": False,
                "is_late": False,
                "deadline_at": deadline,
                "deadline_date": deadline.date() - dt.timedelta(days=1),
            },
            {
                "org_code": "FIL000002",
                "period": "2008Q3",
                "is_missing": True,
                "is_late": False,
                "deadline_at": deadline,
                "deadline_date": deadline.date() - dt.timedelta(days=1),
            },
            {
                "org_code": "FIL000003",
                "period": "2008Q3",
                "is_missing": False,
                "is_late": True,
                "deadline_at": deadline,
                "deadline_date": deadline.date() - dt.timedelta(days=1),
                "first_arrived_at": dt.datetime(2008, 10, 20, 9, 30),
                "first_accepted_arrived_at": dt.datetime(2008, 10, 20, 9, 30),
                "current_submission_id": "2008Q3-late",
            },
        ],
    )
    sv = {
        "period": "2008Q3",
        "org_code": "SUB000001",
        "is_superseded": False,
        "is_duplicate": False,
        "current_submission_id": "2008Q3-v3",
        "current_file_name": "SUB000001_2008Q3_v3.xlsx",
        "file_name": "SUB000001_2008Q3.xlsx",
    }
    insert_rows(
        con,
        "submission_versions",
        [
            {**sv, "submission_id": "2008Q3-v1", "version_no": 1, "is_superseded": True},
            {
                **sv,
                "submission_id": "2008Q3-v2",
                "version_no": 2,
                "is_superseded": True,
                "is_duplicate": True,
            },
            {**sv, "submission_id": "2008Q3-v3", "version_no": 3},
        ],
    )
    insert_rows(con, "dim_enterprises", [{"org_code": "ORG000001"}, {"org_code": "ORG000002"}])


D08_D12_LIMITS = {"unit_error_ratio_max": 0.2, "payroll_per_employee_min": 0.05, "payroll_per_employee_max": 50.0,
                  "history_jump_factor": 1000.0, "roster_count_tolerance": 0.05}


def _with_d08_d12_verdicts(row: dict) -> dict:
    """The limits and verdicts enterprise_quarter_facts carries, as dbt states them (inclusive limits)."""
    lim = D08_D12_LIMITS

    def at_most(v, hi):
        return None if v is None else v <= hi

    ppe = row.get("payroll_per_employee")
    return {
        **row,
        **lim,
        "d08_fund_ratio_ok": at_most(row.get("fund_ratio_quarter"), lim["unit_error_ratio_max"]),
        "d08_payroll_per_employee_ok": None if ppe is None else (
            lim["payroll_per_employee_min"] <= ppe <= lim["payroll_per_employee_max"]),
        "d08_payroll_history_ok": at_most(row.get("payroll_change_factor"), lim["history_jump_factor"]),
        "d12_ok": at_most(row.get("roster_count_gap_ratio"), lim["roster_count_tolerance"]),
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("gx_rules")
    db = d / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        build_marts(con)
        # a flag of another period that the run must leave alone
        con.execute("create schema flags")
        body = ", ".join(f'"{c}" {t}' for c, t in FLAG_COLUMNS)
        con.execute(f"create table flags.expectation_flags ({body})")
        con.execute(
            "insert into flags.expectation_flags (rule_id, period, source) values ('C03', '2008Q2', 'funds')"
        )
        con.execute(
            "insert into flags.expectation_flags (rule_id, period, source) values ('C03', '2008Q4', 'stale')"
        )
    run = run_expectations(db, PERIODS, d / "data_docs")
    return d, db, run


@pytest.fixture(scope="module")
def all_flags(run_dir):
    _, db, _ = run_dir
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute("select * from flags.expectation_flags")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def flags(all_flags):
    """The run's flags (the 2008Q2 row was there before and is not the run's)."""
    return [f for f in all_flags if f["period"] != "2008Q2"]


def flagged(flags, rule, *, key="org_code", **match):
    return sorted(
        f[key]
        for f in flags
        if f["rule_id"] == rule
        and f["source"] != "stale"
        and f["period"] != "2008Q2"
        and all(f[k] == v for k, v in match.items())
    )


def test_c01_person_trained_once_on_31_december_is_not_flagged(flags):
    assert flagged(flags, "C01", key="person_key") == ["p_never"]
    (f,) = [f for f in flags if f["rule_id"] == "C01"]
    assert (f["observed_value"], f["threshold"], f["period"], f["severity"]) == ("0", "1", "2008Q4", "error")
    assert f["message_zh"] == "年末人才信息库第7行的高技能人才（高级工）2008年参加培训0次，少于每年1次"
    assert (f["sheet"], f["source_row"], f["submission_id"]) == ("人才信息库", 7, "2008Q4-org1")


def test_c02_coverage_enterprise_year_all_levels_only(flags):
    assert flagged(flags, "C02") == ["ORG000002"]
    (f,) = [f for f in flags if f["rule_id"] == "C02"]
    assert "98%" in f["message_zh"] and "49/50" in f["message_zh"] and f["threshold"] == "1"


def test_c03_extraction_ratio_boundary(flags):
    assert FLOAT_NOISE_RATIO < 0.015  # floating noise below the line on paper-equal values ...
    assert flagged(flags, "C03") == ["ORG000002"]  # ... is not a finding; exactly 1.5% is not either
    (f,) = [f for f in flags if f["rule_id"] == "C03"]
    assert f["observed_value"] == "0.0149" and f["threshold"] == "0.015"
    assert f["message_zh"] == "2008年教育培训经费提取比例1.49%，低于1.5%"
    assert (f["clause"], f["sheet"], f["column_name"], f["source"]) == (
        "§四.2",
        "经费情况",
        "教育培训经费提取额",
        "funds",
    )


def test_c04_frontline_share_boundary(flags):
    assert flagged(flags, "C04") == ["ORG000002"]
    (f,) = [f for f in flags if f["rule_id"] == "C04"]
    assert "59.9%" in f["message_zh"] and "60%" in f["message_zh"]


def test_c05_statuses(flags):
    assert flagged(flags, "C05") == ["ORG000003", "ORG000004", "ORG000006"]
    assert {f["severity"] for f in flags if f["rule_id"] == "C05"} == {"warning"}
    assert all(f["period"] == "2008Q3" for f in flags if f["rule_id"] == "C05")
    (lag,) = [f for f in flags if f["rule_id"] == "C05" and f["org_code"] == "ORG000003"]
    assert (lag["observed_value"], lag["threshold"]) == ("0.2", "0.25")
    assert lag["message_zh"] == "高技能人才占比20%，低于进度线25%（2010年目标30%），状态：滞后"


def test_c05_without_trajectory_is_judged_on_the_beijing_average(flags):
    (f,) = [f for f in flags if f["rule_id"] == "C05" and f["org_code"] == "ORG000006"]
    assert (f["observed_value"], f["threshold"]) == ("0.05", "0.18")
    assert f["message_zh"].startswith("高技能人才占比5%，低于2008年北京市平均水平18%（差距-13%）")
    assert f["message_zh"].endswith("状态：无基期")


def test_c06_c07_c08_c13_on_year_rows_only(flags):
    assert flagged(flags, "C06") == ["ORG000002"]
    assert flagged(flags, "C07") == ["ORG000003"]
    assert flagged(flags, "C08") == ["ORG000004"]  # ORG000001 has no 技师: no chief needed
    assert flagged(flags, "C13") == ["ORG000005"]
    (f,) = [f for f in flags if f["rule_id"] == "C06"]
    assert "信息库否" in f["message_zh"] and f["severity"] == "error"


def test_c12_on_quarter_rows_only(flags):
    assert flagged(flags, "C12", key="period") == ["2008Q3"]
    assert flagged(flags, "C12") == ["ORG000006"]


def test_c09_c10_c11(flags):
    assert flagged(flags, "C09") == ["ORG000002"]
    assert flagged(flags, "C10") == ["ORG000004"]  # ORG000001 has no previous year, ORG000003 equal gap
    (f,) = [f for f in flags if f["rule_id"] == "C10"]
    assert (f["observed_value"], f["threshold"]) == ("4000", "5000")
    assert flagged(flags, "C11") == ["ORG000005"]
    assert {f["severity"] for f in flags if f["rule_id"] == "C11"} == {"info"}


def test_d06_d07_column_pairs(flags):
    assert flagged(flags, "D06") == ["EQF000001", "EQF000002", "EQF000003", "EQF000004"]
    assert flagged(flags, "D07") == ["EQF000005", "EQF000006", "EQF000007", "EQF000008"]
    (f,) = [f for f in flags if f["rule_id"] == "D06" and f["org_code"] == "EQF000004"]
    assert (f["observed_value"], f["threshold"], f["column_name"]) == ("6", "5", "首席技师人数")
    assert f["submission_id"] == "2008Q3-EQF000004"


def test_d08_unit_errors_and_d12_roster_gap(flags):
    assert flagged(flags, "D08") == ["EQF000010", "EQF000011", "EQF000012", "EQF000013"]
    assert flagged(flags, "D12") == ["EQF000014"]
    (f,) = [f for f in flags if f["rule_id"] == "D08" and f["org_code"] == "EQF000011"]
    assert f["threshold"] is None or "0.05" in f["message_zh"]
    assert "0.05–50" in f["message_zh"]


def test_d14_training_event_not_on_roster(flags):
    (f,) = [f for f in flags if f["rule_id"] == "D14"]
    assert (f["person_key"], f["source_row"], f["submission_id"], f["sheet"]) == (
        "p_stranger",
        3,
        "2008Q3-EQF000000",
        "培训记录",
    )


def test_d15_missing_error_late_warning(flags):
    d15 = sorted((f["org_code"], f["severity"]) for f in flags if f["rule_id"] == "D15")
    assert d15 == [("FIL000002", "error"), ("FIL000003", "warning")]
    (late,) = [f for f in flags if f["rule_id"] == "D15" and f["org_code"] == "FIL000003"]
    assert "2008-10-20 09:30:00" in late["message_zh"] and late["submission_id"] == "2008Q3-late"
    assert "截止日2008-10-15" in late["message_zh"] and "00:00:00" not in late["message_zh"]


def test_d16_superseded_and_duplicate_info(flags):
    d16 = sorted((f["submission_id"], f["severity"]) for f in flags if f["rule_id"] == "D16")
    assert d16 == [("2008Q3-v1", "info"), ("2008Q3-v2", "info"), ("2008Q3-v2", "info")]
    superseded = [f["message_zh"] for f in flags if f["rule_id"] == "D16" and "替代" in f["message_zh"]]
    assert superseded and all("以 SUB000001_2008Q3_v3.xlsx 为准" in m for m in superseded)


def test_flags_carry_clause_and_severity_of_ref_rules(flags):
    rules = load_rules()
    for f in flags:
        if f["source"] in ("stale",) or f["period"] == "2008Q2":
            continue
        assert f["clause"] == rules[f["rule_id"]]["clause"]
        if not (f["rule_id"] == "D15" and f["severity"] == "warning"):
            assert f["severity"] == rules[f["rule_id"]]["severity"], f


def test_run_replaces_only_its_periods(all_flags):
    assert not [f for f in all_flags if f["source"] == "stale"]
    assert [f["period"] for f in all_flags if f["period"] == "2008Q2"] == ["2008Q2"]
    assert not [f for f in all_flags if f["period"] not in ("2008Q2", *PERIODS)]  # 2007 rows were not loaded


def test_suite_results_for_asset_checks(run_dir):
    _, _, run = run_dir
    assert set(run.suites) == {
        "data_quality",
        "funds",
        "governance",
        "high_skill_ratio",
        "incentives",
        "training",
    }
    funds = run.suites["funds"]
    assert not funds.success and not funds.errors
    assert funds.tables == ("fund_tracking",)
    assert funds.failing_count == 2 and funds.rows_evaluated == 3  # enterprise/year rows only
    assert funds.sample_failing_keys[0]["entity_code"] == "ORG000002"
    assert len(run.suites["data_quality"].sample_failing_keys) == 10
    assert not run.success


def test_rerun_is_byte_identical(run_dir, tmp_path):
    d, db, _ = run_dir
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)

    def dump(path):
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("select * from flags.expectation_flags order by rowid").fetchall()

    before = dump(copy)
    run_expectations(copy, list(reversed(PERIODS)), None)
    after = dump(copy)
    assert [r for r in before if r[4] != "2008Q2"] == [r for r in after if r[4] != "2008Q2"]


_EXTERNAL_REF = re.compile(
    r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE
)


def test_data_docs_are_offline_and_list_every_suite(run_dir):
    d, _, run = run_dir
    docs = d / "data_docs"
    assert run.docs_index == docs / "index.html"
    pages = list(docs.rglob("*.html"))
    assert len(pages) == len(run.suites) + 1 and set(run.docs_pages.values()) == set(pages) - {run.docs_index}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not _EXTERNAL_REF.search(html), page
        assert not re.search(r"""(?:src|href)\s*=\s*["']https?://""", html), page
        assert "<script" not in html and "Clear Filters" not in html and "未通过" not in html
    index = run.docs_index.read_text(encoding="utf-8")
    for name, suite in run.suites.items():
        assert f'href="suites/{name}.html"' in index
        if suite.failing_count and not suite.errors:
            assert f"发现{suite.failing_count:,}条问题" in index  # findings to follow up, not a failed pipeline
    funds = run.docs_pages["funds"].read_text(encoding="utf-8")
    assert "marts.fund_tracking" in funds  # the page names its mart
    # failing rows by organisation code (as people read it) and period, never by a pandas index
    # (headers are the marts' column comments; this hand-built DB has none, so they are the column names)
    assert "df.filter" not in funds and "<th>entity_code</th>" in funds and "<th>period</th>" in funds
    with duckdb.connect(str(run_dir[1]), read_only=True) as con:
        failing = [r for r in con.execute("select entity_code, period from marts.fund_tracking where grain = 'enterprise' "
                                          "and period_type = 'year' and not c03_ok").fetchall() if r[1] in PERIODS]
    assert failing
    for org, period in failing:
        assert re.search(rf"<td class=c>{re.escape(format_org_code(org))}</td>.*?<td class=c>{period}</td>", funds, re.S)


def test_seed_is_untouched():
    assert THRESHOLDS_CSV.exists()


def test_the_gx_step_validates_in_its_own_child_with_the_same_run_and_flags(run_dir, tmp_path):
    """The GX asset validates in the run's GX child (defs/expectations/process.ExpectationsProcess, set up as the
    run's resource): same results, same flags as in this process."""
    import logging
    import shutil

    import dagster as dg

    from pipelines.defs.expectations.process import ExpectationsProcess
    from pipelines.lib.expectations.suites import load_suites

    d, db, in_process = run_dir
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:  # as before the fixture's run: only the two planted flags
        con.execute("delete from flags.expectation_flags where source not in ('funds', 'stale')")
    with dg.build_resources({"gx": ExpectationsProcess()}) as resources:
        run = resources.gx.validate(copy, PERIODS, tmp_path / "data_docs", log=logging.getLogger(),
                                    suite_names=[s.name for s in load_suites()])
    assert run.flag_count == in_process.flag_count > 0
    assert {n: (s.success, s.failing_count) for n, s in run.suites.items()} == {
        n: (s.success, s.failing_count) for n, s in in_process.suites.items()}
    query = "select rule_id, period, org_code, person_key, source from flags.expectation_flags order by all"
    with duckdb.connect(str(copy), read_only=True) as a, duckdb.connect(str(db), read_only=True) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
