"""Quarterly partitions: one key per reporting period, keyed by the quarter's first day."""

from __future__ import annotations

import dagster as dg

from pipelines.lib.domain.periods import Period, period_range

FIRST_PERIOD = Period(2006, 1)  # the 11th Five-Year Plan; later plans only add keys

quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *",
    start=FIRST_PERIOD.start.isoformat(),
    fmt="%Y-%m-%d",
    timezone="Asia/Shanghai",
)


def periods_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[Period]:
    """The periods a run covers: one partition, or a range when a run spans several quarters."""
    op_ctx = context.op_execution_context if hasattr(context, "op_execution_context") else context
    key_range = op_ctx.partition_key_range if op_ctx.has_partition_key_range else None
    if key_range is None:
        tags = op_ctx.run.tags
        start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        if start and end:
            return period_range(Period.from_partition_key(start), Period.from_partition_key(end))
        return [Period.from_partition_key(op_ctx.partition_key)]
    return period_range(Period.from_partition_key(key_range.start), Period.from_partition_key(key_range.end))


def range_tags(periods: list[Period]) -> dict[str, str]:
    """Run tags that make one run cover several quarters (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": min(periods).partition_key,
        "dagster/asset_partition_range_end": max(periods).partition_key,
    }
