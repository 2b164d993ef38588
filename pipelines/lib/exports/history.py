"""The history of the published marts: dbt snapshots taken by every release, read back as of any release.

Each published mart has a dbt snapshot (``dbt_project/snapshots/_snapshots.yml``: ``check`` strategy over all
columns, keyed by the mart's grain, deleted rows invalidated) in the working database's ``history`` schema,
named ``<mart>_history``. The snapshots run only in a run that makes a release, right after the release is
recorded; the moment they were taken is the release's ``snapshot_at`` (``releases.release_snapshots``, on the
clock dbt's DuckDB adapter stamps ``dbt_valid_from`` with), so a row was published by release N when
``dbt_valid_from <= snapshot_at(N) < coalesce(dbt_valid_to, infinity)``. That one condition is written here
once and used three times: the analysts' table macros ``releases.<mart>_as_of(N)``, the revisions between
consecutive releases (``releases.revisions``) and ``sasac-skills release export N``.

Which marts have a history, and by which key, is the dbt project's answer (the snapshot nodes of its manifest,
a documented artifact): nothing here lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.exports.disclosure import Withheld
from pipelines.lib.exports.manifest import manifest_nodes

HISTORY_SCHEMA = "history"
SUFFIX = "_history"
AS_OF = "_as_of"
# dbt's snapshot columns, with what they say to an analyst.
DBT_COLUMNS = {
    "dbt_scd_id": "dbt 快照的行版本编号",
    "dbt_updated_at": "该行版本被记录的时刻",
    "dbt_valid_from": "该行版本自此时刻起有效（记录它的发布版本的快照时刻）",
    "dbt_valid_to": "该行版本至此时刻失效（为空：至今有效）",
}
# Key columns that say when, not who: the revisions' period (a quarter, or a year where a mart has no period).
PERIOD_COLUMNS = ("period", "year")
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE"
                      r"|DECIMAL.*)$")


@dataclass(frozen=True)
class Snapshotted:
    mart: str  # the published mart
    keys: tuple[str, ...]  # the snapshot's unique_key: column names, or expressions over them

    @property
    def table(self) -> str:
        return f"{self.mart}{SUFFIX}"

    @property
    def macro(self) -> str:
        return f"{self.mart}{AS_OF}"


def snapshotted_marts(manifest_path: Path) -> list[Snapshotted]:
    """The marts the dbt project keeps a history of, with their keys, from its manifest's snapshot nodes."""
    out = []
    for node in manifest_nodes(manifest_path, "snapshot"):
        key = node["config"]["unique_key"]
        mart = node["name"].removesuffix(SUFFIX)
        out.append(Snapshotted(mart, tuple(key) if isinstance(key, list) else (key,)))
    return sorted(out, key=lambda s: s.mart)


def history_withheld(withheld: Withheld) -> Withheld:
    """What publication leaves out of the history: the same marts and columns as of the marts themselves."""
    return Withheld(frozenset(f"{t}{SUFFIX}" for t in withheld.tables),
                    frozenset((f"{t}{SUFFIX}", c) for t, c in withheld.columns))


def valid_at(alias: str, moment: str) -> str:
    """The rows of history table ``alias`` that were current at ``moment`` (an SQL expression)."""
    return (f"{alias}.dbt_valid_from <= {moment}"
            f" and ({alias}.dbt_valid_to is null or {alias}.dbt_valid_to > {moment})")


def snapshot_at(release: str, ledger: str) -> str:
    """SQL: the moment release ``release`` (an SQL expression) took its snapshots, from ``ledger`` (a schema)."""
    return f"(select s.snapshot_at from {ledger}.release_snapshots s where s.release_no = {release})"


def _columns(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[tuple[str, str]]:
    where = "database_name = current_database()" if database is None else f"database_name = '{database}'"
    return [(c, t) for c, t in con.execute(
        f"select column_name, data_type from duckdb_columns() where {where} and schema_name = ?"
        " and table_name = ? order by column_index", [HISTORY_SCHEMA, table]).fetchall() if c not in DBT_COLUMNS]


def history_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [t for (t,) in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and schema_name = ?"
        " order by 1", [HISTORY_SCHEMA]).fetchall()]


def as_of_select(con: duckdb.DuckDBPyConnection, table: str, moment: str) -> str:
    """SELECT of history ``table``'s mart columns (in the mart's order) as current at ``moment``."""
    cols = ", ".join(f'h."{c}"' for c, _ in _columns(con, table))
    return f"select {cols} from {HISTORY_SCHEMA}.\"{table}\" h where {valid_at('h', moment)}"


