"""A small, hand-built published warehouse (schema ``marts``) with exactly the mart tables, columns
and types of the dbt model contracts (tests/mart_tables.py), for testing the exports without running dbt.

``build_marts_fixture(path)`` builds 6 registry enterprises in 2 groups over 2006Q1–2007Q4 with:
- MA62K026-0 (group 1 HQ) on time everywhere, a finding whose value is ``=HYPERLINK(...)``;
- 2007Q4: one late filer, one missing (never filed 2007Q4), one rejected (fatal D01),
  one resubmission (two versions, the second counts), one file from outside the registry.
``n_enterprises`` scales the registry for timing runs (1,000 enterprises per quarter).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import random
from pathlib import Path

import duckdb
import polars as pl
import yaml

from pipelines.lib.domain.codes import org_check_char
from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.reference import SEEDS_DIR
from tests.mart_tables import MART_COLUMNS

POLARS_TYPES = {"VARCHAR": pl.String, "STRING": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int64, "DOUBLE": pl.Float64,
                "BOOLEAN": pl.Boolean, "TIMESTAMP": pl.Datetime("us"), "DATE": pl.Date}

def _polars_type(duckdb_type: str) -> pl.DataType:
    """Money columns (DECIMAL) travel as floats; DuckDB rounds them to the column's scale on insert."""
    return pl.Float64 if duckdb_type.startswith("DECIMAL") else POLARS_TYPES[duckdb_type]


# The real marts' columns and types, from the dbt contracts (one owner: the yml beside the models).
SCHEMAS: dict[str, list[tuple[str, str]]] = MART_COLUMNS

BENCHMARK = {
    2005: (0.12, "北京市企业高级工及以上占技术工人12%（光明日报2005-05-04）", "published"),
    2006: (0.14, "假设值：由2005年12%按每年2个百分点线性外推（未找到公开年度数据）", "assumed"),
    2007: (0.16, "假设值：由2005年12%按每年2个百分点线性外推（未找到公开年度数据）", "assumed"),
    2008: (0.18, "假设值：由2005年12%按每年2个百分点线性外推（未找到公开年度数据）", "assumed"),
    2009: (0.20, "假设值：由2005年12%按每年2个百分点线性外推（未找到公开年度数据）", "assumed"),
    2010: (0.22, "假设值：由2005年12%按每年2个百分点线性外推；全国“十一五”目标为25%（中办发〔2006〕15号）",
           "assumed"),
}
RULE_CLAUSE = {"D01": "报送要求", "D05": "报送要求", "D09": "§三.1", "D12": "§三.1", "D15": "报送要求",
               "D16": "报送要求", "C01": "§三.1", "C02": "§三.1", "C03": "§四.2", "C04": "§四.2", "C05": "§二",
               "C07": "§三.1", "C13": "§三.2"}


def _status_labels(domain: str) -> dict[str, str]:
    """status_code -> label_zh of the ref_statuses seed (the one owner of the labels)."""
    with open(SEEDS_DIR / "ref_statuses.csv", encoding="utf-8", newline="") as fh:
        return {r["status_code"]: r["label_zh"] for r in csv.DictReader(fh) if r["domain"] == domain}


STATUS_ZH = _status_labels("trajectory")
FILING_ZH = _status_labels("filing")

INJECTION_VALUE = '=HYPERLINK("http://evil.example/x","点我")'
FIRST, LAST = Period(2006, 1), Period(2007, 4)


def make_code(n: int, prefix: str = "MA") -> str:
    body = f"{prefix}{n:06d}"[-8:] if n else "MA62K026"
    return body + org_check_char(body)


