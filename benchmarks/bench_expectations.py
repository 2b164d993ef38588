"""Benchmark the GX suites on 1,000 enterprises' worth of synthetic mart-shaped rows.

    .venv/bin/python -m benchmarks.bench_expectations [--enterprises 1000] [--persons 100] [--docs]

Builds a temp DuckDB with every mart the suites read, typed by the dbt contracts (~100 persons per
enterprise in training_person_years, ~10% of rows failing each rule, verdicts as dbt states them), runs ``run_expectations`` for the Q4
partition (quarter rows + year rows) and prints GX import seconds, per-suite seconds and the total.
Target: ≤ 15 s total on the 2-core dev machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from tests.mart_tables import MART_COLUMNS, create_marts  # noqa: E402

YEAR = 2008
QUARTERS = [f"{YEAR}Q{q}" for q in range(1, 5)]


def _insert(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> None:
    """Insert a SELECT whose named columns are a subset of the mart's; the rest are NULL."""
    con.execute(f"create or replace temp table _t as {select_sql}")
    have = {r[0] for r in con.execute("describe _t").fetchall()}
    cols = [c for c, _ in MART_COLUMNS[table]]
    exprs = ", ".join(f'"{c}"' if c in have else "null" for c in cols)
    con.execute(f"insert into marts.{table} select {exprs} from _t")


