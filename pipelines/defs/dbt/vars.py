"""Partitions to dbt ``--vars``: a small pure function, unit-tested."""

from __future__ import annotations

from pipelines.lib.domain.periods import Period


def dbt_vars(periods: list[Period]) -> dict[str, str]:
    """The quarters a run covers, as the dbt project's ``period_from`` / ``period_to`` vars."""
    if not periods:
        raise ValueError("a run covers at least one period")
    return {"period_from": str(min(periods)), "period_to": str(max(periods))}
