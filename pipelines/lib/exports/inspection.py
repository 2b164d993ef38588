"""Inspection pack (检查页): one self-contained HTML page per enterprise, and one per group, for the joint
inspection the policy's closing paragraph asks of the commission, the labour bureau and the trade union.

A page gathers what is otherwise spread over the marts: the registry record, every quarter's filing status,
the high-skill share against the Beijing average and the trajectory line, the talent flows, training
coverage, the training funds against their thresholds, the governance checklist (C06–C08, C12, C13) and the
incentives (C09–C11) year by year, and every flag with its rule, clause, value and threshold. It prints on A4
in at most three pages. No script, no external fetch; every figure is read from the published warehouse.

Key figures carry ``data-field`` / ``data-period`` attributes, so a test reads the rendered DOM and compares
it with the marts. Pages are written in bulk for a run (a handful of queries for all enterprises) and
rewritten only when their inputs changed (the digest in ``<meta name="sasac-inputs-sha256">``, as for the
quarterly report). This module reads the rows and works out what each part of a page shows;
``templates/enterprise.html.j2``, ``group.html.j2`` and their parts (``_share.html.j2`` …) mark it up.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.codes import format_org_code, normalize_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import POLICY_TITLE
from pipelines.lib.exports.charts import BLUE, ORANGE, line_chart
from pipelines.lib.exports.display import Display, pct, read_display
from pipelines.lib.exports.forked import map_forked
from pipelines.lib.exports.manifest import MANIFEST_PATH, manifest_nodes
from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name
from pipelines.lib.exports.publish import content_digest, display_digest, renderer_digest
from pipelines.lib.exports.receipts import flag_value
from pipelines.lib.exports.report import write_if_changed
from pipelines.lib.exports.rows import dict_rows
from pipelines.lib.exports.templating import preload, render, templates_digest
from pipelines.lib.machine import WORKER_PROCESSES

RENDERER_MODULES = ("pipelines.lib.exports.inspection", "pipelines.lib.exports.report", "pipelines.lib.exports.charts",
                    "pipelines.lib.exports.templating", "pipelines.lib.exports.display", "pipelines.lib.domain.codes",
                    "pipelines.lib.domain.periods", "pipelines.lib.domain.rule_text")
# The governance checklist and the incentives, in the order of RULES.md: (rule, verdict column of the mart).
GOVERNANCE_CHECKS = (("C06", "c06_ok"), ("C07", "c07_ok"), ("C08", "c08_ok"), ("C12", "c12_ok"), ("C13", "c13_ok"))
INCENTIVE_CHECKS = (("C09", "c09_ok"), ("C10", "c10_ok"), ("C11", "c11_ok"))
# The part's note: the thresholds its ✓ and ✗ (dbt's c02_ok, c03_ok, c04_ok) were judged against, per period.
FUNDING_NOTE = ("阈值取自参考数据：经费提取比例下限 {fund_ratio_min}，一线职工使用占比下限 {frontline_share_min}；"
                "覆盖率要求 {coverage_min}")
# The share chart's colour for the trajectory line: a neutral grey-green, apart from the two series colours.
TRAJECTORY_COLOUR = "#5b8c5a"

def caveated_verdicts(manifest_path: Path = MANIFEST_PATH) -> dict[str, str]:
    """Verdict column -> the column of its row that says when it rests on fewer quarters than the rule needs
    (C07 counts reports per quarter, C11 sums model workers), as the marts' yml marks them
    (``meta: {caveat_column: …}``); the other verdicts read one version and carry no caveat."""
    return {name: caveat for n in manifest_nodes(manifest_path, "model")
            for name, col in (n.get("columns") or {}).items()
            if (caveat := (col.get("meta") or {}).get("caveat_column"))}


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


# ------------------------------------------------------------------------------------------------
# Data: every mart read once for all the pages of a run
# ------------------------------------------------------------------------------------------------
@dataclass
class Inspection:
    as_of: str
    display: Display
    enterprises: dict[str, dict[str, Any]]  # org_code -> dim_enterprises row
    rules: dict[str, dict[str, Any]]  # rule_id -> ref_rules row
    rows: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # part -> entity -> rows
    caveats: dict[str, str] = field(default_factory=caveated_verdicts)  # verdict column -> its caveat's column

    @functools.cached_property
    def members(self) -> dict[str, list[str]]:
        """group org_code -> its enterprises, sorted."""
        out: dict[str, list[str]] = defaultdict(list)
        for org in sorted(self.enterprises):
            out[self.enterprises[org]["group_org_code"]].append(org)
        return out

    @functools.cached_property
    def group_names(self) -> dict[str, str | None]:
        """group org_code -> the group's name as its first enterprise (in the registry's order) gives it: read once,
        not by a walk over every enterprise for each group's page."""
        out: dict[str, str | None] = {}
        for e in self.enterprises.values():
            out.setdefault(e["group_org_code"], e["group_name"])
        return out

    @functools.cached_property
    def base_digest(self) -> str:
        """What every page shares: the drawing code, the display reference and the rules (hashed once here,
        not into each of 11,000 pages' digests)."""
        return content_digest(renderer_digest(*RENDERER_MODULES), templates_digest(), display_digest(self.display),
                              sorted(self.rules.items()), sorted(self.caveats.items()))

    @functools.cached_property
    def year_rules(self) -> frozenset[str]:
        return self.display.year_level_rules

    @functools.cached_property
    def colours(self) -> dict[str, str]:
        """A status's or severity's text colour, by its code or its Chinese label (looked up once a run, not in
        every cell of 11,000 pages)."""
        return {k: self.display.text_colour(c.tone) for c in self.display.codes for k in (c.code, c.label_zh)}

    def of(self, part: str, entity: str) -> list[dict[str, Any]]:
        return self.rows.get(part, {}).get(entity, [])

    @property
    def last_year_end(self) -> str | None:
        """The latest year row a page can show: the as-of year's Q4 when as-of is a Q4, else the year before's."""
        p = Period.parse(self.as_of)
        year = p.year if p.quarter == 4 else p.year - 1
        return f"{year}Q4"


