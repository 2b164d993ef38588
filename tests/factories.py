"""Small hand-built submissions for the intake tests: clean by construction, then broken on purpose."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pipelines.lib.domain.codes import format_org_code, id_check_char, org_check_char
from pipelines.lib.domain.contract import REGISTRY_COLUMNS
from pipelines.lib.domain.periods import Period
from pipelines.lib.forms.submission_writer import write_csv_dir, write_xlsx


def org(body: str) -> str:
    """A valid 9-character 组织机构代码 from an 8-character body."""
    return body + org_check_char(body)


def person_id(region_birth_seq: str) -> str:
    """A valid 18-digit 身份证号 from its first 17 digits."""
    return region_birth_seq + id_check_char(region_birth_seq)


GROUP = org("M000100Y")
ENTERPRISE = org("MA62K026")
OTHER = org("MA0000A1")
LATE = org("MA0000L8")  # joins in 2008Q3 (write_late_joiner_inbox)
# sequence digit (17th) odd = 男, even = 女
ZHANG = person_id("11010519700101001")  # 男, 高级工
LI = person_id("11010519750202002")  # 女, 技师, 首席技师
WANG = person_id("11010519800303003")  # 男, 中级工 key trainee


def registry_csv(path: Path, codes: list[tuple[str, str]] | None = None, active_from: str = "2006Q1") -> None:
    rows = codes or [(GROUP, "北京测试集团"), (ENTERPRISE, "北京测试机械厂"), (OTHER, "北京测试服务公司")]
    lines = [",".join(c.header for c in REGISTRY_COLUMNS)]
    for code, name in rows:
        lines.append(f"{format_org_code(code)},{name},{format_org_code(GROUP)},36,现代制造业,{active_from},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def new_inbox(root: Path, write_registry: Callable[[Path], None] = registry_csv) -> Path:
    """An empty inbox folder under ``root`` holding only its registry."""
    inbox = root / "inbox"
    inbox.mkdir()
    write_registry(inbox / "registry.csv")
    return inbox


def clean_submission(code: str = ENTERPRISE, period: str = "2008Q2") -> dict[str, list[dict]]:
    year, q = int(period[:4]), int(period[-1])
    start = dt.date(year, 3 * q - 2, 1)
    return copy.deepcopy({
        "基本情况": [dict(
            org_code=format_org_code(code), enterprise_name="北京测试机械厂", period=period,
            group_org_code=format_org_code(GROUP), industry_code="36", sector="现代制造业",
            employees_total=1000, frontline_workers=600, skilled_workers=800, level5_junior=400,
            level4_intermediate=300, level3_senior=1, level2_technician=1, level1_senior_technician=0,
            chief_technicians=1, key_trainees=2, training_accounts=2, preparer="赵会计", phone="010-12345678",
            submitted_on=start + dt.timedelta(days=100),
        )],
        "经费情况": [dict(payroll=1000.0, fund_extracted=20.0, fund_spent=15.0, fund_spent_frontline=10.0,
                      fund_spent_high_skill=3.0, fund_school_enterprise=1.0, innovation_rewards=0.5)],
        "制度建设": [dict(has_leading_group=True, has_training_plan=True, has_talent_database=True,
                      has_chief_technician_system=True, has_technician_study_system=True,
                      has_reserve_echelon_system=True, in_manager_assessment=True,
                      congress_report_date=start + dt.timedelta(days=30))],
        "激励情况": [dict(avg_income_high_skill=60000.0, avg_income_general_skill=40000.0,
                      avg_income_professional=55000.0, model_workers_total=2, model_workers_high_skill=1,
                      cadres_from_high_skill=0, party_members_from_high_skill=1, deputies_from_high_skill=0)],
        "岗位创新": [dict(suggestions=10, innovations=2, best_practices=1, new_records=0, participants=50)],
        "人才信息库": [
            dict(id_number=ZHANG, name="张三", sex="男", birth_date=dt.date(1970, 1, 1), occupation="车工",
                 skill_level="高级工", cert_no="A001", cert_date=dt.date(2000, 1, 1), is_frontline=True,
                 is_chief_technician=False, is_key_trainee=True, has_training_account=True),
            dict(id_number=LI, name="李四", sex="女", birth_date=dt.date(1975, 2, 2), occupation="钳工",
                 skill_level="技师", cert_no="A002", cert_date=dt.date(2005, 6, 1), is_frontline=True,
                 is_chief_technician=True, is_key_trainee=False, has_training_account=False),
            dict(id_number=WANG, name="王五", sex="男", birth_date=dt.date(1980, 3, 3), occupation="焊工",
                 skill_level="中级工", cert_no="A003", cert_date=dt.date(2006, 1, 1), is_frontline=True,
                 is_chief_technician=False, is_key_trainee=True, has_training_account=True),
        ],
        "培训记录": [
            dict(id_number=ZHANG, course_name="数控车削提高班", training_type="岗位技能提升培训",
                 start_date=start + dt.timedelta(days=5), end_date=start + dt.timedelta(days=9), hours=40.0,
                 cost=1200.0, provider="北京市职业技能培训中心", certified=False),
            dict(id_number=LI, course_name="技师研修班", training_type="技师研修",
                 start_date=start + dt.timedelta(days=20), end_date=start + dt.timedelta(days=24), hours=32.0,
                 cost=2000.0, provider="北京市职业技能培训中心", certified=True),
        ],
    })


def write_submission(inbox: Path, sub: dict, period: str = "2008Q2", name: str | None = None,
                     fmt: str = "xlsx", encoding: str = "utf-8") -> Path:
    code = sub["基本情况"][0]["org_code"] if sub.get("基本情况") else "UNKNOWN"
    folder = inbox / period
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        path = folder / (name or f"{code}_{period}.xlsx")
        write_xlsx(path, sub)
    else:
        path = folder / (name or f"{code}_{period}")
        write_csv_dir(path, sub, encoding=encoding)
    return path


def write_arrivals(inbox: Path, period: str, arrivals: dict[str, str]) -> None:
    lines = ["文件名,收到时间", *(f"{name},{when}" for name, when in arrivals.items())]
    (inbox / period / "收件登记.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _late_registry(path: Path) -> None:
    lines = [",".join(c.header for c in REGISTRY_COLUMNS)]
    for code, name, active_from in ((GROUP, "北京测试集团", "2008Q2"), (ENTERPRISE, "北京测试机械厂", "2008Q2"),
                                    (LATE, "北京新并入制造公司", "2008Q3")):
        lines.append(f"{format_org_code(code)},{name},{format_org_code(GROUP)},36,现代制造业,{active_from},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _levels(code: str, period: str, name: str, levels: tuple[int, int, int, int, int], skilled: int) -> dict:
    sub = clean_submission(code, period)
    l5, l4, l3, l2, l1 = levels
    sub["基本情况"][0].update(
        enterprise_name=name, employees_total=skilled + 200, frontline_workers=skilled, skilled_workers=skilled,
        level5_junior=l5, level4_intermediate=l4, level3_senior=l3, level2_technician=l2,
        level1_senior_technician=l1)
    return sub


def write_late_joiner_inbox(inbox: Path, periods: tuple[str, ...]) -> None:
    """The group and one member from 2008Q2, both at 22.5% (above the 2010 target of 22%); a large member
    joining in 2008Q3 at 0.5% (40 of 8,000: far below the Beijing average of 18%), filing every quarter after;
    every file on time."""
    inbox.mkdir(parents=True, exist_ok=True)
    _late_registry(inbox / "registry.csv")
    for period in periods:
        files = [
            write_submission(inbox, _levels(ENTERPRISE, period, "北京测试机械厂", (320, 300, 150, 20, 10), 800),
                             period=period),
            write_submission(inbox, _levels(GROUP, period, "北京测试集团", (320, 300, 150, 20, 10), 800),
                             period=period),
        ]
        if period >= "2008Q3":
            files.append(write_submission(
                inbox, _levels(LATE, period, "北京新并入制造公司", (4000, 3960, 40, 0, 0), 8000), period=period))
        on_time = Period.parse(period).end + dt.timedelta(days=10)
        write_arrivals(inbox, period, {f.name: f"{on_time} 09:00:00" for f in files})
