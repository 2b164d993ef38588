"""The quarterly report as a leader sees it: rendered by Debian's chromium, headless, offline.

chromium is installed by scripts/ensure-chromium.sh (called from `make test`).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from pipelines.lib.exports.report import write_report
from tests.marts_fixture import build_marts_fixture

PERIOD = "2007Q4"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Offline flags: without them chromium tries to reach Google and can hang.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=90, check=False)


def read_png(path: Path, max_rows: int | None = None) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what chromium writes): width, height, pixel rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, bpp = 8, bytearray(), 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows or height)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    db = build_marts_fixture(base / "warehouse.duckdb")
    return write_report(db, PERIOD, base / "report" / f"{PERIOD}.html")


def test_screenshot_is_a_rendered_page(report, tmp_path):
    shot = tmp_path / "out.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    assert shot.exists(), res.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a blank 1280×2400 page compresses to a few kB
    width, height, rows = read_png(shot, max_rows=700)
    assert (width, height) == (1280, 2400)
    bpp = len(rows[0]) // width
    colours = {r[i:i + 3] for r in rows[::3] for i in range(0, len(r), bpp * 3)}
    assert len(colours) > 50, f"only {len(colours)} colours: blank or unstyled page"
    # the headline band is not one flat colour and has dark (text) and coloured (status) pixels
    assert any(sum(c) < 200 for c in colours)
    assert any(max(c) - min(c) > 80 for c in colours)


def test_dump_dom_has_rendered_svg_charts(report, tmp_path):
    res = _chromium(tmp_path, "--dump-dom", report.as_uri())
    dom = res.stdout
    assert "<svg" in dom, res.stderr[-2000:]
    assert dom.count("<svg") >= 5
    marks = len(re.findall(r"<(?:rect|path|polyline)\b", dom))
    assert marks > 0
    assert len(re.findall(r'<rect class="bar"', dom)) >= 10
    assert len(re.findall(r'<polyline class="series"', dom)) == 2
    assert "<title>" in dom and "报告期" in dom and "北京市平均" in dom and "2010年目标" in dom
