"""dbt models as partitioned assets, split by selector: core marts first, flag marts after the GX run.

dbt runs through dagster-dbt's documented ``DbtCliResource``: one ``dbt build`` subprocess per step, whose
selection and Dagster events are dagster-dbt's own. The subprocess is also what releases the working database:
dbt-duckdb keeps its DuckDB file open until the process that opened it exits, and the steps that follow (GX,
publishing) open that file.
"""

import functools
import os
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.defs.dbt.project import dbt_cli, dbt_project
from pipelines.defs.dbt.translator import SasacDbtTranslator
from pipelines.defs.dbt.vars import dbt_build_args, dbt_env
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig

CORE_SELECT = "tag:core"
FLAGS_SELECT = "tag:flags"
# No dbt.log: each node's line, warnings and errors reach the run's log through stdout, and the SQL of every
# node is under the target folder (compiled/, run/).
GLOBAL_FLAGS = ["--no-use-colors", "--log-level-file", "none"]


@functools.cache
def dbt_resource() -> DbtCliResource:
    # One per process: it asks the dbt executable its version once (a subprocess) and keeps the answer.
    return dbt_cli(dbt_project(), GLOBAL_FLAGS)


def _build(context: dg.AssetExecutionContext, platform: PlatformConfig):
    # The profile reads the working database path, and int_periods the run's last quarter, from the
    # environment, which the dbt subprocess inherits.
    os.environ["SASAC_BUILD_DB"] = str(platform.work_db)
    os.environ.update(dbt_env(periods_of(context)))
    # One target folder in the working area, reused run after run (dbt's partial parsing keeps its state
    # there), instead of a new folder per invocation piling up inside the repository.
    target = Path(platform.workdir) / "dbt_target"
    yield from dbt_resource().cli(dbt_build_args(), context=context, target_path=target).stream()


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, select=CORE_SELECT, name="dbt_core_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_core_models(context: dg.AssetExecutionContext, platform: PlatformConfig):
        yield from _build(context, platform)

    @dbt_assets(manifest=project.manifest_path, select=FLAGS_SELECT, name="dbt_flag_models",
                partitions_def=quarterly_partitions, dagster_dbt_translator=SasacDbtTranslator(),
                backfill_policy=dg.BackfillPolicy.single_run(), project=project)
    def dbt_flag_models(context: dg.AssetExecutionContext, platform: PlatformConfig):
        yield from _build(context, platform)

    return [dbt_core_models, dbt_flag_models]
