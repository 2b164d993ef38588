"""The working DuckDB database: raw table DDL and connections.

Analysts never open this file; they read the published copy (see pipelines.lib.exports.publish).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines.lib.domain.contract import REGISTRY_COLUMNS, SHEETS, raw_table_columns

RAW_SCHEMA = "raw"

SUBMISSIONS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("submission_id", "VARCHAR PRIMARY KEY"),
    ("period", "VARCHAR NOT NULL"),
    ("org_code", "VARCHAR"),
    ("file_name", "VARCHAR NOT NULL"),  # as shown: hidden characters escaped (pipelines.lib.domain.names)
    ("file_format", "VARCHAR NOT NULL"),
    ("sha256", "VARCHAR NOT NULL"),
    ("size_bytes", "BIGINT NOT NULL"),
    ("arrived_at", "TIMESTAMP NOT NULL"),
    ("deadline_at", "TIMESTAMP NOT NULL"),
    ("is_late", "BOOLEAN NOT NULL"),
    ("outcome", "VARCHAR NOT NULL"),  # accepted / rejected / ignored (OS debris, never a filing)
    ("outcome_reason", "VARCHAR"),  # why an entry was ignored (rejections carry their reasons as findings)
    ("fatal_count", "INTEGER NOT NULL"),
    ("error_count", "INTEGER NOT NULL"),
    ("warning_count", "INTEGER NOT NULL"),
    ("info_count", "INTEGER NOT NULL"),
    ("rows_in", "INTEGER NOT NULL"),
    ("rows_loaded", "INTEGER NOT NULL"),
    ("archive_path", "VARCHAR NOT NULL"),
    ("contract_version", "INTEGER NOT NULL"),
    ("rules_version", "VARCHAR"),  # the intake rules of its period that judged it (pipelines.lib.intake.rules_version)
    ("file_name_original", "VARCHAR"),  # the name exactly as it arrived, for the audit only: never shown raw
)

FINDINGS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("submission_id", "VARCHAR NOT NULL"),
    ("period", "VARCHAR NOT NULL"),
    ("org_code", "VARCHAR"),
    ("rule_id", "VARCHAR NOT NULL"),
    ("severity", "VARCHAR NOT NULL"),
    ("is_fatal", "BOOLEAN NOT NULL"),
    ("sheet", "VARCHAR"),
    ("source_row", "INTEGER"),
    ("column_name", "VARCHAR"),
    ("observed_value", "VARCHAR"),
    ("expected", "VARCHAR"),
    ("person_key", "VARCHAR"),
    ("message_zh", "VARCHAR NOT NULL"),
    ("rules_version", "VARCHAR"),
)

# One row per held file re-judged because the rules of its period changed: before -> after.
RECHECKS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("submission_id", "VARCHAR NOT NULL"),
    ("rechecked_at", "TIMESTAMP NOT NULL"),
    ("period", "VARCHAR NOT NULL"),
    ("org_code", "VARCHAR"),
    ("file_name", "VARCHAR NOT NULL"),
    ("rules_version_before", "VARCHAR"),
    ("rules_version_after", "VARCHAR NOT NULL"),
    ("outcome_before", "VARCHAR NOT NULL"),
    ("outcome_after", "VARCHAR NOT NULL"),
    ("findings_before", "INTEGER NOT NULL"),
    ("findings_after", "INTEGER NOT NULL"),
    ("is_changed", "BOOLEAN NOT NULL"),
)

REGISTRY_TABLE_COLUMNS: tuple[tuple[str, str], ...] = tuple((c.key, "VARCHAR") for c in REGISTRY_COLUMNS)


def raw_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    """Every raw table the intake writes, name -> (column, DuckDB type)."""
    tables: dict[str, tuple[tuple[str, str], ...]] = {
        "registry": REGISTRY_TABLE_COLUMNS,
        "submissions": SUBMISSIONS_COLUMNS,
        "findings": FINDINGS_COLUMNS,
        "rechecks": RECHECKS_COLUMNS,
    }
    for sheet in SHEETS:
        tables[sheet.table] = tuple(raw_table_columns(sheet))
    return tables


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for name, cols in raw_tables().items():
        body = ", ".join(f'"{c}" {t}' for c, t in cols)
        con.execute(f"create table if not exists {RAW_SCHEMA}.{name} ({body})")
    # A working database from an earlier version gains the columns added since (raw tables only grow); the
    # rows it holds get NULL there, which for rules_version means "judged by rules we no longer know": re-checked.
    for name, cols in raw_tables().items():
        for column, sql_type in cols:
            nullable = sql_type.replace("PRIMARY KEY", "").replace("NOT NULL", "").strip()
            con.execute(f'alter table {RAW_SCHEMA}.{name} add column if not exists "{column}" {nullable}')


@contextlib.contextmanager
def connect(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open late, close early: a DuckDB file admits one writer and blocks it while a reader holds it."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The statements inside as one transaction, rolled back if the block fails. DuckDB writes and syncs its
    log at every commit: many small statements (a publication's tables and column comments) each committed on
    their own wait for the disk each time (docs/measured.md, issue 24's exports and publication)."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
