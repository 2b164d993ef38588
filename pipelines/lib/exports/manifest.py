"""The dbt project's nodes as its manifest (a documented dbt artifact) lists them: what the yml decides about
marts (disclosure, caveats, snapshots) is read here, never written again in Python."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.lib.domain.reference import DBT_TARGET_DIR

MANIFEST_PATH = DBT_TARGET_DIR / "manifest.json"  # the dbt project's own parse (pipelines/defs/dbt/project.py)


def manifest_nodes(manifest_path: Path, resource_type: str) -> list[dict[str, Any]]:
    """The manifest's nodes of one ``resource_type`` ("model", "snapshot" …)."""
    nodes = json.loads(Path(manifest_path).read_text(encoding="utf-8"))["nodes"].values()
    return [n for n in nodes if n.get("resource_type") == resource_type]
