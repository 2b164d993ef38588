"""The tracking workbook and the receipts of one quarter, timed on a published warehouse.

Times ``write_tracking_workbook`` and ``write_receipts`` (into an empty folder) ``--repeat`` times each, in this
process (a run writes the workbook in a background child beside two forked children stamping receipts).
``--receipts-with-xlsxwriter`` writes every receipt as its own xlsxwriter workbook (in memory, its formats
created for it, the template's print setup and custom property set through xlsxwriter's public calls) instead
of stamping it from the template: the standard writer the stamped one is compared with
(docs/architecture.md, "Publication and exports"). To compare two versions of the code, run the script with
``PYTHONPATH`` on each in turn (``git archive REV | tar -x -C /tmp/old``), alternating. CPU seconds are printed
beside wall time: they move less with the other loads of a shared machine.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_workbooks.py --warehouse /tmp/b1k/marts/warehouse.duckdb \
        [--period 2008Q2] [--repeat 3] [--skip-workbook | --skip-receipts] [--receipts-with-xlsxwriter]
"""

from __future__ import annotations

import argparse
import functools
import io
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pipelines.lib.exports import excel, receipts
from pipelines.lib.exports.workbook import write_tracking_workbook


def _cpu() -> float:
    """CPU seconds of this process and its ended children (the forked receipt writers): less moved by the other
    loads of a shared machine than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _XlsxwriterReceipt:
    """A receipt's sheet as a whole xlsxwriter workbook: the calls ``receipts._Receipt`` makes on a stamped one."""

    def __init__(self, template: Any) -> None:
        self.buffer = io.BytesIO()
        self.wb = excel.new_workbook(self.buffer, in_memory=True)
        self.ws = self.wb.add_worksheet("回执")
        self.ws.hide_gridlines(2)
        for col, width in enumerate(receipts.WIDTHS):
            self.ws.set_column(col, col, width)
        # formats belong to a workbook: _Receipt takes them from the template right after creating its sheet
        template.drawn = receipts._Styles.add_to(self.wb, template.display)
        for name in ("write_string", "write_number", "write_datetime", "write_blank", "merge_range", "set_row",
                     "write_rich_string"):
            setattr(self, name, getattr(self.ws, name))

    def save(self, path: Path, *, title: str, last_row: int, property_value: str) -> None:
        excel.setup_print(self.ws, title, total_width=sum(receipts.WIDTHS), last_row=last_row,
                          last_col=receipts.NCOLS - 1)
        self.wb.set_custom_property(receipts.DIGEST_PROPERTY, property_value)
        self.wb.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.buffer.getvalue())


class _XlsxwriterTemplate:
    def __init__(self, display: Any) -> None:
        self.display, self.drawn = display, None


def use_xlsxwriter_receipts() -> None:
    receipts.receipt_template = _XlsxwriterTemplate
    receipts.StampedSheet = _XlsxwriterReceipt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--period", default="2008Q2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-workbook", action="store_true")
    ap.add_argument("--skip-receipts", action="store_true")
    ap.add_argument("--receipts-with-xlsxwriter", action="store_true")
    ap.add_argument("--workbook-cell-by-cell", action="store_true",
                    help="with PYTHONPATH on b94482a or before (when exports/streamed.py wrote the rows): "
                         "write_table's rows through xlsxwriter's calls instead")
    args = ap.parse_args()
    if args.workbook_cell_by_cell:
        excel.write_table = functools.partial(excel.write_table, cell_by_cell=True)
    if args.receipts_with_xlsxwriter:
        use_xlsxwriter_receipts()
    root = Path(tempfile.mkdtemp(prefix="bench_workbooks_"))
    try:
        for _ in range(args.repeat):
            if not args.skip_workbook:
                started, cpu = time.perf_counter(), _cpu()
                out = write_tracking_workbook(args.warehouse, root / "target_tracking.xlsx")
                seconds, cpu = time.perf_counter() - started, _cpu() - cpu
                print(f"workbook {seconds:.2f} s, {cpu:.2f} CPU-s ({out.stat().st_size / 2**20:.1f} MiB)", flush=True)
            if not args.skip_receipts:
                shutil.rmtree(root / "receipts", ignore_errors=True)
                started, cpu = time.perf_counter(), _cpu()
                result = receipts.write_receipts(args.warehouse, args.period, root / "receipts")
                seconds, cpu = time.perf_counter() - started, _cpu() - cpu
                print(f"receipts {len(result.written)} written in {seconds:.2f} s, {cpu:.2f} CPU-s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
