"""Quarterly partitions: one key per reporting period (``2008Q2``), for every quarter that exists
(``collection_periods``: from the first plan's start to the latest quarter ended when the code location loaded)."""

from __future__ import annotations

import dagster as dg

from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.reference import collection_periods


def partition_keys(periods: list[Period]) -> list[str]:
    return [p.partition_key for p in periods]


# Static keys, fixed when the code location loads: a quarter that ends later appears when the code server is
# reloaded (the schedule and the sensor say so for a quarter they cannot request yet).
quarterly_partitions = dg.StaticPartitionsDefinition(partition_keys(collection_periods()))


def is_partition(period: Period) -> bool:
    """Whether the loaded code location has a partition for ``period``."""
    return period.partition_key in quarterly_partitions.get_partition_keys()


def not_loaded_reason(period: Period) -> str:
    return (f"{period}：代码位置加载时该季度尚未结束，还没有这个分区；重新加载代码位置（重启 sasac-code-server 或在界面中"
            "Reload）后处理")


def periods_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[Period]:
    """The periods a run covers: one partition, or a range when a run spans several quarters."""
    op_ctx = context.op_execution_context if hasattr(context, "op_execution_context") else context
    key_range = op_ctx.partition_key_range if op_ctx.has_partition_key_range else None
    if key_range is None:
        tags = op_ctx.run.tags
        start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        if start and end:
            return range_periods(start, end)
        return [Period.from_partition_key(op_ctx.partition_key)]
    return range_periods(key_range.start, key_range.end)


def range_periods(start_key: str, end_key: str) -> list[Period]:
    """The quarters of a partition key range, ends included."""
    return period_range(Period.from_partition_key(start_key), Period.from_partition_key(end_key))


def range_tags(periods: list[Period]) -> dict[str, str]:
    """Run tags that make one run cover several quarters (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": min(periods).partition_key,
        "dagster/asset_partition_range_end": max(periods).partition_key,
    }
