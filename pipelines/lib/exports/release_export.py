"""``sasac-skills release export N --out DIR``: release N as it was published, reproduced.

``DIR/warehouse.duckdb`` holds release N's marts, read from the marts' history (``releases.<mart>_as_of(N)``,
:mod:`pipelines.lib.exports.history`) of the published warehouse, sorted as a publication sorts them and with
the marts' comments; beside it, every document release N published (reports, workbook, receipts) byte for byte:
the copy kept under ``releases/N/`` or, for a document release N did not rewrite, the copy kept by the latest
earlier release.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import duckdb

from pipelines.lib.exports.history import AS_OF, SUFFIX, history_tables
from pipelines.lib.exports.publish import _quote, storage_version
from pipelines.lib.exports.releases import RELEASES_DIR, SCHEMA

EXPORT_DB = "warehouse.duckdb"
_EXPORT, _PUBLISHED = "export", "published"


class ExportError(Exception):
    """A release that cannot be exported, with the Chinese reason."""


class Exported(NamedTuple):
    database: Path
    tables: int
    documents: int


def _export_marts(warehouse: Path, number: int, target: Path) -> int:
    target.unlink(missing_ok=True)
    with duckdb.connect() as con:
        # The warehouse as the default catalog (the macros name its schemas), read-only; the export beside it.
        con.execute(f"attach {_quote(str(warehouse))} as {_PUBLISHED} (read_only)")
        con.execute(f"use {_PUBLISHED}")
        taken = con.execute(f"select count(*) from duckdb_tables() where schema_name = '{SCHEMA}'"
                            " and table_name = 'release_snapshots'").fetchone()[0] and con.execute(
            f"select count(*) from {SCHEMA}.release_snapshots where release_no = ?", [number]).fetchone()[0]
        if not taken:
            raise ExportError(f"发布版本 {number} 没有集市历史（该版本早于集市快照），无法导出它的集市；"
                              "其文件仍在 releases/ 下")
        con.execute(f"attach {_quote(str(target))} as {_EXPORT} (storage_version {_quote(storage_version())})")
        con.execute(f"create schema {_EXPORT}.marts")
        tables = history_tables(con)
        for table in tables:
            mart = table.removesuffix(SUFFIX)
            con.execute(f'create table {_EXPORT}.marts."{mart}" as'
                        f' select * from {SCHEMA}."{mart}{AS_OF}"({number}) order by all')
            for kind, column, comment in con.execute(
                    "select 'table', null, comment from duckdb_tables() where database_name = current_database()"
                    " and schema_name = 'marts' and table_name = ? and comment is not null union all "
                    "select 'column', column_name, comment from duckdb_columns() where database_name = current_database()"
                    " and schema_name = 'marts' and table_name = ? and comment is not null", [mart, mart]).fetchall():
                what = f'{_EXPORT}.marts."{mart}"' + (f'."{column}"' if kind == "column" else "")
                con.execute(f"comment on {kind} {what} is {_quote(comment)}")
        con.execute(f"detach {_EXPORT}")
    return len(tables)


def _documents(marts_dir: Path, number: int) -> dict[Path, Path]:
    """Each document release ``number`` published (relative path) and its kept copy: the latest of releases 1…N."""
    latest: dict[Path, Path] = {}
    for n in range(1, number + 1):
        folder = marts_dir / RELEASES_DIR / str(n)
        if folder.is_dir():
            latest |= {p.relative_to(folder): p for p in sorted(folder.rglob("*")) if p.is_file()}
    return latest


def export_release(warehouse: Path, number: int, out: Path) -> Exported:
    """Write release ``number`` (known to the ledger of ``warehouse``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    database = out / EXPORT_DB
    tables = _export_marts(warehouse, number, database)
    documents = _documents(warehouse.parent, number)
    for relative, kept in documents.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, out / relative)
    return Exported(database, tables, len(documents))
