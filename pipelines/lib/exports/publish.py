"""Publish the marts for analysts: build a fresh file beside the target, then swap it in atomically.

An analyst may hold ``warehouse.duckdb`` open read-only while the next run publishes. The new
file is written under a temporary name in the same folder and renamed over the old one
(``os.replace``, atomic on POSIX): an open reader keeps the old file until it closes, and nobody
ever sees half a warehouse. Only schemas without personal data are copied, and of them neither the marts
keyed by a pseudonym nor pseudonym columns (:mod:`pipelines.lib.exports.disclosure`).

Every client must open it: the file is written in the storage version ``SASAC_WAREHOUSE_STORAGE_VERSION``
(default :data:`DEFAULT_STORAGE_VERSION`, what the DuckDB CLI and the JDBC/ODBC drivers of the 1.x line
read), and every published table is also written as Parquet beside it (:func:`write_parquet`).

The exports follow what changed, not what exists. ``publish_warehouse`` names the quarters whose
receipts and report must be looked at again (see ``_changed_periods``), and within such a quarter a
receipt or report is rewritten only when the digest of what it shows (:func:`content_digest` of its
inputs, with :func:`renderer_digest` of the code that draws it) differs from the digest stored in the
file it would replace.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from pipelines.lib.domain.warehouse import transaction
from pipelines.lib.exports.disclosure import NOTHING_WITHHELD, Withheld

PUBLISHED_SCHEMAS = ("marts", "reference")
_PREVIOUS = "previous"
_PUBLISHED = "published"
STORAGE_VERSION_ENV = "SASAC_WAREHOUSE_STORAGE_VERSION"
# duckdb-cli 1.5.6 refuses a file in DuckDB 2.0's own format ("version number 69 … between 64 and 68").
DEFAULT_STORAGE_VERSION = "v1.4.0"
PARQUET_DIR = "parquet"


def storage_version() -> str:
    return os.environ.get(STORAGE_VERSION_ENV) or DEFAULT_STORAGE_VERSION


def _quote(text: str | None) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def periods_with_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Quarters for which at least one file was received (``marts.submission_versions``), of the database
    ``con`` is connected to."""
    has_versions = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'marts' and table_name = 'submission_versions'").fetchone()[0]
    if not has_versions:
        return []
    return [p for (p,) in con.execute(
        "select distinct period from marts.submission_versions where period is not null order by 1").fetchall()]


def _changed_periods(con: duckdb.DuckDBPyConnection, previous: Path | None, run_periods: Sequence[str] = ()
                     ) -> list[str]:
    """Periods whose rows in any mart differ from the previous publication.

    A resubmission of 2008Q2 also moves 2008Q3/Q4 year-to-date figures, a year's flags, aggregates: this is
    how the exports know which quarters' receipts and reports to write again.

    The first publication has nothing to differ from, and the marts hold a row for every registered
    enterprise in every quarter since its ``active_from``: a commission adopting the platform in 2009Q2
    with a registry starting in 2006Q1 would otherwise get 13 quarters of "not received" receipts for
    filings nobody could have sent to it. So the first time only the quarters with a received file count, and
    the run's own quarters (``run_periods``), files or not: the exports write their documents, which makes them
    part of the first release.
    """
    if previous is None or not previous.exists():
        return sorted({*periods_with_files(con), *run_periods})
    tables = [t for (t,) in con.execute(
        "select table_name from duckdb_columns() where database_name = current_database()"
        " and schema_name = 'marts' and column_name = 'period'").fetchall()]
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


class Publication(NamedTuple):
    counts: dict[str, int]  # rows of every published table
    changed: list[str]  # periods whose mart rows changed since the previous publication (see _changed_periods)
    first: bool  # there was no previous publication at the target


def copy_schemas(con: duckdb.DuckDBPyConnection, work_db: Path, schemas: tuple[str, ...],
                 withheld: Withheld = NOTHING_WITHHELD) -> dict[str, int]:
    """Copy ``schemas`` of ``work_db`` (tables, rows, table and column comments) into the database ``con`` uses,
    without the ``withheld`` tables and columns (by table name, in whichever schema: the marts, and their
    history under its own table names); returns the row count of every table copied."""
    counts: dict[str, int] = {}
    con.execute(f"attach {_quote(str(work_db))} as work (read_only)")
    tables = [t for t in con.execute(
        "select schema_name, table_name, comment from duckdb_tables() where database_name = 'work'"
        f" and schema_name in ({', '.join(_quote(s) for s in schemas)}) order by 1, 2").fetchall()
        if t[1] not in withheld.tables]
    # One transaction: DuckDB syncs its log at every commit, and each table and comment was one (transaction's why).
    with transaction(con):
        _copy_tables(con, tables, withheld, counts)
    con.execute("detach work")
    return counts


