"""What marts.talent_flows must hold, computed from the generator's ground truth (ground_truth_flows.csv).

The generator records every flow with its true cause per enterprise-quarter; the warehouse infers the cause
from the rosters it received. The two agree wherever the warehouse saw what happened: an enterprise's row
needs its own rosters at both ends and, for a transfer, the other enterprise's too (a roster that never
loaded, or one whose ID was mistyped — D09 — hides a person). Group, sector and system rows are compared
in quarters where every enterprise was seen at both ends. In those rows the warehouse's own categories —
an enterprise entering or leaving observation (first_filing_in, refiling_in, unreported_out) and a
returner (returned_in: the generator never brings a person back) — must be 0.

Aggregation rules (the mart's, restated from the true events): a transfer between two enterprises of the
same entity is no flow of that entity; if the person also rose a level on the way it is an upgrade.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.domain import contract
from pipelines.lib.domain.codes import normalize_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import skill_levels
from pipelines.lib.generator import load_ground_truth
from pipelines.lib.generator.config import UNLOADED_DEFECTS
from pipelines.lib.generator.flows import FlowRow, load_flows

# Defects that hide or invent a person on a roster the warehouse holds.
UNSEEN_DEFECTS = UNLOADED_DEFECTS | {"bad_id_check_char"}
COUNT_COLUMNS = ("promoted_in", "promoted_trained", "transfer_in", "returned_in", "new_in", "first_filing_in",
                 "refiling_in", "transfer_out", "retired", "left_otherwise", "unreported_out", "upgraded",
                 "upgraded_to_technician")
_MART_NAME = {"left": "left_otherwise"}


@dataclass
class InboxTruth:
    flows: list[FlowRow]
    group: dict[str, str]  # org -> group org
    sector: dict[str, str]
    periods: list[Period]
    unseen: set[tuple[str, str]]  # (org, period) whose roster the warehouse cannot follow

    def seen(self, org: str, period: Period) -> bool:
        return (org, str(period)) not in self.unseen and (org, str(period.previous())) not in self.unseen

    def quarter_seen(self, period: Period) -> bool:
        return all(self.seen(org, period) for org in self.group)


def load_inbox_truth(inbox: Path) -> InboxTruth:
    with (inbox / contract.REGISTRY_FILE).open(encoding="utf-8-sig", newline="") as fh:
        headers = {c.key: c.header for c in contract.REGISTRY_COLUMNS}
        reg = [{k: row[h] for k, h in headers.items()} for row in csv.DictReader(fh)]
    group = {normalize_org_code(r["org_code"]): normalize_org_code(r["group_org_code"]) for r in reg}
    sector = {normalize_org_code(r["org_code"]): r["sector"] for r in reg}
    truth = load_ground_truth(inbox)
    unseen = {(r.org_code, r.period) for r in truth.of(kind="defect") if r.defect in UNSEEN_DEFECTS}
    periods = sorted(Period.parse(p.name) for p in inbox.iterdir() if p.is_dir() and p.name[:2] in ("19", "20"))
    return InboxTruth(load_flows(inbox), group, sector, periods, unseen)


def _entity(grain: str, org: str, t: InboxTruth) -> str:
    return {"enterprise": org, "group": t.group[org], "sector": t.sector[org], "system": "ALL"}[grain]


def expected_quarter_flows(t: InboxTruth) -> dict[tuple[str, str, str], Counter]:
    """(grain, entity_code, period) -> counts of the mart's columns, for every row the truth can check."""
    technician = set(skill_levels().technician)
    out: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    by_period: dict[str, list[FlowRow]] = defaultdict(list)
    for r in t.flows:
        by_period[r.period].append(r)
    for period in t.periods[1:]:
        rows = by_period.get(str(period), [])
        for grain in ("enterprise", "group", "sector", "system"):
            if grain != "enterprise" and not t.quarter_seen(period):
                continue
            for org in t.group:
                if grain == "enterprise" and not t.seen(org, period):
                    continue
                out[(grain, _entity(grain, org, t), str(period))]  # a row with no flow is a row too
            for r in rows:
                entity = _entity(grain, r.org_code, t)
                key = (grain, entity, str(period))
                if key not in out:
                    continue
                internal = r.counterpart and _entity(grain, r.counterpart, t) == entity
                if internal:
                    if r.flow == "transfer_in" and r.level_before != r.level_after:
                        out[key]["upgraded"] += 1
                        out[key]["upgraded_to_technician"] += (r.level_after in technician
                                                               and r.level_before not in technician)
                    continue
                out[key][_MART_NAME.get(r.flow, r.flow)] += 1
                if r.flow == "promoted_in" and r.trained_prior_4q:
                    out[key]["promoted_trained"] += 1
                if r.flow == "upgraded" and r.level_after in technician and r.level_before not in technician:
                    out[key]["upgraded_to_technician"] += 1
    # Enterprise rows whose transfers involve an enterprise the warehouse did not see are not checkable.
    for r in t.flows:
        if r.counterpart and not t.seen(r.counterpart, Period.parse(r.period)):
            out.pop(("enterprise", r.org_code, r.period), None)
    return out
