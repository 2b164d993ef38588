"""Intake benchmark: 1,000 enterprises × 1 quarter, generated, then read, checked and loaded.

Prints files/s, rows/s, peak memory and where the time goes. Target on the 2-core machine:
the whole quarter's intake in ≤ 20 s and ≤ 2 GiB peak.

    .venv/bin/python -m benchmarks.bench_intake [--enterprises 1000] [--inbox DIR] [--cache DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.quarter_inbox import PERIOD, quarter_inbox
from pipelines.lib.domain.periods import Period
from pipelines.lib.intake.pseudonym import DEMO_KEY
from pipelines.lib.intake.run import run_intake


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--inbox", type=Path, help="reuse an inbox generated earlier")
    ap.add_argument("--cache", type=Path, help="where generated inboxes are kept (see benchmarks.quarter_inbox)")
    ap.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_intake_"))
    try:
        inbox = quarter_inbox(args.enterprises, args.inbox, args.cache)
        files = sum(1 for p in (inbox / PERIOD).iterdir() if p.name != "收件登记.csv")
        size = sum(p.stat().st_size for p in (inbox / PERIOD).rglob("*") if p.is_file())
        db = work / "warehouse.duckdb"
        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        with duckdb.connect(str(db)) as con:
            if profiler:
                profiler.enable()
            report = run_intake(inbox, [Period.parse(PERIOD)], con, work / "archive", DEMO_KEY)
            if profiler:
                profiler.disable()
        seconds = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"intake: {files} files ({size / 2**20:.1f} MiB) in {seconds:.2f} s "
              f"= {files / seconds:.0f} files/s, {report.rows_loaded / seconds:,.0f} rows/s; "
              f"accepted {report.accepted}, rejected {report.rejected}; rows in {report.rows_in} = "
              f"loaded {report.rows_loaded} + in rejected files {report.rows_rejected}; findings {report.findings}")
        assert report.rows_in == report.rows_loaded + report.rows_rejected
        print(f"peak RSS (whole process; the inbox is generated in a child): {peak_mib:.0f} MiB")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
