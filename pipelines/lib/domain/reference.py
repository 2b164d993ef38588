"""Reference data maintained by analysts (dbt seeds), read by the Python side too.

The seeds in dbt_project/seeds/ are the single copy: dbt loads them into the warehouse (and joins
each period's thresholds into the marts' verdicts), and the intake and the schedule read the same
files here, so a later policy changes rows, not code. A period uses the row whose
``[effective_from, effective_to]`` contains it (blank = open).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.lib.domain.periods import Period, period_range

REPO_ROOT = Path(__file__).resolve().parents[3]
# The dbt project and its seeds (the reference data): the repository's, unless a deployment keeps its own
# copy elsewhere. dbt, the intake and the run fingerprint all read this one setting.
DBT_PROJECT_DIR = Path(os.environ.get("SASAC_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_project").resolve()
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# Where the project's own parse (manifest.json) is kept: dagster-dbt's DbtProject (pipelines/defs/dbt/project.py)
# and the readers of the manifest outside Dagster (the inspection pages) take it from here.
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
THRESHOLDS_CSV = SEEDS_DIR / "ref_policy_thresholds.csv"
RULES_CSV = SEEDS_DIR / "ref_rules.csv"
# Deadlines and the schedule are Beijing time; so is "today" when deciding which quarters have ended.
BEIJING = ZoneInfo("Asia/Shanghai")
POLICY_TITLE = "京国资党发〔2008〕8号《关于加强国有企业高技能人才工作的意见》"


class ThresholdError(LookupError):
    """A threshold has no row in force for a period (or more than one)."""


# A row whose unit is this holds text, not a number (the plan's name: ``plan_name,十一五,…,text,…``).
TEXT_UNIT = "text"


@dataclass(frozen=True)
class ThresholdRow:
    key: str
    value: float | str
    effective_from: Period | None
    effective_to: Period | None
    unit: str
    clause: str
    description_zh: str

    def covers(self, period: Period) -> bool:
        return (self.effective_from is None or self.effective_from <= period) and (
            self.effective_to is None or period <= self.effective_to
        )


def _period_or_none(text: str | None) -> Period | None:
    text = (text or "").strip()
    return Period.parse(text) if text else None


def load_threshold_rows(path: Path | None = None) -> list[ThresholdRow]:
    with open(path or THRESHOLDS_CSV, encoding="utf-8-sig", newline="") as fh:
        return [
            ThresholdRow(
                key=r["threshold_key"].strip(),
                value=r["value"].strip() if (r.get("unit") or "").strip() == TEXT_UNIT else float(r["value"]),
                effective_from=_period_or_none(r.get("effective_from")),
                effective_to=_period_or_none(r.get("effective_to")),
                unit=(r.get("unit") or "").strip(),
                clause=(r.get("clause") or "").strip(),
                description_zh=(r.get("description_zh") or "").strip(),
            )
            for r in csv.DictReader(fh)
        ]


def thresholds_for_period(
    rows: list[ThresholdRow], period: str | Period, keys: set[str] | None = None
) -> dict[str, float | str]:
    """Threshold values in force in ``period``; ``keys`` (if given) must all resolve to exactly one row."""
    p = period if isinstance(period, Period) else Period.parse(period)
    out: dict[str, float] = {}
    for row in rows:
        if keys is not None and row.key not in keys:
            continue
        if row.covers(p):
            if row.key in out:
                raise ThresholdError(f"阈值 {row.key} 在报告期 {p} 有多行生效，请检查 ref_policy_thresholds")
            out[row.key] = row.value
    missing = sorted((keys or set()) - out.keys())
    if missing:
        raise ThresholdError(f"报告期 {p} 缺少生效的阈值: {', '.join(missing)}（ref_policy_thresholds）")
    return out


def load_rules(path: Path | None = None) -> dict[str, dict[str, str]]:
    """ref_rules.csv as rule_id -> row (clause, severity, title_zh …)."""
    out: dict[str, dict[str, str]] = {}
    with open(path or RULES_CSV, encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            extra = r.pop(None, None)  # an unquoted comma in the last column (title_zh) splits it
            row = {k: (v or "").strip() for k, v in r.items()}
            if extra:
                row["title_zh"] = ",".join([row.get("title_zh", ""), *extra])
            out[row["rule_id"]] = row
    return out


@dataclass(frozen=True)
class Plan:
    """A five-year plan as the reference data defines it: its name, baseline year and target year."""

    name: str
    baseline_year: int
    target_year: int

    @property
    def first(self) -> Period:
        return Period(self.baseline_year, 1)

    @property
    def last(self) -> Period:
        return Period(self.target_year, 4)

    def covers(self, period: Period) -> bool:
        return self.first <= period <= self.last


PLAN_KEYS = ("plan_name", "baseline_year", "target_year")


def plans(rows: list[ThresholdRow]) -> list[Plan]:
    """Every plan of the reference data, oldest first: a ``plan_name``, a ``baseline_year`` and a ``target_year``
    row in force from the same quarter. The 12th plan is its three rows (and its benchmark rows), never code."""
    by_key = {key: {r.effective_from: r.value for r in rows if r.key == key} for key in PLAN_KEYS}
    starts = by_key["baseline_year"].keys()
    if not starts or any(by_key[key].keys() != starts for key in PLAN_KEYS):
        raise ThresholdError("ref_policy_thresholds 中每个规划须有生效期相同的 plan_name、baseline_year 与 target_year 各一行")
    return sorted((Plan(str(by_key["plan_name"][s]), int(by_key["baseline_year"][s]), int(by_key["target_year"][s]))
                   for s in starts), key=lambda p: p.baseline_year)


def plan_periods(rows: list[ThresholdRow]) -> list[Period]:
    """Every quarter of every five-year plan in the reference data, oldest first."""
    return sorted({q for plan in plans(rows) for q in period_range(plan.first, plan.last)})


def plan_of(period: Period, rows: list[ThresholdRow] | None = None) -> Plan | None:
    """The plan whose quarters include ``period``; None for a quarter outside every plan."""
    return next((p for p in plans(list(rows if rows is not None else _default_rows())) if p.covers(period)), None)


def latest_ended_quarter(today: dt.date | None = None) -> Period:
    """The newest quarter that has ended by the real clock: the one being filed now (contract §1: due by the
    deadline day of the month after it)."""
    return Period.from_date(today or dt.datetime.now(BEIJING).date()).previous()


def collection_periods(today: dt.date | None = None, rows: list[ThresholdRow] | None = None) -> list[Period]:
    """The one decision of which quarters exist: every quarter from the first plan's baseline Q1 to the latest
    ended quarter by the clock. Collection does not stop when a plan ends, so quarters after the last plan are
    received, checked and marted too (their plan columns say 无规划期). The portal's open quarters, the CLI's
    accepted periods, the Dagster partitions, the schedule and the inbox sensor all ask this function."""
    first = plans(list(rows if rows is not None else _default_rows()))[0].first
    return period_range(first, latest_ended_quarter(today))


@functools.cache
def _default_rows() -> tuple[ThresholdRow, ...]:
    return tuple(load_threshold_rows())


def thresholds_for(period: str | Period) -> dict[str, float | str]:
    """Every threshold in force for ``period`` in the committed seed."""
    return thresholds_for_period(list(_default_rows()), period)


# ---------------------------------------------------------------------------------------------
# Skill levels (ref_skill_levels.csv). The intake runs before dbt loads the seeds, so the Python
# side reads the seed file itself — here, and nowhere else.
# ---------------------------------------------------------------------------------------------
SKILL_LEVELS_CSV = SEEDS_DIR / "ref_skill_levels.csv"


@dataclass(frozen=True)
class SkillLevels:
    """The 国家职业资格 levels, lowest first (五级 初级工 … 一级 高级技师)."""

    all: tuple[str, ...]
    high_skill: tuple[str, ...]  # 高技能人才: 三级 and above
    technician: tuple[str, ...]  # the only levels a 首席技师 may hold


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "yes")


@functools.cache
def skill_levels(path: Path | None = None) -> SkillLevels:
    with open(path or SKILL_LEVELS_CSV, encoding="utf-8-sig", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: -int(r["level_no"]))
    return SkillLevels(
        all=tuple(r["skill_level"].strip() for r in rows),
        high_skill=tuple(r["skill_level"].strip() for r in rows if _truthy(r["is_high_skill"])),
        technician=tuple(r["skill_level"].strip() for r in rows if _truthy(r["is_technician"])),
    )


@functools.cache
def seed_rows(name: str, seeds_dir: Path | None = None) -> tuple[dict[str, str], ...]:
    """The rows of one seed file, for Python that shows reference data without a warehouse to read it from
    (the filing portal's labels, order and colours of severities, statuses and tones)."""
    with open((seeds_dir or SEEDS_DIR) / f"{name}.csv", encoding="utf-8-sig", newline="") as fh:
        return tuple({k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(fh))


# ---------------------------------------------------------------------------------------------
# Retirement ages by sex (ref_retirement_ages.csv): the talent-flow mart judges "reached retirement
# age" by it, and the generator retires its synthetic people by the same rows.
# ---------------------------------------------------------------------------------------------
RETIREMENT_AGES_CSV = SEEDS_DIR / "ref_retirement_ages.csv"


@functools.cache
def retirement_ages(path: Path | None = None) -> dict[str, int]:
    with open(path or RETIREMENT_AGES_CSV, encoding="utf-8-sig", newline="") as fh:
        return {r["sex"].strip(): int(r["retirement_age"]) for r in csv.DictReader(fh)}
