"""A query's rows as dicts by column name: how the pages read the published marts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
