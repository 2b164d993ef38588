"""The four exports of a published warehouse: one after another, against side by side as the run writes them.

Runs the export step's tasks (``pipelines.defs.publish.exports.export_tasks``: the receipts, the tracking
workbook, the inspection pages then the reports) on a copy of a published warehouse (say the one ``sasac-skills
run`` wrote for 1,000 enterprises × 2008Q2) into an empty folder, alternating: ``serial`` calls them one after
another in this process, ``side-by-side`` through ``run_side_by_side`` (one forked worker each). Prints wall time,
CPU seconds (this process and every child it waited for), each task's own seconds and the load average.

    .venv/bin/python -m benchmarks.bench_exports --warehouse /tmp/b1k/marts/warehouse.duckdb [--period 2008Q2]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.defs.publish.exports import EXPORT_KEYS, export_tasks, run_side_by_side, timed
from pipelines.lib.domain.periods import Period


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one_round(warehouse: Path, period: Period, mode: str) -> str:
    root = Path(tempfile.mkdtemp(prefix="bench_exports_"))
    try:
        db = Path(shutil.copy(warehouse, root / "warehouse.duckdb"))
        tasks = export_tasks(set(EXPORT_KEYS), db, root, [period])
        load, started, cpu = os.getloadavg()[0], time.monotonic(), cpu_seconds()
        if mode == "serial":
            done = [timed(task) for task in tasks.values()]
        else:
            done = [outcome for _, outcome in run_side_by_side(tasks)]
        wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
        parts = ", ".join(f"{e.key.path[-1]} {e.seconds:.2f}" for outcome in done for e in outcome)
        return f"{mode:<12} wall {wall:6.2f} s  CPU {cpu:6.2f} s  ({parts})  load {load:.1f}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--period", default="2008Q2")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for _ in range(args.rounds):
        for mode in ("serial", "side-by-side"):
            print(one_round(args.warehouse, Period.parse(args.period), mode), flush=True)


if __name__ == "__main__":
    main()
