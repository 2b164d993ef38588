"""Publication: the analysts' warehouse, then one asset per export read from it (the tracking workbook, the
inspection pages, the quarterly reports and their index, the receipts), written side by side in one step.

Which quarters the exports look at again is lineage, not a file: ``published_warehouse`` records the
quarters whose marts changed (on the first publication, the quarters with a received file or run) in its
materialization's metadata, and the reports and receipts read that event from the Dagster instance.
"""

from pathlib import Path

import dagster as dg

from pipelines.defs.dbt.runner import DbtSession
from pipelines.defs.groups import PUBLISH
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.publish.exports import (  # noqa: F401 - the export keys and metadata names live there
    EXPORT_KEYS,
    FILES_UNCHANGED,
    FILES_WRITTEN,
    PAGES_KEY,
    QUARTERS,
    RECEIPTS_KEY,
    REPORTS_KEY,
    WORKBOOK_KEY,
    export_tasks,
    run_side_by_side,
)
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.periods import Period
from pipelines.lib.exports.publish import publish_warehouse
from pipelines.lib.exports.releases import History, keep_documents, release_of_run, releasing

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
# The metadata entry of a published_warehouse materialization that lists the quarters to export again.
CHANGED_PERIODS = "changed_periods"


def published_changed_periods(instance: dg.DagsterInstance) -> list[str] | None:
    """The quarters the latest publication changed, from its materialization's metadata; None if unknown.

    The latest publication is the one whose changes the exports must follow: in a run it is the run's own
    (Dagster runs a step after the steps it depends on, and records their events first); when the exports
    are re-executed alone after a failure, it is the publication they failed to follow.
    """
    event = instance.get_latest_materialization_event(PUBLISHED_KEY)
    materialization = event.asset_materialization if event else None
    if materialization is None or CHANGED_PERIODS not in materialization.metadata:
        return None
    return list(materialization.metadata[CHANGED_PERIODS].value)


def build_publish_assets(mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(key=PUBLISHED_KEY, deps=mart_keys, partitions_def=quarterly_partitions, group_name=PUBLISH,
              kinds={"duckdb"}, backfill_policy=dg.BackfillPolicy.single_run(),
              description="发布给分析人员的只读数据库 data/marts/warehouse.duckdb（原子替换，不含个人信息）")
    def published_warehouse(context: dg.AssetExecutionContext, platform: PlatformConfig,
                            dbt: DbtSession) -> dg.MaterializeResult:
        from pipelines.defs.dbt.project import dbt_project
        from pipelines.lib.exports.disclosure import withheld_by_disclosure
        from pipelines.lib.exports.history import snapshotted_marts

        project = dbt_project()
        withheld = withheld_by_disclosure(project.manifest_path)
        # The same target folder as the run's builds (defs/dbt/assets.py): the snapshots reuse their parse.
        history = History(lambda: dbt.snapshot(project, Path(platform.workdir) / "dbt_target", platform.work_db),
                          snapshotted_marts(project.manifest_path), withheld)
        counts, changed, first = publish_warehouse(
            platform.work_db, platform.warehouse_path, withheld=withheld,
            before_swap=releasing(platform.work_db, context.run.run_id, platform.inbox_path, platform.recheck,
                                  history),
            run_periods=[str(p) for p in periods_of(context)])
        if history.cost:
            context.log.info("release step (dbt snapshots, revisions): " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in history.cost.items()))
        context.log.info(f"published {platform.warehouse_path} ({len(counts)} tables, Parquet beside it; "
                         + (f"first publication, {len(changed)} quarters with received files or run)" if first else
                            f"{len(changed)} quarters changed since the previous publication)"))
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(platform.warehouse_path)),
            "tables": len(counts),
            "first_publication": first,
            "withheld": dg.MetadataValue.json(sorted(withheld.tables)),
            CHANGED_PERIODS: dg.MetadataValue.json(changed),
            **{f"release step {k}": v for k, v in history.cost.items()},
            **{f"rows {name}": n for name, n in counts.items() if name.startswith("marts.")},
        })

    def export_periods(context: dg.AssetExecutionContext, db) -> list[Period]:
        """The run's quarters, and every other quarter whose marts the publication changed (a resubmission moves
        later year-to-date figures and the year's flags): their receipts and reports are looked at again."""
        import duckdb

        from pipelines.lib.exports.publish import periods_with_files

        changed = published_changed_periods(context.instance)
        if changed is None:  # an instance without the publication's event: every quarter that has data
            context.log.warning("no published_warehouse materialization in this instance: "
                                "exporting every quarter with a received file")
            with duckdb.connect(str(db), read_only=True) as con:
                changed = periods_with_files(con)
        return sorted({*periods_of(context), *map(Period.parse, changed)})

    def export_spec(key: dg.AssetKey, kinds: set[str], description: str, deps: tuple = ()) -> dg.AssetSpec:
        return dg.AssetSpec(key=key, deps=[PUBLISHED_KEY, *deps], group_name=PUBLISH, kinds=kinds,
                            description=description, skippable=True)

    # One asset per output in one step that writes them side by side (defs/publish/exports.py); the step can
    # run any subset of them, and each output reports its own materialization.
    @dg.multi_asset(
        name="published_exports", can_subset=True, partitions_def=quarterly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[export_spec(WORKBOOK_KEY, {"excel"}, "目标跟踪表（Excel，全部季度；标题按参考数据中各规划的名称）"),
               export_spec(PAGES_KEY, {"html"}, "各企业与集团检查页（HTML，截至仓库最新季度；季度报告链接至此）"),
               # The reports' index lists every quarter's report and every inspection page: written after the pages.
               export_spec(REPORTS_KEY, {"html"}, "季度报告（HTML）及其索引", deps=(PAGES_KEY,)),
               export_spec(RECEIPTS_KEY, {"excel"}, "各企业回执（Excel，每季度每企业一份）")])
    def published_exports(context: dg.AssetExecutionContext, platform: PlatformConfig):
        selected = set(context.selected_asset_keys)
        db = platform.warehouse_path
        periods = export_periods(context, db) if selected & {REPORTS_KEY, RECEIPTS_KEY} else []
        failed = []
        # A re-issued receipt names the run's release: read here, the working database admits one writer.
        release = release_of_run(platform.work_db, context.run.run_id) if RECEIPTS_KEY in selected else None
        tasks = export_tasks(selected, db, platform.marts_dir, periods, release)
        for keys, outcome in run_side_by_side(tasks):
            if isinstance(outcome, BaseException):
                context.log.error(f"{', '.join(k.to_user_string() for k in keys)} failed: {outcome!r}")
                failed.append((keys, outcome))
                continue
            for done in outcome:
                keep_documents(platform.work_db, platform.marts_dir, context.run.run_id, done.keep,
                               replaced=done.replaced)
                for line in done.message.splitlines():
                    context.log.info(line)
                yield dg.MaterializeResult(asset_key=done.key, metadata={
                    **{name: dg.MetadataValue.path(path) for name, path in done.paths.items()},
                    **done.metadata, "seconds": done.seconds})
        if failed:
            raise dg.Failure(description="exports failed: " + "; ".join(
                f"{', '.join(k.to_user_string() for k in keys)}: {exc!r}" for keys, exc in failed))

    return [published_warehouse, published_exports]
