"""Great Expectations suites (``expectations/*.json``) and their runner over the working DuckDB.

Public API::

    run_expectations(db_path, periods, docs_dir=None) -> ExpectationRun
    load_suites(suites_dir=None, names=None) -> list[Suite]
    thresholds_for_period(rows, period, keys=None) -> dict[str, float]
"""

from pipelines.lib.domain.reference import (
    ThresholdError,
    load_rules,
    load_threshold_rows,
    thresholds_for_period,
)
from pipelines.lib.expectations.flags import FLAG_COLUMNS, FLAGS_TABLE
from pipelines.lib.expectations.runner import ExpectationRun, SuiteResult, import_gx, run_expectations
from pipelines.lib.expectations.suites import Suite, load_suite, load_suites

__all__ = [
    "FLAG_COLUMNS",
    "FLAGS_TABLE",
    "ExpectationRun",
    "Suite",
    "SuiteResult",
    "ThresholdError",
    "import_gx",
    "load_rules",
    "load_suite",
    "load_suites",
    "load_threshold_rows",
    "run_expectations",
    "thresholds_for_period",
]
