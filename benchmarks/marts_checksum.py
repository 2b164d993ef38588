"""A checksum per mart (row count + MD5 of the ordered rows), to show a change left the marts as they were.

    .venv/bin/python -m benchmarks.marts_checksum WAREHOUSE [--schema marts] [--decimals N]

The run's own clock (``RUN_CLOCK``) is left out: it differs between any two runs.
``--decimals N`` rounds every numeric column to N decimals first, for comparing a build that changed a
column's numeric type (DOUBLE -> DECIMAL) by value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

NUMERIC = ("DOUBLE", "FLOAT", "DECIMAL", "REAL")
RUN_CLOCK = {"rechecked_at"}  # when this run re-judged a file: differs between any two runs


def checksums(warehouse: Path, schema: str = "marts", decimals: int | None = None) -> dict[str, tuple[int, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? order by 1", [schema]).fetchall()]
        out = {}
        for table in tables:
            cols = con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index", [schema, table]).fetchall()
            exprs = []
            for name, dtype in cols:
                if name in RUN_CLOCK:
                    continue
                quoted = f'"{name}"'
                if decimals is not None and dtype.startswith(NUMERIC):
                    quoted = f"round(cast({quoted} as double), {decimals})"
                exprs.append(quoted)
            rows = f"select cast(row({', '.join(exprs)}) as varchar) as r from {schema}.{table}"
            n, digest = con.execute(f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
                                    f"from ({rows})").fetchone()
            out[table] = (n, digest)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--schema", default="marts")
    ap.add_argument("--decimals", type=int)
    args = ap.parse_args()
    for table, (n, digest) in checksums(args.warehouse, args.schema, args.decimals).items():
        print(f"{table:40s} {n:>9,d}  {digest}")


if __name__ == "__main__":
    main()
