"""Compliance boundaries through the whole graph, from hand-built workbooks to marts.compliance_flags.

Enterprise A sits exactly on every line (1.5% extraction, 60% front-line share, a person trained on
31 December, a person who joined in Q4 and was trained in Q4): nothing is flagged. Enterprise B is just
below (1.49%, 59.9%), skips 2008Q3 (the year is judged on the three quarters it filed), has a
high-skill person never trained, and has no 技师 (so it needs no 首席技师).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.periods import Period
from tests.conftest import run_demo
from tests.factories import ENTERPRISE as A
from tests.factories import (
    LI,
    ZHANG,
    clean_submission,
    person_id,
    registry_csv,
    write_arrivals,
    write_submission,
)
from tests.factories import OTHER as B

# Each test here runs the whole quarterly graph (intake, dbt, GX, exports): the full tier, not the quick loop.
pytestmark = pytest.mark.slow

YEAR = 2008
JOINED_Q4 = person_id("11010819850505007")
B_NEVER = person_id("11010219700707009")
B_TRAINED = person_id("11010219720808008")


def _quarter_start(q: int) -> dt.date:
    return dt.date(YEAR, 3 * q - 2, 1)


def _training(id_number: str, end: dt.date) -> dict:
    return dict(id_number=id_number, course_name="岗位技能提升", training_type="岗位技能提升培训",
                start_date=end - dt.timedelta(days=2), end_date=end, hours=24.0, cost=800.0,
                provider="北京市职业技能培训中心", certified=False)


def _person(id_number: str, level: str, sex: str, birth: dt.date, chief: bool = False) -> dict:
    return dict(id_number=id_number, name="某某", sex=sex, birth_date=birth, occupation="钳工", skill_level=level,
                cert_no="C1", cert_date=dt.date(2005, 1, 1), is_frontline=True, is_chief_technician=chief,
                is_key_trainee=False, has_training_account=False)


def _enterprise_a(q: int) -> dict:
    sub = clean_submission(code=A, period=f"{YEAR}Q{q}")
    # C05 tracks every enterprise from its first quarter: 2 of 8 skilled workers (25%) is above the 2010
    # target, so A sits above that line too (its roster holds the 2 high-skill persons of the profile)
    sub["基本情况"][0].update(skilled_workers=8, level5_junior=3 if q < 4 else 2, level4_intermediate=3)
    sub["经费情况"][0].update(payroll=1000.0, fund_extracted=15.0, fund_spent=10.0, fund_spent_frontline=6.0,
                           fund_spent_high_skill=3.0, fund_school_enterprise=1.0)
    training = [_training(LI, _quarter_start(q) + dt.timedelta(days=20))] if q == 1 else []
    if q == 4:
        sub["人才信息库"].append(_person(JOINED_Q4, "高级工", "男", dt.date(1985, 5, 5)))
        sub["基本情况"][0]["level3_senior"] = 2
        training += [_training(ZHANG, dt.date(YEAR, 12, 31)), _training(JOINED_Q4, dt.date(YEAR, 11, 20))]
    sub["培训记录"] = training
    return sub


def _enterprise_b(q: int) -> dict:
    sub = clean_submission(code=B, period=f"{YEAR}Q{q}")
    sub["基本情况"][0].update(enterprise_name="北京测试服务公司", level3_senior=2, level2_technician=0,
                           level1_senior_technician=0, chief_technicians=0, key_trainees=0, training_accounts=0)
    sub["经费情况"][0].update(payroll=1000.0, fund_extracted=14.9, fund_spent=10.0, fund_spent_frontline=5.99,
                           fund_spent_high_skill=3.0, fund_school_enterprise=1.0)
    sub["人才信息库"] = [_person(B_NEVER, "高级工", "女", dt.date(1970, 7, 7)),
                        _person(B_TRAINED, "高级工", "女", dt.date(1972, 8, 8))]
    sub["培训记录"] = [_training(B_TRAINED, _quarter_start(q) + dt.timedelta(days=30))] if q == 2 else []
    return sub


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("boundaries")
    inbox = root / "inbox"
    inbox.mkdir()
    registry_csv(inbox / "registry.csv", [(A, "北京测试机械厂"), (B, "北京测试服务公司")], active_from="2008Q1")
    for q in range(1, 5):
        period = f"{YEAR}Q{q}"
        files = [write_submission(inbox, _enterprise_a(q), period=period)]
        if q != 3:
            files.append(write_submission(inbox, _enterprise_b(q), period=period))
        on_time = Period.parse(period).end + dt.timedelta(days=10)
        write_arrivals(inbox, period, {f.name: f"{on_time} 09:00:00" for f in files})
    return run_demo(root, inbox).warehouse


def _flags(warehouse: Path, org: str) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute("select rule_id from marts.compliance_flags where org_code = ?",
                                          [org]).fetchall()}


def test_exactly_on_every_line_is_not_flagged(warehouse: Path) -> None:
    assert _flags(warehouse, A) == set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ratio, share, quarters = con.execute(
            "select extraction_ratio, frontline_share, quarters_reported from marts.fund_tracking"
            " where grain = 'enterprise' and entity_code = ? and period_type = 'year'", [A]).fetchone()
    # person-level marts stay in the working database beside the run's marts folder (never published)
    with duckdb.connect(str(warehouse.parents[1] / "work" / "warehouse.duckdb"), read_only=True) as con:
        trained = con.execute(
            "select trainings_in_year, last_training_end_date from marts.training_person_years"
            " where org_code = ? and year = ? order by last_training_end_date", [A, YEAR]).fetchall()
    assert (ratio, share, quarters) == (pytest.approx(0.015, abs=1e-15), pytest.approx(0.6, abs=1e-15), 4)
    # 技师 trained in Q1, the newcomer in Q4, the 高级工 on 31 December: all three count for the year
    assert [(n, d.isoformat()) for n, d in trained] == [(1, "2008-01-21"), (1, "2008-11-20"), (1, "2008-12-31")]


def test_just_below_the_line_with_a_missing_quarter_is_flagged(warehouse: Path) -> None:
    flags = _flags(warehouse, B)
    assert {"C01", "C02", "C03", "C04", "D15"} <= flags
    assert "C08" not in flags  # no 技师, so no 首席技师 is needed
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ratio, share, quarters, caveat = con.execute(
            "select extraction_ratio, frontline_share, quarters_reported, verdict_caveat from marts.fund_tracking"
            " where grain = 'enterprise' and entity_code = ? and period_type = 'year'", [B]).fetchone()
        yearly = con.execute(
            "select g.quarters_reported, g.verdict_caveat, i.quarters_reported, i.verdict_caveat"
            " from marts.governance_matrix as g join marts.incentives_tracking as i using (org_code, year)"
            " where org_code = ? and g.period_type = 'year'", [B]).fetchall()
        c01 = con.execute("select period, severity, clause, sheet, source_row from marts.compliance_flags"
                          " where org_code = ? and rule_id = 'C01'", [B]).fetchall()
        d15 = con.execute("select period from marts.compliance_flags where org_code = ? and rule_id = 'D15'",
                          [B]).fetchall()
    assert quarters == 3 and ratio == pytest.approx(44.7 / 3000) and share == pytest.approx(17.97 / 30)
    assert caveat == "仅依据3个季度（应有4个）"  # the yearly C03/C04 verdicts say what they rest on
    # so do C07 (reports to the congress counted per quarter) and C11 (model workers summed over the quarters)
    assert yearly == [(3, caveat, 3, caveat)]
    assert c01 == [("2008Q4", "error", "§三.1", "人才信息库", 2)]  # the never-trained person, row 2 of the Q4 roster
    assert d15 == [("2008Q3",)]
