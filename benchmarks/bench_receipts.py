"""Receipts of one quarter: all written, then all left unchanged.

Times ``write_receipts`` alone on a published warehouse (say the one ``sasac-skills run`` wrote for
1,000 enterprises × 2008Q2) into an empty folder, ``--repeat`` times; then once more into a folder
already up to date, where every receipt is only compared with its stored digest.

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
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_receipts_"))
    try:
        for _ in range(args.repeat):
            shutil.rmtree(root / "receipts", ignore_errors=True)
            started = time.perf_counter()
            result = write_receipts(args.warehouse, args.period, root / "receipts")
            seconds = time.perf_counter() - started
            print(f"{len(result.written)} written in {seconds:.2f} s ({len(result.written) / seconds:.0f} receipts/s)",
                  flush=True)
        started = time.perf_counter()
        result = write_receipts(args.warehouse, args.period, root / "receipts")
        seconds = time.perf_counter() - started
        print(f"up to date: {len(result.unchanged)} unchanged, {len(result.written)} written in {seconds:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
