"""Intake assets: the inbox of a quarter loaded into the raw schema of the working database."""

import dagster as dg

from pipelines.defs.groups import INTAKE
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.warehouse import connect, raw_tables
from pipelines.lib.intake.pseudonym import load_key
from pipelines.lib.intake.run import run_intake

RAW_KEYS = [dg.AssetKey(["raw", name]) for name in raw_tables()]

_DESCRIPTIONS = {
    "registry": "报送名录（registry.csv），每次运行从收件箱重新载入",
    "submissions": "收件审计表：每个收到的文件版本一行（SHA-256、收到时间、是否逾期、受理/退回）",
    "findings": "入口结构检查发现的问题（D01–D05、D09–D11、D13），含中文说明",
    "rechecks": "规则变更后已收文件的重新核对记录（核对前→核对后）",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, group_name=INTAKE, kinds={"duckdb", "polars"},
                     description=_DESCRIPTIONS.get(key.path[-1], f"报表工作表原始数据（已假名化）：raw.{key.path[-1]}"))
        for key in RAW_KEYS
    ],
    partitions_def=quarterly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def raw_submissions(context: dg.AssetExecutionContext, platform: PlatformConfig):
    """Archive, read, check, pseudonymise and load every new file of the run's quarters."""
    periods = periods_of(context)
    key = load_key()
    platform.work_db.parent.mkdir(parents=True, exist_ok=True)

    def progress(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            context.log.info(f"intake: {done}/{total} files read")

    with connect(platform.work_db) as con:
        report = run_intake(platform.inbox_path, periods, con, platform.archive_dir, key, progress,
                            recheck_periods=periods if platform.recheck else None)
    context.log.info(
        f"intake {report.periods[0]}–{report.periods[-1]}: {report.files_seen} files, "
        f"{report.already_ingested} already ingested, {report.accepted} accepted, {report.rejected} rejected, "
        f"{report.ignored} ignored, "
        f"rows in {report.rows_in} = loaded {report.rows_loaded}"
    )
    summary = {
        "files_seen": report.files_seen,
        "already_ingested": report.already_ingested,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "ignored": report.ignored,
        "rows_in": report.rows_in,
        "rows_loaded": report.rows_loaded,
        "findings": report.findings,
        "rechecked": report.recheck.rechecked,
        "recheck_changes": len(report.recheck.changes),
    }
    if report.recheck.rechecked:
        context.log.info(f"re-checked {report.recheck.rechecked} held files of {', '.join(report.recheck.periods)} "
                         f"under the rules now in force: {len(report.recheck.changes)} changed")
    for key_ in RAW_KEYS:
        yield dg.MaterializeResult(asset_key=key_, metadata=summary if key_.path[-1] == "submissions" else {})
