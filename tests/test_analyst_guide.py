"""The analyst guide's example queries run as written on the demo warehouse and return rows."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DemoRun

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analyst-guide.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line number, body) of every fenced block of ``lang`` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


SQL_BLOCKS = _blocks("sql")


def _question_before(line_no: int) -> str:
    lines = GUIDE.read_text(encoding="utf-8").splitlines()[: line_no - 1]
    return next((line for line in reversed(lines) if line.strip()), "")


def test_the_guide_has_exactly_fourteen_queries_each_after_a_question() -> None:
    assert len(SQL_BLOCKS) == 14
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
def test_cli_snippets_run(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The SQL typed at the ``D`` prompt in the CLI examples (column comments) works too."""
    statements = [line[2:] for _, body in _blocks("console") for line in body.splitlines()
                  if line.startswith("D ") and not line[2:].startswith(".")]
    assert statements
    for sql in statements:
        rows = warehouse.execute(sql).fetchall()
        assert rows and all(r[-1] for r in rows), f"missing comments from: {sql}"
