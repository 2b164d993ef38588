"""The Dagster code location: one graph from the inbox to the published warehouse."""

from __future__ import annotations

import warnings

import dagster as dg

from pipelines.defs.dbt.assets import build_dbt_assets
from pipelines.defs.dbt.runner import DbtSession
from pipelines.defs.expectations.assets import build_expectation_defs
from pipelines.defs.expectations.process import ExpectationsProcess
from pipelines.defs.ingest.assets import raw_submissions
from pipelines.defs.ingest.checks import intake_reconciles
from pipelines.defs.ops import build_ops_sensors
from pipelines.defs.publish.assets import build_publish_assets
from pipelines.defs.resources import PlatformConfig
from pipelines.defs.schedules import build_automation, quarterly_job

# single-run backfill policies are what make `run --all` one run, not twenty; the beta notice is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def build_definitions(platform: PlatformConfig) -> dg.Definitions:
    dbt_defs = build_dbt_assets()
    expectation_assets, expectation_checks = build_expectation_defs()
    mart_keys = sorted((k for a in dbt_defs for k in a.keys if k.path[0] == "marts"),
                       key=lambda k: k.to_user_string())
    schedule, inbox_sensor = build_automation(platform)
    return dg.Definitions(
        assets=[raw_submissions, *dbt_defs, *expectation_assets, *build_publish_assets(mart_keys)],
        asset_checks=[intake_reconciles, *expectation_checks],
        jobs=[quarterly_job],
        schedules=[schedule],
        sensors=[inbox_sensor, *build_ops_sensors()],
        resources={"platform": platform, "dbt": DbtSession(), "gx": ExpectationsProcess()},
    )


defs = build_definitions(PlatformConfig.from_env())
