"""marts.talent_flows and marts.person_quarters on real runs: the identity on every row, the generator's
ground truth of every flow (tests/flow_truth.py), transfers between groups, the share-change decomposition
and the person history without personal data."""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.periods import Period
from pipelines.lib.generator import generate, load_ground_truth
from pipelines.lib.generator.__main__ import config_from_args
from pipelines.lib.generator.flows import FLOWS_FILE
from pipelines.lib.intake.pseudonym import load_key, person_key
from tests.conftest import DemoRun, run_demo
from tests.flow_truth import COUNT_COLUMNS, InboxTruth, expected_quarter_flows, load_inbox_truth

pytestmark = pytest.mark.slow  # whole-graph runs

CONTRIBUTIONS = ("share_from_promotion", "share_from_hiring", "share_from_transfers", "share_from_departures",
                 "share_from_skilled_workers")


def _rows(db: Path, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _mart_counts(db: Path) -> dict[tuple[str, str, str], dict[str, int]]:
    rows = _rows(db, f"select grain, entity_code, period, {', '.join(COUNT_COLUMNS)} from marts.talent_flows"
                     " where period_type = 'quarter'")
    return {(r["grain"], r["entity_code"], r["period"]): {c: r[c] for c in COUNT_COLUMNS} for r in rows}


def _compare(db: Path, truth: InboxTruth) -> tuple[int, list]:
    expected = expected_quarter_flows(truth)
    got = _mart_counts(db)
    wrong = []
    for key, counts in sorted(expected.items()):
        want = {c: counts.get(c, 0) for c in COUNT_COLUMNS}
        if got.get(key) != want:
            wrong.append((key, want, got.get(key)))
    return len(expected), wrong


def test_identity_holds_on_every_row_at_every_grain(demo_run: DemoRun) -> None:
    rows = _rows(demo_run.warehouse, "select * from marts.talent_flows")
    assert {(r["grain"], r["period_type"]) for r in rows} == {
        (g, t) for g in ("enterprise", "group", "sector", "system") for t in ("quarter", "year")}
    for r in rows:
        assert r["high_skill_start"] + r["in_total"] - r["out_total"] == r["high_skill_end"], r
        assert r["in_total"] == r["promoted_in"] + r["transfer_in"] + r["new_in"]
        assert r["out_total"] == r["transfer_out"] + r["retired"] + r["left_otherwise"]
        assert 0 <= r["promoted_trained"] <= r["promoted_in"]


def test_quarter_rows_chain_end_to_start(demo_run: DemoRun) -> None:
    """An enterprise filing three quarters in a row: the middle quarter's end is the next one's start."""
    rows = _rows(demo_run.warehouse, "select entity_code, period, start_period, high_skill_start, high_skill_end"
                                     " from marts.talent_flows where grain = 'enterprise' and period_type = 'quarter'")
    by = {(r["entity_code"], r["period"]): r for r in rows}
    chained = [(r, by[(r["entity_code"], str(Period.parse(r["period"]).next()))]) for r in rows
               if (r["entity_code"], str(Period.parse(r["period"]).next())) in by]
    assert len(chained) > 100
    assert all(a["high_skill_end"] == b["high_skill_start"] for a, b in chained)


def test_flows_match_the_generator_ground_truth_on_the_demo(demo_run: DemoRun) -> None:
    truth = load_inbox_truth(demo_run.inbox)
    checked, wrong = _compare(demo_run.warehouse, truth)
    assert wrong == []
    kinds = Counter(k[0] for k in expected_quarter_flows(truth))
    # Most of the demo is checkable: every enterprise-quarter the warehouse saw at both ends, and the
    # quarters in which every enterprise was seen for the other grains.
    assert kinds["enterprise"] >= 180 and kinds["system"] >= 5 and kinds["group"] >= 15, kinds
    assert {r.flow for r in truth.flows} == {"promoted_in", "transfer_in", "new_in", "upgraded", "transfer_out",
                                             "retired", "left"}


def test_a_transfer_between_groups_is_out_and_in_at_enterprise_and_group_level_not_at_system(
        demo_run: DemoRun) -> None:
    truth = load_inbox_truth(demo_run.inbox)
    moves = [r for r in truth.flows if r.flow == "transfer_in" and truth.group[r.org_code] != truth.group[r.counterpart]
             and truth.quarter_seen(Period.parse(r.period))]
    assert moves, "the demo holds no checkable transfer between groups"
    move = moves[0]
    key = person_key(move.id_number, load_key())
    db = demo_run.work_db  # person-level marts stay in the working database (never published)
    # The person's history shows the move, by pseudonym only.
    history = _rows(db, "select period, org_code from marts.person_quarters where person_key = ? order by period",
                    [key])
    prev = str(Period.parse(move.period).previous())
    assert {"period": prev, "org_code": move.counterpart} in history
    assert {"period": move.period, "org_code": move.org_code} in history

    def row(grain: str, entity: str) -> dict:
        return _rows(db, "select * from marts.talent_flows where grain = ? and entity_code = ?"
                         " and period_type = 'quarter' and period = ?", [grain, entity, move.period])[0]

    same_q = [r for r in truth.flows if r.period == move.period]
    cross_in = Counter(truth.group[r.org_code] for r in same_q
                       if r.flow == "transfer_in" and truth.group[r.org_code] != truth.group[r.counterpart])
    cross_out = Counter(truth.group[r.org_code] for r in same_q
                        if r.flow == "transfer_out" and truth.group[r.org_code] != truth.group[r.counterpart])
    assert row("enterprise", move.org_code)["transfer_in"] >= 1
    assert row("enterprise", move.counterpart)["transfer_out"] >= 1
    to_group, from_group = truth.group[move.org_code], truth.group[move.counterpart]
    assert row("group", to_group)["transfer_in"] == cross_in[to_group] >= 1
    assert row("group", from_group)["transfer_out"] == cross_out[from_group] >= 1
    system = row("system", "ALL")
    assert system["transfer_in"] == system["transfer_out"] == 0
    # In every quarter the warehouse saw whole, no transfer shows at system level.
    seen = [str(p) for p in truth.periods[1:] if truth.quarter_seen(p)]
    totals = _rows(db, "select period, transfer_in, transfer_out from marts.talent_flows where grain = 'system'"
                       " and period_type = 'quarter'")
    assert all(r["transfer_in"] == r["transfer_out"] == 0 for r in totals if r["period"] in seen)


def test_share_change_decomposes_exactly_and_matches_the_truth(demo_run: DemoRun) -> None:
    db = demo_run.warehouse
    rows = _rows(db, "select * from marts.talent_flows")
    judged = [r for r in rows if r["skilled_workers_start"] and r["skilled_workers_end"]]
    assert len(judged) == len(rows)
    for r in judged:
        total = sum(r[c] for c in CONTRIBUTIONS)
        assert math.isclose(total, r["share_change"], abs_tol=1e-12), r
        assert math.isclose(r["share_end"] - r["share_start"], r["share_change"], abs_tol=1e-12)
    # Enterprise quarters the truth can check: the contributions from the true flows and the profile's counts.
    truth = load_inbox_truth(demo_run.inbox)
    facts = {(r["org_code"], r["period"]): r for r in _rows(
        db, "select org_code, period, skilled_workers, high_skill_total from marts.enterprise_quarter_facts")}
    by_key = {(r["grain"], r["entity_code"], r["period"]): r for r in rows if r["period_type"] == "quarter"}
    defective = {(r.org_code, r.period) for r in load_ground_truth(demo_run.inbox).of(kind="defect")}
    checked = 0
    for (grain, org, period), counts in expected_quarter_flows(truth).items():
        prev = str(Period.parse(period).previous())
        if grain != "enterprise" or (org, period) in defective or (org, prev) in defective:
            continue  # profile counts of a slot with a planted defect are not the roster's
        start, end = facts[(org, prev)], facts[(org, period)]
        h0, n0, n1 = start["high_skill_total"], start["skilled_workers"], end["skilled_workers"]
        mart = by_key[(grain, org, period)]
        want = {
            "share_from_promotion": counts["promoted_in"] / n1,
            "share_from_hiring": counts["new_in"] / n1,
            "share_from_transfers": (counts["transfer_in"] - counts["transfer_out"]) / n1,
            "share_from_departures": -(counts["retired"] + counts["left_otherwise"]) / n1,
            "share_from_skilled_workers": h0 / n1 - h0 / n0,
        }
        for c, v in want.items():
            assert math.isclose(mart[c], v, abs_tol=1e-12), (org, period, c, mart[c], v)
        assert mart["promoted_trained"] == counts["promoted_trained"]
        checked += 1
    assert checked >= 150


def test_person_history_holds_no_personal_data(demo_run: DemoRun) -> None:
    db = demo_run.work_db  # person-level marts stay in the working database (never published)
    cols = {r["column_name"] for r in _rows(db, "select column_name from duckdb_columns()"
                                                " where schema_name = 'marts' and table_name = 'person_quarters'")}
    assert "person_key" in cols
    assert not cols & {"id_number", "name", "sex", "birth_date", "cert_no", "phone", "preparer"}
    with (demo_run.inbox / FLOWS_FILE).open(encoding="utf-8") as fh:
        ids = {r["id_number"] for r in csv.DictReader(fh)}
    keys = {r["person_key"] for r in _rows(db, "select distinct person_key from marts.person_quarters")}
    assert all(k.startswith("p_") and len(k) == 22 for k in keys)
    assert not ids & keys
    # Every person of a flow the warehouse saw has a history there, under the pseudonym only.
    truth = load_inbox_truth(demo_run.inbox)
    seen = {r.id_number for r in truth.flows if truth.seen(r.org_code, Period.parse(r.period))}
    key = load_key()
    assert len(seen) > 300 and {person_key(i, key) for i in seen} <= keys
    text_columns = _rows(db, "select table_name, column_name from duckdb_columns() where schema_name = 'marts'"
                             " and data_type = 'VARCHAR' and table_name in ('person_quarters', 'talent_flows')")
    for c in text_columns:
        values = {r["v"] for r in _rows(db, f'select distinct "{c["column_name"]}" as v from marts.{c["table_name"]}')}
        assert not values & ids, c


@pytest.fixture(scope="module")
def thousand_pair(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("flows_1000")
    inbox = root / "inbox"
    generate(inbox, config_from_args(enterprises=1000, first="2008Q1", last="2008Q2", seed=12, clean=True))
    return inbox, run_demo(root / "run", inbox=inbox)


def test_flows_match_the_truth_on_a_generated_1000_enterprise_quarter_pair(thousand_pair) -> None:
    inbox, run = thousand_pair
    truth = load_inbox_truth(inbox)
    checked, wrong = _compare(run.warehouse, truth)
    assert wrong == []
    quarter_rows = _rows(run.warehouse, "select count(*) as n from marts.talent_flows where period_type = 'quarter'")
    assert checked == quarter_rows[0]["n"] > 1000  # every row: 1,000 enterprises, their groups, sectors, the system
    # Retirements are on the demo: the generator's people start at least two years below retirement age.
    moves = Counter(r.flow for r in truth.flows)
    assert {"promoted_in", "transfer_in", "new_in", "upgraded", "transfer_out", "left"} <= set(moves), moves
    identity = _rows(run.warehouse, "select count(*) as n from marts.talent_flows"
                                    " where high_skill_start + in_total - out_total <> high_skill_end")
    assert identity[0]["n"] == 0
