"""Suites as files: ``expectations/<name>.json`` (GX 1.x suite JSON) and what the runner reads from them.

Every expectation's ``meta`` says where it applies and what a failure means:

- ``table``: the mart (schema ``marts``) it validates; ``where``: optional equality filter on the rows
  (``{"grain": "enterprise", "period_type": "year"}``); ``period_column``: the column matched against
  the run's periods (default ``period``; ``null`` = the whole table).
- ``keys``: the row's key columns (unexpected_index_column_names, failing-key samples).
- ``rule_id``, ``clause``, ``severity``: from ``ref_rules.csv`` (a test keeps them in step; a
  ``severity_reason`` documents a deliberate difference, e.g. D15 late = warning).
- ``message_zh``: a template with ``{observed}``, ``{threshold}`` and any ``extra_columns``.
- ``observed_column`` / ``threshold_column`` (or ``threshold_columns``: [min, max]): the mart columns
  holding the value a verdict judged and its limit, shown in the flag and its message.
- ``org_column`` (default ``org_code``), ``submission_column``, ``person_column``, ``source_row_column``,
  ``sheet``, ``column_name``: where a flag row's provenance comes from.
- ``value_format``: ``percent`` / ``number`` / ``bool`` for the Chinese message.
- ``withheld_column`` / ``withheld_message_zh``: when the row's ``withheld_column`` (a disclosure-control reason,
  e.g. ``incomes_withheld_reason``) is set, the message is ``withheld_message_zh``, which says why the figures
  are not shown instead of printing them as “—”.

No threshold appears in a suite, not even by name: the marts carry each period's limit beside the
verdict (``fund_ratio_min`` and ``c03_ok``), and a suite asserts the verdict. Since GX validates one suite against one batch, the runner groups a suite's expectations by
(table, where) and validates one sub-suite per group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lib.domain.reference import REPO_ROOT

SUITES_DIR = REPO_ROOT / "expectations"
MART_SCHEMA = "marts"


def canonical_json(obj: Any) -> str:
    """The one way suites are written: pretty, sorted keys, UTF-8 Chinese as is, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class ExpectationSpec:
    suite: str
    index: int  # position in the suite file
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]

    @property
    def table(self) -> str:
        return self.meta["table"]

    @property
    def where(self) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((self.meta.get("where") or {}).items()))

    @property
    def period_column(self) -> str | None:
        return self.meta.get("period_column", "period")

    @property
    def keys(self) -> list[str]:
        return list(self.meta.get("keys") or [])

    @property
    def rule_id(self) -> str | None:
        return self.meta.get("rule_id")

    @property
    def value_columns(self) -> list[str]:
        kw = self.kwargs
        cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
        return cols + list(kw.get("column_list") or [])

    @property
    def observed_column(self) -> str | None:
        return self.meta.get("observed_column") or self.kwargs.get("column") or self.kwargs.get("column_A")

    @property
    def threshold_column(self) -> str | None:
        return self.meta.get("threshold_column") or self.kwargs.get("column_B")

    @property
    def threshold_columns(self) -> list[str]:
        return list(self.meta.get("threshold_columns") or [])

    @property
    def org_column(self) -> str:
        return self.meta.get("org_column", "org_code")

    def needed_columns(self) -> list[str]:
        m = self.meta
        cols = [*self.keys, *self.value_columns, *(m.get("extra_columns") or [])]
        for c in (
            self.period_column,
            self.org_column if self.rule_id else None,
            m.get("submission_column"),
            m.get("person_column"),
            m.get("source_row_column"),
            self.observed_column,
            self.threshold_column,
            *self.threshold_columns,
        ):
            if c:
                cols.append(c)
        return cols


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    meta: dict[str, Any]
    expectations: tuple[ExpectationSpec, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted({e.table for e in self.expectations}))

    def groups(self) -> list[Group]:
        """Expectations grouped by (table, where), in file order of first appearance."""
        out: dict[tuple, list[ExpectationSpec]] = {}
        for e in self.expectations:
            out.setdefault((e.table, e.where, e.period_column), []).append(e)
        return [Group(self, t, w, p, tuple(es)) for (t, w, p), es in out.items()]


@dataclass(frozen=True)
class Group:
    """A sub-suite: the expectations of one suite on one (table, row filter)."""

    suite: Suite
    table: str
    where: tuple[tuple[str, Any], ...]
    period_column: str | None
    expectations: tuple[ExpectationSpec, ...]

    @property
    def name(self) -> str:
        parts = [self.suite.name, self.table, *(f"{k}={v}" for k, v in self.where)]
        return "__".join(parts)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for e in self.expectations for k in e.keys))

    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for e in self.expectations for c in e.needed_columns()))


def load_suite(path: Path) -> Suite:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    name = raw["name"]
    exps = tuple(
        ExpectationSpec(name, i, e["type"], dict(e.get("kwargs") or {}), dict(e.get("meta") or {}))
        for i, e in enumerate(raw.get("expectations") or [])
    )
    for e in exps:
        if "table" not in e.meta:
            raise ValueError(f"{path}: expectation #{e.index} ({e.type}) has no meta.table")
    return Suite(name=name, path=Path(path), meta=dict(raw.get("meta") or {}), expectations=exps, raw=raw)


def load_suites(suites_dir: Path | None = None, names: list[str] | None = None) -> list[Suite]:
    """Every ``*.json`` suite in ``suites_dir`` (default ``expectations/``), sorted by name."""
    suites = [load_suite(p) for p in sorted(Path(suites_dir or SUITES_DIR).glob("*.json"))]
    if names is not None:
        unknown = set(names) - {s.name for s in suites}
        if unknown:
            raise KeyError(f"unknown suites: {sorted(unknown)}")
        suites = [s for s in suites if s.name in names]
    return sorted(suites, key=lambda s: s.name)
