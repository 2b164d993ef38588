"""The suite files themselves, thresholds as data, and the blocking integrity suite."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from pipelines.lib.domain.reference import THRESHOLDS_CSV  # noqa: E402
from pipelines.lib.expectations import (  # noqa: E402
    ThresholdError,
    load_rules,
    load_suites,
    load_threshold_rows,
    run_expectations,
    thresholds_for_period,
)
from pipelines.lib.expectations.suites import SUITES_DIR, canonical_json, parameter_names  # noqa: E402
from tests.mart_tables import MART_COLUMNS, create_marts, insert_rows  # noqa: E402

SUITES = load_suites()
NUMERIC_KWARGS = ("min_value", "max_value", "value", "mostly_threshold")


def test_suite_files_are_canonical_gx_json():
    from great_expectations.core.expectation_suite import expectationSuiteSchema

    names = sorted(p.stem for p in SUITES_DIR.glob("*.json"))
    assert names == [
        "data_quality",
        "funds",
        "governance",
        "high_skill_ratio",
        "incentives",
        "integrity",
        "training",
    ]
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
            if e.rule_id is None:
                assert suite.name == "integrity"
                continue
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


def test_thresholds_appear_only_as_parameters_named_in_the_seed():
    keys = {r.key for r in load_threshold_rows()}
    for suite in SUITES:
        for e in suite.expectations:
            for k in NUMERIC_KWARGS:
                if k in e.kwargs:
                    assert isinstance(e.kwargs[k], dict) and set(e.kwargs[k]) == {"$PARAMETER"}, (
                        suite.name,
                        e.index,
                        k,
                    )
            assert parameter_names(e.kwargs) <= keys
    used = set().union(*(s.parameters for s in SUITES))
    assert {"fund_ratio_min", "frontline_share_min", "trainings_per_year_min", "coverage_min"} <= used


def test_only_integrity_is_blocking():
    assert [s.name for s in SUITES if s.blocking] == ["integrity"]


def test_thresholds_by_effective_period(tmp_path):
    rows = load_threshold_rows()
    assert thresholds_for_period(rows, "2008Q4", {"fund_ratio_min"}) == {"fund_ratio_min": 0.015}
    with pytest.raises(ThresholdError):
        thresholds_for_period(rows, "2011Q1", {"target_year"})  # the 11th plan's target ends 2010Q4
    csv_path = _seed_copy(
        tmp_path, {"fund_ratio_min": [("0.015", "2006Q1", "2008Q3"), ("0.02", "2008Q4", "")]}
    )
    rows = load_threshold_rows(csv_path)
    assert thresholds_for_period(rows, "2008Q3", {"fund_ratio_min"})["fund_ratio_min"] == 0.015
    assert thresholds_for_period(rows, "2008Q4", {"fund_ratio_min"})["fund_ratio_min"] == 0.02


def _seed_copy(tmp_path: Path, changes: dict[str, list[tuple[str, str, str]]]) -> Path:
    """The seed with the rows of some keys replaced by (value, effective_from, effective_to) rows."""
    with open(THRESHOLDS_CSV, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    out = []
    for r in rows:
        if r["threshold_key"] in changes:
            out += [
                {**r, "value": v, "effective_from": f, "effective_to": t}
                for v, f, t in changes.pop(r["threshold_key"])
            ]
        else:
            out.append(r)
    path = tmp_path / "ref_policy_thresholds.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(out)
    return path


def _funds_db(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        create_marts(con)
        base = {"grain": "enterprise", "period_type": "year", "frontline_share": 0.7}
        insert_rows(
            con,
            "fund_tracking",
            [
                {
                    **base,
                    "entity_code": "ORG000001",
                    "period": "2007Q4",
                    "year": 2007,
                    "extraction_ratio": 0.016,
                },
                {
                    **base,
                    "entity_code": "ORG000001",
                    "period": "2008Q4",
                    "year": 2008,
                    "extraction_ratio": 0.016,
                },
                {
                    **base,
                    "entity_code": "ORG000002",
                    "period": "2008Q4",
                    "year": 2008,
                    "extraction_ratio": 0.0149,
                },
            ],
        )
    return path


def _c03(db: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select org_code, period, threshold from flags.expectation_flags where rule_id = 'C03' order by all"
        ).fetchall()


def test_a_threshold_row_change_moves_flags_without_touching_the_suite(tmp_path):
    suite_text = (SUITES_DIR / "funds.json").read_text(encoding="utf-8")
    db = _funds_db(tmp_path / "w.duckdb")
    run_expectations(db, ["2007Q4", "2008Q4"], None, suite_names=["funds"])
    assert _c03(db) == [("ORG000002", "2008Q4", "0.015")]

    lower = _seed_copy(tmp_path, {"fund_ratio_min": [("0.0149", "2006Q1", "")]})
    run_expectations(db, ["2007Q4", "2008Q4"], None, suite_names=["funds"], thresholds_csv=lower)
    assert _c03(db) == []  # flag disappears

    (tmp_path / "split").mkdir()
    split = _seed_copy(
        tmp_path / "split", {"fund_ratio_min": [("0.015", "2006Q1", "2008Q3"), ("0.02", "2008Q4", "")]}
    )
    run = run_expectations(db, ["2007Q4", "2008Q4"], None, suite_names=["funds"], thresholds_csv=split)
    # 2007 keeps 1.5% (0.016 passes), 2008 is judged at 2%: both 2008 rows flagged, each with its threshold
    assert _c03(db) == [("ORG000001", "2008Q4", "0.02"), ("ORG000002", "2008Q4", "0.02")]
    assert run.suites["funds"].rows_evaluated == 3
    assert (SUITES_DIR / "funds.json").read_text(encoding="utf-8") == suite_text


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("integrity")
    db = d / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        create_marts(con)
        row = {
            "grain": "enterprise",
            "entity_code": "ORG000001",
            "period_type": "year",
            "period": "2008Q4",
            "year": 2008,
            "extraction_ratio": 0.02,
            "frontline_share": 0.7,
        }
        insert_rows(con, "fund_tracking", [row, row])  # duplicate key
        insert_rows(
            con,
            "governance_matrix",
            [
                {
                    "org_code": None,
                    "period_type": "year",
                    "period": "2008Q4",
                    "c06_ok": True,
                    "c07_ok": True,
                    "c08_ok": True,
                    "c13_ok": True,
                }
            ],
        )
        con.execute("drop table marts.incentives_tracking")
    return db, run_expectations(db, ["2008Q4"], None)


def test_integrity_failure_on_duplicate_key_is_blocking(broken_run):
    db, run = broken_run
    integ = run.suites["integrity"]
    assert integ.blocking and not integ.success and not run.blocking_success
    dup = [k for k in integ.sample_failing_keys if k["table"] == "fund_tracking"]
    assert len(dup) == 2 and {k["entity_code"] for k in dup} == {"ORG000001"}
    assert any(
        k["table"] == "governance_matrix" and k["expectation_type"] == "expect_column_values_to_not_be_null"
        for k in integ.sample_failing_keys
    )
    assert any("incentives_tracking" in e for e in integ.errors)
    # integrity findings fail the check; they are not compliance flags
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "select count(*) from flags.expectation_flags where source = 'integrity'"
        ).fetchone() == (0,)
    assert run.suites["funds"].success  # compliance is judged separately
    assert not run.suites["incentives"].success and run.suites["incentives"].errors


def test_empty_periods_write_nothing_and_succeed(tmp_path):
    db = tmp_path / "e.duckdb"
    with duckdb.connect(str(db)) as con:
        create_marts(con)
    run = run_expectations(db, ["2009Q1"], None)
    assert run.success and run.flag_count == 0
    assert all(s.rows_evaluated == 0 for s in run.suites.values() if s.name != "integrity")


def test_seed_copy_helper_keeps_the_real_seed(tmp_path):
    before = THRESHOLDS_CSV.read_bytes()
    _seed_copy(tmp_path, {"coverage_min": [("0.9", "2006Q1", "")]})
    assert THRESHOLDS_CSV.read_bytes() == before
