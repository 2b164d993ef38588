"""Peak memory of the intake on hostile and on large single files.

Each case is one inbox with one file, ingested by a fresh process (so the figure is the intake's own, not
the generator's): peak RSS of that process and of its reader child. Target: under 2 GiB on any single file.

    .venv/bin/python -m benchmarks.bench_hostile [--rows 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.lib.domain.codes import id_check_char
from pipelines.lib.domain.periods import Period
from pipelines.lib.forms.submission_writer import write_xlsx
from pipelines.lib.intake.pseudonym import DEMO_KEY
from pipelines.lib.intake.run import run_intake
from tests.factories import ENTERPRISE, clean_submission, registry_csv
from tests.hostile_corpus import _with_far_cell, _with_shared_string, _xlsx_bytes

PERIOD = "2008Q2"


def _roster(n: int) -> list[dict]:
    base = clean_submission()["人才信息库"][0]
    rows = []
    for i in range(n):
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=i // 900)
        body = f"110105{birth:%Y%m%d}{i % 900 + 100:03d}"
        rows.append({**base, "id_number": body + id_check_char(body), "name": f"员工{i}", "birth_date": birth,
                     "sex": "男" if int(body[16]) % 2 else "女", "cert_no": f"C{i:07d}"})
    return rows


def build(root: Path, case: str, rows: int) -> Path:
    inbox = root / case
    (inbox / PERIOD).mkdir(parents=True)
    registry_csv(inbox / "registry.csv")
    sub = clean_submission()
    target = inbox / PERIOD / f"{ENTERPRISE}_{PERIOD}.xlsx"
    if case == "shared_strings_bomb":  # one 20 MiB string used by 100 cells, 44 KB on disk
        target.write_bytes(_with_shared_string(_xlsx_bytes(sub, root), 20 * 1024 * 1024, 100))
    elif case == "far_cell":  # one cell at XFD1048576: calamine alone aborts the process on it
        target.write_bytes(_with_far_cell(_xlsx_bytes(sub, root)))
    else:
        sub["人才信息库"] = _roster(rows)
        sub["基本情况"][0].update(level3_senior=rows, skilled_workers=rows + 700, employees_total=rows + 1000)
        write_xlsx(target, sub)
    return inbox


def measure(inbox: Path) -> dict:
    """Run in a fresh process: ingest the inbox and report time, outcome and peak memory."""
    work = Path(tempfile.mkdtemp(prefix="bench_hostile_work_"))
    try:
        t0 = time.perf_counter()
        with duckdb.connect(str(work / "w.duckdb")) as con:
            report = run_intake(inbox, [Period.parse(PERIOD)], con, work / "archive", DEMO_KEY)
        return {
            "seconds": round(time.perf_counter() - t0, 2),
            "file_bytes": sum(p.stat().st_size for p in (inbox / PERIOD).iterdir()),
            "accepted": report.accepted, "rejected": report.rejected, "rows_loaded": report.rows_loaded,
            "peak_mib_intake": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak_mib_reader": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000, help="roster rows of the large file")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the fresh process
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    root = Path(tempfile.mkdtemp(prefix="bench_hostile_"))
    try:
        for case in ("shared_strings_bomb", "far_cell", "roster"):
            inbox = build(root, case, args.rows)
            out = subprocess.run([sys.executable, "-m", "benchmarks.bench_hostile", "--measure", str(inbox)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            label = {"shared_strings_bomb": "shared-strings bomb", "far_cell": "cell at XFD1048576"}.get(
                case, f"{args.rows:,}-row roster")
            print(f"{label}: {r['file_bytes'] / 1024:,.0f} KiB file, {r['seconds']} s, accepted {r['accepted']}, "
                  f"rejected {r['rejected']}, rows loaded {r['rows_loaded']:,}; peak RSS intake "
                  f"{r['peak_mib_intake']} MiB, reader {r['peak_mib_reader']} MiB (target < 2048 MiB each)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