def horizon(con: duckdb.DuckDBPyConnection) -> str | None:
    return con.execute("select max(period) from marts.filing_status").fetchone()[0]


def load_inspection(con: duckdb.DuckDBPyConnection, as_of: str, orgs: Sequence[str] | None = None) -> Inspection:
    """The rows of every page up to ``as_of``; ``orgs`` limits the enterprise and group rows read (None = all)."""
    as_of = str(Period.parse(as_of))
    filt = "" if orgs is None else " and {col} in (select unnest(?))"
    extra: list[Any] = [] if orgs is None else [list(orgs)]

    def rows(sql: str, col: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return dict_rows(con, sql + filt.format(col=col), [*params, *extra])

    d = Inspection(as_of, read_display(con),
                   {r["org_code"]: r for r in dict_rows(con, "select * from marts.dim_enterprises")},
                   {r["rule_id"]: r for r in dict_rows(con, "select * from reference.ref_rules")})
    parts = {
        "filing": rows("select * from marts.filing_status where period <= ?", "org_code", [as_of]),
        "share": rows("select * from marts.high_skill_share_tracking where period_type = 'quarter' and period <= ?"
                      " and grain in ('enterprise', 'group')", "entity_code", [as_of]),
        "flows": rows("select * from marts.talent_flows where period <= ? and grain in ('enterprise', 'group')"
                      " and (period_type = 'year' or period = ?)", "entity_code", [as_of, as_of]),
        "coverage": rows("select * from marts.training_coverage_tracking where skill_level = '全部' and period <= ?"
                         " and grain in ('enterprise', 'group') and (period_type = 'year' or period = ?)",
                         "entity_code", [as_of, as_of]),
        "funds": rows("select * from marts.fund_tracking where period <= ? and grain in ('enterprise', 'group')"
                      " and (period_type = 'year' or period = ?)", "entity_code", [as_of, as_of]),
        "governance": rows("select * from marts.governance_matrix where period <= ?"
                           " and (period_type = 'year' or period = ?)", "org_code", [as_of, as_of]),
        "incentives": rows("select * from marts.incentives_tracking where period <= ?", "org_code", [as_of]),
        "flags": rows("select * from marts.compliance_flags where period <= ?", "org_code", [as_of]),
    }
    entity_col = {"share": "entity_code", "flows": "entity_code", "coverage": "entity_code", "funds": "entity_code"}
    for part, part_rows in parts.items():
        key = entity_col.get(part, "org_code")
        if key == "entity_code":
            part_rows = [{**r, "_key": f"{r['grain']}:{r['entity_code']}"} for r in part_rows]
            d.rows[part] = _by(part_rows, "_key")
        else:
            d.rows[part] = _by(part_rows, key)
    return d


class _NoRow(dict):
    """The row a page shows when there is none: every column is missing (None), as ``{}.get`` would say."""

    def __missing__(self, key: str) -> None:
        return None


NO_ROW = _NoRow()


def _ordered(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


# ------------------------------------------------------------------------------------------------
# Parts: what each part of a page shows, computed here; templates/_*.html.j2 mark it up
# ------------------------------------------------------------------------------------------------
def _filing_grid(rows: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any] | None]]]:
    """(year, its four quarters' filing rows, None where the enterprise was not due) for every year filed."""
    by_year: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        p = Period.parse(r["period"])
        by_year[p.year][p.quarter] = r
    return [(year, [by_year[year].get(q) for q in range(1, 5)]) for year in sorted(by_year)]


