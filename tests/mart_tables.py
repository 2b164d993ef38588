"""Mart-shaped DuckDB tables (docs/architecture.md "Mart columns") for tests and the benchmark.

The dbt models own the real marts; this module only mirrors their column contract so the suites
can be exercised on small hand-built tables (missing columns in a row are inserted as NULL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from pipelines.lib.domain.contract import SHEETS

V, INT, D, B, DATE, TS = "VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP"

_GRAIN = [
    ("grain", V),
    ("entity_code", V),
    ("entity_name", V),
    ("period_type", V),
    ("period", V),
    ("year", INT),
]


def _sheet_columns(*keys: str) -> list[tuple[str, str]]:
    skip = {"org_code", "enterprise_name", "period", "group_org_code", "industry_code", "sector"}
    return [
        (c.key, c.duckdb_type)
        for s in SHEETS
        if s.key in keys
        for c in s.columns
        if not c.personal and c.key not in skip
    ]


MART_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "dim_enterprises": [
        ("org_code", V),
        ("enterprise_name", V),
        ("group_org_code", V),
        ("industry_code", V),
        ("sector", V),
        ("active_from", V),
        ("active_to", V),
    ],
    "submission_versions": [
        ("submission_id", V),
        ("period", V),
        ("org_code", V),
        ("file_name", V),
        ("file_format", V),
        ("sha256", V),
        ("size_bytes", INT),
        ("arrived_at", TS),
        ("deadline_at", TS),
        ("is_late", B),
        ("outcome", V),
        ("fatal_count", INT),
        ("error_count", INT),
        ("warning_count", INT),
        ("info_count", INT),
        ("rows_in", INT),
        ("rows_loaded", INT),
        ("version_no", INT),
        ("is_current", B),
        ("is_latest", B),
        ("is_superseded", B),
        ("is_duplicate", B),
        ("current_submission_id", V),
        ("current_file_name", V),
    ],
    "filing_status": [
        ("org_code", V),
        ("period", V),
        ("enterprise_name", V),
        ("group_org_code", V),
        ("sector", V),
        ("deadline_at", TS),
        ("deadline_date", DATE),
        ("status_code", V),
        ("status", V),
        ("is_late", B),
        ("is_missing", B),
        ("is_rejected", B),
        ("versions_received", INT),
        ("first_arrived_at", TS),
        ("first_accepted_arrived_at", TS),
        ("current_submission_id", V),
        ("reasons_zh", V),
    ],
    "enterprise_quarter_facts": [
        ("submission_id", V),
        ("org_code", V),
        ("group_org_code", V),
        ("enterprise_name", V),
        ("sector", V),
        ("industry_code", V),
        ("period", V),
        ("year", INT),
        ("quarter", INT),
        *_sheet_columns("profile", "funds", "governance", "incentives"),
        ("level_sum", INT),
        ("technician_sum", INT),
        ("high_skill_total", INT),
        ("high_skill_share", D),
        ("fund_ratio_quarter", D),
        ("payroll_per_employee", D),
        ("payroll_history_median", D),
        ("payroll_change_factor", D),
        ("roster_level3_count", INT),
        ("roster_level2_count", INT),
        ("roster_level1_count", INT),
        ("roster_count_gap_ratio", D),
        ("key_trainees_without_account", INT),
    ],
    "high_skill_share_tracking": [
        ("grain", V),
        ("grain_zh", V),
        ("entity_code", V),
        ("entity_name", V),
        ("group_org_code", V),
        ("sector", V),
        ("period_type", V),
        ("period", V),
        ("year", INT),
        ("skilled_workers", INT),
        ("high_skill_total", INT),
        ("high_skill_share", D),
        ("beijing_average", D),
        ("benchmark_status", V),
        ("benchmark_source", V),
        ("gap_to_beijing", D),
        ("baseline_period", V),
        ("baseline_share", D),
        ("target_year", INT),
        ("target_share", D),
        ("target_benchmark_status", V),
        ("years_elapsed", D),
        ("years_remaining", D),
        ("trajectory_share", D),
        ("current_pace_per_year", D),
        ("required_gain_per_year", D),
        ("projected_target_year_share", D),
        ("status_code", V),
        ("status", V),
    ],
    "training_person_years": [
        ("org_code", V),
        ("group_org_code", V),
        ("year", INT),
        ("period", V),
        ("roster_period", V),
        ("person_key", V),
        ("roster_submission_id", V),
        ("roster_source_row", INT),
        ("skill_level", V),
        ("trainings_in_year", INT),
        ("last_training_end_date", DATE),
        ("trainings_per_year_min", D),
        ("is_trained", B),
    ],
    "training_events": [
        ("submission_id", V),
        ("source_row", INT),
        ("org_code", V),
        ("group_org_code", V),
        ("period", V),
        ("year", INT),
        ("person_key", V),
        ("training_type", V),
        ("start_date", DATE),
        ("end_date", DATE),
        ("hours", D),
        ("cost", D),
        ("certified", B),
        ("trainee_on_roster", B),
    ],
    "training_coverage_tracking": [
        *_GRAIN,
        ("skill_level", V),
        ("headcount", INT),
        ("trained", INT),
        ("coverage", D),
        ("coverage_min", D),
    ],
    "fund_tracking": [
        *_GRAIN,
        ("quarters_reported", INT),
        ("payroll", D),
        ("fund_extracted", D),
        ("fund_spent", D),
        ("fund_spent_frontline", D),
        ("fund_spent_high_skill", D),
        ("fund_school_enterprise", D),
        ("extraction_ratio", D),
        ("fund_ratio_min", D),
        ("frontline_share", D),
        ("frontline_share_min", D),
        ("quarters_excluded_unit_error", INT),
    ],
    "governance_matrix": [
        ("org_code", V),
        ("group_org_code", V),
        ("enterprise_name", V),
        ("period_type", V),
        ("period", V),
        ("year", INT),
        ("has_leading_group", B),
        ("has_training_plan", B),
        ("has_talent_database", B),
        ("c06_ok", B),
        ("congress_reports_in_year", INT),
        ("c07_ok", B),
        ("has_chief_technician_system", B),
        ("technician_sum", INT),
        ("chief_technicians", INT),
        ("c08_ok", B),
        ("key_trainees_without_account", INT),
        ("c12_ok", B),
        ("has_technician_study_system", B),
        ("has_reserve_echelon_system", B),
        ("c13_ok", B),
        ("in_manager_assessment", B),
    ],
    "incentives_tracking": [
        ("org_code", V),
        ("group_org_code", V),
        ("year", INT),
        ("period", V),
        ("avg_income_high_skill", D),
        ("avg_income_general_skill", D),
        ("avg_income_professional", D),
        ("equal_treatment_ratio", D),
        ("equal_treatment_ratio_min", D),
        ("c09_ok", B),
        ("income_gap", D),
        ("income_gap_prev_year", D),
        ("income_gap_change", D),
        ("c10_ok", B),
        ("model_workers_total", INT),
        ("model_workers_high_skill", INT),
        ("model_worker_high_skill_share", D),
        ("workforce_high_skill_share", D),
        ("c11_ok", B),
        ("cadres_from_high_skill", INT),
        ("party_members_from_high_skill", INT),
        ("deputies_from_high_skill", INT),
    ],
}


def create_marts(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None) -> None:
    con.execute("create schema if not exists marts")
    for name in tables or MART_COLUMNS:
        body = ", ".join(f'"{c}" {t}' for c, t in MART_COLUMNS[name])
        con.execute(f"create or replace table marts.{name} ({body})")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows; columns not given are NULL; unknown columns are an error."""
    if not rows:
        return
    cols = [c for c, _ in MART_COLUMNS[table]]
    unknown = {k for r in rows for k in r} - set(cols)
    if unknown:
        raise KeyError(f"marts.{table} has no columns {sorted(unknown)}")
    marks = ", ".join("?" for _ in cols)
    con.executemany(f"insert into marts.{table} values ({marks})", [[r.get(c) for c in cols] for r in rows])
