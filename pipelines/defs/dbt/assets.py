"""dbt models as partitioned assets, split by selector: core marts first, flag marts after the GX run.

dbt runs in the step's process through ``DbtSession`` (pipelines/defs/dbt/runner.py, dbt's ``dbtRunner``): the
run parses the project once and both builds reuse the parse; each build lets go of the working database when it
ends, since the steps that follow (GX, publishing) open that file.
"""

import os
from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets

from pipelines.defs.dbt.project import dbt_project
from pipelines.defs.dbt.runner import DbtSession
from pipelines.defs.dbt.translator import SasacDbtTranslator
from pipelines.defs.dbt.vars import dbt_build_args, dbt_env
from pipelines.defs.expectations.process import ExpectationsProcess
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig

CORE_SELECT = "tag:core"
FLAGS_SELECT = "tag:flags"


def _build(context: dg.AssetExecutionContext, platform: PlatformConfig, dbt: DbtSession):
    # The profile reads the working database path, and int_periods the run's last quarter, from the
    # environment (dbt runs in this process).
    os.environ["SASAC_BUILD_DB"] = str(platform.work_db)
    os.environ.update(dbt_env(periods_of(context)))
    # One target folder in the working area, reused run after run (dbt's partial parsing keeps its state
    # there), instead of a new folder per invocation piling up inside the repository.
    target = Path(platform.workdir) / "dbt_target"
    yield from dbt.build(context, dbt_build_args(), dbt_project(), target)


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, select=CORE_SELECT, name="dbt_core_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_core_models(context: dg.AssetExecutionContext, platform: PlatformConfig, dbt: DbtSession,
                        gx: ExpectationsProcess):
        gx.start()  # the run's GX child imports GX while this build runs (defs/expectations/process.py)
        yield from _build(context, platform, dbt)

    @dbt_assets(manifest=project.manifest_path, select=FLAGS_SELECT, name="dbt_flag_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_flag_models(context: dg.AssetExecutionContext, platform: PlatformConfig, dbt: DbtSession):
        yield from _build(context, platform, dbt)

    return [dbt_core_models, dbt_flag_models]
