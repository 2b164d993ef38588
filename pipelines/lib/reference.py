"""Reference data maintained by analysts (dbt seeds), read by the Python side too.

The seeds in dbt_project/seeds/ are the single copy: dbt loads them into the warehouse, and the
intake and the expectations read the same files for the thresholds they need.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from pipelines.lib.periods import Period

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
POLICY_TITLE = "京国资党发〔2008〕8号《关于加强国有企业高技能人才工作的意见》"


@functools.cache
def _threshold_rows(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def thresholds_for(period: Period | str, path: Path | None = None) -> dict[str, float]:
    """Every threshold in force for ``period``: the row whose [effective_from, effective_to] holds it."""
    p = period if isinstance(period, Period) else Period.parse(period)
    out: dict[str, float] = {}
    for row in _threshold_rows(path or SEEDS_DIR / "ref_policy_thresholds.csv"):
        start = Period.parse(row["effective_from"])
        end = Period.parse(row["effective_to"]) if row["effective_to"].strip() else None
        if start <= p and (end is None or p <= end):
            out[row["threshold_key"]] = float(row["value"])
    return out


@functools.cache
def rules(path: Path | None = None) -> dict[str, dict[str, str]]:
    """ref_rules.csv by rule id: clause, severity, title_zh."""
    with (path or SEEDS_DIR / "ref_rules.csv").open(encoding="utf-8") as fh:
        return {row["rule_id"]: row for row in csv.DictReader(fh)}