def describe_history(con: duckdb.DuckDBPyConnection) -> None:
    """Chinese comments on the history tables of the database ``con`` uses: each table says which mart it is the
    history of, each mart column keeps the mart's comment, dbt's columns say what they mean."""
    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    for table in history_tables(con):
        mart = table.removesuffix(SUFFIX)
        con.execute(f'comment on table {HISTORY_SCHEMA}."{table}" is '
                    + quote(f"marts.{mart} 的发布历史（dbt 快照，每个发布版本一次）：按版本读取用 releases.{mart}{AS_OF}(N)"))
        comments = dict(con.execute(
            "select column_name, comment from duckdb_columns() where database_name = current_database()"
            " and schema_name = 'marts' and table_name = ? and comment is not null", [mart]).fetchall())
        for column, _ in _columns(con, table):
            if column in comments:
                con.execute(f'comment on column {HISTORY_SCHEMA}."{table}"."{column}" is {quote(comments[column])}')
        for column, comment in DBT_COLUMNS.items():
            con.execute(f'comment on column {HISTORY_SCHEMA}."{table}"."{column}" is {quote(comment)}')


def create_as_of_macros(con: duckdb.DuckDBPyConnection, ledger: str) -> int:
    """A table macro ``<ledger>.<mart>_as_of(release)`` for every history table of the database ``con``
    uses: the mart as release ``release`` published it. Returns how many."""
    tables = history_tables(con)
    for table in tables:
        mart = table.removesuffix(SUFFIX)
        con.execute(f'create or replace macro {ledger}."{mart}{AS_OF}"(release) as table '
                    + as_of_select(con, table, snapshot_at("release", ledger)))
    return len(tables)


# --------------------------------------------------------------------------------------------------
# Revisions: every figure that moved between two consecutive releases
# --------------------------------------------------------------------------------------------------
def _key_columns(snap: Snapshotted, columns: list[str]) -> list[str]:
    """The mart columns its key is made of (a key may be an expression such as ``coalesce(sector, '')``)."""
    return [c for c in columns if any(re.search(rf"\b{re.escape(c)}\b", k) for k in snap.keys)]


def revisions_sql(con: duckdb.DuckDBPyConnection, snap: Snapshotted, ledger: str, release: int) -> str | None:
    """SELECT (figure, entity, period, previous_value, new_value, org_code) of ``snap``'s numeric figures that
    differ between release ``release - 1`` and ``release``; None when the mart has no numeric figure.

    A figure is ``<mart>.<column>``; the entity is the key's values other than the period (``enterprise/<org
    code>/quarter``, ``system/…``); a row that appeared or went away has an empty value on that side."""
    cols = _columns(con, snap.table)
    names = [c for c, _ in cols]
    keys = _key_columns(snap, names)
    figures = [c for c, t in cols if c not in keys and _NUMERIC.match(t)]
    if not figures:
        return None
    period_col = next((c for c in PERIOD_COLUMNS if c in names), None)
    if "org_code" in names:
        org_from, org = ["org_code"], "org_code"
    elif {"grain", "entity_code"} <= set(names):
        org_from, org = ["grain", "entity_code"], "case when grain = 'enterprise' then entity_code end"
    else:
        org_from, org = [], "cast(null as varchar)"
    carried = [c for c in names if c in {*keys, *org_from, *([period_col] if period_col else [])}]
    entity_cols = [c for c in keys if c not in PERIOD_COLUMNS]
    entity = f"concat_ws('/', {', '.join(entity_cols)})" if entity_cols else "cast(null as varchar)"
    period = f"cast({period_col} as varchar)" if period_col else "cast(null as varchar)"
    before = as_of_select(con, snap.table, snapshot_at(str(release - 1), ledger))
    after = as_of_select(con, snap.table, snapshot_at(str(release), ledger))
    join = " and ".join(f'b."{c}" is not distinct from a."{c}"' for c in keys)
    pairs = ", ".join(f"struct_pack(figure := '{snap.mart}.{f}', previous_value := cast(b.\"{f}\" as double),"
                      f" new_value := cast(a.\"{f}\" as double))" for f in figures)
    carry = ", ".join(f'coalesce(a."{c}", b."{c}") as "{c}"' for c in carried)
    return f"""
        with b as ({before}), a as ({after}),
        paired as (
            select {carry}, unnest([{pairs}], recursive := true)
            from b full outer join a on {join}
        )
        select figure, {entity} as entity, {period} as period, previous_value, new_value, {org} as org_code
        from paired
        where previous_value is distinct from new_value
    """
