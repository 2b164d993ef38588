"""The asset groups, in the order data flows through them.

The UI lays groups out by their dependencies and lists them by name: the number in front keeps the list in
the same order as the graph (intake → reference → dbt staging → … → expectations → flag marts → publish).
"""

INTAKE = "1_intake"
REFERENCE = "2_reference"
DBT_STAGING = "3_dbt_staging"
DBT_INTERMEDIATE = "4_dbt_intermediate"
DBT_MARTS = "5_dbt_marts"
EXPECTATIONS = "6_expectations"
# The flag models read what the GX suites wrote, so they sit after them, not with the core models.
DBT_FLAGS = "7_dbt_flags"
PUBLISH = "8_publish"

FLOW = (INTAKE, REFERENCE, DBT_STAGING, DBT_INTERMEDIATE, DBT_MARTS, EXPECTATIONS, DBT_FLAGS, PUBLISH)

_DBT_SCHEMAS = {"reference": REFERENCE, "staging": DBT_STAGING, "intermediate": DBT_INTERMEDIATE,
                "marts": DBT_MARTS}


def dbt_group(schema: str | None, tags: list[str] | tuple[str, ...]) -> str:
    """The group of a dbt node, from its schema and its selector tag (core / flags)."""
    if "flags" in tags:
        return DBT_FLAGS
    return _DBT_SCHEMAS.get(schema or "", DBT_MARTS)