def _share_part(d: Inspection, key: str, name: str) -> dict[str, Any] | None:
    share = _ordered(d.of("share", key), "period")
    if not share:
        return None
    now = share[-1]
    target = now.get("target_share")
    plan = f"“{now['plan_name']}”" if now.get("plan_name") else ""
    hl = [(target, f"{plan}{now.get('target_year')}年目标 {pct(target)}", d.display.text_colour("bad"))] \
        if target is not None else []
    chart = line_chart(f"{name} 高技能人才占技能劳动者比例", [r["period"] for r in share], [
        {"name": "本单位", "values": [r["high_skill_share"] for r in share], "colour": BLUE},
        {"name": "北京市平均", "values": [r["beijing_average"] for r in share], "colour": ORANGE, "dash": "4 3"},
        {"name": "进度线", "values": [r["trajectory_share"] for r in share], "colour": TRAJECTORY_COLOUR,
         "dash": "2 3"},
    ], "高技能人才占比", hlines=hl, w=1000, h=250)
    return {"now": now, "chart": chart, "assumed": "（假设值）" if now.get("benchmark_status") == "assumed" else ""}


FLOW_COUNTS = ("high_skill_start", "promoted_in", "promoted_trained", "transfer_in", "returned_in", "new_in",
               "first_filing_in", "refiling_in", "transfer_out", "retired", "left_otherwise", "unreported_out",
               "high_skill_end", "upgraded")
FLOW_SHARES = ("share_change", "share_from_promotion", "share_from_hiring", "share_from_returns",
               "share_from_transfers", "share_from_observation", "share_from_departures",
               "share_from_skilled_workers", "share_from_roster_gap")


def _flows_part(d: Inspection, key: str) -> list[dict[str, Any]]:
    rows = d.of("flows", key)
    years = _ordered([r for r in rows if r["period_type"] == "year"], "period")
    quarter = [r for r in rows if r["period_type"] == "quarter" and r["period"] == d.as_of]
    return [{"label": f"{r['year']}年" if r["period_type"] == "year" else f"{r['period']}（季度）",
             "tag": f"{r['period']}:{r['period_type']}", "basis": r["basis"], "counts": [(c, r[c]) for c in FLOW_COUNTS],
             "shares": [r[c] for c in FLOW_SHARES]} for r in years + quarter]


