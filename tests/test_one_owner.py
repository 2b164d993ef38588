"""One owner for every truth (issue 9): what a seed defines is not typed again in Python.

The seeds in dbt_project/seeds/ own the status and severity names, the colours, the rules' levels, the
skill levels and the policy thresholds. This test reads them and scans every Python source under
``pipelines/`` (its syntax tree, so comments are free to mention anything) for a copy:

- a string that *is* a status, severity or colour name (``"名录外报送"``, ``"错误"``, ``"绿色"``), or that
  quotes one for SQL (``when '已达标'``);
- a string holding a tone's colour hex (``"#C6EFCE"``, CSS included);
- a tuple/list/set of rule ids that equals a group the seed defines (all rules of one level, family or
  severity, or the year-level rules);
- a tuple/list/set naming two or more skill levels;
- a dict keyed by every code of a status domain or of the severities (a per-code label, order or colour);
- a threshold key bound to a number (``fund_ratio_min = 0.015``, ``{"deadline_day": 15}``).

Messages stay free: docstrings and the text pieces of f-strings are prose, and a message that merely
contains a name (“初级工、中级工只有作为重点培养对象…”) is not the name. Dicts keyed by skill level are
allowed: they are the generator's per-level simulation parameters (ages, promotion rates), keyed by the
seed's names rather than listing them. ``ALLOWED`` lists the few remaining literals, each with its reason.
"""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "dbt_project" / "seeds"
SOURCES = sorted((REPO / "pipelines").rglob("*.py"))

# (path relative to the repository, the literal) -> why it is not a second owner.
ALLOWED: dict[tuple[str, str], str] = {
    ("pipelines/lib/exports/receipts.py", "#7f7f7f"):
        "the receipt's thin cell-border grey: a line colour of the layout, not the muted tone's text colour",
    ("pipelines/lib/forms/template.py", "#ededed"):
        "the blank template's grey for optional columns; the template is written without a warehouse "
        "(no reference schema to read) and the grey marks 'may stay empty', not a status tone",
}


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Truths:
    labels: frozenset[str]
    colours: frozenset[str]
    rule_groups: dict[frozenset[str], str]
    skill_levels: frozenset[str]
    code_sets: dict[frozenset[str], str]
    threshold_keys: frozenset[str]


def seed_truths() -> Truths:
    statuses, severities, tones = _seed("ref_statuses"), _seed("ref_severities"), _seed("ref_tones")
    # Labels that are also ordinary words of the documents are left to their domain's own tests: the
    # period types 季度/年度 head columns and sentences everywhere.
    labels = {r["label_zh"] for r in statuses if r["domain"] != "period_type"}
    labels |= {r["label_zh"] for r in severities} | {r["label_zh"] for r in tones}
    colours = {r[k].lower() for r in tones for k in ("fill_colour", "text_colour")}
    groups: dict[frozenset[str], str] = {}
    rules = _seed("ref_rules")
    for column in ("level", "family", "severity"):
        for value in {r[column] for r in rules}:
            group = frozenset(r["rule_id"] for r in rules if r[column] == value)
            if len(group) >= 2:
                groups.setdefault(group, f"ref_rules.{column} = {value}")
    groups.setdefault(frozenset(r["rule_id"] for r in rules if r["level"].endswith("-year")),
                      "ref_rules.level *-year (the year-level rules)")
    codes: dict[frozenset[str], str] = {frozenset(r["severity"] for r in severities): "severity-codes"}
    for domain in {r["domain"] for r in statuses}:
        codes[frozenset(r["status_code"] for r in statuses if r["domain"] == domain)] = f"{domain}-codes"
    return Truths(
        labels=frozenset(labels), colours=frozenset(colours), rule_groups=groups,
        skill_levels=frozenset(r["skill_level"] for r in _seed("ref_skill_levels")), code_sets=codes,
        threshold_keys=frozenset(r["threshold_key"] for r in _seed("ref_policy_thresholds")),
    )


def _prose_nodes(tree: ast.AST) -> set[int]:
    """Docstrings and the literal pieces of f-strings: text, not definitions."""
    prose: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            prose |= {id(v) for v in node.values}
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                prose.add(id(first.value))
    return prose


