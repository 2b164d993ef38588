"""dbt models as partitioned assets, split by selector: core marts first, flag marts after the GX run."""

import os
from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets

from pipelines.defs.dbt import in_process
from pipelines.defs.dbt.parse_state import start_from_project_state
from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.dbt.translator import SasacDbtTranslator
from pipelines.defs.dbt.vars import dbt_build_args, dbt_env
from pipelines.defs.expectations.assets import FLAGS_KEY
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.expectations import worker as expectations_worker

CORE_SELECT = "tag:core"
FLAGS_SELECT = "tag:flags"


def _build(context: dg.AssetExecutionContext, platform: PlatformConfig):
    # The profile reads the working database path, and int_periods the run's last quarter, from the
    # environment (dbt runs in this process: in_process.py).
    os.environ["SASAC_BUILD_DB"] = str(platform.work_db)
    os.environ.update(dbt_env(periods_of(context)))
    # One target folder in the working area, reused run after run (partial parsing), instead of a new
    # folder per invocation piling up inside the repository.
    target = Path(platform.workdir) / "dbt_target"
    project = dbt_project()
    if start_from_project_state(project.project_dir, project.project_dir / project.target_path, target,
                                os.environ["SASAC_BUILD_DB"]):
        context.log.info(f"dbt: {target} starts from the project's parse state (pipelines/defs/dbt/parse_state.py)")
    yield from in_process.build(context, dbt_build_args(), project, target)


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, select=CORE_SELECT, name="dbt_core_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_core_models(context: dg.AssetExecutionContext, platform: PlatformConfig):
        # Every step in this process (the CLI's run) and the suites to come: GX gets ready meanwhile.
        if context.instance.is_ephemeral and FLAGS_KEY in context.job_def.asset_layer.selected_asset_keys:
            expectations_worker.start_for_run(context.run.run_id)
        yield from _build(context, platform)

    @dbt_assets(manifest=project.manifest_path, select=FLAGS_SELECT, name="dbt_flag_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_flag_models(context: dg.AssetExecutionContext, platform: PlatformConfig):
        yield from _build(context, platform)

    return [dbt_core_models, dbt_flag_models]
