"""Publication: the analysts' warehouse, then the workbook, report and receipts read from it."""

import json
from pathlib import Path

import dagster as dg

from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.periods import Period
from pipelines.lib.exports.publish import publish_warehouse

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])
EXPORTS_KEY = dg.AssetKey(["published", "analyst_exports"])
WORKBOOK_NAME = "target_tracking.xlsx"


def changed_periods_file(platform: PlatformConfig) -> Path:
    return Path(platform.workdir) / "published_changed_periods.json"


def build_publish_assets(mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(key=PUBLISHED_KEY, deps=mart_keys, partitions_def=quarterly_partitions, group_name="publish",
              kinds={"duckdb"}, backfill_policy=dg.BackfillPolicy.single_run(),
              description="发布给分析人员的只读数据库 data/marts/warehouse.duckdb（原子替换，不含个人信息）")
    def published_warehouse(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        counts, changed = publish_warehouse(platform.work_db, platform.warehouse_path)
        changed_periods_file(platform).write_text(json.dumps(changed), encoding="utf-8")
        context.log.info(f"published {platform.warehouse_path} ({len(counts)} tables; "
                         f"{len(changed)} quarters changed since the previous publication)")
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(platform.warehouse_path)),
            "tables": len(counts),
            "changed_periods": ", ".join(changed),
            **{f"rows {name}": n for name, n in counts.items() if name.startswith("marts.")},
        })

    @dg.asset(key=EXPORTS_KEY, deps=[PUBLISHED_KEY], partitions_def=quarterly_partitions, group_name="publish",
              kinds={"excel", "html"}, backfill_policy=dg.BackfillPolicy.single_run(),
              description="十一五目标跟踪表（Excel）、季度报告（HTML）与各企业回执（Excel）")
    def analyst_exports(context: dg.AssetExecutionContext, platform: PlatformConfig) -> dg.MaterializeResult:
        from pipelines.lib.exports.receipts import write_receipts
        from pipelines.lib.exports.report import write_report
        from pipelines.lib.exports.workbook import write_tracking_workbook

        db, out = platform.warehouse_path, platform.marts_dir
        workbook = write_tracking_workbook(db, out / WORKBOOK_NAME)
        reports, receipts = [], 0
        # The run's quarters, and every other quarter whose marts the run changed (a resubmission moves
        # later year-to-date figures and the year's flags): their receipts and reports are rewritten.
        changed = json.loads(changed_periods_file(platform).read_text(encoding="utf-8"))
        for period in sorted({*periods_of(context), *map(Period.parse, changed)}):
            reports.append(write_report(db, str(period), out / "report" / f"{period}.html"))
            receipts += len(write_receipts(db, str(period), out / "receipts"))
        return dg.MaterializeResult(metadata={
            "workbook": dg.MetadataValue.path(str(workbook)),
            "reports": dg.MetadataValue.path(str(reports[-1])) if reports else "",
            "receipts": receipts,
        })

    return [published_warehouse, analyst_exports]
