"""The spark venv's interpreter: pyspark lives only there (Makefile, `.venv-spark`), never in the platform's venv,
where it would make `import great_expectations` exit the job's processes. `make test` sets SASAC_SPARK_PYTHON."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def spark_python() -> str:
    path = Path(os.environ.get("SASAC_SPARK_PYTHON", REPO / ".venv-spark" / "bin" / "python"))
    assert path.is_file(), f"{path} is missing: `make test` (or `make spark-check`) builds the spark venv"
    return str(path)