def _copy_tables(con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str, str | None]], withheld: Withheld,
                 counts: dict[str, int]) -> None:
    for schema in sorted({t[0] for t in tables}):
        con.execute(f"create schema if not exists {schema}")
    for schema, table, comment in tables:
        cols = [r[0] for r in con.execute(
            "select column_name from duckdb_columns() where database_name = 'work' and schema_name = ?"
            " and table_name = ? order by column_index", [schema, table]).fetchall()
            if (table, r[0]) not in withheld.columns]
        order = ", ".join(f'"{c}"' for c in cols)
        # Sorted copies make a re-run of the same inputs give the same table contents, row for row.
        con.execute(f'create table {schema}."{table}" as select {order} from work.{schema}."{table}" order by {order}')
        counts[f"{schema}.{table}"] = con.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
        if comment:
            con.execute(f'comment on table {schema}."{table}" is {_quote(comment)}')
        for col, col_comment in con.execute(
            "select column_name, comment from duckdb_columns() where database_name = 'work'"
            " and schema_name = ? and table_name = ? and comment is not null", [schema, table]).fetchall():
            if col in cols:
                con.execute(f'comment on column {schema}."{table}"."{col}" is {_quote(col_comment)}')


# Called on the new warehouse before it is swapped in, with the changed periods and whether it is the first
# publication; returns the row counts of the tables it added (the releases schema: pipelines.lib.exports.releases).
BeforeSwap = Callable[[duckdb.DuckDBPyConnection, list[str], bool], dict[str, int]]


def publish_warehouse(work_db: Path, target: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
                      withheld: Withheld = NOTHING_WITHHELD, before_swap: BeforeSwap | None = None,
                      run_periods: Sequence[str] = ()) -> Publication:
    """Copy ``schemas`` of ``work_db`` (tables, rows, table and column comments) to ``target``, without the
    ``withheld`` marts and columns, in the storage version :func:`storage_version`.

    Returns the row count of every table and the periods whose mart rows changed since the previous
    publication at ``target`` (on the first publication: the periods with a received file and ``run_periods``,
    the run's own). ``before_swap``
    adds to the new file what depends on those periods, before anyone can open it.
    """
    first = not target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach {_quote(str(tmp))} as {_PUBLISHED} (storage_version {_quote(storage_version())})")
        con.execute(f"use {_PUBLISHED}")
        counts = copy_schemas(con, work_db, schemas, withheld)
        changed = _changed_periods(con, None if first else target, run_periods)
        if before_swap is not None:
            counts |= before_swap(con, changed, first)
        con.execute(f"checkpoint {_PUBLISHED}")
    finally:
        con.close()
    os.replace(tmp, target)
    write_parquet(target, target.parent / PARQUET_DIR)
    return Publication(counts, changed, first)


def _table_digest(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """Of a table's columns, types and rows (published sorted, so their order follows from them)."""
    columns = con.execute("select column_name, data_type from duckdb_columns() where database_name = current_database()"
                          " and schema_name = ? and table_name = ? order by column_index", [schema, table]).fetchall()
    rows = con.execute(f'select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar from {schema}."{table}" as t').fetchone()
    return content_digest(duckdb.__version__, columns, rows)


def write_parquet(warehouse: Path, out: Path) -> tuple[int, int]:
    """Every table of the published ``warehouse`` as ``out/<schema>.<table>.parquet``, for clients that read
    Parquet (pandas, Spark, R, BI tools). A file is rewritten only when its table's digest (kept in the file's
    key-value metadata) changed; files of tables no longer published are removed. Returns (written, unchanged)."""
    out.mkdir(parents=True, exist_ok=True)
    written = unchanged = 0
    keep: set[str] = set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table in con.execute("select schema_name, table_name from duckdb_tables()"
                                         " where database_name = current_database() order by 1, 2").fetchall():
            path = out / f"{schema}.{table}.parquet"
            keep.add(path.name)
            digest = _table_digest(con, schema, table)
            if path.exists() and con.execute(
                    "select count(*) from parquet_kv_metadata(?) where decode(key) = 'sasac_digest'"
                    " and decode(value) = ?", [str(path), digest]).fetchone()[0]:
                unchanged += 1
                continue
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            con.execute(f'copy {schema}."{table}" to {_quote(str(tmp))}'
                        f" (format parquet, kv_metadata {{sasac_digest: {_quote(digest)}}})")
            os.replace(tmp, path)
            written += 1
    for stale in out.glob("*.parquet"):
        if stale.name not in keep:
            stale.unlink()
    return written, unchanged


# --------------------------------------------------------------------------------------------------
# What an export shows: digests stored in the files, compared before writing
# --------------------------------------------------------------------------------------------------
def content_digest(*parts: Any) -> str:
    """sha256 of ``parts`` as canonical JSON (sorted keys; dates, decimals and the like as their text)."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def display_digest(display: Any) -> str:
    """Digest of a :class:`pipelines.lib.exports.display.Display` (labels, colours, column comments).

    Its dicts are keyed by tuples (not JSON) and some come in catalogue order: sorted here, except the
    tones, whose order is the legend's."""
    return content_digest(
        [dataclasses.astuple(t) for t in display.tones.values()],
        [dataclasses.astuple(c) for c in display.codes],
        sorted(display.rule_levels.items()),
        sorted(display.rule_titles.items()),
        [[t.key, t.value, str(t.effective_from), str(t.effective_to), t.unit] for t in display.thresholds],
        [list(b) for b in display.benchmark],
        sorted([table, column, comment] for (table, column), comment in display.column_comments.items()),
    )


@functools.cache
def renderer_digest(*modules: str) -> str:
    """Digest of the source of ``modules`` (and the xlsxwriter version): a new release that draws a
    receipt or a report differently rewrites them, although their data did not change."""
    import xlsxwriter

    h = hashlib.sha256(xlsxwriter.__version__.encode())
    for name in modules:
        path = importlib.import_module(name).__file__
        h.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return h.hexdigest()
