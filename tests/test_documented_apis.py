"""The platform's code uses documented APIs of its libraries only: nothing private (``_``-prefixed) from
xlsxwriter, dbt, dbt-duckdb, dagster-dbt or Dagster.

A private name is free to change in any release: an upgrade that renames it breaks a run in production, not
a build. Read from the source with ``ast``: every import and every attribute taken from a name bound to one of
these packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "pipelines"

# Packages whose private names and modules the platform must not use.
WATCHED = ("xlsxwriter", "dbt", "dagster_dbt", "dagster")
# Public-looking modules of dagster-dbt that are its internals (not in its API docs): what they offer is
# reached through DbtCliResource / dbt_assets.
UNDOCUMENTED_MODULES = ("dagster_dbt.asset_utils", "dagster_dbt.core.dbt_cli_event")


def _watched(module: str) -> bool:
    return module.split(".")[0] in WATCHED


def _private_component(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def _banned_module(module: str) -> bool:
    return _watched(module) and (_private_component(module) or any(
        module == m or module.startswith(m + ".") for m in UNDOCUMENTED_MODULES))


def _attribute_root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def private_uses(tree: ast.AST) -> list[str]:
    """What ``tree`` takes that is private to a watched package: ``line: text`` for each."""
    bound: dict[str, str] = {}  # local name -> the watched module or object it stands for
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _watched(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name
                    if _banned_module(alias.name):
                        found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _watched(node.module):
            if _banned_module(node.module):
                found.append(f"{node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                elif _banned_module(f"{node.module}.{alias.name}"):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            root = _attribute_root(node)
            if root in bound:
                found.append(f"{node.lineno}: {ast.unparse(node)} ({root} is {bound[root]})")
    return found


def test_the_check_sees_what_it_must() -> None:
    source = """
import dagster._core.errors
from dagster._utils import x
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dagster_dbt.core import dbt_cli_event
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
import xlsxwriter.worksheet as ws
env = DuckDBConnectionManager._ENV
ws.Worksheet._write_single_row(None)
from dagster_dbt import DbtCliResource
DbtCliResource(project_dir=".").cli(["build"])
"""
    found = private_uses(ast.parse(source))
    assert sorted({int(f.split(":")[0]) for f in found}) == [2, 3, 4, 5, 6, 9, 10], found


def test_no_private_names_of_watched_libraries() -> None:
    offenders = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        found = private_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if found:
            offenders[relative] = found
    assert not offenders, offenders
