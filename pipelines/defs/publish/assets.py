"""Publication: the analysts' warehouse, then the workbook, report and receipts read from it.

Which quarters the exports look at again is lineage, not a file: ``published_warehouse`` records the
quarters whose marts changed (on the first publication, the quarters with a received file) in its
materialization's metadata, and ``analyst_exports`` reads that event from the Dagster instance.
"""

import dagster as dg

from pipelines.defs.groups import PUBLISH
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.periods import Period
from pipelines.lib.exports.publish import publish_warehouse

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
EXPORTS_KEY = dg.AssetKey(["published", "analyst_exports"])
WORKBOOK_NAME = "target_tracking.xlsx"
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
    def published_warehouse(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        counts, changed, first = publish_warehouse(platform.work_db, platform.warehouse_path)
        context.log.info(f"published {platform.warehouse_path} ({len(counts)} tables; "
                         + (f"first publication, {len(changed)} quarters with received files)" if first else
                            f"{len(changed)} quarters changed since the previous publication)"))
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(platform.warehouse_path)),
            "tables": len(counts),
            "first_publication": first,
            CHANGED_PERIODS: dg.MetadataValue.json(changed),
            **{f"rows {name}": n for name, n in counts.items() if name.startswith("marts.")},
        })

    @dg.asset(key=EXPORTS_KEY, deps=[PUBLISHED_KEY], partitions_def=quarterly_partitions, group_name=PUBLISH,
              kinds={"excel", "html"}, backfill_policy=dg.BackfillPolicy.single_run(),
              description="十一五目标跟踪表（Excel）、季度报告（HTML）、各企业与集团检查页（HTML）与各企业回执（Excel）")
    def analyst_exports(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        import duckdb

        from pipelines.lib.exports.forked import in_background
        from pipelines.lib.exports.inspection import write_inspection_pages
        from pipelines.lib.exports.publish import periods_with_files
        from pipelines.lib.exports.receipts import write_receipts
        from pipelines.lib.exports.report import update_report, update_report_index
        from pipelines.lib.exports.workbook import write_tracking_workbook

        db, out = platform.warehouse_path, platform.marts_dir
        # The workbook is one process's work start to end: a forked child writes it while the receipts below keep
        # the other core busy.
        workbook_job = in_background(write_tracking_workbook, db, out / WORKBOOK_NAME)
        # The inspection pages (one per enterprise and group, as of the warehouse's latest quarter; linked from the
        # quarterly reports), rewritten only where their inputs changed: one more forked child, beside the
        # receipts. One child, not two: two children creating files in one folder wait on its lock (9,000
        # enterprises: the same wall time with 2 children as with 1, and twice the CPU). Measured with the
        # receipts alongside: 16.3-19.0 s for the exports, against 17.6-19.8 s with the pages after them.
        pages_job = in_background(write_inspection_pages, db, out / "report", 1)
        # The run's quarters, and every other quarter whose marts the publication changed (a resubmission moves
        # later year-to-date figures and the year's flags): their receipts and reports are looked at again.
        changed = published_changed_periods(context.instance)
        if changed is None:  # an instance without the publication's event: every quarter that has data
            context.log.warning("no published_warehouse materialization in this instance: "
                                "exporting every quarter with a received file")
            with duckdb.connect(str(db), read_only=True) as con:
                changed = periods_with_files(con)
        periods = sorted({*periods_of(context), *map(Period.parse, changed)})
        reports_written, written, unchanged, removed = [], 0, 0, 0
        for done, period in enumerate(periods, start=1):
            path = out / "report" / f"{period}.html"
            if update_report(db, str(period), path):
                reports_written.append(path)
            result = write_receipts(db, str(period), out / "receipts")
            written, unchanged, removed = (written + len(result.written), unchanged + len(result.unchanged),
                                           removed + len(result.removed))
            context.log.info(f"exports: {done}/{len(periods)} quarters exported")
        context.log.info(f"exported {len(periods)} quarters ({', '.join(map(str, periods))}): receipts "
                         f"{written} written, {unchanged} unchanged, {removed} removed; reports "
                         f"{len(reports_written)} written, {len(periods) - len(reports_written)} unchanged")
        pages = pages_job.result()
        context.log.info(f"inspection pages: {pages.written} written, {pages.unchanged} unchanged, "
                         f"{pages.removed} removed")
        update_report_index(db, out / "report")  # every quarter's report and every page above, on one page
        workbook = workbook_job.result()
        return dg.MaterializeResult(metadata={
            "workbook": dg.MetadataValue.path(str(workbook)),
            "report": dg.MetadataValue.path(str(out / "report" / f"{periods[-1]}.html")) if periods else "",
            "reports index": dg.MetadataValue.path(str(out / "report" / "index.html")),
            "quarters": ", ".join(map(str, periods)),
            "reports written": len(reports_written),
            "reports unchanged": len(periods) - len(reports_written),
            "receipts written": written,
            "receipts unchanged": unchanged,
            "receipts removed": removed,
            "inspection pages written": pages.written,
            "inspection pages unchanged": pages.unchanged,
        })

    return [published_warehouse, analyst_exports]
