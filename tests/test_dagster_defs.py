"""The Dagster code location: partitions, dbt vars, schedule, sensor, and one lineage graph."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs import groups
from pipelines.defs.dbt.translator import asset_description
from pipelines.defs.dbt.vars import dbt_build_args, dbt_env
from pipelines.defs.expectations.assets import suite_docs_page
from pipelines.defs.ingest.sensors import (
    Outcome,
    RetryPolicy,
    build_inbox_sensor,
    changed_periods,
    load_state,
    period_fingerprints,
    plan_tick,
)
from pipelines.defs.partitions import quarterly_partitions, range_periods, range_tags
from pipelines.defs.schedules import (
    AUTOMATION_ENV,
    automation_running,
    build_schedule,
    default_schedule_status,
    default_sensor_status,
    quarter_due,
    quarterly_job,
    schedule_cron,
)
from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.reference import (
    THRESHOLDS_CSV,
    ThresholdError,
    collection_periods,
    latest_ended_quarter,
    load_threshold_rows,
    plan_of,
    plan_periods,
    plans,
)

REPO = Path(__file__).resolve().parents[1]


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


def test_partitions_are_every_quarter_from_the_first_plan_to_the_latest_ended_one() -> None:
    # the real clock: collection does not stop when the last plan of the reference data ends
    keys = quarterly_partitions.get_partition_keys()
    latest = latest_ended_quarter()
    assert keys == [str(p) for p in period_range(Period(2006, 1), latest)] == [str(p) for p in collection_periods()]
    assert Period(2010, 4) < latest and latest.next().end >= dt.date.today() - dt.timedelta(days=1)
    assert Period.parse("2008Q2").partition_key == "2008Q2"
    assert Period.from_partition_key("2008Q2") == Period(2008, 2)
    assert range_periods("2009Q3", "2010Q2") == [Period(2009, 3), Period(2009, 4), Period(2010, 1), Period(2010, 2)]
    assert range_tags([Period(2006, 1), Period(2010, 4)]) == {
        "dagster/asset_partition_range_start": "2006Q1", "dagster/asset_partition_range_end": "2010Q4"}


def test_which_quarters_exist_is_decided_by_the_clock_from_the_first_plan_on() -> None:
    assert collection_periods(dt.date(2026, 12, 7))[-1] == Period(2026, 3)
    assert collection_periods(dt.date(2027, 1, 1))[-1] == Period(2026, 4)
    assert collection_periods(dt.date(2009, 3, 31)) == period_range(Period(2006, 1), Period(2008, 4))
    assert plan_of(Period(2008, 1)).name == "十一五" and plan_of(Period(2011, 1)) is None


def test_a_12th_plan_is_its_three_reference_rows(tmp_path: Path) -> None:
    seed = THRESHOLDS_CSV.read_text(encoding="utf-8")
    extended = tmp_path / "ref_policy_thresholds.csv"
    extended.write_text(seed + "plan_name,十二五,2011Q1,2015Q4,text,§二,规划名称\n"
                        "baseline_year,2011,2011Q1,2015Q4,year,§二,规划基期年份\n"
                        "target_year,2015,2011Q1,2015Q4,year,§二,规划目标年份\n", encoding="utf-8")
    rows = load_threshold_rows(extended)
    assert [(p.name, p.baseline_year, p.target_year) for p in plans(rows)] == [("十一五", 2006, 2010), ("十二五", 2011, 2015)]
    periods = plan_periods(rows)
    assert periods[0] == Period(2006, 1) and periods[-1] == Period(2015, 4) and len(periods) == 40
    assert plan_of(Period(2011, 1), rows).name == "十二五"
    assert plan_periods(load_threshold_rows(THRESHOLDS_CSV))[-1] == Period(2010, 4)
    # a plan with a baseline but no target or name is a broken seed, said so
    broken = tmp_path / "broken.csv"
    broken.write_text(seed + "baseline_year,2011,2011Q1,2015Q4,year,§二,十二五基期年份\n", encoding="utf-8")
    with pytest.raises(ThresholdError, match="plan_name、baseline_year 与 target_year"):
        plan_periods(load_threshold_rows(broken))


def test_schedule_and_sensor_start_stopped_unless_the_deployment_turns_them_on(definitions: dg.Definitions) -> None:
    assert not automation_running({}) and not automation_running({AUTOMATION_ENV: "off"})
    assert automation_running({AUTOMATION_ENV: "on"}) and automation_running({AUTOMATION_ENV: "1"})
    assert default_schedule_status({}) == dg.DefaultScheduleStatus.STOPPED
    assert default_sensor_status({AUTOMATION_ENV: "on"}) == dg.DefaultSensorStatus.RUNNING
    if not automation_running():
        assert definitions.resolve_schedule_def("quarterly_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
        assert definitions.resolve_sensor_def("inbox_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    assert "nux:\n  enabled: false" in (REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8")


def test_groups_follow_the_data_flow(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    key = dg.AssetKey
    group = {k: graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert set(group.values()) == set(groups.FLOW)
    assert list(groups.FLOW) == sorted(groups.FLOW)  # the UI lists groups by name: the same order as the flow
    # every edge goes from a group to the same or a later one: the graph reads left to right as data flows
    rank = {g: i for i, g in enumerate(groups.FLOW)}
    for k in graph.get_all_asset_keys():
        for parent in graph.get(k).parent_keys:
            assert rank[group[parent]] <= rank[group[k]], (parent, k)
    assert group[key(["staging", "stg_flags__expectation_flags"])] == groups.DBT_FLAGS
    assert group[key(["marts", "compliance_flags"])] == groups.DBT_FLAGS
    assert group[key(["marts", "filing_status"])] == groups.DBT_MARTS
    assert group[key(["flags", "expectation_flags"])] == groups.EXPECTATIONS


def test_dbt_assets_are_described_in_words_not_sql(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    for k in graph.get_all_asset_keys():
        description = graph.get(k).description or ""
        assert description.strip(), k
        assert "select" not in description.lower() and "{{" not in description and "```" not in description, k
    assert graph.get(dg.AssetKey(["marts", "dim_enterprises"])).description.startswith("企业维表")
    assert asset_description({"resource_type": "model", "name": "x", "raw_code": "select 1"}) == "dbt 模型 `x`"


def test_each_suite_check_links_to_its_data_docs_page(tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    (docs / "index.html").parent.mkdir(parents=True)
    (docs / "index.html").write_text("index", encoding="utf-8")
    assert suite_docs_page(docs, "funds") == docs / "index.html"
    (docs / "expectations").mkdir()
    (docs / "expectations" / "funds.html").write_text("suite", encoding="utf-8")
    assert suite_docs_page(docs, "funds") == docs / "expectations" / "funds.html"

    def validation(folder: str) -> Path:
        page = docs / "validations" / folder / "__none__" / "20261129T174610.360896Z" / f"marts-{folder}.html"
        page.parent.mkdir(parents=True)
        page.write_text("validation", encoding="utf-8")
        return page

    one = validation("funds__fund_tracking__grain=enterprise__period_type=year")
    validation("funds_extra__fund_tracking")  # another suite whose name starts alike
    assert suite_docs_page(docs, "funds") == one  # one batch validated: its page
    validation("funds__fund_tracking__grain=group__period_type=year")
    assert suite_docs_page(docs, "funds") == docs / "expectations" / "funds.html"  # several: the suite's page
    assert suite_docs_page(docs, "other") == docs / "index.html"


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
    # the code and the reference data are part of what a quarter's run sees
    assert changed_periods(first, period_fingerprints(inbox, code="another rules version")) == ["2008Q2"]

    (inbox / "2008Q3").mkdir()
    (inbox / "2008Q3" / "b.xlsx").write_bytes(b"2")
    (inbox / "2008Q2" / "a_v2.xlsx").write_bytes(b"3")
    assert changed_periods(first, period_fingerprints(inbox)) == ["2008Q2", "2008Q3"]

    sensor = build_inbox_sensor(quarterly_job, inbox)
    repo = definitions.get_repository_def()
    with dg.DagsterInstance.ephemeral() as instance:
        def tick(cursor: str | None):
            return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, repository_def=repo, instance=instance))

        result = tick(json.dumps({p: {"fp": fp, "key": None, "attempt": 1} for p, fp in first.items()}))
        (request,) = result.run_requests  # one run covering both quarters
        assert request.tags["dagster/asset_partition_range_start"] == "2008Q2"
        assert request.tags["dagster/asset_partition_range_end"] == "2008Q3"
        state = json.loads(result.cursor)
        assert {p: v["fp"] for p, v in state.items()} == period_fingerprints(inbox)
        assert {v["key"] for v in state.values()} == {request.run_key}
        # the same state again: nothing to do, and the tick says so
        again = tick(result.cursor)
        assert again.run_requests == [] and again.skip_message
        # a single changed quarter is requested by its partition
        (inbox / "2008Q3" / "b_v2.xlsx").write_bytes(b"4")
        (single,) = tick(result.cursor).run_requests
        assert single.partition_key == "2008Q3"
        # a quarter outside every plan exists all the same: it is requested like any other
        (inbox / "2008Q3" / "b_v2.xlsx").unlink()
        (inbox / "2011Q1").mkdir()
        (inbox / "2011Q1" / "c.xlsx").write_bytes(b"5")
        (after_the_plan,) = tick(result.cursor).run_requests
        assert after_the_plan.partition_key == "2011Q1"
        # a folder for a quarter that does not exist (not ended yet) is reported in the tick, not skipped silently
        (inbox / "2011Q1" / "c.xlsx").unlink()
        (inbox / "2011Q1").rmdir()
        future = latest_ended_quarter().next()
        (inbox / str(future)).mkdir()
        (inbox / str(future) / "c.xlsx").write_bytes(b"6")
        outside = tick(result.cursor)
        assert outside.run_requests == [] and str(future) in outside.skip_message and "不是可报送的季度" in outside.skip_message


POLICY = RetryPolicy(base_seconds=60, cap_seconds=600, max_attempts=3)


def test_a_failed_quarter_is_requested_again_after_a_growing_bounded_delay() -> None:
    current = {"2008Q2": "fp2", "2008Q3": "fp3"}
    state = {"2008Q2": {"fp": "fp2", "key": "k1", "attempt": 1}, "2008Q3": {"fp": "fp3", "key": "k0", "attempt": 1}}
    failed = {"k1": Outcome("FAILURE", ended_at=1000.0), "k0": Outcome("SUCCESS", ended_at=900.0)}
    plan = {"2008Q2", "2008Q3"}
    waiting = plan_tick(state, current, plan, failed, now=1030.0, policy=POLICY)
    assert waiting.run == [] and "2008Q2" in waiting.reasons[0] and "30 秒后第 2 次" in waiting.reasons[0]
    due = plan_tick(state, current, plan, failed, now=1060.0, policy=POLICY)
    assert due.run == ["2008Q2"] and due.attempt == 2 and due.state["2008Q2"]["attempt"] == 2
    assert POLICY.delay(1) == 60 and POLICY.delay(2) == 120 and POLICY.delay(3) == 240 and POLICY.delay(9) == 600
    # the last attempt failed too: no more runs until something changes, and the tick says why
    spent = {**state, "2008Q2": {"fp": "fp2", "key": "k3", "attempt": 3}}
    gave_up = plan_tick(spent, current, plan, {"k3": Outcome("FAILURE", 1000.0)}, now=99999.0, policy=POLICY)
    assert gave_up.run == [] and "不再重试" in gave_up.reasons[0]
    # ... and a change (a file, a rule, the code) starts again from the first attempt
    changed = plan_tick(spent, {**current, "2008Q2": "fp2b"}, plan, {"k3": Outcome("FAILURE", 1000.0)}, 99999.0, POLICY)
    assert changed.run == ["2008Q2"] and changed.attempt == 1
    # a run still queued or running, or not created yet, is left alone
    for outcome in (None, Outcome("QUEUED"), Outcome("STARTED")):
        assert plan_tick(state, current, plan, {"k1": outcome}, 99999.0, POLICY).run == []


def test_the_cursor_of_the_earlier_sensor_reads_as_requests_without_retries() -> None:
    assert load_state(json.dumps({"2008Q2": "abc"})) == {"2008Q2": {"fp": "abc", "key": None, "attempt": 1}}
    assert load_state(None) == {}


def test_sensor_ignores_a_missing_inbox(tmp_path: Path) -> None:
    assert period_fingerprints(tmp_path / "nowhere") == {}


def test_one_graph_from_inbox_to_publication(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    key = dg.AssetKey
    # dbt sources are the intake's assets, and the flag marts read what the GX asset wrote
    assert key(["raw", "profiles"]) in graph.get(key(["staging", "stg_raw__profiles"])).parent_keys
    assert key(["flags", "expectation_flags"]) in graph.get(key(["staging", "stg_flags__expectation_flags"])).parent_keys
    assert key(["marts", "compliance_flags"]) in graph.get(key(["published", "warehouse"])).parent_keys
    for export in ("tracking_workbook", "inspection_pages", "quarterly_reports", "receipts"):
        assert key(["published", "warehouse"]) in graph.get(key(["published", export])).parent_keys, export
    for asset_key in graph.get_all_asset_keys():
        assert graph.get(asset_key).partitions_def == quarterly_partitions, asset_key


def test_gx_validation_is_its_own_asset_reading_exactly_the_marts_its_suites_validate(
        definitions: dg.Definitions) -> None:
    from pipelines.defs.expectations.assets import FLAGS_KEY
    from pipelines.lib.expectations.suites import load_suites

    graph = definitions.resolve_asset_graph()
    validated = {dg.AssetKey(["marts", t]) for s in load_suites() for t in s.tables}
    assert graph.get(FLAGS_KEY).parent_keys == validated
    gx = definitions.resolve_assets_def(FLAGS_KEY)
    assert gx.keys == {FLAGS_KEY}  # one step of its own, not part of a dbt step
    assert FLAGS_KEY not in {k for a in definitions.assets if getattr(a, "op", None) and a.op.name.startswith("dbt_")
                             for k in a.keys}


def test_the_gx_child_starts_with_the_core_dbt_build_not_with_the_run(definitions: dg.Definitions) -> None:
    """The run's GX child is not started by setting up the resource (the intake's readers would share the cores
    with GX's imports) but by the core dbt build's step, which needs the resource for that."""
    from pipelines.defs.expectations.process import ExpectationsProcess

    core = definitions.resolve_assets_def(dg.AssetKey(["marts", "filing_status"]))
    assert core.op.name == "dbt_core_models" and "gx" in core.required_resource_keys
    with dg.build_resources({"gx": ExpectationsProcess()}) as resources:
        assert not resources.gx.started
        resources.gx.start()
        resources.gx.start()  # once a run
        assert resources.gx.started


def test_each_export_is_its_own_asset_after_the_published_warehouse(definitions: dg.Definitions) -> None:
    """Four assets, one per output, written side by side by one step that can run any subset of them."""
    from pipelines.defs.publish.assets import EXPORT_KEYS, PAGES_KEY, PUBLISHED_KEY, REPORTS_KEY

    graph = definitions.resolve_asset_graph()
    assert len(set(EXPORT_KEYS)) == 4
    step = definitions.resolve_assets_def(EXPORT_KEYS[0])
    assert step.keys == set(EXPORT_KEYS) and step.can_subset
    for key in EXPORT_KEYS:
        assert graph.get(key).is_materializable, key
        assert PUBLISHED_KEY in graph.get(key).parent_keys, key
    assert PAGES_KEY in graph.get(REPORTS_KEY).parent_keys  # the reports' index lists the pages


def test_every_suite_is_an_asset_check_on_the_mart_it_validates(definitions: dg.Definitions) -> None:
    from pipelines.lib.expectations.suites import load_suites

    checks = {(c.asset_key.path[-1], c.name) for c in definitions.resolve_asset_graph().asset_check_keys}
    for suite in load_suites():
        assert (suite.tables[0], suite.name) in checks
    assert ("submissions", "intake_reconciles") in checks
    # mart keys are gated by dbt's own tests (asset checks of the dbt assets), not by a GX copy of them
    assert not any(name == "integrity" for _, name in checks)
    # a mart's required columns: one dbt test per model (macros/test_not_null_columns.sql)
    assert any(table == "filing_status" and name.startswith("not_null_columns_filing_status_org_code")
               for table, name in checks)


def test_job_schedule_and_sensor_are_registered(definitions: dg.Definitions) -> None:
    assert definitions.resolve_job_def("quarterly_run").partitions_def == quarterly_partitions
    schedule = definitions.resolve_schedule_def("quarterly_schedule")
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2008, 7, 16, 6, 0),
                                    repository_def=definitions.get_repository_def())
    assert [r.partition_key for r in schedule.evaluate_tick(ctx).run_requests] == ["2008Q2"]
    after_the_plan = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2011, 4, 16, 6, 0),
                                               repository_def=definitions.get_repository_def())
    # 2011Q1 is in no plan of the reference data, and is run all the same
    assert [r.partition_key for r in schedule.evaluate_tick(after_the_plan).run_requests] == ["2011Q1"]
    # a quarter that ended after the code location loaded has no partition yet: the tick says to reload
    later = latest_ended_quarter().next()
    due_later = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime.combine(later.next().start + dt.timedelta(days=15), dt.time(6)),
        repository_def=definitions.get_repository_def())
    skipped = schedule.evaluate_tick(due_later)
    assert skipped.run_requests == [] and str(later) in skipped.skip_message and "重新加载" in skipped.skip_message
    assert definitions.resolve_sensor_def("inbox_sensor") is not None


@pytest.mark.slow
def _dbt_parse(tmp_path: Path, period_to: str, build_db: Path) -> tuple[list[str], list[str]]:
    """``dbt parse`` into tmp_path/dbt_target for a working database: dbt's event names, and its reasons for
    parsing (a file or the whole project) again."""
    from dbt.cli.main import dbtRunner

    from pipelines.defs.dbt.project import DBT_DIR

    events, reasons = [], []
    os.environ.update({"SASAC_PERIOD_TO": period_to, "SASAC_BUILD_DB": str(build_db)})
    try:
        res = dbtRunner(callbacks=[lambda e: (events.append(e.info.name), e.info.name.startswith(
            ("UnableToPartialParse", "PartialParsingFile")) and reasons.append(e.info.msg))]).invoke(
            ["parse", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
             "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "logs")])
    finally:
        os.environ.pop("SASAC_PERIOD_TO")
        os.environ.pop("SASAC_BUILD_DB")
    assert res.success
    return events, reasons


def test_a_new_quarter_in_the_same_working_area_parses_only_the_file_that_reads_it(tmp_path) -> None:
    """The run's last quarter reaches dbt as an env var: a new quarter re-parses int_periods, not the project.

    (A --vars value would make dbt parse everything again; the working database's path is part of dbt's
    profile check, so a working area left to itself pays one full parse, and its later runs do not.)"""
    events, _ = _dbt_parse(tmp_path, "2008Q2", tmp_path / "warehouse.duckdb")
    assert "UnableToPartialParse" in events  # nothing to start from
    events, reasons = _dbt_parse(tmp_path, "2009Q1", tmp_path / "warehouse.duckdb")
    assert "UnableToPartialParse" not in events, reasons
    assert "PartialParsingEnabled" in events and len(reasons) == 1 and "int_periods" in reasons[0], reasons


@pytest.mark.slow
def test_a_failing_dbt_test_is_reported_as_a_failed_check_and_fails_the_step(demo_run, tmp_path: Path) -> None:
    """dbt runs in the step's process (DbtSession, dbt's dbtRunner): a failing dbt test is a failed check and a
    failed step, the other tests are reported, and the working database is free once the step ends."""
    import shutil

    import duckdb

    from pipelines.defs.dbt.assets import build_dbt_assets
    from pipelines.defs.dbt.runner import DbtSession
    from pipelines.defs.expectations.process import ExpectationsProcess
    from pipelines.defs.resources import PlatformConfig

    workdir = tmp_path / "work"
    shutil.copytree(demo_run.workdir, workdir, ignore=shutil.ignore_patterns("logs", "run.lock"))
    with duckdb.connect(str(workdir / "warehouse.duckdb")) as con:  # a finding no severity can be
        con.execute("update raw.findings set severity = 'bogus' where rowid = (select min(rowid) from raw.findings)")
    core = next(a for a in build_dbt_assets() if a.op.name == "dbt_core_models")
    platform = PlatformConfig(inbox=str(demo_run.inbox), workdir=str(workdir),
                              warehouse=str(tmp_path / "marts" / "warehouse.duckdb"))
    result = dg.materialize([core], partition_key="2010Q4", resources={"platform": platform, "dbt": DbtSession(),
                                                                 "gx": ExpectationsProcess()},
                            raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["accepted_values_stg_raw__findings_severity__error__warning__info"] is False
    assert checks["unique_stg_raw__registry_org_code"] is True  # the others are reported too
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "accepted_values_stg_raw__findings_severity" in failure.step_failure_data.error.message
    # dbt let go of the database: another process can open it to write (DuckDB admits one writer per file, and a
    # second connection in this process would share dbt's open database, if it were still open).
    opened = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).execute("
                             "'create table probe as select 1 as x')", str(workdir / "warehouse.duckdb")],
                            capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr


def test_a_run_whose_recorded_worker_is_gone_is_found_dead() -> None:
    from pipelines.defs.ops.run_health import UNRECORDED_GRACE_SECONDS, dead_runs
    from pipelines.defs.resources import WORKER_TAG
    from pipelines.lib.ops import liveness

    @dg.asset
    def planted() -> None:
        return None

    with dg.DagsterInstance.ephemeral() as instance:
        run_id = dg.materialize([planted], instance=instance).run_id

        def judged(worker: str | None, now: float) -> list:
            if worker is not None:
                instance.add_run_tags(run_id, {WORKER_TAG: worker})
            return [(run.run_id, why) for run, why in dead_runs(list(instance.get_run_records()), now)]

        started = instance.get_run_records()[0].start_time
        assert judged(None, started + 1) == []  # not recorded yet, but young
        assert judged(None, started + UNRECORDED_GRACE_SECONDS + 1)[0][0] == run_id
        assert judged(liveness.identity(), started + 1) == []  # this very process: alive
        ((dead, why),) = judged("999999999:1", started + 1)
        assert dead == run_id and "已不存在" in why
