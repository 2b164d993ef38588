"""The warehouse's source tables (raw, flags) as Parquet: what the dbt project reads on Spark.

One folder per table (Spark tables are folders), one file per folder. DuckDB's TIMESTAMP has no zone;
it is written as UTC instants (Parquet's adjusted-to-UTC timestamp), which Spark reads as its
TIMESTAMP in a UTC session: the same wall-clock values on both engines.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SOURCE_SCHEMAS = ("raw", "flags")


def export_parquet(db: Path, out: Path, schemas: tuple[str, ...] = SOURCE_SCHEMAS) -> dict[str, Path]:
    """Write every table of ``schemas`` in ``db`` to ``out/<schema>/<table>/part-0.parquet``.

    Returns ``{"schema.table": folder}``.
    """
    written: dict[str, Path] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        tables = con.sql(
            "select schema_name, table_name from duckdb_tables()"
            " where schema_name in (select unnest(?)) order by 1, 2", params=[list(schemas)]).fetchall()
        for schema, table in tables:
            columns = con.sql(
                "select column_name, data_type from duckdb_columns()"
                " where schema_name = ? and table_name = ? order by column_index",
                params=[schema, table]).fetchall()
            select = ", ".join(
                f'cast("{name}" as timestamptz) as "{name}"' if kind == "TIMESTAMP" else f'"{name}"'
                for name, kind in columns)
            folder = out / schema / table
            folder.mkdir(parents=True, exist_ok=True)
            target = str(folder / "part-0.parquet").replace("'", "''")
            con.execute(f'copy (select {select} from "{schema}"."{table}") to \'{target}\' (format parquet)')
            written[f"{schema}.{table}"] = folder
    return written
