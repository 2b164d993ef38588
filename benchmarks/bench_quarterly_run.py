"""The whole quarterly run (intake + dbt + expectations + publish + exports), per stage.

Two figures, each on a fresh working area, through the same in-process Dagster job as the CLI:
- 1,000 enterprises × 1 quarter (generated first; generation is timed separately): target ≤ 60 s;
- `run --all` on the committed demo inbox (12 enterprises × 20 quarters): target ≤ 90 s.

    .venv/bin/python -m benchmarks.bench_quarterly_run [--enterprises 1000] [--inbox DIR] [--skip-demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("SASAC_DEMO", "1")

from benchmarks.quarter_inbox import PERIOD, quarter_inbox  # noqa: E402
from pipelines.lib.domain.periods import Period  # noqa: E402
from pipelines.run import run_quarters  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def timed_run(label: str, inbox: Path, period: str | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench_run_"))
    try:
        summary = run_quarters(inbox=inbox, warehouse=root / "marts" / "warehouse.duckdb", workdir=root / "work",
                               period=Period.parse(period) if period else None, quiet=True)
        assert summary.success, summary.text()
        print(f"\n{label}: {summary.seconds:.1f} s in the Dagster job (stats: {summary.stats})")
        for step, seconds in sorted(summary.step_seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {seconds:7.1f} s  {step}")
        print(f"  {summary.seconds - sum(summary.step_seconds.values()):7.1f} s  (definitions, dbt parse check, "
              "Dagster overhead)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--inbox", type=Path, help="a generated 1-quarter inbox to reuse")
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_gen_"))
    try:
        inbox = quarter_inbox(args.enterprises, args.inbox, work)
        timed_run(f"{args.enterprises} enterprises × {PERIOD}", inbox, PERIOD)
        if not args.skip_demo:
            timed_run("demo inbox, run --all (12 enterprises × 2006Q1–2010Q4)", REPO / "data" / "raw", None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
