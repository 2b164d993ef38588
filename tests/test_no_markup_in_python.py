"""Pages are marked up in templates, not in Python: no string in pipelines/ (f-string parts included) holds the
start of an HTML element that makes a page's layout or text. Python computes what a page shows; the templates
beside each module (``templates/*.html.j2``, one Jinja2 environment: ``pipelines/lib/exports/templating.py``)
say how it is marked up and escape it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
MARKUP = re.compile(r"<(?:div|td|svg|tr|table|span|html)\b|<p>", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants: documentation (``out/<schema>/<table>.parquet``), never written to a page."""
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def markup_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``path`` that holds markup, docstrings aside; an f-string's
    literal parts count one by one, so markup split around a placeholder is found too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                  and MARKUP.search(node.value))


def test_markup_finder_sees_plain_and_f_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Writes out/<table>.csv."""\na = "<div class=x>"\nb = f"<td>{a}</td>"\nc = "<p>"\n'
                      'd = "a < b"\ne = "<tbody>"\n', encoding="utf-8")
    assert [line for line, _ in markup_strings(sample)] == [2, 3, 4]


def test_no_page_markup_in_python() -> None:
    found = [f"{path.relative_to(PIPELINES.parent)}:{line}: {text[:60]!r}"
             for path in sorted(PIPELINES.rglob("*.py")) for line, text in markup_strings(path)]
    assert not found, "markup belongs in a template:\n" + "\n".join(found)
