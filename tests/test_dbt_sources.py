"""One schema per boundary: the dbt sources (raw.*) are exactly the tables the intake writes."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.lib.domain.warehouse import raw_tables

SOURCES_YML = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging" / "raw" / "_raw__sources.yml"


def _yml_tables() -> dict[str, list[tuple[str, str]]]:
    (source,) = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))["sources"]
    assert source["name"] == "raw" and source["schema"] == "raw"
    return {t["name"]: [(c["name"], c["data_type"]) for c in t.get("columns") or []] for t in source["tables"]}


def _contract_tables() -> dict[str, list[tuple[str, str]]]:
    # "VARCHAR PRIMARY KEY" -> varchar: the yml states the type, DuckDB's DDL the constraints
    return {name: [(c, t.split()[0].lower()) for c, t in cols] for name, cols in raw_tables().items()}


def test_sources_yml_lists_every_raw_table_and_column_of_the_contract():
    yml, contract = _yml_tables(), _contract_tables()
    assert sorted(yml) == sorted(contract)
    for name, cols in contract.items():
        assert yml[name] == cols, (
            f"_raw__sources.yml table {name} differs from the intake contract; expected columns:\n"
            + "\n".join(f"          - name: {c}\n            data_type: {t}" for c, t in cols)
        )


def test_the_comparison_would_see_a_missing_column():
    contract = _contract_tables()
    broken = {**contract, "funds": contract["funds"][:-1]}
    assert broken != _yml_tables()
