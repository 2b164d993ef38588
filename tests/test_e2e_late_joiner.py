"""C05 for every enterprise: a late joiner, tracked from its own first quarter, on the whole graph.

The registry starts the group and one member in 2008Q2; a large member joins in 2008Q3 with a
high-skill share far below the Beijing average (0.5% against 18%). Under the old rule (baseline =
the first quarter in 2006) it had no baseline, no status and no flag. Now its only quarter is its
baseline: no trajectory can be drawn, so it is judged against the Beijing average — 无基期, flagged
C05 — and, being large, it drags its group and the whole system below their own trajectories.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from tests.conftest import DemoRun
from tests.factories import GROUP, LATE


@pytest.fixture(scope="module")
def late_joiner_run(late_joiner_cut: Callable[[str], DemoRun]) -> DemoRun:
    """The late joiner's inbox through 2008Q3 (its first quarter), run once with the point-in-time test's cut."""
    return late_joiner_cut("2008Q3")


def _share_row(run: DemoRun, grain: str, entity: str, period: str) -> dict:
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        cur = con.execute(
            "select * from marts.high_skill_share_tracking where grain = ? and entity_code = ? "
            "and period_type = 'quarter' and period = ?", [grain, entity, period])
        names = [c[0] for c in cur.description]
        (row,) = cur.fetchall()
    return dict(zip(names, row, strict=True))


@pytest.mark.slow
def test_the_late_joiner_gets_a_status_against_the_beijing_average(late_joiner_run: DemoRun) -> None:
    row = _share_row(late_joiner_run, "enterprise", LATE, "2008Q3")
    assert row["baseline_period"] == "2008Q3" and row["has_trajectory"] is False
    assert row["trajectory_share"] is None
    assert row["high_skill_share"] == pytest.approx(0.005) and row["beijing_average"] == pytest.approx(0.18)
    assert row["gap_to_beijing"] == pytest.approx(0.005 - 0.18)
    assert (row["status_code"], row["status"], row["c05_ok"]) == ("no_baseline", "无基期", False)


@pytest.mark.slow
def test_the_late_joiner_is_flagged_c05_with_the_gap(late_joiner_run: DemoRun) -> None:
    with duckdb.connect(str(late_joiner_run.warehouse), read_only=True) as con:
        flags = con.execute(
            "select org_code, period, severity, observed_value, threshold, message_zh from marts.compliance_flags "
            "where rule_id = 'C05' order by all").fetchall()
    assert [(f[0], f[1]) for f in flags] == [(LATE, "2008Q3")]  # the healthy enterprises are not flagged
    _, _, severity, observed, threshold, message = flags[0]
    assert (severity, observed, threshold) == ("warning", "0.005", "0.18")
    assert "低于2008年北京市平均水平18%（差距-17.5%）" in message and "无基期" in message


@pytest.mark.slow
def test_the_late_joiner_drags_its_group_and_the_system_below_their_trajectory(late_joiner_run: DemoRun) -> None:
    for grain, entity in (("group", GROUP), ("sector", "现代制造业"), ("system", "ALL")):
        before = _share_row(late_joiner_run, grain, entity, "2008Q2")
        after = _share_row(late_joiner_run, grain, entity, "2008Q3")
        # 2008Q2 (two healthy members, 22.5%) is the baseline and has achieved the target
        assert (before["baseline_period"], before["status_code"], before["c05_ok"]) == ("2008Q2", "achieved", True)
        assert after["high_skill_share"] == pytest.approx((180 + 180 + 40) / (800 + 800 + 8000))
        assert after["has_trajectory"] is True and after["trajectory_share"] > 0.2
        assert (after["status_code"], after["status"], after["c05_ok"]) == ("seriously_lagging", "严重滞后", False)
