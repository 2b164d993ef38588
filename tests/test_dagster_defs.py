"""The Dagster code location: partitions, dbt vars, schedule, sensor, and one lineage graph."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.dbt.vars import dbt_build_args, dbt_env
from pipelines.defs.ingest.sensors import build_inbox_sensor, changed_periods, period_fingerprints
from pipelines.defs.partitions import quarterly_partitions, range_tags
from pipelines.defs.schedules import build_schedule, quarter_due, quarterly_job, schedule_cron
from pipelines.lib.domain.periods import Period


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    os.environ.setdefault("SASAC_DEMO", "1")
    from pipelines.definitions import defs

    return defs


def test_production_builds_leave_unit_tests_to_the_test_suite() -> None:
    args = dbt_build_args()
    assert args[0] == "build" and args[args.index("--exclude-resource-type") + 1] == "unit_test"
    # no --vars: a var that changes every quarter would make dbt parse the whole project every run
    assert "--vars" not in args


def test_dbt_env_carries_the_run_last_quarter() -> None:
    assert dbt_env([Period(2008, 2)]) == {"SASAC_PERIOD_TO": "2008Q2"}
    assert dbt_env([Period(2007, 3), Period(2006, 1), Period(2010, 4)]) == {"SASAC_PERIOD_TO": "2010Q4"}
    with pytest.raises(ValueError):
        dbt_env([])


def test_partition_keys_are_quarter_starts_from_2006q1() -> None:
    keys = quarterly_partitions.get_partition_keys(current_time=dt.datetime(2011, 1, 2))
    assert keys[0] == "2006-01-01" and keys[-1] == "2010-10-01" and len(keys) == 20
    assert [str(Period.from_partition_key(k)) for k in keys[:5]] == ["2006Q1", "2006Q2", "2006Q3", "2006Q4", "2007Q1"]
    assert Period.parse("2008Q2").partition_key == "2008-04-01"
    assert range_tags([Period(2006, 1), Period(2010, 4)]) == {
        "dagster/asset_partition_range_start": "2006-01-01", "dagster/asset_partition_range_end": "2010-10-01"}


def test_schedule_fires_the_day_after_the_deadline_for_the_quarter_just_due() -> None:
    assert schedule_cron(15) == "0 6 16 1,4,7,10 *"
    assert quarter_due(Period.from_date(dt.date(2008, 7, 16))) == Period(2008, 2)
    assert quarter_due(Period.from_date(dt.date(2009, 1, 16))) == Period(2008, 4)
    assert build_schedule().cron_schedule == schedule_cron(15)


def test_sensor_requests_a_run_for_new_or_changed_period_folders(tmp_path: Path, definitions: dg.Definitions) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2008Q2").mkdir(parents=True)
    (inbox / "registry.csv").write_text("x", encoding="utf-8")
    (inbox / "2008Q2" / "a.xlsx").write_bytes(b"1")
    first = period_fingerprints(inbox)
    assert changed_periods({}, first) == ["2008Q2"]
    assert changed_periods(first, period_fingerprints(inbox)) == []

    (inbox / "2008Q3").mkdir()
    (inbox / "2008Q3" / "b.xlsx").write_bytes(b"2")
    (inbox / "2008Q2" / "a_v2.xlsx").write_bytes(b"3")
    assert changed_periods(first, period_fingerprints(inbox)) == ["2008Q2", "2008Q3"]

    sensor = build_inbox_sensor(quarterly_job, inbox)
    repo = definitions.get_repository_def()
    result = sensor.evaluate_tick(dg.build_sensor_context(cursor=json.dumps(first), repository_def=repo))
    (request,) = result.run_requests  # one run covering both quarters
    assert request.tags["dagster/asset_partition_range_start"] == "2008-04-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2008-07-01"
    assert json.loads(result.cursor) == period_fingerprints(inbox)
    # the same state again: nothing to do
    assert sensor.evaluate_tick(dg.build_sensor_context(cursor=result.cursor, repository_def=repo)).run_requests == []
    # a single changed quarter is requested by its partition
    (inbox / "2008Q3" / "b_v2.xlsx").write_bytes(b"4")
    (single,) = sensor.evaluate_tick(dg.build_sensor_context(cursor=result.cursor, repository_def=repo)).run_requests
    assert single.partition_key == "2008-07-01"


def test_sensor_ignores_a_missing_inbox(tmp_path: Path) -> None:
    assert period_fingerprints(tmp_path / "nowhere") == {}


def test_one_graph_from_inbox_to_publication(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    key = dg.AssetKey
    # dbt sources are the intake's assets, and the flag marts read what the GX asset wrote
    assert key(["raw", "profiles"]) in graph.get(key(["staging", "stg_raw__profiles"])).parent_keys
    assert key(["flags", "expectation_flags"]) in graph.get(key(["staging", "stg_flags__expectation_flags"])).parent_keys
    assert key(["marts", "compliance_flags"]) in graph.get(key(["published", "warehouse"])).parent_keys
    assert key(["published", "warehouse"]) in graph.get(key(["published", "analyst_exports"])).parent_keys
    for asset_key in graph.get_all_asset_keys():
        assert graph.get(asset_key).partitions_def == quarterly_partitions, asset_key


def test_every_suite_is_an_asset_check_on_the_mart_it_validates(definitions: dg.Definitions) -> None:
    from pipelines.lib.expectations.suites import load_suites

    checks = {(c.asset_key.path[-1], c.name) for c in definitions.resolve_asset_graph().asset_check_keys}
    for suite in load_suites():
        assert (suite.tables[0], suite.name) in checks
    assert ("submissions", "intake_reconciles") in checks
    # mart keys are gated by dbt's own tests (asset checks of the dbt assets), not by a GX copy of them
    assert not any(name == "integrity" for _, name in checks)
    assert ("filing_status", "not_null_filing_status_org_code") in checks


def test_job_schedule_and_sensor_are_registered(definitions: dg.Definitions) -> None:
    assert definitions.resolve_job_def("quarterly_run").partitions_def == quarterly_partitions
    schedule = definitions.resolve_schedule_def("quarterly_schedule")
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2008, 7, 16, 6, 0),
                                    repository_def=definitions.get_repository_def())
    assert [r.partition_key for r in schedule.evaluate_tick(ctx).run_requests] == ["2008-04-01"]
    assert definitions.resolve_sensor_def("inbox_sensor") is not None


@pytest.mark.slow
def test_a_fresh_working_area_parses_only_what_the_new_quarter_changes(tmp_path) -> None:
    """The run's dbt target starts from the project's parse state; a new quarter is no reason to re-parse all."""
    from dbt.cli.main import dbtRunner

    from pipelines.defs.dbt.project import DBT_DIR, PARTIAL_PARSE_FILE, seeded_target

    target = seeded_target(tmp_path / "dbt_target")
    assert (target / PARTIAL_PARSE_FILE).exists()
    events: list[str] = []
    os.environ["SASAC_PERIOD_TO"] = "2009Q1"
    try:
        res = dbtRunner(callbacks=[lambda e: events.append(e.info.name)]).invoke(
            ["parse", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target-path", str(target),
             "--log-path", str(tmp_path / "logs")])
    finally:
        os.environ.pop("SASAC_PERIOD_TO")
    assert res.success
    assert "UnableToPartialParse" not in events
    assert "PartialParsingEnabled" in events
