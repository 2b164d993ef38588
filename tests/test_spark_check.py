"""``make spark-check``: the same marts on DuckDB and on a local Spark session (issue 14)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.scaleout.spark_check import MartDigest, compare, digest
from tests.spark_venv import spark_python

ROWS = [(1, "甲", Decimal("12.3400"), 0.1 + 0.2, True, dt.date(2008, 4, 15), None),
        (2, "乙", Decimal("0.0000"), 1e-300, False, dt.date(2008, 7, 15), dt.datetime(2008, 7, 16, 0, 0))]
COLUMNS = ["n", "name", "amount", "ratio", "ok", "day", "at"]


def test_the_digest_ignores_row_order_and_sees_the_last_bit():
    assert digest(COLUMNS, ROWS) == digest(COLUMNS, ROWS[::-1])
    one_ulp = [(*ROWS[0][:3], 0.30000000000000004 + 5.551115123125783e-17, *ROWS[0][4:]), ROWS[1]]
    assert one_ulp[0][3] != ROWS[0][3]
    assert digest(COLUMNS, one_ulp) != digest(COLUMNS, ROWS)
    # a decimal of another scale (a type that differs between the engines) is a difference too
    rescaled = [(*ROWS[0][:2], Decimal("12.34"), *ROWS[0][3:]), ROWS[1]]
    assert digest(COLUMNS, rescaled) != digest(COLUMNS, ROWS)
    assert digest(["n", "name", "amount", "ratio", "ok", "day", "when"], ROWS) != digest(COLUMNS, ROWS)


def test_compare_names_every_difference():
    same = digest(COLUMNS, ROWS)
    lines, ok = compare({"a": same, "b": same}, {"a": same, "b": same})
    assert ok and all("相同" in line for line in lines[1:])
    other = MartDigest(same.columns, same.rows, "0" * 64)
    lines, ok = compare({"a": same, "b": same, "c": same}, {"a": same, "b": other})
    assert not ok
    assert ["相同" in lines[1], "不同" in lines[2], "缺失" in lines[3]] == [True, True, True]


@pytest.mark.slow
def test_spark_check_finds_every_mart_equal(demo_run):
    """`make spark-check` on the demo run's working database (``--warehouse``: the session's demo run, rather than
    a second one of its own), its raw tables as Parquet, every model and data test on DuckDB and on Spark (the
    spark venv), mart for mart. Without ``--warehouse`` the check first runs the inbox with ``--run-with``'s
    command, as the next test shows."""
    done = subprocess.run([spark_python(), "-m", "pipelines.lib.scaleout.spark_check",
                           "--warehouse", str(demo_run.work_db)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-5000:]
    table = done.stdout[done.stdout.index("mart "):done.stdout.index("耗时 seconds")]
    rows = table.splitlines()[1:]
    # Every mart the run built, none left out: the working database's, since the person-level marts Spark also
    # builds are never published.
    with duckdb.connect(str(demo_run.work_db), read_only=True) as con:
        marts = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
    assert {line.split()[0] for line in rows} == marts, table
    assert all(line.endswith("相同 equal") for line in rows), table
    assert "全部相同 every mart equal" in done.stdout


@pytest.mark.slow
def test_without_a_warehouse_the_check_runs_the_inbox_with_the_platforms_command_first(tmp_path):
    """Without ``--warehouse`` (`make spark-check` as the README shows it) the check first runs the inbox with
    the platform's command (``--run-with``); an inbox it cannot run stops the check before Spark starts, with
    the platform's own reason and exit code 2."""
    empty = tmp_path / "inbox"
    empty.mkdir()
    done = subprocess.run([spark_python(), "-m", "pipelines.lib.scaleout.spark_check", "--inbox", str(empty),
                           "--run-with", str(Path(sys.executable).parent / "sasac-skills")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "演示运行失败" in done.stderr and "registry.csv" in done.stderr, done.stderr
