"""The tracking workbook and the receipts as they print: rendered to PDF by LibreOffice (headless), measured
with pdftotext's word boxes.

soffice and pdftotext are installed by scripts/ensure-office.sh (called from `make test`). LibreOffice clips
a cell's text at the edge of a non-empty neighbour, but still draws it whole under the clip, so a clipped
text shows as words whose boxes overlap the neighbour's words on the same line; a sheet shrunk to fit the
page shows as small word boxes.
"""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from pipelines.lib.exports.receipts import receipt_name, write_receipts
from pipelines.lib.exports.workbook import TRACKING_SHEETS, write_tracking_workbook
from tests.marts_fixture import build_marts_fixture, make_code

PERIOD = "2007Q4"
SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"
A4 = (842, 595)  # landscape, points
# 10-pt text printed at 70 % or more: a word box (ascent + descent) at least this tall, in points.
MIN_WORD_HEIGHT = 7.0


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    words: list[Word]


def to_pdf(tmp: Path, *files: Path) -> list[Path]:
    """Convert ``files`` with LibreOffice, headless, with a profile of its own (several may run at once)."""
    out = tmp / "pdf"
    res = subprocess.run([SOFFICE, f"-env:UserInstallation={(tmp / 'lo-profile').as_uri()}", "--headless",
                          "--norestore", "--convert-to", "pdf", "--outdir", str(out), *map(str, files)],
                         capture_output=True, text=True, timeout=240, check=False)
    pdfs = [out / (f.stem + ".pdf") for f in files]
    assert all(p.exists() for p in pdfs), res.stdout[-2000:] + res.stderr[-2000:]
    return pdfs


def pages(pdf: Path) -> list[Page]:
    text = subprocess.run(["pdftotext", "-bbox", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    out = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', text, re.S):
        words = [Word(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', m.group(3))]
        out.append(Page(float(m.group(1)), float(m.group(2)), words))
    return out


def overlapping(words: list[Word]) -> list[tuple[str, str]]:
    """Pairs of words on one line whose boxes overlap: a text running under its neighbour's (clipped)."""
    found = []
    ws = sorted(words, key=lambda w: (w.y0, w.x0))
    for i, a in enumerate(ws):
        for b in ws[i + 1:]:
            if b.y0 > a.y1:
                break
            same_line = min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5 * min(a.y1 - a.y0, b.y1 - b.y0)
            if same_line and min(a.x1, b.x1) - max(a.x0, b.x0) > 1.0:
                found.append((a.text, b.text))
    return found


def _check_printed(ps: list[Page], what: str) -> None:
    for n, p in enumerate(ps, start=1):
        assert (round(p.width), round(p.height)) == A4, f"{what} page {n}: {p.width}×{p.height}, not A4 landscape"
        assert overlapping(p.words) == [], f"{what} page {n}: clipped text {overlapping(p.words)[:5]}"
        # the cells' text, not the 9-pt page header and footer in the margins (0.75 in and 0.6 in)
        body = [w for w in p.words if w.y0 > 54 and w.y1 < p.height - 43]
        small = [w.text for w in body if w.y1 - w.y0 < MIN_WORD_HEIGHT]
        assert small == [], f"{what} page {n}: text printed too small: {small[:5]}"
        assert all(w.x0 >= 0 and w.x1 <= p.width for w in p.words), f"{what} page {n}: text off the page"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("office")
    db = build_marts_fixture(base / "warehouse.duckdb")
    workbook = write_tracking_workbook(db, base / "target_tracking.xlsx")
    receipts = write_receipts(db, PERIOD, base / "receipts").paths
    chosen = [p for p in receipts if p.name in {receipt_name(make_code(n)) for n in (0, 1, 3, 4)}]
    assert len(chosen) == 4
    pdfs = to_pdf(base, workbook, *chosen)
    return {"workbook": workbook, "workbook_pdf": pdfs[0], **{f"receipt:{p.stem}": pdf
                                                              for p, pdf in zip(chosen, pdfs[1:], strict=True)}}


def test_workbook_prints_on_a4_landscape_unclipped_and_legible(rendered):
    ps = pages(rendered["workbook_pdf"])
    _check_printed(ps, "workbook")
    wb = openpyxl.load_workbook(rendered["workbook"], read_only=True)
    rows = {ws.title: ws.max_row for ws in wb.worksheets}
    # one page wide: a sheet takes about one page per 35 printed rows, never a second column of pages
    assert len(wb.worksheets) <= len(ps) <= sum(math.ceil(n / 25) for n in rows.values()), (len(ps), rows)
    printed = " ".join(w.text for p in ps for w in p.words)
    for s in TRACKING_SHEETS:
        assert s.name.split()[1] in printed  # every sheet's name in its page header
    for hidden in ("flag_id", "submission_id", "enterprise", "on_track"):
        assert hidden not in printed


def test_receipts_print_on_one_a4_page_with_the_hash_readable(rendered):
    for key, pdf in rendered.items():
        if not key.startswith("receipt:"):
            continue
        ps = pages(pdf)
        assert len(ps) == 1, f"{key}: {len(ps)} pages"
        _check_printed(ps, key)
        text = [w.text for w in ps[0].words]
        hashes = [t for t in text if re.fullmatch(r"[0-9a-f]{8}", t)]
        assert len(hashes) % 8 == 0  # every SHA-256 whole, in its eight groups
        assert key.removeprefix("receipt:") in " ".join(text)  # the code as people read it, 10117472-0
