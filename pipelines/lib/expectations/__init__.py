"""Great Expectations suites (``expectations/*.json``) and their runner over the working DuckDB.

The suites assert the marts' verdict columns (``c03_ok`` …); dbt owns every threshold and verdict.

Public API::

    run_expectations(db_path, periods, docs_dir=None) -> ExpectationRun
    load_suites(suites_dir=None, names=None) -> list[Suite]
"""

from pipelines.lib.domain.reference import load_rules
from pipelines.lib.expectations.flags import FLAG_COLUMNS, FLAGS_TABLE
from pipelines.lib.expectations.runner import ExpectationRun, SuiteResult, import_gx, run_expectations
from pipelines.lib.expectations.suites import Suite, load_suite, load_suites

__all__ = [
    "FLAG_COLUMNS",
    "FLAGS_TABLE",
    "ExpectationRun",
    "Suite",
    "SuiteResult",
    "import_gx",
    "load_rules",
    "load_suite",
    "load_suites",
    "run_expectations",
]
