"""Publication: the analysts' warehouse, then one asset per export read from it (the tracking workbook, the
inspection pages, the quarterly reports and their index, the receipts).

Which quarters the exports look at again is lineage, not a file: ``published_warehouse`` records the
quarters whose marts changed (on the first publication, the quarters with a received file) in its
materialization's metadata, and the reports and receipts read that event from the Dagster instance.
"""

from pathlib import Path

import dagster as dg

from pipelines.defs.dbt.runner import DbtSession
from pipelines.defs.groups import PUBLISH
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.periods import Period
from pipelines.lib.exports.publish import publish_warehouse
from pipelines.lib.exports.releases import History, keep_documents, releasing

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
# One asset per output, so that a failed export does not hide the others.
WORKBOOK_KEY = dg.AssetKey(["published", "tracking_workbook"])
PAGES_KEY = dg.AssetKey(["published", "inspection_pages"])
REPORTS_KEY = dg.AssetKey(["published", "quarterly_reports"])
RECEIPTS_KEY = dg.AssetKey(["published", "receipts"])
EXPORT_KEYS = (WORKBOOK_KEY, PAGES_KEY, REPORTS_KEY, RECEIPTS_KEY)
# Every export's materialization metadata carries these.
FILES_WRITTEN, FILES_UNCHANGED, QUARTERS = "files written", "files unchanged", "quarters"
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
                                  history))
        if history.cost:
            context.log.info("release step (dbt snapshots, revisions): " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in history.cost.items()))
        context.log.info(f"published {platform.warehouse_path} ({len(counts)} tables, Parquet beside it; "
                         + (f"first publication, {len(changed)} quarters with received files)" if first else
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

    def export_asset(key: dg.AssetKey, kinds: set[str], description: str, deps: tuple = ()):
        return dg.asset(key=key, deps=[PUBLISHED_KEY, *deps], partitions_def=quarterly_partitions,
                        group_name=PUBLISH, kinds=kinds, backfill_policy=dg.BackfillPolicy.single_run(),
                        description=description)

    @export_asset(WORKBOOK_KEY, {"excel"}, "目标跟踪表（Excel，全部季度；标题按参考数据中各规划的名称）")
    def tracking_workbook(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        import duckdb

        from pipelines.lib.exports.workbook import write_tracking_workbook

        db = platform.warehouse_path
        workbook = write_tracking_workbook(db, platform.marts_dir / WORKBOOK_NAME)
        keep_documents(platform.work_db, platform.marts_dir, context.run.run_id, [workbook], replaced=True)
        with duckdb.connect(str(db), read_only=True) as con:
            quarters = [p for (p,) in con.execute(
                "select distinct period from marts.filing_status order by 1").fetchall()]
        context.log.info(f"tracking workbook: {workbook} written")
        return dg.MaterializeResult(metadata={
            "workbook": dg.MetadataValue.path(str(workbook)),
            FILES_WRITTEN: 1, FILES_UNCHANGED: 0, QUARTERS: _quarters(quarters)})

    @export_asset(PAGES_KEY, {"html"}, "各企业与集团检查页（HTML，截至仓库最新季度；季度报告链接至此）")
    def inspection_pages(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        import duckdb

        from pipelines.lib.exports.inspection import horizon, write_inspection_pages

        db = platform.warehouse_path
        with duckdb.connect(str(db), read_only=True) as con:
            as_of = horizon(con)
        # One process: two children creating files in one folder wait on its lock.
        pages = write_inspection_pages(db, platform.marts_dir / "report", 1)
        context.log.info(f"inspection pages: {pages.written} written, {pages.unchanged} unchanged, "
                         f"{pages.removed} removed")
        return dg.MaterializeResult(metadata={
            FILES_WRITTEN: pages.written, FILES_UNCHANGED: pages.unchanged, "files removed": pages.removed,
            QUARTERS: _quarters([as_of] if as_of else [])})

    # The reports' index lists every quarter's report and every inspection page: it is written after the pages.
    @export_asset(REPORTS_KEY, {"html"}, "季度报告（HTML）及其索引", deps=(PAGES_KEY,))
    def quarterly_reports(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        from pipelines.lib.exports.report import update_report, update_report_index

        db, report_dir = platform.warehouse_path, platform.marts_dir / "report"
        periods = export_periods(context, db)
        written = [p for p in periods if update_report(db, str(p), report_dir / f"{p}.html")]
        index_written = update_report_index(db, report_dir)
        keep_documents(platform.work_db, platform.marts_dir, context.run.run_id,
                       [report_dir / f"{p}.html" for p in written], replaced=True)
        context.log.info(f"reports: {len(written)} written, {len(periods) - len(written)} unchanged; index "
                         + ("written" if index_written else "unchanged"))
        return dg.MaterializeResult(metadata={
            "report": dg.MetadataValue.path(str(report_dir / f"{periods[-1]}.html")) if periods else "",
            "reports index": dg.MetadataValue.path(str(report_dir / "index.html")),
            FILES_WRITTEN: len(written) + index_written,
            FILES_UNCHANGED: len(periods) - len(written) + (not index_written),
            QUARTERS: _quarters(periods)})

    @export_asset(RECEIPTS_KEY, {"excel"}, "各企业回执（Excel，每季度每企业一份）")
    def receipts(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        from pipelines.lib.exports.receipts import write_receipts

        db, out = platform.warehouse_path, platform.marts_dir / "receipts"
        periods = export_periods(context, db)
        written, unchanged, removed = 0, 0, 0
        for done, period in enumerate(periods, start=1):
            result = write_receipts(db, str(period), out)
            # Receipts are rewritten in place: copies, not links, keep what this release published.
            keep_documents(platform.work_db, platform.marts_dir, context.run.run_id, result.written, replaced=False)
            written, unchanged, removed = (written + len(result.written), unchanged + len(result.unchanged),
                                           removed + len(result.removed))
            context.log.info(f"exports: {done}/{len(periods)} quarters exported")
        context.log.info(f"exported {len(periods)} quarters ({', '.join(map(str, periods))}): receipts "
                         f"{written} written, {unchanged} unchanged, {removed} removed")
        return dg.MaterializeResult(metadata={
            FILES_WRITTEN: written, FILES_UNCHANGED: unchanged, "files removed": removed,
            QUARTERS: _quarters(periods)})

    return [published_warehouse, tracking_workbook, inspection_pages, quarterly_reports, receipts]


def _quarters(periods) -> str:
    return ", ".join(map(str, periods))