def _coverage_funds_part(d: Inspection, key: str) -> dict[str, Any]:
    # A Q4 as-of quarter is the year row already: show it once.
    cov = {r["period"] + r["period_type"]: r for r in d.of("coverage", key)
           if r["period_type"] == "year" or not d.as_of.endswith("Q4")}
    funds = {r["period"] + r["period_type"]: r for r in d.of("funds", key)
             if r["period_type"] == "year" or not d.as_of.endswith("Q4")}
    rows = []
    for k in sorted(set(cov) | set(funds)):
        c, f = cov.get(k, NO_ROW), funds.get(k, NO_ROW)
        r = c or f
        label = f"{r['year']}年" if r["period_type"] == "year" else f"{r['period']}（年初至今）"
        rows.append({"label": label, "tag": f"{r['period']}:{r['period_type']}", "cov": c, "fund": f})
    periods = {r["period"] for r in (*cov.values(), *funds.values())}
    return {"rows": rows, "note": d.display.text_over(FUNDING_NOTE, periods) if periods else ""}


def _checklist_part(d: Inspection, org: str) -> dict[str, Any] | None:
    gov = {r["year"]: r for r in d.of("governance", org) if r["period_type"] == "year"}
    now = next((r for r in d.of("governance", org) if r["period_type"] == "quarter" and r["period"] == d.as_of), None)
    inc = {r["year"]: r for r in d.of("incentives", org)}
    years = sorted(set(gov) | set(inc))
    if not years and now is None:
        return None
    # a column: its title, the period its figures carry, and its governance and incentives rows
    cols = [{"title": str(y), "period": f"{y}Q4", "rows": (gov.get(y, {}), inc.get(y, {}))} for y in years]
    if now is not None and now["period"] != f"{now['year']}Q4":
        cols.append({"title": f"{now['period']}（至今）", "period": now["period"], "rows": (now, {})})
    governance = dict(GOVERNANCE_CHECKS)

    def cell(c: dict[str, Any], rule: str, col: str) -> tuple[dict[str, Any], Any, str | None]:
        """(column, verdict, the caveat of a verdict resting on fewer quarters than the rule needs)."""
        row = c["rows"][0 if rule in governance else 1]
        caveat = d.caveats.get(col)
        return c, row.get(col), row.get(caveat) if caveat else None

    rows = [{"rule": rule, "column": col, "clause": d.rules.get(rule, {}).get("clause", ""),
             "title": d.display.text_over(d.rules.get(rule, {}).get("title_zh", ""), [c["period"] for c in cols]),
             "cells": [cell(c, rule, col) for c in cols]}
            for rule, col in (*GOVERNANCE_CHECKS, *INCENTIVE_CHECKS)]
    return {"columns": cols, "rows": rows}


def period_runs(periods: Iterable[str]) -> str:
    """2006Q2, 2006Q3, 2006Q4, 2008Q1 -> "2006Q2–2006Q4、2008Q1": consecutive quarters as one run."""
    runs: list[list[Period]] = []
    for p in sorted({Period.parse(x) for x in periods}):
        if runs and runs[-1][-1].next() == p:
            runs[-1].append(p)
        else:
            runs.append([p])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _flags_part(d: Inspection, org: str) -> dict[str, Any]:
    """Every flag, one row per rule (so the page stays within three A4 pages whatever the history): the
    quarters it was raised in, how many, and the latest one's value, threshold and explanation."""
    flags = d.of("flags", org)
    year_rules = d.year_rules
    latest_year = d.last_year_end
    # A rule is open when it is still flagged in the latest period it can be judged for (the as-of quarter,
    # or the latest complete year for the year-level rules); else its flags are closed.
    still = {f["rule_id"] for f in flags
             if f["period"] == (latest_year if f["rule_id"] in year_rules else d.as_of)}
    state = {code: d.display.label("flag_state", code) for code in ("open", "closed")}
    sev_order = d.display.order("severity")
    by_rule = _by(flags, "rule_id")
    rows = []
    for rule_id in sorted(by_rule, key=lambda r: (r not in still, r)):
        ordered = sorted(by_rule[rule_id], key=lambda f: (f["period"], sev_order.get(f["severity"], 9),
                                                          f["source_row"] or 0, f["flag_id"]))
        latest = max(ordered, key=lambda f: f["period"])
        in_latest = sum(1 for f in ordered if f["period"] == latest["period"])
        worst = min((f["severity"] for f in ordered), key=lambda v: sev_order.get(v, 9))
        rows.append({"rule_id": rule_id, "count": len(ordered), "latest": latest,
                     "state": state["open"] if rule_id in still else state["closed"],
                     "title": d.display.title(rule_id, latest["period"]),
                     "severity": d.display.label("severity", worst),
                     "periods": period_runs(f["period"] for f in ordered),
                     "value": flag_value(rule_id, latest["observed_value"], d.display),
                     "threshold": flag_value(rule_id, latest["threshold"], d.display),
                     "more": f"（该期共 {in_latest} 条）" if in_latest > 1 else ""})
    return {"total": len(flags), "open": sum(1 for f in flags if f["rule_id"] in still), "open_label": state["open"],
            "rows": rows}


