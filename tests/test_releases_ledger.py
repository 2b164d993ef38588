"""The releases ledger on a working database no release has written to yet: every table ledger.json declares
exists with its comments, the derived revisions triangle too (a quarter with no file published through the
reports index, which reads it, before it had one)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.lib.exports.releases import CAUSES, LEDGER, SCHEMA, ensure_ledger
from tests.conftest import REPO


def test_a_ledger_without_a_release_has_every_declared_table_with_its_comments(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "work.duckdb")) as con:
        ensure_ledger(con)
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where schema_name = ?",
                                  [SCHEMA]).fetchall())
        assert tables == {name: spec["comment"] for name, spec in LEDGER.items()}
        assert {"revisions_triangle", "mean_absolute_revisions"} <= set(tables)
        for name, spec in LEDGER.items():
            columns = con.execute("select column_name, comment from duckdb_columns() where schema_name = ? "
                                  "and table_name = ? order by column_index", [SCHEMA, name]).fetchall()
            assert columns == [(column, comment) for column, _, comment in spec["columns"]], name


def test_the_analyst_guide_names_every_cause_a_release_can_have() -> None:
    row = next(line for line in (REPO / "docs" / "analyst-guide.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `releases.release_causes`"))
    assert [label for label in CAUSES.values() if label not in row] == []