def _strings(elts: list[ast.expr | None]) -> list[str]:
    return [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def copies(source: str, truths: Truths) -> list[tuple[int, str, str]]:
    """(line, what, literal) for every copy of a seed's truth in one Python source."""
    tree = ast.parse(source)
    prose = _prose_nodes(tree)
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            text = node.value
            if text in truths.labels:
                found.append((line, "label", text))
            for label in truths.labels:
                if f"'{label}'" in text:
                    found.append((line, "label in SQL", label))
            for colour in truths.colours:
                if re.search(re.escape(colour) + r"(?![0-9a-f])", text.lower()):
                    found.append((line, "colour", colour))
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            values = _strings(node.elts)
            if frozenset(values) in truths.rule_groups and len(values) >= 2:
                found.append((line, "rule list " + truths.rule_groups[frozenset(values)], ",".join(sorted(values))))
            levels = [v for v in values if v in truths.skill_levels]
            if len(levels) >= 2:
                found.append((line, "skill-level list", ",".join(levels)))
        elif isinstance(node, ast.Dict):
            keys = frozenset(_strings(node.keys))
            if keys in truths.code_sets:
                found.append((line, "map over codes", truths.code_sets[keys]))
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value in truths.threshold_keys and _is_number(v):
                    found.append((line, "threshold", k.value))
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and _is_number(node.value):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name) and target.id.lower() in truths.threshold_keys:
                    found.append((line, "threshold", target.id.lower()))
        elif isinstance(node, ast.keyword) and node.arg in truths.threshold_keys and _is_number(node.value):
            found.append((line, "threshold", node.arg))
    return found


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


@pytest.fixture(scope="module")
def truths() -> Truths:
    return seed_truths()


def test_seeds_give_the_guard_something_to_look_for(truths):
    assert {"名录外报送", "错误", "绿色", "需重新报送"} <= truths.labels
    assert "#c6efce" in truths.colours and len(truths.colours) == 8
    assert frozenset({"C01", "C02", "C03", "C04", "C06", "C07", "C08", "C09", "C10", "C11", "C13"}) in truths.rule_groups
    assert truths.skill_levels == {"初级工", "中级工", "高级工", "技师", "高级技师"}
    assert {"fund_ratio_min", "deadline_day"} <= truths.threshold_keys


def test_no_python_source_repeats_what_a_seed_defines(truths):
    problems = []
    used = set()
    for path in SOURCES:
        rel = path.relative_to(REPO).as_posix()
        for line, what, literal in copies(path.read_text(encoding="utf-8"), truths):
            if (rel, literal) in ALLOWED:
                used.add((rel, literal))
                continue
            problems.append(f"{rel}:{line}: {what} {literal!r}")
    assert problems == [], "read these from the seeds / the warehouse's reference schema:\n" + "\n".join(problems)
    assert used == set(ALLOWED), f"allow-list entries no longer needed: {set(ALLOWED) - used}"


@pytest.mark.parametrize("planted, what", [
    ('STATUS_ZH = {"unexpected": "名录外报送"}', "label"),
    ('SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}', "label"),
    ('sql = "select case status when \'已达标\' then 1 end"', "label in SQL"),
    ('GREEN = "#C6EFCE"', "colour"),
    ('CSS = ".bad{color:#c0392b;font-weight:bold}"', "colour"),
    ('YEAR_LEVEL_RULES = frozenset({"C01", "C02", "C03", "C04", "C06", "C07", "C08", "C09", "C10", "C11", "C13"})',
     "rule list ref_rules.level *-year (the year-level rules)"),
    ('LATE_RULES = ("D15", "D16")', "rule list ref_rules.level = submission"),
    ('HIGH = ("高级工", "技师", "高级技师")', "skill-level list"),
    ('low = frame.filter(pl.col("skill_level").is_in(["初级工", "中级工"]))', "skill-level list"),
    ('SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}', "map over codes"),
    ("FUND_RATIO_MIN = 0.015", "threshold"),
    ('LIMITS = {"deadline_day": 15}', "threshold"),
    ("check(frontline_share_min=0.6)", "threshold"),
])
def test_the_guard_finds_a_planted_copy(truths, planted, what):
    """Each kind of copy, planted in a source, is found: the guard can fail."""
    assert what in [w for _, w, _ in copies(planted, truths)]


@pytest.mark.parametrize("clean", [
    'message = "初级工、中级工只有作为重点培养对象才列入人才信息库"',  # a message mentioning names
    'def f():\n    """红色：错误；黄色：警告。"""',  # a docstring
    'text = f"标为“{label}”的年份：错误 {n} 条"',  # f-string prose
    'FATAL_RULES = frozenset({"D01", "D02", "D03", "D04"})',  # not a group any seed defines
    'AGES = {"初级工": (18, 26), "高级技师": (36, 57)}',  # per-level parameters keyed by the seed's names
    'deadline_day = int(thresholds_for(period)["deadline_day"])',  # reading a threshold, not defining it
    'colour = "#2f6db5"',  # a chart colour no seed defines
])
def test_the_guard_leaves_messages_and_readers_alone(truths, clean):
    assert copies(clean, truths) == []


def test_id_number_weights_are_defined_once():
    """GB 11643 weights and check characters: domain/codes.py, and every other module imports them."""
    weights = "(7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)"
    where = [(p.relative_to(REPO).as_posix(), text) for p in SOURCES
             for text in (weights, '"10X98765432"') if text in p.read_text(encoding="utf-8")]
    assert where == [("pipelines/lib/domain/codes.py", weights), ("pipelines/lib/domain/codes.py", '"10X98765432"')]


