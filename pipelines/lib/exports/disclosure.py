"""What the published warehouse leaves out: marts keyed by a pseudonym, and pseudonym columns elsewhere.

The dbt models own the decision (``meta: {disclosure: person_level}`` on a model, ``disclosure: pseudonym``
on a column, in ``dbt_project/models/marts/**/*.yml``); this module reads it from dbt's manifest, a documented
artifact. Person-level marts stay in the working database for the inspection pages, the flows and the GX
suites; what analysts open holds aggregates, and counts of persons, only.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pipelines.lib.exports.manifest import manifest_nodes

PERSON_LEVEL, PSEUDONYM = "person_level", "pseudonym"


class Withheld(NamedTuple):
    tables: frozenset[str] = frozenset()  # mart names
    columns: frozenset[tuple[str, str]] = frozenset()  # (mart, column)


def withheld_by_disclosure(manifest_path: Path) -> Withheld:
    """The marts and columns the dbt project marks as not to be published."""
    models = manifest_nodes(manifest_path, "model")
    return Withheld(
        frozenset(n["name"] for n in models if (n.get("meta") or {}).get("disclosure") == PERSON_LEVEL),
        frozenset((n["name"], c) for n in models for c, col in (n.get("columns") or {}).items()
                  if (col.get("meta") or {}).get("disclosure") == PSEUDONYM),
    )


NOTHING_WITHHELD = Withheld()
