"""Does every model parse on both engines? Compile the project for each target, parse with each engine's own parser.

dbt compiles the models twice without touching a database (``--no-populate-cache --no-introspect``): for
DuckDB (profile target ``lint``) and for Spark (``lint_spark``, dbt-spark's renderings of the
cross-database macros). DuckDB's parser reads the first, Spark's (``parsePlan``: syntax only, no table
lookup) the second. A construct one engine lacks (``select * exclude``, ``from t select``, ``lateral
view``, ``{'a': 1}`` struct literals, …) fails here in seconds, where a Spark build takes minutes.
Functions are resolved at run time, not parse time: ``make spark-check`` covers those.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

TARGETS = {"duckdb": "lint", "spark": "lint_spark"}


def _compile_command(project: Path, target: str, work: Path, select: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dbt"), "compile", "--target", target,
            "--no-populate-cache", "--no-introspect", "--select", select,
            "--vars", '{"period_from": "2008Q1", "period_to": "2008Q4"}',
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]


def compile_models(project: Path, work: Path, select: str = "resource_type:model") -> dict[str, dict[str, str]]:
    """``{engine: {model name: compiled SQL}}`` of the models ``select`` picks, both targets at once."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    running = {engine: subprocess.Popen(_compile_command(project, target, work / engine, select), env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for engine, target in TARGETS.items()}
    models = {p.stem for p in (project / "models").rglob("*.sql")}
    out: dict[str, dict[str, str]] = {}
    for engine, proc in running.items():
        log, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"dbt compile --target {TARGETS[engine]} failed:\n{log[-3000:]}")
        out[engine] = {path.stem: path.read_text()
                       for path in (work / engine / "target" / "compiled").rglob("*.sql")
                       if path.stem in models and path.parent.suffix != ".yml"}
    return out


def duckdb_parse_errors(sqls: dict[str, str]) -> dict[str, str]:
    errors = {}
    with duckdb.connect() as con:
        for name, sql in sorted(sqls.items()):
            try:
                con.extract_statements(sql)
            except duckdb.Error as exc:
                errors[name] = " ".join(str(exc).split())[:300]
    return errors


def spark_parse_errors(spark, sqls: dict[str, str]) -> dict[str, str]:
    """Spark's own SQL parser (the JVM's, through the session); nothing is analysed or run."""
    parser = spark._jsparkSession.sessionState().sqlParser()
    errors = {}
    for name, sql in sorted(sqls.items()):
        try:
            parser.parsePlan(sql)
        except Exception as exc:  # py4j wraps Spark's ParseException
            errors[name] = " ".join(str(exc).split())[:300]
    return errors


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.lib.scaleout.portability PROJECT [PROJECT …] --work DIR``: each project's models
    compiled for both engines and parsed by each, one Spark session for all; prints ``{project: {engine:
    {model: error}}}`` as JSON. Run from the spark venv (the platform's own venv has no pyspark)."""
    import argparse
    import json

    from pipelines.lib.scaleout.spark_check import spark_session

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--select", default="resource_type:model")
    args = parser.parse_args(argv)
    spark = spark_session(args.work / "spark")
    try:
        out = {}
        for n, project in enumerate(args.projects):
            compiled = compile_models(project, args.work / f"project{n}", select=args.select)
            out[str(project)] = {"models": {engine: sorted(sqls) for engine, sqls in compiled.items()},
                                 "duckdb": duckdb_parse_errors(compiled["duckdb"]),
                                 "spark": spark_parse_errors(spark, compiled["spark"])}
    finally:
        spark.stop()
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
