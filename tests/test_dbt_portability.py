"""The models stay portable to dbt-spark where it costs nothing: no DuckDB-only syntax in SQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
FORBIDDEN = {
    "qualify": re.compile(r"\bqualify\b", re.I),
    ":: cast": re.compile(r"::"),
    "filter (where": re.compile(r"\bfilter\s*\(\s*where\b", re.I),
    "list/struct functions": re.compile(r"\b(list_\w+|struct_\w+|array_agg|unnest)\s*\(", re.I),
    "string_agg (use dbt.listagg)": re.compile(r"\bstring_agg\s*\(", re.I),
    "group by all": re.compile(r"\bgroup\s+by\s+all\b", re.I),
    "select * exclude/replace": re.compile(r"\*\s*(exclude|replace)\s*\(", re.I),
}


def _sql_without_comments(path: Path) -> str:
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    return re.sub(r"--[^\n]*", "", text)


@pytest.mark.parametrize("path", sorted(MODELS.rglob("*.sql")), ids=lambda p: p.name)
def test_no_duckdb_only_syntax(path):
    sql = _sql_without_comments(path)
    found = [name for name, rx in FORBIDDEN.items() if rx.search(sql)]
    assert not found, f"{path.name}: {found}"


def test_only_staging_calls_source():
    for path in MODELS.rglob("*.sql"):
        if "source(" in path.read_text():
            assert path.parent.parent.name == "staging", path
