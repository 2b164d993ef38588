"""Quarter-by-quarter simulation of enterprises and their skilled people.

Explicit people are the ones the roster lists: every high-skill person (高级工/技师/高级技师) and
the lower-level key trainees; the rest of the skilled workforce exists as counts only. Clean
enterprises are built to pass every compliance rule of docs/architecture.md "Mart columns" with
a margin; planted violations (from the Plan) bend exactly one rule each.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipelines.lib.domain import contract
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.generator.flows import FlowRow
from pipelines.lib.generator.people import Person, PersonFactory, random_day
from pipelines.lib.generator.plan import Plan, Reference
from pipelines.lib.generator.registry import Enterprise

HIGH = frozenset(contract.HIGH_SKILL_LEVELS)
TECH = frozenset(contract.TECHNICIAN_LEVELS)
# Highest level first on the roster; the levels themselves come from ref_skill_levels via the contract.
_ROSTER_ORDER = {lvl: i for i, lvl in enumerate(reversed(contract.SKILL_LEVELS))}
# Key trainees below 高技能 are drawn 1 : 2 from 初级工 and 中级工 (the two lowest levels).
_JUNIOR, _INTERMEDIATE = (lvl for lvl in contract.SKILL_LEVELS if lvl not in HIGH)
_KEY_TRAINEE_DRAW = (_JUNIOR, _INTERMEDIATE, _INTERMEDIATE)
# Initial high-skill staff by level, lowest first (高级工 : 技师 : 高级技师).
_HIGH_SKILL_MIX = (70, 22, 8)
# The share margin clean enterprises keep above the trajectory line and the Beijing average.
SHARE_MARGIN = 0.012
_MOVE_RATE = 0.004  # per person and quarter
_CROSS_GROUP_SHARE = 0.25  # of moves: to an enterprise of another group (a transfer between groups)
_LEAVE_RATE = 0.002  # high-skill person leaves the system (not retirement), per person and quarter
_HIRE_RATE = 0.15  # per enterprise and quarter: one experienced high-skill worker hired from outside
_PROMOTE = {"初级工": ("中级工", 0.05, 1), "中级工": ("高级工", 0.03, 2), "高级工": ("技师", 0.025, 3),
            "技师": ("高级技师", 0.015, 3)}
_COURSES = {
    "岗位技能提升培训": "{occ}岗位技能提升培训班", "技师研修": "{occ}技师研修班",
    "校企合作培训": "校企合作{occ}定向培训", "新技术新工艺培训": "{occ}新技术新工艺专题培训",
    "安全生产培训": "安全生产知识与技能培训", "其他": "职业道德与质量管理培训",
}
_PROVIDERS = ("企业职工培训中心", "北京市工业技师学院", "北京市高级技工学校", "北京城建职业技术学院",
              "北京市技师研修中心", "北京电子科技职业学院")


@dataclass
class QuarterData:
    """One enterprise-period as the enterprise would report it, before any planted defect."""

    org_code: str
    period: Period
    profile: dict
    funds: dict
    governance: dict
    incentives: dict
    innovation: dict | None
    roster: list[dict]
    training: list[dict]
    untrained_ids: list[str] = field(default_factory=list)  # planted C01 persons on this roster
    no_account_ids: list[str] = field(default_factory=list)  # planted C12 key trainees
    tenured_ids: frozenset[str] = frozenset()  # on this enterprise's previous roster too

    def submission(self) -> dict[str, list[dict]]:
        sheets = {
            contract.PROFILE.name: [self.profile], contract.FUNDS.name: [self.funds],
            contract.GOVERNANCE.name: [self.governance], contract.INCENTIVES.name: [self.incentives],
            contract.ROSTER.name: self.roster, contract.TRAINING.name: self.training,
        }
        if self.innovation is not None:
            sheets[contract.INNOVATION.name] = [self.innovation]
        return sheets


class Simulation:
    def __init__(self, enterprises: list[Enterprise], plan: Plan, ref: Reference, rng: random.Random) -> None:
        self.enterprises = enterprises
        self.plan = plan
        self.ref = ref
        self.rng = rng
        self.factory = PersonFactory(rng)
        self.staff: dict[str, list[Person]] = {e.org_code: [] for e in enterprises}
        self.trained: dict[str, set[int]] = {}  # id -> years with a training in a loaded submission
        self.base: dict[str, tuple[Period, float, int]] = {}  # org -> baseline period, share, high count
        self.pinned: dict[tuple[str, int], Person] = {}  # (org, year) -> planted untrained person
        self.prev_ids: dict[str, frozenset[str]] = {}
        self.income: dict[tuple[str, int], tuple[int, int, int]] = {}
        # Talent flows (ground_truth_flows.csv): the quarter's true events, then one row per person changed.
        self.flows: list[FlowRow] = []
        self._events: dict[str, dict] = {}
        self.train_periods: dict[str, set[int]] = {}  # id -> period indexes with a training in a loaded file
        first = plan.periods[0]
        base_periods = [p for p in plan.periods if p.year == ref.baseline_year]
        self.baseline_period = base_periods[0] if base_periods else first

    # ---- the share path -------------------------------------------------------------------------
    def trajectory(self, org: str, p: Period) -> float:
        """The C05 line: baseline + (target − baseline) × elapsed / (elapsed + remaining)."""
        base_p, base_share, _ = self.base[org]
        target = self.ref.target_share
        elapsed = (p.index - base_p.index) / 4
        remaining = max(0.0, (Period(self.ref.target_year, 4).index - p.index) / 4)
        if elapsed + remaining <= 0:
            return target
        return base_share + (target - base_share) * elapsed / (elapsed + remaining)

    def share_floor(self, e: Enterprise, p: Period) -> float:
        base_p, base_share, _ = self.base[e.org_code]
        if p == base_p:
            return base_share
        target_p = Period(self.ref.target_year, 4)
        span = max(1, target_p.index - base_p.index)
        frac = min(1.0, max(0.0, (p.index - base_p.index) / span))
        # Front-loaded path to the planned final share, always above the line and the average.
        planned = base_share + (e.final_share - base_share) * min(1.0, 1.25 * frac)
        average = self.ref.benchmark.get(p.year, self.ref.target_share)
        return max(planned, self.trajectory(e.org_code, p) + SHARE_MARGIN, average + SHARE_MARGIN)

    # ---- people ---------------------------------------------------------------------------------
    def _new_person(self, e: Enterprise, level: str, p: Period, cert_in_quarter: bool) -> Person:
        rng = self.rng
        ages = {"初级工": (18, 26), "中级工": (21, 35), "高级工": (24, 52), "技师": (30, 55), "高级技师": (36, 57)}
        if cert_in_quarter:
            cert = random_day(rng, p.start, p.end)
        else:
            years_ago = {"初级工": 2, "中级工": 5, "高级工": 12, "技师": 10, "高级技师": 8}[level]
            cert = random_day(rng, p.start - dt.timedelta(days=365 * years_ago), p.start - dt.timedelta(days=30))
        person = self.factory.person(e.org_code, level, rng.choice(e.occupations), p.end, ages[level], cert)
        person.has_account = rng.random() < 0.5
        return person

    def _promote(self, person: Person, p: Period, lagging: bool) -> None:
        nxt = _PROMOTE.get(person.level)
        if not nxt or (lagging and nxt[0] in HIGH and person.level not in HIGH):
            return  # a lagging enterprise's high-skill headcount stays exactly flat
        level, rate, min_years = nxt
        if (p.end - person.cert_date).days >= 365 * min_years and self.rng.random() < rate:
            person.level = level
            person.cert_date = random_day(self.rng, p.start, p.end)
            person.cert_no = self.factory.cert_no(person.cert_date)

    def _moves(self, p: Period) -> None:
        """A few high-skill people change employer within their group (never into or out of a
        lagging enterprise, whose flat share is the planted C05)."""
        movable = [e for e in self.enterprises if not e.lagging]
        by_group: dict[str, list[Enterprise]] = {}
        for e in movable:
            by_group.setdefault(e.group_code, []).append(e)
        for e in movable:
            targets = [t for t in by_group[e.group_code] if t.org_code != e.org_code] or [
                t for t in movable if t.org_code != e.org_code]
            if not targets:
                continue
            elsewhere = [t for t in movable if t.group_code != e.group_code]
            stay = []
            for person in self.staff[e.org_code]:
                # Nobody moves in the quarter they retire: the move would never show on a roster.
                if (person.level in HIGH and not person.pinned and not person.retires_by(p.end)
                        and self.rng.random() < _MOVE_RATE and person.id_number not in self._events["moved"]):
                    pool = elsewhere if elsewhere and self.rng.random() < _CROSS_GROUP_SHARE else targets
                    dest = self.rng.choice(pool)
                    self._events["moved"][person.id_number] = (e.org_code, dest.org_code)
                    person.org_code = dest.org_code
                    person.is_chief = person.is_key_trainee = False
                    self.staff[dest.org_code].append(person)
                else:
                    stay.append(person)
            self.staff[e.org_code] = stay

    # ---- one quarter ----------------------------------------------------------------------------
    def run(self) -> Iterator[list[QuarterData]]:
        for t, p in enumerate(self.plan.periods):
            before = {org: {x.id_number: x.level for x in staff} for org, staff in self.staff.items()}
            self._events = {"moved": {}, "hired": set(), "retired": {}, "left": {}}
            if t:
                self._moves(p)
            quarter = [self._step(e, p, t) for e in self.enterprises]
            if t:
                self._record_flows(p, before)
            yield quarter

    def _record_flows(self, p: Period, before: dict[str, dict[str, str]]) -> None:
        """Each enterprise's high-skill roster now against last quarter's, every change with its true cause."""
        ev = self._events
        window = range(p.index - 3, p.index + 1)
        for e in self.enterprises:
            org = e.org_code
            prev = before[org]
            prev_high = {i: lvl for i, lvl in prev.items() if lvl in HIGH}
            now_high = {x.id_number: x.level for x in self.staff[org] if x.level in HIGH}

            def add(flow: str, id_number: str, counterpart: str = "", before_level: str = "",
                    trained: bool = False, _org: str = org, _now: dict = now_high) -> None:
                self.flows.append(FlowRow(str(p), _org, flow, id_number, counterpart, before_level,
                                          _now.get(id_number, ""), trained))

            for i in sorted(now_high.keys() - prev_high.keys()):
                moved = ev["moved"].get(i)
                if moved and moved[1] == org:
                    add("transfer_in", i, moved[0], before[moved[0]][i])
                elif i in ev["hired"]:
                    add("new_in", i)
                else:
                    trained = any(k in window for k in self.train_periods.get(i, ()))
                    add("promoted_in", i, before_level=prev.get(i, ""), trained=trained)
            for i in sorted(prev_high.keys() - now_high.keys()):
                moved = ev["moved"].get(i)
                if moved and moved[0] == org:
                    add("transfer_out", i, moved[1], prev_high[i])
                elif ev["retired"].get(i) == org:
                    add("retired", i, before_level=prev_high[i])
                elif ev["left"].get(i) == org:
                    add("left", i, before_level=prev_high[i])
                else:
                    raise AssertionError(f"{org} {p}: a high-skill person vanished without a cause")
            for i in sorted(prev_high.keys() & now_high.keys()):
                if prev_high[i] != now_high[i]:
                    add("upgraded", i, before_level=prev_high[i])

    def _step(self, e: Enterprise, p: Period, t: int) -> QuarterData:
        rng = self.rng
        org = e.org_code
        skilled = max(60, round(e.employees0 * e.skilled_ratio * (1 + e.skilled_growth) ** t))
        staff = [x for x in self.staff[org] if x.pinned or not x.retires_by(p.end)] if t else []
        if t:
            kept = {id(x) for x in staff}
            for x in self.staff[org]:
                if id(x) not in kept:
                    self._events["retired"][x.id_number] = org
        # Leavers and outside hires (never at a lagging enterprise, whose flat headcount is the planted C05).
        if t and not e.lagging:
            # Someone who moved here this quarter does not also leave in it: the move would show on no roster.
            leaving = [x for x in staff if x.level in HIGH and not x.pinned and rng.random() < _LEAVE_RATE
                       and x.id_number not in self._events["moved"]]
            for x in leaving:
                self._events["left"][x.id_number] = org
            gone = {id(x) for x in leaving}
            staff = [x for x in staff if id(x) not in gone]
        for person in staff:
            self._promote(person, p, e.lagging)
        if t and not e.lagging and org in self.base and rng.random() < _HIRE_RATE:
            hired = self._new_person(e, rng.choices(contract.HIGH_SKILL_LEVELS, _HIGH_SKILL_MIX)[0], p, False)
            self._events["hired"].add(hired.id_number)
            staff.append(hired)
        if t == 0:
            # The first quarter is the baseline, judged against the Beijing average of its year: a clean
            # enterprise starts at or above it (a lagging one keeps its planted share).
            average = 0.0 if e.lagging else self.ref.benchmark.get(p.year, 0.0)
            n_high = math.ceil(skilled * max(e.base_share, average))
            for _ in range(n_high):
                staff.append(self._new_person(e, rng.choices(contract.HIGH_SKILL_LEVELS, _HIGH_SKILL_MIX)[0], p, False))
        high = [x for x in staff if x.level in HIGH]
        if org not in self.base and p >= self.baseline_period:
            self.base[org] = (p, len(high) / skilled, len(high))
        # Grow the high-skill headcount: newly certified 高级工 (promoted from the unlisted 中级工).
        if org in self.base:
            if e.lagging:
                target = self.base[org][2]
            else:
                target = math.ceil(skilled * self.share_floor(e, p))
            while len(high) < target:
                person = self._new_person(e, "高级工", p, True)
                staff.append(person)
                high.append(person)
        # Lower-level key trainees: a few young people the enterprise trains up.
        low = [x for x in staff if x.level not in HIGH]
        for _ in range(max(0, 2 + e.employees0 // 500 - len(low))):
            person = self._new_person(e, rng.choice(_KEY_TRAINEE_DRAW), p, False)
            person.is_key_trainee = True
            staff.append(person)
        # Key trainees among the high-skill; all key trainees get a training account (§三.1).
        keyed = sum(x.is_key_trainee for x in high)
        for person in rng.sample(high, min(len(high), max(0, max(1, round(0.05 * len(high))) - keyed))):
            if not person.is_key_trainee:
                person.is_key_trainee = True
        for person in staff:
            if person.is_key_trainee:
                person.has_account = True
            if person.is_chief and person.level not in TECH:
                person.is_chief = False
        techs = [x for x in staff if x.level in TECH]
        need_chiefs = max(1, round(0.1 * len(techs))) if techs else 0
        chiefs = sum(x.is_chief for x in techs)
        for person in rng.sample([x for x in techs if not x.is_chief], max(0, need_chiefs - chiefs)):
            person.is_chief = True
        self.staff[org] = staff

        qd = self._report(e, p, skilled, staff)
        if self.plan.loaded(org, p):  # "tenured" = on the last roster that reached the warehouse
            self.prev_ids[org] = frozenset(x.id_number for x in staff)
        return qd

    def _report(self, e: Enterprise, p: Period, skilled: int, staff: list[Person]) -> QuarterData:
        rng = self.rng
        org = e.org_code
        plan = self.plan
        loaded = plan.loaded(org, p)
        # Planted C01: at the year's first quarter pick a settled high-skill person who stays all year.
        if plan.violates(org, p.year, "C01") and (org, p.year) not in self.pinned:
            dec31 = dt.date(p.year, 12, 31)
            fit = [x for x in staff if x.level in HIGH and x.age_at(dec31) < 48]
            if fit:
                chosen = rng.choice(fit)
                chosen.pinned = True
                self.pinned[(org, p.year)] = chosen
        pinned = self.pinned.get((org, p.year))
        if p.quarter == 1 and (org, p.year - 1) in self.pinned:
            self.pinned[(org, p.year - 1)].pinned = pinned is self.pinned[(org, p.year - 1)]

        no_account: set[str] = set()
        if "C12" in plan.quarter_violations.get((org, p), ()):
            trainees = [x for x in staff if x.is_key_trainee]
            if trainees:
                no_account.add(rng.choice(trainees).id_number)

        ordered = sorted(staff, key=lambda x: (_ROSTER_ORDER[x.level], x.cert_date, x.id_number))
        roster = [
            {
                "id_number": x.id_number, "name": x.name, "sex": x.sex, "birth_date": x.birth_date,
                "occupation": x.occupation, "skill_level": x.level, "cert_no": x.cert_no,
                "cert_date": x.cert_date, "is_frontline": x.is_frontline, "is_chief_technician": x.is_chief,
                "is_key_trainee": x.is_key_trainee,
                "has_training_account": x.has_account and x.id_number not in no_account,
            }
            for x in ordered
        ]
        training = self._trainings(e, p, ordered, pinned, loaded)

        counts = {lvl: 0 for lvl in contract.SKILL_LEVELS}
        for x in staff:
            counts[x.level] += 1
        n_high = sum(counts[lvl] for lvl in HIGH)
        rest = skilled - n_high
        l4 = max(round(rest * 0.55), counts["中级工"])
        l5 = max(rest - l4, counts["初级工"])
        skilled = max(skilled, n_high + l4 + l5)
        employees = round(skilled / e.skilled_ratio)
        profile = {
            "org_code": e.display_code, "enterprise_name": e.name, "period": str(p),
            "group_org_code": format_org_code(e.group_code),
            "industry_code": e.industry_code, "sector": e.sector, "employees_total": employees,
            "frontline_workers": round(employees * e.frontline_ratio), "skilled_workers": skilled,
            "level5_junior": l5, "level4_intermediate": l4,
            "level3_senior": counts["高级工"], "level2_technician": counts["技师"],
            "level1_senior_technician": counts["高级技师"],
            "chief_technicians": sum(r["is_chief_technician"] for r in roster),
            "key_trainees": sum(r["is_key_trainee"] for r in roster),
            "training_accounts": sum(r["has_training_account"] for r in roster),
            "preparer": e.preparer, "phone": e.phone,
            "submitted_on": max(p.start, plan.arrivals[(org, p)].date() - dt.timedelta(days=rng.randint(0, 2))),
        }
        return QuarterData(
            org_code=org, period=p, profile=profile, funds=self._funds(e, p, employees),
            governance=self._governance(e, p), incentives=self._incentives(e, p),
            innovation=self._innovation(employees) if rng.random() < 0.9 else None,
            roster=roster, training=training,
            untrained_ids=[pinned.id_number] if pinned is not None and pinned.org_code == org
            and p.year not in self.trained.get(pinned.id_number, ()) else [],
            no_account_ids=sorted(no_account), tenured_ids=self.prev_ids.get(org, frozenset()),
        )

    def _trainings(self, e: Enterprise, p: Period, roster: list[Person], pinned: Person | None,
                   loaded: bool) -> list[dict]:
        rng = self.rng
        left = self.plan.loaded_quarters_left(e.org_code, p)
        events = []
        for person in roster:
            if person is pinned:
                continue
            done = p.year in self.trained.get(person.id_number, ())
            must = person.level in HIGH and not done
            # Spread the yearly training over the quarters that will load, so that whichever
            # roster ends up as the year-end one, everyone on it has trained (C01).
            go = rng.random() < (1 / left if must and loaded and left else 0.12)
            if not go:
                continue
            events.append(self._event(e, p, person))
            if loaded:
                self.trained.setdefault(person.id_number, set()).add(p.year)
                self.train_periods.setdefault(person.id_number, set()).add(p.index)
        return events

    def _event(self, e: Enterprise, p: Period, person: Person) -> dict:
        rng = self.rng
        kind = rng.choices(contract.TRAINING_TYPES, (40, 12 if person.level in TECH else 3, 10, 15, 15, 5))[0]
        days = rng.randint(1, 12)
        start = random_day(rng, p.start, p.end - dt.timedelta(days=days - 1))
        hours = float(min(days * 8, 2000) if rng.random() < 0.7 else rng.choice((4, 8, 16, 24)))
        return {
            "id_number": person.id_number, "course_name": _COURSES[kind].format(occ=person.occupation),
            "training_type": kind, "start_date": start, "end_date": start + dt.timedelta(days=days - 1),
            "hours": hours, "cost": round(hours * rng.uniform(20, 60), 2), "provider": rng.choice(_PROVIDERS),
            "certified": rng.random() < 0.2,
        }

    def _funds(self, e: Enterprise, p: Period, employees: int) -> dict:
        rng = self.rng
        years = p.year - 2006 + (p.quarter - 1) / 4
        payroll = round(employees * e.wage0 * 1.1 ** years * rng.uniform(0.97, 1.03), 2)
        low_fund = self.plan.violates(e.org_code, p.year, "C03")
        ratio = rng.uniform(0.006, 0.011) if low_fund else e.fund_ratio * rng.uniform(0.97, 1.03)
        extracted = round(payroll * ratio, 2)
        spent = round(extracted * rng.uniform(0.75, 1.0), 2)
        front = rng.uniform(0.3, 0.48) if self.plan.violates(e.org_code, p.year, "C04") else e.frontline_share
        return {
            "payroll": payroll, "fund_extracted": extracted, "fund_spent": spent,
            "fund_spent_frontline": round(spent * front, 2),
            "fund_spent_high_skill": round(spent * rng.uniform(0.2, 0.4), 2),
            "fund_school_enterprise": round(spent * rng.uniform(0.0, 0.15), 2),
            "innovation_rewards": round(rng.uniform(0, 3), 2),
        }

    def _governance(self, e: Enterprise, p: Period) -> dict:
        org, y = e.org_code, p.year
        gov = dict.fromkeys(
            ("has_leading_group", "has_training_plan", "has_talent_database", "has_chief_technician_system",
             "has_technician_study_system", "has_reserve_echelon_system", "in_manager_assessment"), True)
        rng = random.Random(f"{org}-{y}-gov")  # the same missing item all year
        if self.plan.violates(org, y, "C06"):
            gov[rng.choice(("has_leading_group", "has_training_plan", "has_talent_database"))] = False
        if self.plan.violates(org, y, "C08"):
            gov["has_chief_technician_system"] = False
        if self.plan.violates(org, y, "C13"):
            gov[rng.choice(("has_technician_study_system", "has_reserve_echelon_system"))] = False
        # Report to the 职代会 in the year's first quarter that loads, so every quarter row of the
        # year already counts one report (C07); sometimes a second one in Q3.
        first_loaded = next((q for q in self.plan.periods if q.year == y and self.plan.loaded(org, q)), None)
        report = None
        if not self.plan.violates(org, y, "C07") and (p == first_loaded or (p.quarter == 3 and rng.random() < 0.5)):
            report = random_day(self.rng, p.start + dt.timedelta(days=10), p.end - dt.timedelta(days=5))
        gov["congress_report_date"] = report
        return gov

    def _incomes(self, e: Enterprise, y: int) -> tuple[int, int, int]:
        """(high, general, professional) 元/year; the gap widens every year unless C10 is planted."""
        key = (e.org_code, y)
        if key in self.income:
            return self.income[key]
        k = y - 2006
        general = e.income_general0 * 1.07 ** k
        high = general * (1 + e.income_premium + 0.04 * k)
        if self.plan.violates(e.org_code, y, "C10"):
            prev_high, prev_general, _ = self._incomes(e, y - 1)
            general = high - 0.85 * (prev_high - prev_general)
        professional = high / e.professional_discount
        if self.plan.violates(e.org_code, y, "C09"):
            professional = high * 1.08
        self.income[key] = (round(high), round(general), round(professional))
        return self.income[key]

    def _incentives(self, e: Enterprise, p: Period) -> dict:
        rng = self.rng
        high, general, professional = self._incomes(e, p.year)
        if self.plan.violates(e.org_code, p.year, "C11"):
            total, hs = rng.randint(1, 3), 0
        else:
            total = rng.choice((0, 0, 1, 2, 3))
            hs = math.ceil(total * 0.7)
        return {
            "avg_income_high_skill": high, "avg_income_general_skill": general,
            "avg_income_professional": professional, "model_workers_total": total,
            "model_workers_high_skill": hs, "cadres_from_high_skill": rng.choice((0, 0, 1, 2)),
            "party_members_from_high_skill": rng.choice((0, 1, 2, 3)),
            "deputies_from_high_skill": rng.choice((0, 0, 0, 1)),
        }

    def _innovation(self, employees: int) -> dict:
        rng = self.rng
        return {
            "suggestions": rng.randint(0, employees // 10), "innovations": rng.randint(0, 12),
            "best_practices": rng.randint(0, 5), "new_records": rng.randint(0, 3),
            "participants": rng.randint(0, employees // 3),
        }
