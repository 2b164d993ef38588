"""The analyst guide's example queries run as written on the demo warehouse and return rows."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DemoRun

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analyst-guide.md"
MARTS_README = GUIDE.parents[1] / "data" / "marts" / "README.md"
LISTED_TABLE = re.compile(r"^\| `((?:marts|reference|releases|history)\.\w+)` \|", re.MULTILINE)
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line number, body) of every fenced block of ``lang`` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


SQL_BLOCKS = _blocks("sql")


def _question_before(line_no: int) -> str:
    lines = GUIDE.read_text(encoding="utf-8").splitlines()[: line_no - 1]
    return next((line for line in reversed(lines) if line.strip()), "")


def test_the_guide_and_the_marts_readme_state_the_number_of_queries_it_has() -> None:
    stated = f"共 {len(SQL_BLOCKS)} 个示例查询"
    assert stated in GUIDE.read_text(encoding="utf-8")
    assert stated in MARTS_README.read_text(encoding="utf-8")
    for line_no, _ in SQL_BLOCKS:
        question = _question_before(line_no)
        assert question.rstrip().endswith("？"), f"line {line_no}: no one-line question before the query: {question!r}"


@pytest.fixture(scope="module")
def warehouse(demo_run: DemoRun):
    con = duckdb.connect(str(demo_run.warehouse), read_only=True)
    yield con
    con.close()


@pytest.mark.slow
@pytest.mark.parametrize("sql", [body for _, body in SQL_BLOCKS],
                         ids=[f"query{i}-line{line}" for i, (line, _) in enumerate(SQL_BLOCKS, 1)])
def test_example_query_runs_and_returns_rows(warehouse: duckdb.DuckDBPyConnection, sql: str) -> None:
    rows = warehouse.execute(sql).fetchall()
    assert rows, f"no rows from:\n{sql}"


@pytest.mark.slow
def test_the_guide_lists_exactly_the_published_tables(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The guide's tables of marts and reference tables are checked against the published warehouse: no drift."""
    listed = LISTED_TABLE.findall(GUIDE.read_text(encoding="utf-8"))
    published = [f"{s}.{t}" for s, t in warehouse.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()").fetchall()]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(published)


@pytest.mark.slow
def test_cli_snippets_run(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The SQL typed at the ``D`` prompt in the CLI examples (column comments) works too."""
    statements = [line[2:] for _, body in _blocks("console") for line in body.splitlines()
                  if line.startswith("D ") and not line[2:].startswith(".")]
    assert statements
    for sql in statements:
        rows = warehouse.execute(sql).fetchall()
        assert rows and all(r[-1] for r in rows), f"missing comments from: {sql}"
