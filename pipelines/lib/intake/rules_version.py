"""The rules version: a fingerprint of everything that decides a verdict at the door, per period.

A file is judged by the intake's code, by the reference rows in force in *its own* period
(thresholds and plausibility bounds are effective-dated, skill levels are not) and by the registry
(a code it does not know is fatal, D03). When any of that changes, the files already held are re-judged from the archive (``pipelines.lib.intake.recheck``);
when it does not, nothing is re-read. The version is per period, so a threshold row that takes effect
in 2009Q1 re-checks 2009 files only.

The code part hashes the intake modules' syntax trees without docstrings, so a comment or a docstring
edit does not send the whole archive through the intake again, while any change of logic does.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

import polars as pl

from pipelines.lib.domain import reference
from pipelines.lib.domain.periods import Period

_LIB = Path(__file__).resolve().parents[1]
# What the intake's verdicts are made of: its own room and the domain it reads (contract, codes …).
RULE_CODE_DIRS = (_LIB / "intake", _LIB / "domain")
# Seeds the intake reads whole (not effective-dated).
UNDATED_SEEDS = (reference.SEEDS_DIR / "ref_skill_levels.csv",)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


@functools.cache
def code_digest() -> str:
    """The intake's logic, independent of comments, docstrings and formatting."""
    h = hashlib.sha256()
    for folder in RULE_CODE_DIRS:
        for path in sorted(folder.glob("*.py")):
            if path.name == "rules_version.py":  # this file decides nothing
                continue
            tree = _without_docstrings(ast.parse(path.read_text(encoding="utf-8")))
            h.update(path.name.encode() + b"\0" + ast.dump(tree, include_attributes=False).encode() + b"\0")
    return h.hexdigest()


@functools.cache
def _undated_digest() -> str:
    h = hashlib.sha256()
    for path in UNDATED_SEEDS:
        h.update(path.name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()


def registry_digest(registry: pl.DataFrame) -> str:
    """The registry as the checks see it: which enterprise and group codes are known. Names, sectors and
    dates do not decide a verdict at the door (D03 asks only whether a code is registered)."""
    codes = sorted(set(registry["org_code"].drop_nulls().to_list()) | set(registry["group_org_code"].drop_nulls()
                                                                           .to_list()))
    return hashlib.sha256("\n".join(codes).encode()).hexdigest()


class RulesVersions:
    """12 hex characters per period naming the rules a file of that period is judged by."""

    def __init__(self, registry: pl.DataFrame) -> None:
        self._registry = registry_digest(registry)
        self._by_period: dict[str, str] = {}

    def __call__(self, period: str | Period) -> str:
        key = str(period)
        if key not in self._by_period:
            in_force = sorted(f"{k}={v!r}" for k, v in reference.thresholds_for(Period.parse(key)).items())
            parts = [code_digest(), _undated_digest(), self._registry, *in_force]
            self._by_period[key] = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
        return self._by_period[key]
