"""Reconciliation at the door: nothing received is lost."""

import dagster as dg

from pipelines.defs.partitions import periods_of
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.warehouse import connect

RECONCILE_SQL = """
with audit as (
    select submission_id, outcome, rows_in, rows_loaded from raw.submissions where period in ({periods})
),
loaded as (
    {loaded_union}
)
select
    count(*) as files,
    count(*) filter (where outcome = 'accepted') as accepted,
    count(*) filter (where outcome = 'rejected') as rejected,
    count(*) filter (where outcome = 'ignored') as ignored,
    coalesce(sum(rows_in) filter (where outcome = 'accepted'), 0) as rows_in,
    (select count(*) from loaded where submission_id in (select submission_id from audit)) as rows_in_tables,
    count(*) filter (where outcome = 'rejected' and rows_loaded > 0) as rejected_with_rows
from audit
"""


@dg.asset_check(asset=dg.AssetKey(["raw", "submissions"]), blocking=True,
                description="收件核对：文件数 = 受理 + 退回 + 忽略；受理文件的数据行数 = 已入库行数")
def intake_reconciles(context: dg.AssetCheckExecutionContext, platform: PlatformConfig) -> dg.AssetCheckResult:
    from pipelines.lib.domain.contract import SHEETS

    periods = ", ".join(f"'{p}'" for p in periods_of(context))
    union = " union all ".join(f"select submission_id from raw.{s.table}" for s in SHEETS)
    with connect(platform.work_db, read_only=True) as con:
        files, accepted, rejected, ignored, rows_in, rows_tables, bad = con.execute(
            RECONCILE_SQL.format(periods=periods, loaded_union=union)).fetchone()
    passed = files == accepted + rejected + ignored and rows_in == rows_tables and bad == 0
    return dg.AssetCheckResult(
        passed=passed,
        metadata={"files": files, "accepted": accepted, "rejected": rejected, "ignored": ignored, "rows_in": int(rows_in),
                  "rows_in_tables": int(rows_tables)},
    )