def _common(d: Inspection, key: str, name: str, title: str, digest: str) -> dict[str, Any]:
    """What every inspection page has: the head, and the share, flows and funds of ``key`` (``grain:code``)."""
    return {"title": title, "css": "exports/inspection.css", "digest": digest, "display": d.display, "name": name,
            "colours": d.colours, "ok_colour": d.display.text_colour("ok"), "bad_colour": d.display.text_colour("bad"),
            "as_of": d.as_of, "policy_title": POLICY_TITLE, "share": _share_part(d, key, name),
            "flows": _flows_part(d, key), "funding": _coverage_funds_part(d, key)}


# ------------------------------------------------------------------------------------------------
# Pages
# ------------------------------------------------------------------------------------------------
def render_enterprise(d: Inspection, org: str, digest: str = "") -> str:
    e = d.enterprises[org]
    name = e["enterprise_name"] or format_org_code(org)
    group = d.enterprises.get(e["group_org_code"], {})
    return render(
        "exports/enterprise.html.j2", **_common(d, f"enterprise:{org}", name, f"企业检查页 {name} {d.as_of}", digest), org=org, e=e,
        group_dir=GROUP_DIR, group_page=page_name(e["group_org_code"]) if e["group_org_code"] else "",
        group_name=group.get("enterprise_name") or e["group_name"], filing=_filing_grid(d.of("filing", org)),
        checklist=_checklist_part(d, org), flags=_flags_part(d, org))


def members_of(d: Inspection, group: str) -> list[str]:
    return d.members.get(group, [])


def _member_row(d: Inspection, org: str) -> dict[str, Any]:
    """One enterprise's line on its group's page: the as-of quarter, and the latest year's flows, training,
    funds and checklist."""
    year_end = d.last_year_end

    def first(part: str, key: str, year: bool = True) -> dict[str, Any]:
        return next((r for r in d.of(part, key) if r["period"] == (year_end if year else d.as_of)
                     and (not year or r.get("period_type", "year") == "year")), NO_ROW)

    gov, inc = first("governance", org), first("incentives", org)
    flags = d.of("flags", org)
    return {"page": page_name(org), "name": d.enterprises[org]["enterprise_name"], "tag": f"{org}:{d.as_of}",
            "filing": first("filing", org, year=False), "share": first("share", f"enterprise:{org}", year=False),
            "flow": first("flows", f"enterprise:{org}"), "cov": first("coverage", f"enterprise:{org}"),
            "fund": first("funds", f"enterprise:{org}"),
            "checks": [gov.get(col) for _, col in GOVERNANCE_CHECKS] + [inc.get(col) for _, col in INCENTIVE_CHECKS],
            "open": sum(1 for f in flags if f["period"] == (year_end if f["rule_id"] in d.year_rules
                                                           else d.as_of))}


def render_group(d: Inspection, group: str, digest: str = "") -> str:
    hq = d.enterprises.get(group, {})
    name = d.group_names.get(group) \
        or hq.get("enterprise_name") or format_org_code(group)
    return render(
        "exports/group.html.j2", **_common(d, f"group:{group}", name, f"集团检查页 {name} {d.as_of}", digest), group=group,
        year_end=d.last_year_end, members=[_member_row(d, org) for org in members_of(d, group)],
        check_rules=[r for r, _ in (*GOVERNANCE_CHECKS, *INCENTIVE_CHECKS)], enterprise_dir=ENTERPRISE_DIR)


