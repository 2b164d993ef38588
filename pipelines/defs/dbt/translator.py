"""dbt nodes as Dagster assets: keys by schema, sources mapped onto the assets that write them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from pipelines.defs.groups import dbt_group


class SasacDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        # raw.* sources are the intake's assets and flags.expectation_flags the GX runner's, so the
        # lineage is one graph: inbox -> raw -> staging -> intermediate -> marts -> flags -> publish.
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_group(dbt_resource_props.get("schema"), dbt_resource_props.get("tags") or ())

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # The yml description in words; the SQL is one click away in dbt docs (`make docs`), not in the graph.
        return asset_description(dbt_resource_props)


def asset_description(dbt_resource_props: Mapping[str, Any]) -> str:
    text = (dbt_resource_props.get("description") or "").strip()
    kind = {"seed": "参考数据", "model": "dbt 模型", "snapshot": "dbt 快照"}.get(
        dbt_resource_props.get("resource_type", ""), "dbt")
    return f"{text}\n\n{kind} `{dbt_resource_props['name']}`" if text else f"{kind} `{dbt_resource_props['name']}`"