def build(db: Path, n_ent: int, n_persons: int) -> dict[str, int]:
    with duckdb.connect(str(db)) as con:
        create_marts(con)
        con.execute(f"create temp table ent as select i, printf('E%08d', i) as org from range({n_ent}) t(i)")
        con.execute(f"create temp table q as select unnest({QUARTERS}) as period")
        _insert(
            con,
            "dim_enterprises",
            "select org as org_code, 'G0000000' || (i % 10) as group_org_code from ent",
        )
        _insert(
            con,
            "enterprise_quarter_facts",
            f"""
            select org as org_code, period, {YEAR} as year, period || '-' || org as submission_id,
                   1000 as employees_total, 800 as skilled_workers, 800 - (i % 10 = 1)::int * (-5) as level_sum,
                   600 as frontline_workers, 50 as technician_sum, 5 + (i % 10 = 2)::int * 100 as chief_technicians,
                   100.0 as fund_spent, 60.0 + (i % 10 = 3)::int * 50 as fund_spent_frontline,
                   30.0 as fund_spent_high_skill, 5.0 as fund_school_enterprise,
                   10 as model_workers_total, 3 as model_workers_high_skill,
                   case when i % 10 = 4 then 0.5 else 0.02 end as fund_ratio_quarter,
                   case when i % 10 = 5 then 80.0 else 2.0 end as payroll_per_employee,
                   1.1 as payroll_change_factor, case when i % 10 = 6 then 0.2 else 0.0 end as roster_count_gap_ratio,
                   0.2 as unit_error_ratio_max, i % 10 <> 4 as d08_fund_ratio_ok, 0.05 as payroll_per_employee_min,
                   50.0 as payroll_per_employee_max, i % 10 <> 5 as d08_payroll_per_employee_ok,
                   1000.0 as history_jump_factor, true as d08_payroll_history_ok, 0.05 as roster_count_tolerance,
                   i % 10 <> 6 as d12_ok
            from ent, q""",
        )
        _insert(
            con,
            "training_person_years",
            f"""
            select org as org_code, {YEAR} as year, '{YEAR}Q4' as period, printf('p_%020d', i * 1000 + j) as person_key,
                   '技师' as skill_level, case when (i + j) % 10 = 0 then 0 else 1 + j % 3 end as trainings_in_year,
                   1 as trainings_per_year_min, (i + j) % 10 <> 0 as is_trained
            from ent, range({n_persons}) r(j)""",
        )
        _insert(
            con,
            "training_events",
            f"""
            select '{YEAR}Q4-' || org as submission_id, j + 2 as source_row, org as org_code, '{YEAR}Q4' as period,
                   printf('p_%020d', i * 1000 + j) as person_key, (i + j) % 20 <> 0 as trainee_on_roster
            from ent, range({n_persons}) r(j)""",
        )
        _insert(
            con,
            "training_coverage_tracking",
            f"""
            select 'enterprise' as grain, org as entity_code, 'year' as period_type, '{YEAR}Q4' as period,
                   {YEAR} as year, lvl as skill_level, 100 as headcount, 90 + (i % 11) as trained,
                   (90 + (i % 11)) / 100.0 as coverage, 1.0 as coverage_min, 90 + (i % 11) >= 100 as c02_ok
            from ent, (select unnest(['全部', '高级工', '技师', '高级技师']) as lvl)""",
        )
        _insert(
            con,
            "fund_tracking",
            f"""
            select 'enterprise' as grain, org as entity_code, pt as period_type, period, {YEAR} as year,
                   0.0140 + (i % 5) * 0.0005 as extraction_ratio, 0.58 + (i % 5) * 0.01 as frontline_share,
                   0.015 as fund_ratio_min, 0.6 as frontline_share_min,
                   0.0140 + (i % 5) * 0.0005 >= 0.015 as c03_ok, 0.58 + (i % 5) * 0.01 >= 0.6 as c04_ok
            from ent, (select 'quarter' as pt, period from q union all select 'year', '{YEAR}Q4')""",
        )
        _insert(
            con,
            "high_skill_share_tracking",
            f"""
            select 'enterprise' as grain, org as entity_code, 'quarter' as period_type, period, {YEAR} as year,
                   ['achieved', 'on_track', 'lagging', 'seriously_lagging'][i % 4 + 1] as status_code,
                   0.2 as high_skill_share, 0.22 as trajectory_share, 0.3 as target_share, 2010 as target_year,
                   true as has_trajectory, i % 4 < 2 as c05_ok
            from ent, q""",
        )
        _insert(
            con,
            "governance_matrix",
            f"""
            select org as org_code, pt as period_type, period, {YEAR} as year, i % 7 <> 0 as c06_ok,
                   i % 9 <> 0 as c07_ok, i % 11 <> 0 as c08_ok, i % 13 <> 0 as c12_ok, i % 17 <> 0 as c13_ok,
                   true as has_leading_group, true as has_training_plan, i % 7 <> 0 as has_talent_database
            from ent, (select 'quarter' as pt, period from q union all select 'year', '{YEAR}Q4')""",
        )
        _insert(
            con,
            "incentives_tracking",
            f"""
            select org as org_code, {YEAR} as year, '{YEAR}Q4' as period, 0.9 + (i % 3) * 0.1 as equal_treatment_ratio,
                   5000.0 - (i % 4 = 0)::int * 1000 as income_gap, 5000.0 as income_gap_prev_year, i % 6 <> 0 as c11_ok,
                   1.0 as equal_treatment_ratio_min, 0.9 + (i % 3) * 0.1 >= 1.0 as c09_ok, i % 4 <> 0 as c10_ok
            from ent""",
        )
        _insert(
            con,
            "filing_status",
            """
            select org as org_code, period, i % 50 = 0 as is_missing, i % 20 = 1 as is_late from ent, q""",
        )
        _insert(
            con,
            "submission_versions",
            """
            select period || '-' || org || '-' || v as submission_id, period, org as org_code, v as version_no,
                   v = 1 and i % 10 = 0 as is_superseded, false as is_duplicate
            from ent, q, (select unnest([1, 2]) as v) where v = 1 or i % 10 = 0""",
        )
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in MART_COLUMNS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--persons", type=int, default=100)
    ap.add_argument("--periods", default=f"{YEAR}Q4", help="comma-separated, e.g. 2008Q1,2008Q2")
    ap.add_argument("--docs", action="store_true", help="also build the offline Data Docs")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        t0 = time.perf_counter()
        counts = build(db, args.enterprises, args.persons)
        print(
            f"built synthetic marts in {time.perf_counter() - t0:.1f} s:",
            ", ".join(f"{t}={n}" for t, n in counts.items()),
        )

        t_all = time.perf_counter()
        from pipelines.lib.expectations import import_gx, run_expectations

        _, gx_import = import_gx()
        run = run_expectations(db, args.periods.split(","), Path(tmp) / "docs" if args.docs else None)
        total = time.perf_counter() - t_all

        print(f"{'suite':<18}{'seconds':>9}{'rows':>10}{'failing':>10}{'flags':>9}  success")
        for s in run.suites.values():
            print(
                f"{s.name:<18}{s.seconds:>9.2f}{s.rows_evaluated:>10}{s.failing_count:>10}{s.flag_count:>9}  {s.success}"
            )
        t = run.timings
        print(f"gx import        {gx_import:9.2f}")
        print(f"load (duckdb)    {t['load']:9.2f}")
        print(f"write flags      {t['write_flags']:9.2f}   ({run.flag_count} rows)")
        if "data_docs" in t:
            print(f"data docs        {t['data_docs']:9.2f}")
        print(f"TOTAL            {total:9.2f}   (target <= 15 s)")


if __name__ == "__main__":
    main()
