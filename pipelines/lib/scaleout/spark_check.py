"""``make spark-check``: the dbt project on DuckDB and on a local Spark session, mart for mart.

1. the demo run by the platform's own venv (or ``--warehouse``: a working database a run already built) gives the raw and flags
   tables; they are exported to Parquet (lake.py);
2. dbt builds every model and data test on DuckDB (a copy of that database) and on Spark (session
   mode, warehouse and metastore in a temporary folder, sources registered over the Parquet), with
   the same ``--vars``;
3. each mart is compared: column names, row count and a SHA-256 over its rows, each row written out
   value by value and the rows sorted. Any difference, or a failed build, exits non-zero.

Unit tests are left out on both engines, as in production runs (pipelines/defs/dbt/vars.py): they
check SQL logic on DuckDB in ``make test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.scaleout.lake import export_parquet

REPO = Path(__file__).resolve().parents[3]
PROJECT = REPO / "dbt_project"
DEMO_INBOX = REPO / "data" / "raw"


class CheckError(Exception):
    """A problem the person running the check can fix; the message says how."""


@dataclass(frozen=True)
class MartDigest:
    columns: tuple[str, ...]
    rows: int
    sha256: str


def _value(v: object) -> str:
    """One value as text, the same on both engines for the same value (bool before int: bool is an int)."""
    if v is None:
        return "∅"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal | int | str):
        return str(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    raise CheckError(f"无法比较的值类型 unsupported value type: {type(v).__name__}")


def digest(columns: list[str], rows: list[tuple]) -> MartDigest:
    lines = sorted("\x1f".join(_value(v) for v in row) for row in rows)
    h = hashlib.sha256("\x1f".join(columns).encode())
    for line in lines:
        h.update(b"\n" + line.encode())
    return MartDigest(tuple(columns), len(lines), h.hexdigest())


def _dbt_args(args: list[str], target: str, work: Path) -> list[str]:
    project = Path(os.environ.get("SASAC_DBT_PROJECT_DIR", PROJECT))
    return [*args, "--target", target, "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]


def _failed(target: str, work: Path) -> CheckError:
    return CheckError(f"dbt build 在 {target} 上失败 (dbt build failed on target {target}); "
                      f"日志 log: {work / 'logs' / 'dbt.log'}")


def _run_dbt_duckdb(args: list[str], work: Path, db: Path) -> float:
    """In a child process: dbt-duckdb keeps its connection open in the process that ran it."""
    started = time.perf_counter()
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run([str(dbt), *_dbt_args(args, "dev", work)], env={**os.environ, "SASAC_BUILD_DB": str(db)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
        raise _failed("dev (DuckDB)", work)
    return time.perf_counter() - started


def _run_dbt_spark(args: list[str], work: Path) -> float:
    """In this process: dbt-spark's session mode reuses the Spark session started here."""
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    result = dbtRunner().invoke(_dbt_args(args, "spark", work))
    if not result.success:
        raise _failed("spark", work)
    return time.perf_counter() - started


