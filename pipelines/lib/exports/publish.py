"""Publish the marts for analysts: build a fresh file beside the target, then swap it in atomically.

An analyst may hold ``warehouse.duckdb`` open read-only while the next run publishes. The new
file is written under a temporary name in the same folder and renamed over the old one
(``os.replace``, atomic on POSIX): an open reader keeps the old file until it closes, and nobody
ever sees half a warehouse. Only schemas without personal data are copied.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "reference")
_PREVIOUS = "previous"


def _quote(text: str | None) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def _changed_periods(con: duckdb.DuckDBPyConnection, previous: Path | None) -> list[str]:
    """Periods whose rows in any mart differ from the previous publication (all of them the first time).

    A resubmission of 2008Q2 also moves 2008Q3/Q4 year-to-date figures, a year's flags, aggregates: this is
    how the exports know which quarters' receipts and reports to write again.
    """
    tables = [t for (t,) in con.execute(
        "select table_name from duckdb_columns() where database_name = current_database()"
        " and schema_name = 'marts' and column_name = 'period'").fetchall()]
    if previous is None or not previous.exists():
        union = " union ".join(f'select distinct period from marts."{t}"' for t in tables)
        return sorted(p for (p,) in con.execute(union).fetchall() if p) if tables else []
    con.execute(f"attach {_quote(str(previous))} as {_PREVIOUS} (read_only)")
    try:
        old = {(t, c) for t, c in con.execute(
            "select table_name, column_name from duckdb_columns() where database_name = ? and schema_name = 'marts'",
            [_PREVIOUS]).fetchall()}
        changed: set[str] = set()
        for t in tables:
            new_cols = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = current_database()"
                " and schema_name = 'marts' and table_name = ? order by column_index", [t]).fetchall()]
            if {c for tt, c in old if tt == t} != set(new_cols):  # a new table or new columns: all of it
                changed |= {p for (p,) in con.execute(f'select distinct period from marts."{t}"').fetchall() if p}
                continue
            cols = ", ".join(f'"{c}"' for c in new_cols)
            new, prev = f'select {cols} from marts."{t}"', f'select {cols} from {_PREVIOUS}.marts."{t}"'
            changed |= {p for (p,) in con.execute(
                f"select distinct period from (({new} except {prev}) union all ({prev} except {new}))").fetchall() if p}
        return sorted(changed)
    finally:
        con.execute(f"detach {_PREVIOUS}")


def publish_warehouse(
    work_db: Path, target: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> tuple[dict[str, int], list[str]]:
    """Copy ``schemas`` of ``work_db`` (tables, rows, table and column comments) to ``target``.

    Returns the row count of every table and the periods whose mart rows changed since the previous
    publication at ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"attach {_quote(str(work_db))} as work (read_only)")
        tables = con.execute(
            "select schema_name, table_name, comment from duckdb_tables() where database_name = 'work'"
            f" and schema_name in ({', '.join(_quote(s) for s in schemas)}) order by 1, 2").fetchall()
        for schema in sorted({t[0] for t in tables}):
            con.execute(f"create schema if not exists {schema}")
        for schema, table, comment in tables:
            cols = [r[0] for r in con.execute(
                "select column_name from duckdb_columns() where database_name = 'work' and schema_name = ?"
                " and table_name = ? order by column_index", [schema, table]).fetchall()]
            order = ", ".join(f'"{c}"' for c in cols)
            # Sorted copies make a re-run of the same inputs give the same table contents, row for row.
            con.execute(f'create table {schema}."{table}" as select * from work.{schema}."{table}" order by {order}')
            counts[f"{schema}.{table}"] = con.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
            if comment:
                con.execute(f'comment on table {schema}."{table}" is {_quote(comment)}')
            for col, col_comment in con.execute(
                "select column_name, comment from duckdb_columns() where database_name = 'work'"
                " and schema_name = ? and table_name = ? and comment is not null", [schema, table]).fetchall():
                con.execute(f'comment on column {schema}."{table}"."{col}" is {_quote(col_comment)}')
        con.execute("detach work")
        changed = _changed_periods(con, target)
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, target)
    return counts, changed
