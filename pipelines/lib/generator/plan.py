"""Before simulating: which submission slots carry which defect or variant, which enterprise-years
which violation, and when each file arrives. The simulation needs this up front so that a clean
enterprise stays clean even when one of its quarters never loads (e.g. its year-end training
must then happen in a quarter that does load)."""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.reference import SEEDS_DIR, load_threshold_rows, plans, thresholds_for_period
from pipelines.lib.generator.config import UNLOADED_DEFECTS, VARIANT_KINDS, GeneratorConfig
from pipelines.lib.generator.registry import Enterprise, _count

# Defects that would change a lagging enterprise's share (and so hide its C05 flag).
_NOT_ON_LAGGING = frozenset({"roster_count_mismatch"})


@dataclass(frozen=True)
class Reference:
    """The reference data the simulation aims at (dbt seeds)."""

    benchmark: dict[int, float]
    target_year: int
    baseline_year: int
    deadline_day: int

    @property
    def target_share(self) -> float:
        return self.benchmark[self.target_year]


def load_reference(seeds_dir: Path = SEEDS_DIR) -> Reference:
    with (seeds_dir / "ref_beijing_benchmark.csv").open(encoding="utf-8") as fh:
        bench = {int(r["year"]): float(r["high_skill_share"]) for r in csv.DictReader(fh)}
    rows = load_threshold_rows(seeds_dir / "ref_policy_thresholds.csv")
    plan = plans(rows)[0]  # the generator simulates the first plan (十一五, 2006–2010)
    deadline_day = int(thresholds_for_period(rows, plan.first, {"deadline_day"})["deadline_day"])
    return Reference(bench, plan.target_year, plan.baseline_year, deadline_day)


@dataclass
class Plan:
    periods: list[Period]
    slot_kind: dict[tuple[str, Period], str] = field(default_factory=dict)  # defect or variant
    year_violations: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    quarter_violations: dict[tuple[str, Period], set[str]] = field(default_factory=dict)
    arrivals: dict[tuple[str, Period], dt.datetime] = field(default_factory=dict)

    def kind(self, org: str, period: Period) -> str | None:
        return self.slot_kind.get((org, period))

    def loaded(self, org: str, period: Period) -> bool:
        return self.slot_kind.get((org, period)) not in UNLOADED_DEFECTS

    def violates(self, org: str, year: int, rule: str) -> bool:
        return rule in self.year_violations.get((org, year), ())

    def loaded_quarters_left(self, org: str, period: Period) -> int:
        """Loaded quarters of the same year from ``period`` on, within the generated range."""
        return sum(1 for p in self.periods if p.year == period.year and p >= period and self.loaded(org, p))

    def last_loaded(self, org: str, year: int) -> Period | None:
        loaded = [p for p in self.periods if p.year == year and self.loaded(org, p)]
        return loaded[-1] if loaded else None

    def full_years(self) -> list[int]:
        """Years whose Q4 is generated: only those get year-level compliance rows."""
        return sorted({p.year for p in self.periods if p.quarter == 4})


def _sample(rng: random.Random, pool: list, n: int) -> list:
    return rng.sample(pool, min(n, len(pool)))


def make_plan(config: GeneratorConfig, enterprises: list[Enterprise], ref: Reference, rng: random.Random) -> Plan:
    periods = period_range(config.first, config.last)
    plan = Plan(periods)
    # Nothing is planted in the first (baseline) period, so every enterprise keeps its own baseline
    # share for C05 -- unless it is the only period (the 1,000 x 1 intake benchmark).
    base = periods[0] if len(periods) > 1 else None
    slots = [(e.org_code, p) for p in periods for e in enterprises if p != base]
    lagging = {e.org_code for e in enterprises if e.lagging}
    free = list(slots)
    # One kind per slot, so every ground-truth row has one cause; rare fatal kinds first.
    kinds = list(config.defect_rates.items()) + list(config.variant_rates.items())
    for kind, rate in kinds:
        pool = [s for s in free if not (kind in _NOT_ON_LAGGING and s[0] in lagging)]
        for slot in _sample(rng, pool, _count(rate, len(slots))):
            plan.slot_kind[slot] = kind
            free.remove(slot)

    years = plan.full_years()
    first_year = periods[0].year
    for rule, rate in config.violation_rates.items():
        if rule == "C05":
            continue  # lagging enterprises are chosen with the registry
        if rule == "C12":
            pool = [s for s in slots if plan.loaded(*s)]
            for slot in _sample(rng, pool, _count(rate, len(pool))):
                plan.quarter_violations.setdefault(slot, set()).add(rule)
            continue
        # C10 compares with the previous year, which must exist.
        pool = [(e.org_code, y) for e in enterprises for y in years if rule != "C10" or y > first_year]
        pool = [(o, y) for o, y in pool if plan.last_loaded(o, y) is not None]
        for key in _sample(rng, pool, _count(rate, len(pool))):
            plan.year_violations.setdefault(key, set()).add(rule)

    for e in enterprises:
        for p in periods:
            deadline = p.deadline(ref.deadline_day)
            if plan.kind(e.org_code, p) == "late_file":
                arrived = deadline + dt.timedelta(days=rng.randint(1, 40), seconds=rng.randrange(8 * 3600, 17 * 3600))
            else:
                earliest = dt.datetime.combine(p.end, dt.time(8)) + dt.timedelta(days=1)
                # Leave room for a corrected _v2 before the deadline.
                span = int((deadline - earliest).total_seconds()) - 4 * 86400
                arrived = earliest + dt.timedelta(seconds=rng.randrange(0, span))
            plan.arrivals[(e.org_code, p)] = arrived.replace(microsecond=0)
    return plan


def is_variant(kind: str | None) -> bool:
    return kind in VARIANT_KINDS
