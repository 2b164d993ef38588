"""Receipts of one quarter: written serially, written by 2 worker processes, and left unchanged.

Times ``write_receipts`` alone on a published warehouse (say the one ``sasac-skills run`` wrote for
1,000 enterprises × 2008Q2), each mode on an empty folder, ``--repeat`` times; then once more into a
folder already up to date, where every receipt is only compared with its stored digest.

    .venv/bin/python -m benchmarks.bench_receipts --warehouse /tmp/b1k/marts/warehouse.duckdb [--period 2008Q2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.lib.exports.receipts import write_receipts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--period", default="2008Q2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_receipts_"))
    try:
        for _ in range(args.repeat):
            for workers in args.workers:
                out = root / f"w{workers}"
                shutil.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                result = write_receipts(args.warehouse, args.period, out, workers=workers)
                seconds = time.perf_counter() - started
                print(f"{workers} worker(s): {len(result.written)} written in {seconds:.2f} s "
                      f"({len(result.written) / seconds:.0f} receipts/s)", flush=True)
        started = time.perf_counter()
        result = write_receipts(args.warehouse, args.period, root / f"w{args.workers[-1]}")
        seconds = time.perf_counter() - started
        print(f"up to date: {len(result.unchanged)} unchanged, {len(result.written)} written in {seconds:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
