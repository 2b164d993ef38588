"""What a generated page shows, for comparing pages across changes of how they are written: the visible text
(every text node outside <style> and <script>, whitespace normalised, one node a line) and the SVG charts'
geometry (each drawn element with its attributes, numbers as numbers). Attribute order, quoting, escaping and
the whitespace between tags do not count; a changed word, figure or coordinate does."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# The parts of a page that change with the day it was written, not with what it shows.
_DATES = re.compile(r"(生成日期：|生成时间 |发布于 )\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.shapes: list[str] = []
        self._skip = 0
        self._svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "svg":
            self._svg += 1
        if self._svg:
            shown = " ".join(f"{k}={_numbers(v or '')}" for k, v in sorted(attrs))
            self.shapes.append(f"{tag} {shown}".rstrip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        if tag == "svg":
            self._svg -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip:
            self.text.append(text)


def _numbers(value: str) -> str:
    """1100.0 and 1100 are one coordinate."""
    return _NUMBER.sub(lambda m: f"{float(m.group()):g}", " ".join(value.split()))


def page_text(html: str) -> str:
    """The page's visible text, one text node a line, the generation and release dates replaced by <date>."""
    parser = _Page()
    parser.feed(html)
    parser.close()
    return _DATES.sub(r"\1<date>", "\n".join(parser.text)) + "\n"


def chart_shapes(html: str) -> str:
    """Every element inside the page's <svg> charts, with its attributes sorted, one a line."""
    parser = _Page()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.shapes) + "\n"
