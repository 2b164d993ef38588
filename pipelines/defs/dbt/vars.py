"""Partitions to a dbt invocation: small pure functions, unit-tested."""

from __future__ import annotations

from pipelines.lib.domain.periods import Period

# The last quarter of a run reaches dbt as an environment variable rather than a --vars value: dbt re-parses
# the whole project when a var changes, but only the files that read an env_var when that changes.
PERIOD_TO_ENV = "SASAC_PERIOD_TO"


def dbt_env(periods: list[Period]) -> dict[str, str]:
    """The quarters a run covers, as the environment the dbt project reads (``int_periods``)."""
    if not periods:
        raise ValueError("a run covers at least one period")
    return {PERIOD_TO_ENV: str(max(periods))}


def dbt_build_args() -> list[str]:
    """``dbt build`` for a production run: models, seeds and data tests.

    Unit tests check the SQL's logic on fixed inputs, not the quarter's data: they run in ``make test``
    (tests/test_dbt_build.py), not in every production run.
    """
    return ["build", "--exclude-resource-type", "unit_test"]
