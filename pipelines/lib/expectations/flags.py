"""Flag rows (``flags.expectation_flags``): one per unexpected row of an expectation that carries a rule."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import duckdb

from pipelines.lib.domain.rule_text import percent_text, trimmed

FLAGS_SCHEMA = "flags"
FLAGS_TABLE = f"{FLAGS_SCHEMA}.expectation_flags"

FLAG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rule_id", "VARCHAR"),
    ("clause", "VARCHAR"),
    ("severity", "VARCHAR"),
    ("org_code", "VARCHAR"),
    ("period", "VARCHAR"),
    ("person_key", "VARCHAR"),
    ("observed_value", "VARCHAR"),
    ("threshold", "VARCHAR"),
    ("message_zh", "VARCHAR"),
    ("source", "VARCHAR"),
    ("submission_id", "VARCHAR"),
    ("sheet", "VARCHAR"),
    ("source_row", "INTEGER"),
    ("column_name", "VARCHAR"),
    ("expectation_type", "VARCHAR"),
)
FLAG_COLUMN_NAMES = tuple(c for c, _ in FLAG_COLUMNS)


def is_missing(v: Any) -> bool:
    """None, NaN, NaT or pd.NA."""
    if v is None:
        return True
    if isinstance(v, str | bool | int | list | tuple | dict | set):
        return False
    if isinstance(v, float):
        return v != v
    try:
        import pandas as pd  # what GX hands back; the run's own process does not need pandas otherwise

        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def value_text(v: Any) -> str | None:
    """Canonical text of a value for the VARCHAR flag columns (stable across runs)."""
    if is_missing(v):
        return None
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return format(f, ".10g")
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "isoformat") and hasattr(v, "to_pydatetime"):  # pandas Timestamp
        return v.to_pydatetime().isoformat(sep=" ", timespec="seconds")
    return str(v)


def display_text(v: Any, fmt: str | None = None) -> str:
    """A value as it reads in a Chinese message: 1.49%, 是/否, 12.5, — (percentages and decimals in the one
    format of ``rule_text``: at most two decimals, trailing zeros dropped)."""
    if is_missing(v):
        return "—"
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "是" if v else "否"
    if (
        fmt == "percent"
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(float(v))
    ):
        return percent_text(float(v))
    if isinstance(v, float) and math.isfinite(v) and not v.is_integer():
        return trimmed(v)  # a message reads 8913.21倍, not 8913.208245倍
    return value_text(v) or "—"


def sort_key(row: dict[str, Any]) -> tuple:
    """A total, deterministic storage order (displays order by reference.ref_severities, not by this)."""
    return (
        row["period"] or "",
        row["rule_id"] or "",
        row["severity"] or "",
        row["org_code"] or "",
        row["person_key"] or "",
        row["submission_id"] or "",
        row["source_row"] if row["source_row"] is not None else -1,
        row["column_name"] or "",
        row["expectation_type"] or "",
        row["observed_value"] or "",
        row["threshold"] or "",
        row["message_zh"] or "",
        row["source"] or "",
    )


def create_flags_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {FLAGS_SCHEMA}")
    body = ", ".join(f'"{c}" {t}' for c, t in FLAG_COLUMNS)
    con.execute(f"create table if not exists {FLAGS_TABLE} ({body})")


def replace_flags(
    con: duckdb.DuckDBPyConnection, periods: Iterable[str], rows: list[dict[str, Any]], keep_sources: Iterable[str] = ()
) -> int:
    """Replace the flags of ``periods`` with ``rows`` (already sorted), in one transaction.

    ``keep_sources``: suites that exist but were not run this time (a run of some suites only); their
    flags stay. Flags of any other source, including
    a suite since removed, are replaced.
    """
    periods, keep = sorted(set(periods)), sorted(set(keep_sources))
    create_flags_table(con)
    con.execute("begin transaction")
    try:
        if periods:
            keep_sql = f" and coalesce(source, '') not in ({', '.join('?' for _ in keep)})" if keep else ""
            con.execute(
                f"delete from {FLAGS_TABLE} where period in ({', '.join('?' for _ in periods)}){keep_sql}",
                [*periods, *keep])
        if rows:
            import pandas as pd

            df = pd.DataFrame({c: [r[c] for r in rows] for c in FLAG_COLUMN_NAMES})
            df["source_row"] = df["source_row"].astype("Int64")
            cols = ", ".join(f'"{c}"' for c in FLAG_COLUMN_NAMES)
            casts = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in FLAG_COLUMNS)
            con.register("_expectation_flags_new", df)
            con.execute(f"insert into {FLAGS_TABLE} ({cols}) select {casts} from _expectation_flags_new")
            con.unregister("_expectation_flags_new")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(rows)
