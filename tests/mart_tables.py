"""Mart-shaped DuckDB tables for tests and the benchmark, typed by the dbt model contracts.

The dbt models own the marts; their enforced contracts (``config: contract: enforced``, a
``data_type`` per column in ``dbt_project/models/marts/**/*.yml``) are read here, so a test table has
exactly the columns and types a real build has — nothing is typed twice. Missing columns in a row
are inserted as NULL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import yaml

MARTS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts"
PROJECT_YML = MARTS_DIR.parents[1] / "dbt_project.yml"
_VAR = re.compile(r"\{\{\s*var\(\s*'(\w+)'\s*\)\s*\}\}")


def _render(data_type: str) -> str:
    """A contract type may name a project var (money: ``{{ var('money_type') }}``): dbt_project.yml's value."""
    project_vars = yaml.safe_load(PROJECT_YML.read_text(encoding="utf-8"))["vars"]
    return _VAR.sub(lambda m: str(project_vars[m.group(1)]), data_type)


def mart_contracts(marts_dir: Path = MARTS_DIR) -> dict[str, list[tuple[str, str]]]:
    """model -> [(column, DuckDB type)] of every mart whose contract is enforced, in contract order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(marts_dir.rglob("*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models") or []:
            contract = (model.get("config") or {}).get("contract") or {}
            if contract.get("enforced"):
                out[model["name"]] = [(c["name"], _render(c["data_type"]).upper()) for c in model["columns"]]
    return out


MART_COLUMNS: dict[str, list[tuple[str, str]]] = mart_contracts()


def create_marts(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None) -> None:
    con.execute("create schema if not exists marts")
    for name in tables or MART_COLUMNS:
        body = ", ".join(f'"{c}" {t}' for c, t in MART_COLUMNS[name])
        con.execute(f"create or replace table marts.{name} ({body})")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows; columns not given are NULL; unknown columns are an error."""
    if not rows:
        return
    cols = [c for c, _ in MART_COLUMNS[table]]
    unknown = {k for r in rows for k in r} - set(cols)
    if unknown:
        raise KeyError(f"marts.{table} has no columns {sorted(unknown)}")
    marks = ", ".join("?" for _ in cols)
    con.executemany(f"insert into marts.{table} values ({marks})", [[r.get(c) for c in cols] for r in rows])
