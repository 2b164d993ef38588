"""A small hand-built raw warehouse for the dbt project's tests.

Three enterprises in two groups, 2006Q1–2007Q4:

- A (AAAAAAAA?, group HQ of group A, 现代制造业): files every quarter on time; 2007Q4 is filed
  twice, both accepted — the second version (the resubmission) is current. 2006Q2 is sent twice
  byte for byte (a duplicate).
- B (BBBBBBBB?, member of group A, 现代制造业): 2007Q3 first file rejected (D02, on time), then an
  accepted resubmission after the deadline → 逾期. 2006Q3 funds typed in 元 (unit error).
- C (CCCCCCCC?, its own group, 现代服务业): 2006Q4 rejected and never corrected → 被退回; 2007Q2
  never sent → 未报送; extracts only 1% of payroll.

Numbers worth computing by hand are documented next to the rows; tests/test_dbt_build.py
asserts on them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import duckdb

from pipelines.lib.domain.codes import org_check_char
from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.warehouse import create_raw_tables


def org(body: str) -> str:
    return body + org_check_char(body)


A = org("AAAAAAAA")
B = org("BBBBBBBB")
C = org("CCCCCCCC")

PERIODS = period_range(Period(2006, 1), Period(2007, 4))
PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"

EXPECTATION_FLAGS_DDL = """
create schema if not exists flags;
create table if not exists flags.expectation_flags (
    rule_id varchar, clause varchar, severity varchar, org_code varchar, period varchar,
    person_key varchar, observed_value varchar, threshold varchar, message_zh varchar,
    source varchar, submission_id varchar, sheet varchar, source_row integer,
    column_name varchar, expectation_type varchar
)
"""


def run_dbt(db: Path, work: Path, *args: str, project: Path = PROJECT, period_to: str = ""):
    """Invoke dbt in-process against ``db``; target/ and logs/ go to ``work`` (parallel-safe).

    ``project``: the dbt project directory (a copy, for policy what-ifs on the seeds)."""
    from dbt.cli.main import dbtRunner

    env = {"SASAC_BUILD_DB": str(db), "SASAC_PERIOD_TO": period_to, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
           "DO_NOT_TRACK": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dbtRunner().invoke([
            *args,
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        ])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _arrival(p: Period, day: int, hour: int = 10) -> dt.datetime:
    nxt = p.next().start
    return dt.datetime(nxt.year, nxt.month, day, hour)


def _profile(org_code: str, p: Period, **over) -> dict:
    group = A if org_code in (A, B) else C
    sector = "现代服务业" if org_code == C else "现代制造业"
    row = {
        "org_code": org_code, "enterprise_name": f"企业{org_code[0]}", "period": str(p),
        "group_org_code": group, "industry_code": "36", "sector": sector,
        "employees_total": 1000, "frontline_workers": 600, "skilled_workers": 200,
        "level5_junior": 80, "level4_intermediate": 80,
        "level3_senior": 24, "level2_technician": 10, "level1_senior_technician": 6,
        "chief_technicians": 2, "key_trainees": 5, "training_accounts": 4,
        "preparer": None, "phone": None, "submitted_on": p.end,
    }
    row.update(over)
    return row


def _funds(**over) -> dict:
    row = {"payroll": 1000.0, "fund_extracted": 20.0, "fund_spent": 16.0, "fund_spent_frontline": 10.0,
           "fund_spent_high_skill": 4.0, "fund_school_enterprise": 2.0, "innovation_rewards": 1.0}
    row.update(over)
    return row


def _governance(**over) -> dict:
    row = {"has_leading_group": True, "has_training_plan": True, "has_talent_database": True,
           "has_chief_technician_system": True, "has_technician_study_system": True,
           "has_reserve_echelon_system": True, "in_manager_assessment": True, "congress_report_date": None}
    row.update(over)
    return row


def _incentives(**over) -> dict:
    row = {"avg_income_high_skill": 60000.0, "avg_income_general_skill": 40000.0,
           "avg_income_professional": 58000.0, "model_workers_total": 0, "model_workers_high_skill": 0,
           "cadres_from_high_skill": 0, "party_members_from_high_skill": 0, "deputies_from_high_skill": 0}
    row.update(over)
    return row


def _enterprise_quarter(org_code: str, p: Period) -> dict:
    """Sheet rows for one accepted version (before per-case overrides)."""
    profile, funds, governance, incentives = {}, {}, {}, {}
    if org_code == A:
        # share: 2006Q1 baseline 20/200 = 0.10; then +1 high-skill (高级工) per quarter; 2007Q4 see below
        i = p.index - Period(2006, 1).index
        profile = {"level3_senior": 12 + i, "level2_technician": 5, "level1_senior_technician": 3}
        if p == Period(2007, 2):
            governance = {"congress_report_date": dt.date(2007, 5, 10)}
            incentives = {"model_workers_total": 4, "model_workers_high_skill": 1}
        if p.year == 2007:
            # income gap 2006: 60000-40000 = 20000; 2007: 60000-42000 = 18000 → narrows (C10 fails)
            incentives = {**incentives, "avg_income_general_skill": 42000.0}
    elif org_code == B:
        if p == Period(2006, 3):
            funds = {"fund_extracted": 300.0}  # 30% of payroll: 元 typed as 万元
    else:
        funds = {"payroll": 500.0, "fund_extracted": 5.0, "fund_spent": 5.0, "fund_spent_frontline": 2.0,
                 "fund_spent_high_skill": 1.0, "fund_school_enterprise": 0.0}
        governance = {"has_chief_technician_system": False}
    return {
        "profile": _profile(org_code, p, **profile),
        "funds": _funds(**funds),
        "governance": _governance(**governance),
        "incentives": _incentives(**incentives),
        "innovation": {"suggestions": 3, "innovations": 1, "best_practices": 0, "new_records": 0, "participants": 20},
    }


def _roster_row(person_key: str, level: str, key_trainee: bool = False, account: bool = True) -> dict:
    return {"person_key": person_key, "sex": None, "birth_date": None, "occupation": "车工", "skill_level": level,
            "cert_no": None, "cert_date": None, "is_frontline": True, "is_chief_technician": False,
            "is_key_trainee": key_trainee, "has_training_account": account}


def _training_row(person_key: str, start: dt.date, end: dt.date) -> dict:
    return {"person_key": person_key, "course_name": "数控技能提升", "training_type": "岗位技能提升培训",
            "start_date": start, "end_date": end, "hours": 40.0, "cost": 800.0, "provider": "市技师学院",
            "certified": False}


# Rosters of A (others file none): p_a1 高级工, p_a2 技师, p_a3 高级技师 all along;
# p_a4 高级工 joins in 2007Q4; p_a5 中级工 key trainee without a training account in 2007Q4.
ROSTER_A = [("p_a1", "高级工"), ("p_a2", "技师"), ("p_a3", "高级技师")]

# Trainings filed by A: p_a3 in 2006Q2; p_a2 ends 2007-03-10 (2007Q1); p_a4 ends 2007-11-15 and
# p_a1 ends on 31 December 2007 (both 2007Q4). A trainee nobody has on a roster, filed by B in 2007Q1.
# Year 2007 coverage of A (year-end roster = 2007Q4 v2): 3 of 4 trained (p_a3 untrained in 2007).
TRAININGS = {
    (A, Period(2006, 2)): [_training_row("p_a3", dt.date(2006, 5, 8), dt.date(2006, 5, 12))],
    (A, Period(2007, 1)): [_training_row("p_a2", dt.date(2007, 3, 5), dt.date(2007, 3, 10))],
    (A, Period(2007, 4)): [_training_row("p_a4", dt.date(2007, 11, 12), dt.date(2007, 11, 15)),
                           _training_row("p_a1", dt.date(2007, 12, 27), dt.date(2007, 12, 31))],
    (B, Period(2007, 1)): [_training_row("p_x9", dt.date(2007, 2, 1), dt.date(2007, 2, 3))],
}


def build_fixture_db(path: Path | str) -> None:
    """Create raw.* (and an empty-ish flags.expectation_flags) in a DuckDB file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        create_raw_tables(con)
        con.execute(EXPECTATION_FLAGS_DDL)
        _fill(con)
    finally:
        con.close()


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    cols = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"insert into {table} ({cols}) values ({marks})", list(row.values()))