def _page_rows(d: Inspection, org: str, group: bool) -> list[Any]:
    # A group's code is also its head office's org code: an enterprise page depends on the enterprise's rows
    # only, a group page on the group's and its members'.
    keys = [org, f"enterprise:{org}"]
    if group:
        keys = [f"group:{org}"]
        for m in members_of(d, org):
            keys += [m, f"enterprise:{m}"]
    return [d.as_of, group, sorted(keys), {part: {k: rows.get(k, []) for k in keys} for part, rows in d.rows.items()},
            {k: d.enterprises.get(k) for k in [org, *(members_of(d, org) if group else [])]}]


def write_page(d: Inspection, org: str, path: Path, group: bool = False) -> bool:
    """Write one enterprise's (or group's) page at ``path`` unless it already shows these inputs."""
    digest = content_digest(d.base_digest, _page_rows(d, org, group))
    if group:
        return write_if_changed(path, digest, lambda dg: render_group(d, org, dg))
    return write_if_changed(path, digest, lambda dg: render_enterprise(d, org, dg))


class UnknownEntityError(LookupError):
    pass


def write_inspection_page(db_path: Path, org_code: str, out_path: Path, period: str | None = None,
                          group: bool = False) -> Path:
    """The CLI's page: one enterprise (or, with ``group``, the group with that code) as of ``period``."""
    org = normalize_org_code(org_code)
    with duckdb.connect(str(db_path), read_only=True) as con:
        as_of = str(Period.parse(period)) if period else horizon(con)
        if as_of is None:
            raise UnknownEntityError("发布库中没有任何报告期的数据")
        members = [r[0] for r in con.execute("select org_code from marts.dim_enterprises where group_org_code = ?",
                                             [org]).fetchall()]
        if group and not members:
            raise UnknownEntityError(f"名录中没有以 {format_org_code(org)} 为集团代码的企业")
        if not group and not con.execute("select 1 from marts.dim_enterprises where org_code = ?", [org]).fetchone():
            raise UnknownEntityError(f"名录中没有组织机构代码为 {format_org_code(org)} 的企业")
        d = load_inspection(con, as_of, [org, *members] if group else [org])
    write_page(d, org, Path(out_path), group=group)
    return Path(out_path)


@dataclass
class PagesWritten:
    written: int = 0
    unchanged: int = 0
    removed: int = 0


def write_inspection_pages(db_path: Path, report_dir: Path, workers: int = WORKER_PROCESSES) -> PagesWritten:
    """Every registered enterprise's and group's page, as of the warehouse's horizon, under ``report_dir``
    (``enterprises/10117472-0.html``, ``groups/<group code>.html``: ``pages.page_name``); pages of codes no longer registered
    are removed. ``workers``: how many forked children write them (see ``forked.map_forked``)."""
    result = PagesWritten()
    with duckdb.connect(str(db_path), read_only=True) as con:
        as_of = horizon(con)
        if as_of is None:
            return result
        d = load_inspection(con, as_of)
    groups = sorted({e["group_org_code"] for e in d.enterprises.values() if e["group_org_code"]})
    d.base_digest  # noqa: B018 - computed once here, before the children fork, not once in each
    d.colours, d.year_rules, d.group_names  # noqa: B018 - likewise
    preload()
    for folder, codes, is_group in ((ENTERPRISE_DIR, sorted(d.enterprises), False), (GROUP_DIR, groups, True)):
        target = Path(report_dir) / folder
        # forked children inherit the loaded marts and the compiled templates
        written = map_forked(lambda code, target=target, is_group=is_group:
                             write_page(d, code, target / page_name(code), group=is_group), codes, workers)
        result.written += sum(written)
        result.unchanged += len(written) - sum(written)
        if target.is_dir():
            names = {page_name(code) for code in codes}
            for stale in target.glob("*.html"):
                if stale.name not in names:
                    stale.unlink()
                    result.removed += 1
    return result
