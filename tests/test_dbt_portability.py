"""The models stay portable to Spark: each engine's own parser reads the SQL dbt compiles for it.

Replaces a list of forbidden DuckDB-only words: dbt compiles every model for DuckDB and for Spark
(pipelines/lib/scaleout/portability.py) and DuckDB's parser and Spark's parser read their own
version, so a construct one engine lacks fails whichever engine it is. Planted constructs prove
the guard can fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.lib.scaleout import portability

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "dbt_project" / "models"


def test_only_staging_calls_source():
    for path in MODELS.rglob("*.sql"):
        if "source(" in path.read_text():
            assert path.parent.parent.name == "staging", path


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local Spark session for the module (the JVM takes ~45 s to start)."""
    from pipelines.lib.scaleout.spark_check import spark_session

    session = spark_session(tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()


def _planted_project(root: Path, plants: dict[str, tuple[str, str]]) -> Path:
    """dbt_project/ copied to ``root`` with ``{model: (old, new)}`` replaced in each model's SQL."""
    project = root / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    for model, (old, new) in plants.items():
        path = next(project.joinpath("models").rglob(f"{model}.sql"))
        text = path.read_text()
        assert old in text, (model, old)
        path.write_text(text.replace(old, new, 1))
    return project


@pytest.mark.slow
def test_every_model_parses_on_duckdb_and_on_spark(spark, tmp_path):
    compiled = portability.compile_models(REPO / "dbt_project", tmp_path)
    models = {p.stem for p in MODELS.rglob("*.sql")}
    assert set(compiled["duckdb"]) == models and set(compiled["spark"]) == models
    assert portability.duckdb_parse_errors(compiled["duckdb"]) == {}
    assert portability.spark_parse_errors(spark, compiled["spark"]) == {}


# model: (old, planted, the engine that lacks it). DuckDB-only: SELECT * EXCLUDE, {'key': value}
# struct literals; Spark-only: LATERAL VIEW. (Spark 4 parses QUALIFY, `::`, GROUP BY ALL and FROM-first.)
PLANTS = {
    "dim_enterprises": ("select * from final", "select * exclude (sector) from final", "spark"),
    "submission_rechecks": ("select * from final", "select *, {'planted': 1} as planted_struct from final", "spark"),
    "training_events": ("select * from final",
                        "select * from final lateral view explode(array(1)) planted as planted_n", "duckdb"),
}


@pytest.mark.slow
def test_a_construct_one_engine_lacks_fails_the_guard(spark, tmp_path):
    project = _planted_project(tmp_path, {m: (old, new) for m, (old, new, _) in PLANTS.items()})
    compiled = portability.compile_models(project, tmp_path / "work", select=" ".join(PLANTS))
    errors = {"duckdb": portability.duckdb_parse_errors(compiled["duckdb"]),
              "spark": portability.spark_parse_errors(spark, compiled["spark"])}
    for engine in ("duckdb", "spark"):
        assert sorted(errors[engine]) == sorted(m for m, (*_, lacks) in PLANTS.items() if lacks == engine), errors
