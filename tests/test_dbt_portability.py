"""The models stay portable to Spark: each engine's own parser reads the SQL dbt compiles for it.

Replaces a list of forbidden DuckDB-only words: dbt compiles every model for DuckDB and for Spark
(pipelines/lib/scaleout/portability.py) and DuckDB's parser and Spark's parser read their own
version, so a construct one engine lacks fails whichever engine it is. Planted constructs prove
the guard can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.spark_venv import spark_python

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "dbt_project" / "models"


def test_only_staging_calls_source():
    for path in MODELS.rglob("*.sql"):
        if "source(" in path.read_text():
            assert path.parent.parent.name == "staging", path


@pytest.fixture(scope="module")
def parse_errors(tmp_path_factory):
    """The real project and a planted copy, each compiled for both engines and parsed by each, in one child of
    the spark venv (one JVM start for both; the platform's venv holds no pyspark)."""
    root = tmp_path_factory.mktemp("portability")
    planted = _planted_project(root / "planted", {m: (old, new) for m, (old, new, _) in PLANTS.items()})
    done = subprocess.run([spark_python(), "-m", "pipelines.lib.scaleout.portability", str(REPO / "dbt_project"),
                           str(planted), "--work", str(root / "work")],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.splitlines()[-1])
    return out[str(REPO / "dbt_project")], out[str(planted)]


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
def test_every_model_parses_on_duckdb_and_on_spark(parse_errors):
    real, _ = parse_errors
    models = sorted(p.stem for p in MODELS.rglob("*.sql"))
    assert real["models"] == {"duckdb": models, "spark": models}
    assert real["duckdb"] == {} and real["spark"] == {}


# model: (old, planted, the engine that lacks it). DuckDB-only: SELECT * EXCLUDE, {'key': value}
# struct literals; Spark-only: LATERAL VIEW. (Spark 4 parses QUALIFY, `::`, GROUP BY ALL and FROM-first.)
PLANTS = {
    "dim_enterprises": ("select * from final", "select * exclude (sector) from final", "spark"),
    "submission_rechecks": ("select * from final", "select *, {'planted': 1} as planted_struct from final", "spark"),
    "training_events": ("select * from final",
                        "select * from final lateral view explode(array(1)) planted as planted_n", "duckdb"),
}


@pytest.mark.slow
def test_a_construct_one_engine_lacks_fails_the_guard(parse_errors):
    _, planted = parse_errors
    for engine in ("duckdb", "spark"):
        assert sorted(planted[engine]) == sorted(m for m, (*_, lacks) in PLANTS.items() if lacks == engine), planted