def _periods_of(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        (lo, hi), = con.sql("select min(period), max(period) from raw.submissions").fetchall()
    if lo is None:
        raise CheckError(f"{db} 的 raw.submissions 为空 (no submissions to build from)")
    return {"period_from": lo, "period_to": hi}


def _demo_warehouse(tmp: Path, inbox: Path, run_with: Path) -> Path:
    """The inbox run by the platform's own command (``run_with``, from the platform's venv: the job never
    runs where pyspark is importable); its working database is what both engines build from."""
    work, warehouse = tmp / "demo" / "work", tmp / "demo" / "marts" / "warehouse.duckdb"
    done = subprocess.run([str(run_with), "run", "--all", "--inbox", str(inbox), "--workdir", str(work),
                           "--warehouse", str(warehouse), "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise CheckError("演示运行失败 (the demo run failed):\n" + done.stdout[-4000:])
    return work / "warehouse.duckdb"


def duckdb_marts(db: Path) -> dict[str, MartDigest]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.sql(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]
        out = {}
        for t in tables:
            rel = con.sql(f"select * from marts.{t}")
            out[t] = digest(list(rel.columns), rel.fetchall())
        return out


def spark_session(tmp: Path):
    """A local Spark whose warehouse, metastore and logs live in ``tmp``; dbt-spark reuses it."""
    java = shutil.which("java")
    if java is None:
        raise CheckError("未找到 Java（需要 Java 17）：请运行 `make spark-check`，它会调用 scripts/ensure-java.sh 安装 "
                         "(Java 17 not found: scripts/ensure-java.sh installs it)")
    from pyspark.sql import SparkSession

    meta = tmp / "metastore"
    meta.mkdir(parents=True, exist_ok=True)
    java_opts = f"-Dderby.system.home={meta} -Dderby.stream.error.file={meta / 'derby.log'} -Duser.timezone=UTC"
    return (
        SparkSession.builder.master("local[2]").appName("sasac-spark-check")
        .config("spark.sql.warehouse.dir", str(tmp / "spark-warehouse"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={meta / 'metastore_db'};create=true")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.driver.memory", os.environ.get("SASAC_SPARK_DRIVER_MEMORY", "3g"))
        .config("spark.sql.shuffle.partitions", "4")  # Spark's 200 are for clusters; 2 cores here
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")  # what dbt-spark sets for its sessions
        .config("spark.ui.enabled", "false")
        .config("spark.local.dir", str(tmp / "spark-local"))
        .enableHiveSupport()
        .getOrCreate()
    )


def register_sources(spark, lake: dict[str, Path]) -> None:
    for name, folder in lake.items():
        schema, table = name.split(".")
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(f"create table {schema}.{table} using parquet location '{folder}'")


def spark_marts(spark) -> dict[str, MartDigest]:
    out = {}
    for row in spark.sql("show tables in marts").collect():
        if row.isTemporary:
            continue
        df = spark.table(f"marts.{row.tableName}")
        out[row.tableName] = digest(df.columns, [tuple(r) for r in df.collect()])
    return out


def compare(duck: dict[str, MartDigest], spark: dict[str, MartDigest]) -> tuple[list[str], bool]:
    lines = [f"{'mart':<32} {'DuckDB 行数':>11} {'Spark 行数':>10}  {'DuckDB sha256':<16} {'Spark sha256':<16} 结果"]
    same = True
    for name in sorted(set(duck) | set(spark)):
        d, s = duck.get(name), spark.get(name)
        if d is None or s is None:
            verdict, same = "缺失 missing", False
        elif d.columns != s.columns:
            verdict, same = "列不同 columns differ", False
        elif d != s:
            verdict, same = "不同 DIFFERENT", False
        else:
            verdict = "相同 equal"
        lines.append(f"{name:<32} {d.rows if d else '-':>11} {s.rows if s else '-':>10}  "
                     f"{d.sha256[:16] if d else '-':<16} {s.sha256[:16] if s else '-':<16} {verdict}")
    return lines, same


def run_check(tmp: Path, warehouse: Path | None, inbox: Path, run_with: Path) -> bool:
    os.environ["TZ"] = "UTC"  # pyspark turns Spark timestamps into Python ones in the process's zone
    time.tzset()
    timings: dict[str, float] = {}

    started = time.perf_counter()
    if warehouse is None:
        source_db = _demo_warehouse(tmp, inbox, run_with)
        timings["demo run"] = time.perf_counter() - started
    elif not warehouse.is_file():
        raise CheckError(f"找不到数据库 warehouse not found: {warehouse}")
    else:
        source_db = warehouse
    dbt_vars = _periods_of(source_db)

    duck_db = tmp / "duckdb" / "warehouse.duckdb"
    duck_db.parent.mkdir(parents=True)
    shutil.copyfile(source_db, duck_db)
    started = time.perf_counter()
    lake = export_parquet(duck_db, tmp / "lake")
    timings["parquet export"] = time.perf_counter() - started

    # The marts only: the history snapshots are taken by releases (pipelines/lib/exports/history.py), and dbt-spark
    # snapshots only Delta or Hudi tables.
    build = ["build", "--vars", json.dumps(dbt_vars), "--exclude-resource-type", "unit_test",
             "--exclude-resource-type", "snapshot"]
    timings["dbt build duckdb"] = _run_dbt_duckdb(build, tmp / "duckdb", duck_db)
    duck = duckdb_marts(duck_db)

    started = time.perf_counter()
    spark = spark_session(tmp / "spark")
    register_sources(spark, lake)
    timings["spark start"] = time.perf_counter() - started
    timings["dbt build spark"] = _run_dbt_spark(build, tmp / "spark")
    started = time.perf_counter()
    theirs = spark_marts(spark)
    timings["spark read marts"] = time.perf_counter() - started

    lines, same = compare(duck, theirs)
    print(f"\n同一 dbt 项目在 DuckDB 与 Spark 上构建的结果 (vars {json.dumps(dbt_vars)}; "
          f"{sum(1 for _ in lake)} 个源表 source tables):")
    print("\n".join(lines))
    print("耗时 seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print("全部相同 every mart equal" if same else "有差异 marts differ")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="reuse this working database (a run's data/work/warehouse.duckdb)")
    parser.add_argument("--inbox", type=Path, default=DEMO_INBOX, help="inbox to run when no --warehouse")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--run-with", type=Path, default=Path(sys.executable).parent / "sasac-skills",
                        help="the platform's sasac-skills (its own venv, without pyspark) that runs the inbox")
    args = parser.parse_args(argv)

    os.environ.setdefault("SASAC_DEMO", "1")
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sasac-spark-check-")) if args.keep is None else args.keep.resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        same = run_check(tmp, args.warehouse.resolve() if args.warehouse else None, args.inbox.resolve(),
                         args.run_with)
    except CheckError as exc:
        print(f"spark-check: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"spark-check 总耗时 total {time.perf_counter() - started:.1f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
