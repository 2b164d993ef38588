"""The suite files themselves: GX 1.x JSON, every rule covered, no threshold anywhere in them."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from pipelines.lib.domain.reference import (  # noqa: E402
    ThresholdError,
    load_rules,
    load_threshold_rows,
    thresholds_for_period,
)
from pipelines.lib.expectations import load_suites, run_expectations  # noqa: E402
from pipelines.lib.expectations.suites import SUITES_DIR, canonical_json  # noqa: E402
from tests.mart_tables import MART_COLUMNS, create_marts, insert_rows  # noqa: E402

SUITES = load_suites()
# kwargs through which a literal limit could creep back into a suite
LIMIT_KWARGS = ("min_value", "max_value", "value", "mostly", "strict_min", "strict_max", "sum_total")


def test_suite_files_are_canonical_gx_json():
    from great_expectations.core.expectation_suite import expectationSuiteSchema

    names = sorted(p.stem for p in SUITES_DIR.glob("*.json"))
    assert names == ["data_quality", "funds", "governance", "high_skill_ratio", "incentives", "training"]
    for path in SUITES_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        assert text == canonical_json(raw), f"{path.name}: not pretty-printed with sorted keys"
        assert raw["name"] == path.stem
        loaded = expectationSuiteSchema.load(raw)  # the GX 1.x suite schema accepts it
        assert len(loaded["expectations"]) == len(raw["expectations"])


def test_every_rule_is_covered_and_agrees_with_ref_rules():
    rules = load_rules()
    seen = set()
    for suite in SUITES:
        for e in suite.expectations:
            assert e.table in MART_COLUMNS, e
            for col in e.needed_columns():
                assert col in dict(MART_COLUMNS[e.table]), (suite.name, e.index, col)
            assert e.rule_id, (suite.name, e.index)  # key integrity is dbt's (its tests fail the build)
            seen.add(e.rule_id)
            rule = rules[e.rule_id]
            assert e.meta["clause"] == rule["clause"], e
            assert e.meta["title_zh"] == rule["title_zh"], e
            if e.meta.get("severity_reason"):
                assert e.rule_id == "D15" and e.meta["severity"] == "warning"
            else:
                assert e.meta["severity"] == rule["severity"], e
            assert e.meta["message_zh"].strip(), e
            assert e.keys, e
    expected = {f"C{i:02d}" for i in range(1, 14)} | {"D06", "D07", "D08", "D12", "D14", "D15", "D16"}
    assert seen == expected


def test_no_threshold_in_any_suite_the_compliance_rules_assert_dbt_verdicts():
    """dbt owns the thresholds (joined by period) and the verdicts; a suite only asserts the verdict."""
    contract_types = {t: dict(cols) for t, cols in MART_COLUMNS.items()}
    for suite in SUITES:
        assert "$PARAMETER" not in suite.path.read_text(encoding="utf-8"), suite.name
        assert "blocking" not in suite.meta, suite.name
        for e in suite.expectations:
            assert not set(LIMIT_KWARGS) & set(e.kwargs), (suite.name, e.index, e.kwargs)
            if e.rule_id.startswith("C") or e.rule_id in ("D08", "D12"):
                column = e.kwargs["column"]
                assert e.type == "expect_column_values_to_be_in_set" and e.kwargs["value_set"] == [True], e
                assert contract_types[e.table][column] == "BOOLEAN", (e.table, column)
                if e.rule_id not in ("C06", "C07", "C08", "C12", "C13"):  # yes/no rules have no number
                    # the flag shows the value the verdict judged and its limit, both mart columns
                    assert e.observed_column and e.observed_column != column, e
                    assert e.threshold_column or e.threshold_columns, e


def test_thresholds_by_effective_period_for_the_intake():
    """reference.thresholds_for_period stays for the intake and the schedule (not for GX)."""
    rows = load_threshold_rows()
    assert thresholds_for_period(rows, "2008Q4", {"fund_ratio_min"}) == {"fund_ratio_min": 0.015}
    with pytest.raises(ThresholdError):
        thresholds_for_period(rows, "2011Q1", {"target_year"})  # the 11th plan's target ends 2010Q4


def test_a_missing_mart_is_an_error_of_its_suite_not_a_crash(tmp_path):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        create_marts(con)
        insert_rows(con, "fund_tracking", [{
            "grain": "enterprise", "entity_code": "ORG000001", "period_type": "year", "period": "2008Q4",
            "year": 2008, "extraction_ratio": 0.02, "fund_ratio_min": 0.015, "c03_ok": True,
            "frontline_share": 0.7, "frontline_share_min": 0.6, "c04_ok": True}])
        con.execute("drop table marts.incentives_tracking")
    run = run_expectations(db, ["2008Q4"], None)
    assert run.suites["funds"].success and run.suites["funds"].rows_evaluated == 1
    incentives = run.suites["incentives"]
    assert not incentives.success and any("incentives_tracking" in e for e in incentives.errors)


def test_empty_periods_write_nothing_and_succeed(tmp_path):
    db = tmp_path / "e.duckdb"
    with duckdb.connect(str(db)) as con:
        create_marts(con)
    run = run_expectations(db, ["2009Q1"], None)
    assert run.success and run.flag_count == 0
    assert all(s.rows_evaluated == 0 for s in run.suites.values())
