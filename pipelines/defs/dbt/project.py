"""The one cached DbtProject, and a manifest that is never stale."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.lib.domain.reference import DBT_PROJECT_DIR

DBT_DIR = DBT_PROJECT_DIR
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _newest_source_mtime(root: Path) -> float:
    paths = [root / "dbt_project.yml", root / "profiles.yml"]
    for sub in ("models", "macros", "seeds", "tests"):
        paths += [p for p in (root / sub).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def ensure_manifest(project: DbtProject) -> Path:
    """Parse the project when the manifest is missing or older than any source file (fresh clone, edits)."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project.project_dir):
        from pipelines.defs.dbt.in_process import parse  # dbt's imports only when a parse is due

        parse(project, project.project_dir / project.target_path)
    return manifest


@functools.cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    ensure_manifest(project)
    return project
