"""The one cached DbtProject, and a manifest that is never stale."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from pipelines.lib.domain.reference import DBT_PROJECT_DIR, DBT_TARGET_DIR

DBT_DIR = DBT_PROJECT_DIR
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _newest_source_mtime(root: Path) -> float:
    paths = [root / "dbt_project.yml", root / "profiles.yml"]
    for sub in ("models", "macros", "seeds", "tests", "snapshots"):
        paths += [p for p in (root / sub).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def ensure_manifest(project: DbtProject) -> Path:
    """Parse the project when the manifest is missing or older than any source file (fresh clone, edits)."""
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project.project_dir):
        dbt_cli(project).cli(["parse", "--quiet"], target_path=project.project_dir / project.target_path).wait()
    return manifest


def dbt_cli(project: DbtProject) -> DbtCliResource:
    """dagster-dbt's dbt CLI resource, running the ``dbt`` installed beside this interpreter (whatever PATH says):
    the project's own parse when its manifest is stale (the runs' builds go through defs/dbt/runner.py)."""
    return DbtCliResource(project_dir=project, dbt_executable=str(Path(sys.executable).with_name("dbt")))


@functools.cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR, target_path=DBT_TARGET_DIR.relative_to(DBT_DIR))
    ensure_manifest(project)
    return project