def register(con: duckdb.DuckDBPyConnection, org_code: str, name: str, group: str, sector: str,
             active_from: str = "2006Q1") -> None:
    _insert(con, "raw.registry", {"org_code": org_code, "enterprise_name": name, "group_org_code": group,
                                  "industry_code": "36", "sector": sector, "active_from": active_from,
                                  "active_to": None})


def submit(con: duckdb.DuckDBPyConnection, org_code: str, p: Period, *, day: int = 10, outcome: str = "accepted",
           tag: str = "", sheets: dict | None = None, findings: list[dict] = (), sha_of: str | None = None,
           suffix: str = "") -> str:
    """One received version: raw.submissions, its findings and (if accepted) its sheet rows; returns its id."""
    sha = _sha(sha_of or f"{org_code}-{p}-{tag}")
    sid = f"{p}-{sha[:16]}{suffix}"
    arrived = _arrival(p, day)
    deadline = p.deadline()
    fatal = sum(1 for f in findings if f["is_fatal"])
    _insert(con, "raw.submissions", {
        "submission_id": sid, "period": str(p), "org_code": org_code,
        "file_name": f"{org_code[:8]}-{org_code[8]}_{p}{tag}.xlsx", "file_format": "xlsx", "sha256": sha,
        "size_bytes": 20480, "arrived_at": arrived, "deadline_at": deadline, "is_late": arrived > deadline,
        "outcome": outcome, "fatal_count": fatal,
        "error_count": sum(1 for f in findings if f["severity"] == "error"),
        "warning_count": sum(1 for f in findings if f["severity"] == "warning"),
        "info_count": sum(1 for f in findings if f["severity"] == "info"),
        "rows_in": 10, "rows_loaded": 10 if outcome == "accepted" else 0,
        "archive_path": f"archive/{sha[:2]}/{sha}.xlsx", "contract_version": 1,
    })
    for f in findings:
        _insert(con, "raw.findings", {"submission_id": sid, "period": str(p), "org_code": org_code,
                                      "observed_value": None, "expected": None, "person_key": None,
                                      "source_row": None, "column_name": None, **f})
    if outcome == "accepted":
        sheets = sheets or _enterprise_quarter(org_code, p)
        for table, key in (("profiles", "profile"), ("funds", "funds"), ("governance", "governance"),
                           ("incentives", "incentives"), ("innovation", "innovation")):
            _insert(con, f"raw.{table}", {"submission_id": sid, "source_row": 2, **sheets[key]})
        roster = []
        if org_code == A:
            roster = [_roster_row(k, lvl) for k, lvl in ROSTER_A]
            if p == Period(2007, 4):
                roster += [_roster_row("p_a4", "高级工"), _roster_row("p_a5", "中级工", True, False)]
        for i, r in enumerate(roster):
            _insert(con, "raw.roster", {"submission_id": sid, "source_row": i + 2, **r})
        for i, t in enumerate(TRAININGS.get((org_code, p), [])):
            _insert(con, "raw.training", {"submission_id": sid, "source_row": i + 2, **t})
    return sid


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    for code, name, group, sector in (
        (A, "企业A", A, "现代制造业"),
        (B, "企业B", A, "现代制造业"),
        (C, "企业C", C, "现代服务业"),
    ):
        register(con, code, name, group, sector)

    d02 = {"rule_id": "D02", "severity": "error", "is_fatal": True, "sheet": "基本情况",
           "column_name": "职工总数", "message_zh": "基本情况表缺少必填列“职工总数”"}
    for p in PERIODS:
        # --- A
        if p == Period(2007, 4):
            v1 = _enterprise_quarter(A, p)
            v1["profile"] = _profile(A, p, level3_senior=16, level2_technician=5, level1_senior_technician=3)
            submit(con, A, p, tag="", sheets=v1, findings=[{
                "rule_id": "D11", "severity": "error", "is_fatal": False, "sheet": "人才信息库", "source_row": 3,
                "column_name": "技能等级", "message_zh": "技能等级无效"}])
            # resubmission: 200 skilled, 22+5+3 = 30 high-skill → share 0.15
            v2 = _enterprise_quarter(A, p)
            v2["profile"] = _profile(A, p, level3_senior=22, level2_technician=5, level1_senior_technician=3)
            submit(con, A, p, day=12, tag="_更正", sheets=v2, findings=[{
                "rule_id": "D10", "severity": "warning", "is_fatal": False, "sheet": "人才信息库", "source_row": 2,
                "column_name": "出生日期", "person_key": "p_a1", "message_zh": "出生日期与身份证号不符"}])
        elif p == Period(2006, 2):
            submit(con, A, p, day=5)
            submit(con, A, p, day=6, sha_of=f"{A}-{p}-", suffix="-dup")  # same bytes again
        else:
            submit(con, A, p)
        # --- B
        if p == Period(2007, 3):
            submit(con, B, p, day=8, outcome="rejected", tag="_v1", findings=[d02])
            submit(con, B, p, day=20, tag="_v2")  # accepted, after the deadline (15th)
        else:
            submit(con, B, p)
        # --- C
        if p == Period(2006, 4):
            submit(con, C, p, outcome="rejected", findings=[d02])
        elif p == Period(2007, 2):
            pass  # never sent
        else:
            submit(con, C, p)

    _insert(con, "flags.expectation_flags", {
        "rule_id": "C03", "clause": "§四.2", "severity": "error", "org_code": C, "period": "2007Q4",
        "person_key": None, "observed_value": "0.01", "threshold": "0.015",
        "message_zh": "教育培训经费提取比例1.0%，低于1.5%", "source": "fund_tracking", "submission_id": None,
        "sheet": None, "source_row": None, "column_name": None,
        "expectation_type": "expect_column_values_to_be_between"})