def _sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def build_marts_fixture(path: Path, n_enterprises: int = 6, seed: int = 8) -> Path:
    """Create (replace) a DuckDB file at ``path`` holding schema ``marts`` with fixture rows."""
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    periods = period_range(FIRST, LAST)
    last = str(LAST)

    # ---- registry -------------------------------------------------------------------------
    orgs = [make_code(i) for i in range(n_enterprises)]
    n_groups = max(2, n_enterprises // 50)
    groups = [orgs[g] for g in range(n_groups)]
    ents = []
    for i, code in enumerate(orgs):
        g = groups[i % n_groups]
        sector = ("现代制造业", "现代服务业", "其他")[i % 3]
        name = "北京第一机床厂" if i == 0 else f"北京市测试企业{i:04d}有限公司"
        ents.append(dict(org_code=code, enterprise_name=name, group_org_code=g,
                         group_name=f"集团{groups.index(g) + 1}", industry_code=f"{30 + i % 40}", sector=sector,
                         active_from=str(FIRST), active_to=None))
    by_code = {e["org_code"]: e for e in ents}
    missing_org, rejected_org, late_org, resub_org = orgs[3], orgs[4], orgs[2], orgs[1]
    outsider = make_code(999999, "MB")

    rows: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
    rows["dim_enterprises"] = ents

    # ---- submissions and filing ------------------------------------------------------------
    facts: dict[tuple[str, str], dict] = {}
    for p in periods:
        ps = str(p)
        deadline = p.deadline()
        for e in ents:
            code = e["org_code"]
            versions = []
            if ps == last and code == missing_org:
                pass
            elif ps == last and code == rejected_org:
                versions.append(("rejected", deadline - dt.timedelta(days=3), 1, f"{code[:8]}-{code[8]}_{ps}.xlsx"))
            elif ps == last and code == resub_org:
                versions.append(("accepted", deadline - dt.timedelta(days=9), 0, f"{code}_{ps}.xlsx"))
                versions.append(("accepted", deadline - dt.timedelta(days=2), 0, f"{code}_{ps}_更正.xlsx"))
            elif ps == last and code == late_org:
                versions.append(("accepted", deadline + dt.timedelta(days=4, hours=3), 0, f"{code}_{ps}.xlsx"))
            else:
                versions.append(("accepted", deadline - dt.timedelta(days=5, minutes=rng.randint(0, 5000)), 0,
                                 f"{code[:8]}-{code[8]}_{ps}.xlsx"))
            sids = []
            for vno, (outcome, arrived, fatal, fname) in enumerate(versions, start=1):
                sha = _sha(code, ps, vno)
                sids.append((f"{ps}-{sha[:16]}", outcome, arrived, fatal, fname, sha))
            accepted = [s for s in sids if s[1] == "accepted"]
            current = accepted[-1][0] if accepted else None
            for vno, (sid, outcome, arrived, fatal, fname, sha) in enumerate(sids, start=1):
                rows["submission_versions"].append(dict(
                    submission_id=sid, period=ps, org_code=code, file_name=fname, file_format="xlsx",
                    sha256=sha, size_bytes=20_000 + vno, arrived_at=arrived, deadline_at=deadline,
                    is_late=arrived > deadline, outcome=outcome, fatal_count=fatal, error_count=1 if fatal else 0,
                    warning_count=0, info_count=1 if len(sids) > 1 and vno == 1 else 0, rows_in=40,
                    rows_loaded=0 if outcome == "rejected" else 40, version_no=vno, is_current=sid == current,
                    is_latest=vno == len(sids), is_superseded=outcome == "accepted" and sid != current,
                    is_duplicate=False, superseded_by=current if outcome == "accepted" and sid != current else None,
                    current_submission_id=current))
            if not sids:
                status = "missing"
            elif current is None:
                status = "rejected"
            elif sids[-1][2] > deadline:
                status = "late"
            else:
                status = "on_time"
            reasons = "缺少必填工作表“人才信息库”" if status == "rejected" else (
                "截至报送截止日未收到报表" if status == "missing" else None)
            rows["filing_status"].append(dict(
                org_code=code, period=ps, enterprise_name=e["enterprise_name"], group_org_code=e["group_org_code"],
                sector=e["sector"], deadline_at=deadline, status_code=status, status=FILING_ZH[status],
                is_late=status == "late", is_missing=status == "missing", is_rejected=status == "rejected",
                versions_received=len(sids), first_arrived_at=sids[0][2] if sids else None,
                current_submission_id=current, reasons_zh=reasons))
            if current:
                facts[(code, ps)] = _facts(rng, e, p, current, orgs.index(code))
    # a file from an enterprise outside the registry
    sha = _sha(outsider, last)
    sid = f"{last}-{sha[:16]}"
    rows["submission_versions"].append(dict(
        submission_id=sid, period=last, org_code=outsider, file_name=f"{outsider}_{last}.xlsx", file_format="xlsx",
        sha256=sha, size_bytes=18_000, arrived_at=LAST.deadline() - dt.timedelta(days=1),
        deadline_at=LAST.deadline(), is_late=False, outcome="rejected", fatal_count=1, error_count=1,
        warning_count=0, info_count=0, rows_in=10, rows_loaded=0, version_no=1, is_current=False, is_latest=True,
        is_superseded=False, is_duplicate=False, superseded_by=None, current_submission_id=None))
    rows["filing_status"].append(dict(
        org_code=outsider, period=last, enterprise_name="名录外测试单位", group_org_code=None, sector=None,
        deadline_at=LAST.deadline(), status_code="unexpected", status=FILING_ZH["unexpected"], is_late=False,
        is_missing=False, is_rejected=True, versions_received=1, first_arrived_at=LAST.deadline() - dt.timedelta(days=1),
        current_submission_id=None, reasons_zh="组织机构代码不在名录中"))
    rows["enterprise_quarter_facts"] = list(facts.values())

    # ---- tracking tables ---------------------------------------------------------------------
    _tracking(rows, ents, facts, periods)

    # ---- flags ---------------------------------------------------------------------------------
    flags = rows["compliance_flags"]

    def flag(rule, sev, code, ps, msg, observed=None, threshold=None, sheet=None, src_row=None, col=None,
             person=None, source="intake", sid=None):
        fid = _sha("flag", rule, code, ps, person, sheet, src_row, col, len(flags))[:16]
        flags.append(dict(flag_id=fid, rule_id=rule, clause=RULE_CLAUSE.get(rule, ""), severity=sev, org_code=code,
                          group_org_code=by_code.get(code, {}).get("group_org_code"), period=ps, person_key=person,
                          observed_value=observed, threshold=threshold, message_zh=msg, source=source,
                          submission_id=sid, sheet=sheet, source_row=src_row, column_name=col))

    for (code, ps), f in sorted(facts.items()):
        i = orgs.index(code)
        sid = f["submission_id"]
        if code == orgs[0] and ps == last:
            flag("D05", "error", code, ps, "“职工总数”应为非负整数，请改为数字后重新报送", INJECTION_VALUE, "非负整数",
                 "基本情况", 2, "职工总数", sid=sid)
            flag("D09", "error", code, ps, "身份证号校验位与前17位不符：按所填前17位计算，最后一位应为X；请对照原件核对整个号码，前面任何一位抄错都会如此，不要只改最后一位", "-1", "18位有效身份证号", "人才信息库", 7,
                 "身份证号", person="p_" + "0" * 20, sid=sid)
        if i % 2 == 1:
            flag("C05", "warning", code, ps, "高技能人才占比低于达到北京市平均水平之上的进度线",
                 f"{f['high_skill_share']:.3f}", "进度线", source="high_skill_ratio", sid=sid)
        if i % 3 == 2:
            for _ in range(2):
                flag("D12", "warning", code, ps, "人才信息库“技师”人数与基本情况不一致", "12", "15（允许偏差5%）",
                     "人才信息库", None, "技能等级", sid=sid, source="data_quality")
        if ps.endswith("Q4") and i % 2 == 0:
            flag("C03", "error", code, ps, "本年度教育培训经费提取额低于职工工资总额的1.5%", "1.2%", "1.5%",
                 source="funds", sid=sid)
            flag("C01", "error", code, ps, "该高技能人才本年度未参加培训", "0", "1", person=f"p_{_sha(code)[:20]}",
                 source="training", sid=sid)
    flag("D15", "error", missing_org, last, "截至报送截止日未收到本期报表，请尽快报送", None, "2008-01-15")
    rej = [v for v in rows["submission_versions"] if v["org_code"] == rejected_org and v["period"] == last][0]
    flag("D01", "error", rejected_org, last, "缺少必填工作表“人才信息库”，请补齐后重新报送", None, "必填工作表",
         "人才信息库", sid=rej["submission_id"])
    late = facts[(late_org, last)]
    flag("D15", "warning", late_org, last, "逾期报送（截止日后4天收到）", "2008-01-19", "2008-01-15",
         sid=late["submission_id"])
    first = [v for v in rows["submission_versions"] if v["org_code"] == resub_org and v["period"] == last][0]
    flag("D16", "info", resub_org, last, "该版本已被更新版本替代，以最新受理版本为准", first["file_name"], None,
         sid=first["submission_id"])

    summary: dict[tuple, dict] = {}
    for fl in flags:
        k = (fl["rule_id"], fl["group_org_code"], fl["period"])
        s = summary.setdefault(k, dict(rule_id=k[0], group_org_code=k[1], period=k[2], clause=fl["clause"],
                                       severity=fl["severity"], flag_count=0, orgs=set()))
        s["flag_count"] += 1
        s["orgs"].add(fl["org_code"])
    rows["compliance_flags_summary"] = [
        {**{k: v for k, v in s.items() if k != "orgs"}, "enterprise_count": len(s["orgs"])} for s in summary.values()]

    _write(path, rows)
    load_reference(path)
    return path


REPO = Path(__file__).resolve().parents[1]


def load_reference(path: Path) -> None:
    """What dbt gives a real warehouse and the exports read: the seeds in schema ``reference`` (typed as
    _seeds.yml says) and the yml descriptions of the marts as column comments (dbt persist_docs)."""
    seeds_yml = yaml.safe_load((REPO / "dbt_project/seeds/_seeds.yml").read_text(encoding="utf-8"))
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists reference")
        for seed in seeds_yml["seeds"]:
            types = seed.get("config", {}).get("column_types", {})
            csv = REPO / "dbt_project/seeds" / f"{seed['name']}.csv"
            con.execute(f"create or replace table reference.{seed['name']} as select * from read_csv(?, header = true, "
                        f"columns = {types!r}, quote = '\"')", [str(csv)])
            for col in seed.get("columns", []):
                if col.get("description"):
                    text = col["description"].replace("'", "''")
                    con.execute(f'comment on column reference.{seed["name"]}."{col["name"]}" is \'{text}\'')
        marts = {r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
        for yml in sorted((REPO / "dbt_project/models/marts").rglob("*.yml")):
            for model in yaml.safe_load(yml.read_text(encoding="utf-8")).get("models", []):
                if model["name"] not in marts:
                    continue
                cols = {r[0] for r in con.execute("select column_name from duckdb_columns() where schema_name = 'marts' "
                                                  "and table_name = ?", [model["name"]]).fetchall()}
                for col in model.get("columns", []):
                    if col["name"] in cols and col.get("description"):
                        text = col["description"].replace("'", "''")
                        con.execute(f'comment on column marts.{model["name"]}."{col["name"]}" is \'{text}\'')
    finally:
        con.close()


def _facts(rng: random.Random, e: dict, p: Period, sid: str, i: int) -> dict:
    steps = p.index - FIRST.index
    skilled = 200 + (i * 37) % 400
    base_share = 0.10 + (i % 5) * 0.03
    share = base_share + steps * (0.002 + (i % 3) * 0.003)
    hs = round(skilled * share)
    l1 = max(1, hs // 10)
    l2 = max(1, hs // 4)
    l3 = hs - l1 - l2
    l4 = (skilled - hs) // 2
    l5 = skilled - hs - l4
    payroll = round(500 + i * 13.37 + steps * 5, 2)
    extracted = round(payroll * (0.012 if i % 2 == 0 else 0.018), 2)
    spent = round(extracted * 0.9, 2)
    f = dict(submission_id=sid, org_code=e["org_code"], group_org_code=e["group_org_code"],
             enterprise_name=e["enterprise_name"], sector=e["sector"], industry_code=e["industry_code"],
             period=str(p), year=p.year, quarter=p.quarter,
             employees_total=skilled + 100, frontline_workers=skilled, skilled_workers=skilled,
             level5_junior=l5, level4_intermediate=l4, level3_senior=l3, level2_technician=l2,
             level1_senior_technician=l1, chief_technicians=1, key_trainees=5, training_accounts=4,
             preparer="张三", phone="010-66666666", submitted_on=p.end,
             payroll=payroll, fund_extracted=extracted, fund_spent=spent,
             fund_spent_frontline=round(spent * (0.55 if i % 4 == 0 else 0.7), 2),
             fund_spent_high_skill=round(spent * 0.3, 2), fund_school_enterprise=round(spent * 0.1, 2),
             innovation_rewards=1.5,
             has_leading_group=True, has_training_plan=i % 5 != 4, has_talent_database=True,
             has_chief_technician_system=True, has_technician_study_system=i % 3 != 1,
             has_reserve_echelon_system=True, in_manager_assessment=i % 2 == 0,
             congress_report_date=p.end if p.quarter == 2 else None,
             avg_income_high_skill=60000.0 + i * 100, avg_income_general_skill=40000.0,
             avg_income_professional=62000.0, model_workers_total=4, model_workers_high_skill=1 + i % 2,
             cadres_from_high_skill=1, party_members_from_high_skill=2, deputies_from_high_skill=0,
             level_sum=skilled, technician_sum=l1 + l2, high_skill_total=hs, high_skill_share=hs / skilled,
             fund_ratio_quarter=extracted / payroll, payroll_per_employee=payroll / (skilled + 100),
             payroll_history_median=None, payroll_change_factor=None, roster_level3_count=l3, roster_level2_count=l2,
             roster_level1_count=l1, roster_count_gap_ratio=0.0, key_trainees_without_account=1)
    return f


def _status(share, target, traj, lag=0.9):
    if share >= target:
        return "achieved"
    if share >= traj:
        return "on_track"
    if share >= lag * traj:
        return "lagging"
    return "seriously_lagging"


def _tracking(rows: dict, ents: list[dict], facts: dict, periods: list[Period]) -> None:
    target_year, target = 2010, BENCHMARK[2010][0]
    entities: list[tuple[str, str, str, str, str | None, str | None, str]] = []
    for e in ents:
        entities.append(("enterprise", "企业", e["org_code"], e["enterprise_name"], e["group_org_code"], e["sector"],
                         "org_code"))
    for g in sorted({e["group_org_code"] for e in ents}):
        entities.append(("group", "集团", g, f"集团{g[:4]}", None, None, "group_org_code"))
    for s in ("现代制造业", "现代服务业", "其他"):
        entities.append(("sector", "重点领域", s, s, None, None, "sector"))
    entities.append(("system", "全系统", "ALL", "全系统", None, None, "all"))

    # facts indexed by period, then by (key column, value): one dict lookup per entity and period
    index: dict[str, dict[tuple[str, str], list[dict]]] = {}
    for (_, ps), f in sorted(facts.items()):
        idx = index.setdefault(ps, {})
        for key in ("org_code", "group_org_code", "sector"):
            idx.setdefault((key, f[key]), []).append(f)
        idx.setdefault(("all", "ALL"), []).append(f)
    baseline: dict[str, tuple[str, float]] = {}
    ytd: dict[tuple[str, int], list[dict]] = {}
    for p in periods:
        ps = str(p)
        bavg, bsrc, bstat = BENCHMARK[p.year]
        types = ["quarter"] + (["year"] if p.quarter == 4 else [])
        quarters = [str(q) for q in period_range(Period(p.year, 1), p)]
        for grain, grain_zh, code, name, grp, sector, key in entities:
            fs = index.get(ps, {}).get((key, code), [])
            ytd_fs = [f for q in quarters for f in index.get(q, {}).get((key, code), [])]
            if not fs:
                continue
            skilled = sum(f["skilled_workers"] for f in fs)
            hs = sum(f["high_skill_total"] for f in fs)
            share = hs / skilled if skilled else None
            if p.year == 2006 and code not in baseline:
                baseline[code] = (ps, share)
            bp, bshare = baseline.get(code, (ps, share))
            elapsed = (p.index - Period.parse(bp).index) / 4
            remaining = (Period(target_year, 4).index - p.index) / 4
            traj = bshare + (target - bshare) * elapsed / (elapsed + remaining)
            pace = (share - bshare) / elapsed if elapsed else None
            need = (target - share) / remaining if remaining > 0 else None
            proj = share + pace * remaining if pace is not None else share
            sc = _status(share, target, traj)
            payroll = sum(f["payroll"] for f in ytd_fs)
            ext = sum(f["fund_extracted"] for f in ytd_fs)
            spent = sum(f["fund_spent"] for f in ytd_fs)
            front = sum(f["fund_spent_frontline"] for f in ytd_fs)
            for pt in types:
                g = dict(grain=grain, grain_zh=grain_zh, entity_code=code, entity_name=name, period_type=pt,
                         period=ps, year=p.year)
                rows["high_skill_share_tracking"].append(dict(
                    **g, group_org_code=grp, sector=sector, skilled_workers=skilled, high_skill_total=hs,
                    high_skill_share=share, beijing_average=bavg, benchmark_status=bstat, benchmark_source=bsrc,
                    gap_to_beijing=share - bavg, baseline_period=bp, baseline_share=bshare, plan_name="十一五",
                    target_year=target_year,
                    target_share=target, target_benchmark_status=BENCHMARK[2010][2], years_elapsed=elapsed,
                    years_remaining=remaining, trajectory_share=traj, current_pace_per_year=pace,
                    required_gain_per_year=need, projected_target_year_share=proj, status_code=sc,
                    status=STATUS_ZH[sc]))
                for lvl, key in (("全部", None), ("高级工", "level3_senior"), ("技师", "level2_technician"),
                                 ("高级技师", "level1_senior_technician")):
                    head = sum(f[key] if key else f["high_skill_total"] for f in fs)
                    trained = round(head * min(1.0, 0.25 * p.quarter + 0.1 * (int(_sha(code)[:2], 16) % 2)))
                    if grain == "enterprise" and code == ents[0]["org_code"]:
                        trained = head  # the model enterprise trains everyone
                    rows["training_coverage_tracking"].append(dict(
                        **g, skill_level=lvl, headcount=head, trained=trained,
                        coverage=trained / head if head else None, coverage_min=1.0))
                rows["fund_tracking"].append(dict(
                    **g, quarters_reported=len({f["period"] for f in ytd_fs}), payroll=payroll, fund_extracted=ext,
                    fund_spent=spent, fund_spent_frontline=front,
                    fund_spent_high_skill=sum(f["fund_spent_high_skill"] for f in ytd_fs),
                    fund_school_enterprise=sum(f["fund_school_enterprise"] for f in ytd_fs),
                    extraction_ratio=ext / payroll if payroll else None, fund_ratio_min=0.015,
                    frontline_share=front / spent if spent else None, frontline_share_min=0.60,
                    quarters_excluded_unit_error=0))
                if grain == "enterprise":
                    f = fs[0]
                    c06 = f["has_leading_group"] and f["has_training_plan"] and f["has_talent_database"]
                    congress = sum(1 for x in ytd_fs if x["congress_report_date"] is not None)
                    rows["governance_matrix"].append(dict(
                        org_code=code, period_type=pt, period=ps, group_org_code=grp, enterprise_name=name,
                        year=p.year, has_leading_group=f["has_leading_group"], has_training_plan=f["has_training_plan"],
                        has_talent_database=f["has_talent_database"], c06_ok=c06, congress_reports_in_year=congress,
                        c07_ok=congress > 0, has_chief_technician_system=True, technician_sum=f["technician_sum"],
                        chief_technicians=f["chief_technicians"], c08_ok=True,
                        key_trainees_without_account=f["key_trainees_without_account"],
                        c12_ok=f["key_trainees_without_account"] == 0,
                        has_technician_study_system=f["has_technician_study_system"],
                        has_reserve_echelon_system=True, c13_ok=f["has_technician_study_system"],
                        in_manager_assessment=f["in_manager_assessment"]))
                    if pt == "year":
                        ytd.setdefault((code, p.year), ytd_fs)
    for (code, year), fs in sorted(ytd.items()):
        f = fs[-1]
        gap = f["avg_income_high_skill"] - f["avg_income_general_skill"]
        prev = gap - 500 if year > 2006 else None
        mt = sum(x["model_workers_total"] for x in fs)
        mh = sum(x["model_workers_high_skill"] for x in fs)
        wf = f["high_skill_total"] / f["employees_total"]
        ratio = f["avg_income_high_skill"] / f["avg_income_professional"]
        rows["incentives_tracking"].append(dict(
            org_code=code, year=year, group_org_code=f["group_org_code"], period=f"{year}Q4",
            avg_income_high_skill=f["avg_income_high_skill"], avg_income_general_skill=f["avg_income_general_skill"],
            avg_income_professional=f["avg_income_professional"], equal_treatment_ratio=ratio,
            equal_treatment_ratio_min=1.0, c09_ok=ratio >= 1.0, income_gap=gap, income_gap_prev_year=prev,
            income_gap_change=gap - prev if prev is not None else None, c10_ok=True, model_workers_total=mt,
            model_workers_high_skill=mh, model_worker_high_skill_share=mh / mt if mt else None,
            workforce_high_skill_share=wf, c11_ok=(mh / mt if mt else 1) >= wf,
            cadres_from_high_skill=sum(x["cadres_from_high_skill"] for x in fs),
            party_members_from_high_skill=sum(x["party_members_from_high_skill"] for x in fs),
            deputies_from_high_skill=0))


def _write(path: Path, rows: dict[str, list[dict]]) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        for table, cols in SCHEMAS.items():
            body = ", ".join(f'"{c}" {t}' for c, t in cols)
            con.execute(f"create table marts.{table} ({body})")
            data = rows.get(table) or []
            if data:
                frame = pl.DataFrame([[r.get(c) for c, _ in cols] for r in data],
                                     schema={c: _polars_type(t) for c, t in cols}, orient="row")
                con.register("frame", frame)
                con.execute(f"insert into marts.{table} select * from frame")
                con.unregister("frame")
    finally:
        con.close()


def with_revisions(db: Path, work: Path, period: str) -> Path:
    """``db`` with a releases ledger (kept in the working database ``work``, as a publication keeps it) of two
    releases of ``period`` and the quarter before it: the second, a forced re-check, moves every headline figure
    of both (revisions at a delay of 0 and 1 quarter). Returns ``db``."""
    from pipelines.lib.exports.headlines import read_headlines
    from pipelines.lib.exports.publish import copy_schemas
    from pipelines.lib.exports.releases import SCHEMA, record_release

    quarters = [str(Period.parse(period).previous()), period]
    with duckdb.connect(str(db), read_only=True) as con:
        published = read_headlines(con, quarters)
    record_release(work, quarters, "run-1", work.parent, False, published)
    moved = [(p, f, label, 1.0 if v is None else v + 0.01) for p, f, label, v in published]
    record_release(work, quarters, "run-2", work.parent, True, moved)
    with duckdb.connect(str(db)) as con:
        copy_schemas(con, work, (SCHEMA,))
    return db
