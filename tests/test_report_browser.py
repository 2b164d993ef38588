"""The quarterly report as a leader sees it: rendered by Debian's chromium, headless, offline.

chromium is installed by scripts/ensure-chromium.sh, pdftotext by scripts/ensure-office.sh (both called
from `make test`).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from pipelines.lib.exports.report import update_report_index, write_report
from tests.marts_fixture import build_marts_fixture, with_revisions

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


def print_to_pdf(tmp_path: Path, page: Path) -> Path:
    """The page as chromium prints it (its own @page size, no browser header or footer)."""
    pdf = tmp_path / (page.stem + ".pdf")
    res = _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists(), res.stderr[-2000:]
    return pdf


def pdf_pages(pdf: Path) -> list[str]:
    """The text of every page (pdftotext, reading order)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")


def test_report_prints_on_a4_with_every_heading_kept_with_its_content(report, tmp_path):
    pdf = print_to_pdf(tmp_path, report)
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert boxes and all(abs(float(w) - 595) < 2 and abs(float(h) - 842) < 2 for w, h in boxes), boxes[:3]  # A4
    pages = pdf_pages(pdf)
    assert len(pages) == len(boxes)
    assert 2 <= len(pages) <= 3, f"{len(pages)} pages"  # 6 enterprises: a short report, not 4 pages
    headings = re.compile(r"^[一二三四五]、")
    for i, text in enumerate(pages, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines and not headings.match(lines[-1]), f"page {i} ends with the heading {lines[-1]!r}"
    # every section heading is printed, each once
    seen = [line.strip() for text in pages for line in text.splitlines() if headings.match(line.strip())]
    assert [h[0] for h in seen] == list("一二三四五"), seen


_MEASURE = """<script>
const out = {clipped: [], overlaps: [], ticks: []};
for (const svg of document.querySelectorAll("svg")) {
  const title = svg.querySelector("text").getBBox();
  for (const t of svg.querySelectorAll("text.label")) {
    const b = t.getBBox();
    if (b.x < 0 || b.x + b.width > svg.viewBox.baseVal.width) out.clipped.push(t.textContent);
  }
  for (const t of svg.querySelectorAll("text.ref-label")) {
    const b = t.getBBox();
    if (b.y < title.y + title.height && b.x < title.x + title.width && title.x < b.x + b.width)
      out.overlaps.push(t.textContent);
  }
  out.ticks.push([...svg.querySelectorAll("text.tick")].map(t => t.textContent));
}
document.body.insertAdjacentHTML("beforeend", "<pre id=measured>" + JSON.stringify(out) + "</pre>");
</script>"""


def test_chart_labels_are_inside_their_charts_and_clear_of_the_titles(report, tmp_path):
    """Measured by chromium's layout (getBBox) on a copy of the page with a measuring script added."""
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", probe.as_uri()).stdout
    m = re.search(r"<pre id=\"measured\">(.*?)</pre>", dom, re.S)
    assert m, dom[-500:]
    measured = json.loads(html.unescape(m.group(1)))
    assert measured["clipped"] == [], measured["clipped"]
    assert measured["overlaps"] == [], measured["overlaps"]
    for ticks in measured["ticks"]:
        assert len(ticks) == len(set(ticks)), f"repeated tick labels {ticks}"  # "0 0 1 1 1"


def test_reports_index_lists_every_quarter_and_renders(report, tmp_path):
    for period in ("2007Q2", "2007Q3"):
        write_report(report.parent.parent / "warehouse.duckdb", period, report.parent / f"{period}.html")
    db = report.parent.parent / "warehouse.duckdb"
    assert update_report_index(db, report.parent) in (True, False)
    assert not update_report_index(db, report.parent)  # nothing changed: left as it is
    index = report.parent / "index.html"
    page = index.read_text(encoding="utf-8")
    assert [m for m in re.findall(r'href="(\d{4}Q\d)\.html"', page)] == ["2007Q4", "2007Q3", "2007Q2"]
    (report.parent / "enterprises").mkdir(exist_ok=True)
    (report.parent / "enterprises" / "index.html").write_text("<html></html>", encoding="utf-8")
    assert update_report_index(db, report.parent)  # the enterprise pages appeared: the index links them
    assert 'href="enterprises/index.html"' in index.read_text(encoding="utf-8")
    shot = tmp_path / "index.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", index.as_uri())
    assert shot.exists(), res.stderr[-2000:]
    width, height, rows = read_png(shot, max_rows=400)
    bpp = len(rows[0]) // width
    colours = {r[i:i + 3] for r in rows[::3] for i in range(0, len(r), bpp * 3)}
    assert len(colours) > 20 and any(sum(c) < 200 for c in colours)
    dom = _chromium(tmp_path, "--dump-dom", index.as_uri()).stdout
    assert dom.count("<tr>") >= 4 and "2007Q4" in dom


