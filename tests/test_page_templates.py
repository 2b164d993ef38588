"""The pages written from Jinja2 templates show what the string-building renderers showed: the demo run's
quarterly reports, reports index, inspection pages and Data Docs, compared by their visible text and their
charts' geometry (``tests/page_text.py``) with ``tests/golden/pages/``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.page_text import chart_shapes, page_text

GOLDEN = Path(__file__).parent / "golden" / "pages"
# golden name -> the page under the marts folder of a demo run
PAGES = {
    "report-2008Q2": "report/2008Q2.html",
    "report-2010Q4": "report/2010Q4.html",
    "report-index": "report/index.html",
    "enterprise-10117472-0": "report/enterprises/10117472-0.html",  # the most flags
    "enterprise-MQPMYTH1-1": "report/enterprises/MQPMYTH1-1.html",
    "group-10202509-X": "report/groups/10202509-X.html",
    "data-docs-index": "data_docs/index.html",
    "data-docs-high_skill_ratio": "data_docs/suites/high_skill_ratio.html",
}


def shown(marts_dir: Path, page: str) -> tuple[str, str]:
    """(visible text, chart geometry) of a page under ``marts_dir``."""
    html = (marts_dir / page).read_text(encoding="utf-8")
    return page_text(html), chart_shapes(html)


def write_golden(marts_dir: Path) -> None:
    for name, page in PAGES.items():
        text, shapes = shown(marts_dir, page)
        (GOLDEN / f"{name}.txt").write_text(text, encoding="utf-8")
        if shapes.strip():
            (GOLDEN / f"{name}.svg.txt").write_text(shapes, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAGES))
def test_demo_pages_show_the_golden_text_and_charts(demo_run, name: str) -> None:
    text, shapes = shown(demo_run.marts_dir, PAGES[name])
    assert text == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    svg = GOLDEN / f"{name}.svg.txt"
    assert shapes == (svg.read_text(encoding="utf-8") if svg.is_file() else "\n")


if __name__ == "__main__":  # python -m tests.test_page_templates <marts folder of a demo run>
    write_golden(Path(sys.argv[1]))
