"""The venv the README builds runs the job in any process: pyspark, which makes `import great_expectations` exit a
process whose __main__ has no __file__ (every Dagster run worker, the GX worker), is not importable there; it
lives in the spark venv only (Makefile)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def test_pyspark_is_not_in_the_jobs_venv() -> None:
    assert importlib.util.find_spec("pyspark") is None


def test_great_expectations_imports_where_main_has_no_file(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", "import great_expectations; print('ok')"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "ok", done.stdout + done.stderr