def test_data_docs_render_offline_with_failing_rows_by_enterprise_and_period(tmp_path):
    """The run's Data Docs on the hand-built warehouse (column comments and reference data as published)."""
    from pipelines.lib.expectations import run_expectations

    db = build_marts_fixture(tmp_path / "warehouse.duckdb")
    run = run_expectations(db, [PERIOD], tmp_path / "data_docs")
    found = {name: s for name, s in run.suites.items() if s.failing_count}
    assert found, "the fixture has findings"
    for page in (run.docs_index, *(run.docs_pages[name] for name in found)):
        shot = tmp_path / f"{page.stem}.png"
        res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1200", page.as_uri())
        assert shot.exists(), res.stderr[-2000:]
        width, _, rows = read_png(shot, max_rows=500)
        bpp = len(rows[0]) // width
        colours = {r[i:i + 3] for r in rows[::3] for i in range(0, len(r), bpp * 3)}
        assert len(colours) > 20 and any(sum(c) < 200 for c in colours), page.name  # text on a styled page
        dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
        assert "<script" not in dom and "未通过" not in dom and "Clear Filters" not in dom
        if page != run.docs_index:
            assert re.search(r"集市表 <code>marts\.\w+</code>", dom)  # the page names its mart
            assert "组织机构代码" in dom or "统计对象代码" in dom  # failing rows by their keys, in Chinese
            assert "报告期" in dom and re.search(r"<td class=\"c\">[0-9A-Z]{8}-[0-9A-Z]</td>", dom)
    index = run.docs_index.read_text(encoding="utf-8")
    assert all(f"发现{s.failing_count:,}条问题" in index for s in found.values() if not s.errors)


# Every text of every chart inside its chart (the rotated axis titles aside: their box is before the rotation).
_MEASURE_TEXTS = """<script>
const out = [];
for (const svg of document.querySelectorAll("svg")) {
  for (const t of svg.querySelectorAll("text")) {
    if (t.getAttribute("transform")) continue;
    const b = t.getBBox();
    if (b.x < 0 || b.x + b.width > svg.viewBox.baseVal.width) out.push(t.textContent);
  }
}
document.body.insertAdjacentHTML("beforeend", "<pre id=measured>" + JSON.stringify(out) + "</pre>");
</script>"""


def test_a_revised_quarter_says_so_and_the_index_draws_its_revisions_inside_the_chart(tmp_path):
    db = with_revisions(build_marts_fixture(tmp_path / "warehouse.duckdb"), tmp_path / "work.duckdb", PERIOD)
    report = write_report(db, PERIOD, tmp_path / "report" / f"{PERIOD}.html")
    assert update_report_index(db, report.parent)
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "修订说明" in dom and "本版：发布版本 2" in dom and "强制重新核对" in dom
    index = report.parent / "index.html"
    page = index.read_text(encoding="utf-8")
    assert "修订三角" in page and page.count("<polyline") == 4  # the four shares' mean absolute revisions
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _MEASURE_TEXTS + "</body>"), encoding="utf-8")
    m = re.search(r"<pre id=\"measured\">(.*?)</pre>", _chromium(tmp_path, "--dump-dom", probe.as_uri()).stdout, re.S)
    assert m and json.loads(html.unescape(m.group(1))) == []
