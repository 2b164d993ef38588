"""Partitions to dbt ``--vars``: a small pure function, unit-tested."""

from __future__ import annotations

import json

from pipelines.lib.domain.periods import Period


def dbt_vars(periods: list[Period]) -> dict[str, str]:
    """The quarters a run covers, as the dbt project's ``period_from`` / ``period_to`` vars."""
    if not periods:
        raise ValueError("a run covers at least one period")
    return {"period_from": str(min(periods)), "period_to": str(max(periods))}


def dbt_build_args(periods: list[Period]) -> list[str]:
    """``dbt build`` for a production run: models, seeds and data tests of the run's quarters.

    Unit tests check the SQL's logic on fixed inputs, not the quarter's data: they run in ``make test``
    (tests/test_dbt_build.py), not in every production run.
    """
    return ["build", "--vars", json.dumps(dbt_vars(periods)), "--exclude-resource-type", "unit_test"]