# --- threshold values in prose (issue 25, item 8) -------------------------------------------------------------
# A title, message, suite text or page names a threshold by its key ({fund_ratio_min}) and is rendered with the
# row in force for its period (pipelines/lib/domain/rule_text.py); a value typed into the prose stays behind when
# the row changes. The plan's own rows (baseline and target year) name years, which prose may well mention.
PLAN_KEYS = frozenset({"plan_name", "baseline_year", "target_year"})
_CJK = re.compile(r"[\u4e00-\u9fff]")
# What follows a figure of each unit in prose (a range's other end may come between: 16—70岁), and the words
# that put a bare figure in front of a limit (不超过2000).
UNIT_WORDS = {"count": "次", "hour": r"学时|小时|\]", "year": "岁|周岁", "day": "日|号", "人": "人",
              "元": "元", "万元/季": "万元", "万元/人/季": "万元", "ratio": "%"}
LIMIT_WORDS = "不超过|超过|至少|不少于|不低于|低于|不高于|高于|上限|下限"


def threshold_patterns() -> dict[str, re.Pattern[str]]:
    """threshold key -> how its committed value would read if typed into Chinese prose: a ratio as a
    percentage (1.5%, 60%, 100%), any other figure with its unit word (1次, 16—70岁, 2000]) or after a word
    that makes it a limit (不超过2000)."""
    from pipelines.lib.domain.rule_text import percent_text, trimmed

    out: dict[str, re.Pattern[str]] = {}
    for row in _seed("ref_policy_thresholds"):
        key, unit = row["threshold_key"], row["unit"]
        if key in PLAN_KEYS:
            continue
        value = float(row["value"])
        figure = re.escape(percent_text(value).rstrip("%") if unit == "ratio" else trimmed(value))
        words = UNIT_WORDS.get(unit, "次")
        out[key] = re.compile(rf"(?<![\d.A-Za-z])(?:{figure}(?![\d.])(?:\s?[—–-]\s?\d+)?\s?(?:{words})"
                              rf"|(?:{LIMIT_WORDS})\s?{figure}(?![\d.%]|\s?个))")
    return out


def _prose_hits(text: str, patterns: dict[str, re.Pattern[str]]) -> list[str]:
    if not _CJK.search(text):
        return []
    return [f"{key} in {text!r}" for key, pattern in patterns.items() if pattern.search(text)]


def _docstrings(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


def prose_threshold_copies() -> list[str]:
    """Every place a committed threshold value is typed into prose: the rule titles, the suites' texts, the
    Python string literals (f-string pieces included, docstrings not) and the page templates."""
    import json

    patterns = threshold_patterns()
    found = [f"ref_rules.csv {r['rule_id']}: {hit}" for r in _seed("ref_rules")
             for hit in _prose_hits(r["title_zh"], patterns)]
    for path in sorted((REPO / "expectations").glob("*.json")):
        found += [f"{path.name}: {hit}" for s in _json_strings(json.loads(path.read_text(encoding="utf-8")))
                  for hit in _prose_hits(s, patterns)]
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                found += [f"{path.relative_to(REPO)}:{node.lineno}: {hit}" for hit in _prose_hits(node.value, patterns)]
    for path in sorted((REPO / "pipelines").rglob("*.j2")) + sorted((REPO / "pipelines").rglob("*.html")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{path.relative_to(REPO)}:{n}: {hit}" for hit in _prose_hits(line, patterns)]
    return found


def test_no_threshold_value_is_typed_into_a_title_suite_text_message_or_page():
    copies_found = prose_threshold_copies()
    assert copies_found == [], ("name the threshold by its key ({fund_ratio_min}) and render it with "
                                "pipelines.lib.domain.rule_text:\n" + "\n".join(copies_found))


@pytest.mark.parametrize("planted", [
    "教育培训经费提取额低于职工工资总额的1.5%",
    "用于一线职工的教育培训经费低于使用额的60 %",
    "每年至少培训1次",
    "学时应大于0，不超过2000",
    "年龄不在16—70岁",
])
def test_the_prose_guard_finds_a_typed_threshold(planted):
    assert _prose_hits(planted, threshold_patterns()), planted


@pytest.mark.parametrize("clean", [
    "教育培训经费提取额低于职工工资总额的{fund_ratio_min}",
    "第1行 身份证号与第3行重复",
    "2008年向职工代表大会报告高技能人才工作{observed}次",
    "高技能人才占比11.51%",
])
def test_the_prose_guard_leaves_placeholders_and_other_figures_alone(clean):
    assert _prose_hits(clean, threshold_patterns()) == []


def test_rule_titles_name_only_thresholds_that_exist():
    from pipelines.lib.domain.rule_text import placeholders

    keys = {r["threshold_key"] for r in _seed("ref_policy_thresholds")}
    unknown = {r["rule_id"]: k for r in _seed("ref_rules") for k in placeholders(r["title_zh"]) if k not in keys}
    assert unknown == {}
