"""The charts of the generated pages, as geometry: where each line, point, bar and label goes. The templates'
macros (``templates/_charts.html.j2``) draw it as inline SVG; nothing here is markup."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipelines.lib.exports.display import pct

# Series colours of the charts. Good / needs a look / bad are tones (reference.ref_tones, text_colour):
# status text is classed by its tone, and bars take their tone's colour.
BLUE, ORANGE = "#2f6db5", "#e67e22"
# More series, for charts with four lines (the revisions of the reports index).
GREEN, PURPLE = "#2e8b57", "#7b4fa0"


def text_px(text: str, size: float = 11) -> float:
    """Width in pixels of ``text`` at ``size`` px: a CJK or full-width glyph is one em, others about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def clip(text: str, max_px: float, size: float = 11) -> str:
    """``text`` shortened with "…" to fit ``max_px`` (the full text stays in the bar's tooltip)."""
    if text_px(text, size) <= max_px:
        return text
    while text and text_px(text + "…", size) > max_px:
        text = text[:-1]
    return text + "…"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def _ticks(vmin: float, vmax: float, n: int = 5) -> list[float]:
    return [vmin + (vmax - vmin) * i / n for i in range(n + 1)]


# How many steps divide a _nice_max evenly into round numbers, by its leading digits (2.5% -> 0.5% steps).
_STEPS = {1: 5, 1.2: 4, 1.5: 5, 2: 4, 2.5: 5, 3: 6, 4: 4, 5: 5, 6: 6, 8: 4, 10: 5}


def _round_steps(vmax: float) -> int:
    if vmax <= 0:
        return 5
    mantissa = round(vmax / 10 ** math.floor(math.log10(vmax)), 6)
    return _STEPS.get(mantissa, 5)


def _integer_axis(vmax: float, n: int = 5) -> tuple[float, list[float]]:
    """An axis of counts: whole-number ticks 1, 2 or 5 × 10^k apart, at most ``n`` steps, and its upper end."""
    vmax, exp = max(vmax, 1.0), 0
    while True:
        step = next((m * 10 ** exp for m in (1, 2, 5) if math.ceil(vmax / (m * 10 ** exp)) <= n), None)
        if step:
            break
        exp += 1
    top = step * math.ceil(vmax / step)
    return float(top), [float(t) for t in range(0, top + 1, step)]


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    colour: str = ""


@dataclass(frozen=True)
class Line:
    """A series: its points (gaps left out), colour and dash pattern ("" = solid)."""

    points: list[tuple[float, float]]
    colour: str
    dash: str = ""

    @property
    def dots(self) -> list[tuple[str, str]]:
        """The points to a tenth of a pixel, as the SVG states them (one format for the line and its dots)."""
        return [(f"{x:.1f}", f"{y:.1f}") for x, y in self.points]


@dataclass
class LineChart:
    title: str
    w: int
    h: int
    left: int
    top: int
    pw: int
    ph: int
    x_label: str
    y_label: str
    y_ticks: list[Label] = field(default_factory=list)  # at the grid line's height
    x_ticks: list[Label] = field(default_factory=list)
    refs: list[tuple[float, str]] = field(default_factory=list)  # dashed reference lines: (y, colour)
    lines: list[Line] = field(default_factory=list)
    end_labels: list[Label] = field(default_factory=list)


def line_chart(title: str, x_labels: list[str], series: list[dict], y_label: str, x_label: str = "报告期",
               hlines: Sequence[tuple[float, str, str]] = (), w: int = 1100, h: int = 360,
               fmt: Callable[[float], str] | None = None) -> LineChart:
    """Lines over quarters. ``series``: {name, values (None = gap), colour, dash}; hlines: (y, label, colour).
    ``fmt``: the values' wording (ticks and end labels), shares by default."""
    left, right, top, bottom = 64, 150, 34, 56
    pw, ph = w - left - right, h - top - bottom
    vals = [v for s in series for v in s["values"] if v is not None] + [y for y, _, _ in hlines]
    ymax = _nice_max(max(vals) * 1.1 if vals else 1)
    n = max(1, len(x_labels) - 1)

    def x(i: int) -> float:
        return left + pw * i / n if len(x_labels) > 1 else left + pw / 2

    def y(v: float) -> float:
        return top + ph * (1 - v / ymax)

    chart = LineChart(title, w, h, left, top, pw, ph, x_label, y_label)
    chart.y_ticks = [Label(left, y(t), fmt(t) if fmt else pct(t, 0)) for t in _ticks(0, ymax, _round_steps(ymax))]
    step = max(1, math.ceil(len(x_labels) / 14))
    chart.x_ticks = [Label(x(i), top + ph + 16, lab) for i, lab in enumerate(x_labels)
                     if i % step == 0 or i == len(x_labels) - 1]
    chart.refs = [(y(yv), colour) for yv, _lab, colour in hlines]
    end_labels: list[list] = [[left + pw, y(yv), colour, lab] for yv, lab, colour in hlines]
    for s in series:
        pts = [(x(i), y(v)) for i, v in enumerate(s["values"]) if v is not None]
        if not pts:
            continue
        chart.lines.append(Line(pts, s["colour"], s.get("dash") or ""))
        last = next(v for v in reversed(s["values"]) if v is not None)
        end_labels.append([pts[-1][0], pts[-1][1], s["colour"], f"{s['name']} {fmt(last) if fmt else pct(last)}"])
    end_labels.sort(key=lambda t: t[1])
    for i in range(1, len(end_labels)):  # keep end-of-line labels from overlapping
        end_labels[i][1] = max(end_labels[i][1], end_labels[i - 1][1] + 14)
    chart.end_labels = [Label(lx, ly, text, colour) for lx, ly, colour, text in end_labels]
    return chart


@dataclass
class Bar:
    label: str
    value: float | None
    colour: str = BLUE
    text: str | None = None  # value label; default percent


@dataclass(frozen=True)
class DrawnBar:
    """A bar as drawn: its row's top ``y``, the name (``shown`` clipped, ``label`` whole for the tooltip), the
    rectangle's left end and width, and its value ``text`` at ``text_x``; a bar without a value has no rectangle
    and says 无数据 there."""

    y: int
    label: str
    shown: str
    colour: str
    rect: tuple[float, float] | None
    text: str
    text_x: float


@dataclass(frozen=True)
class RefLine:
    x: float
    label: str
    anchor: str
    colour: str


@dataclass
class HBarChart:
    title: str
    w: int
    h: int
    top: int
    bottom_y: int  # the axis line's height: h - bottom margin
    row_h: int
    label_w: int
    x_label: Label
    zero: float
    ticks: list[Label] = field(default_factory=list)
    bars: list[DrawnBar] = field(default_factory=list)
    ref: RefLine | None = None


def _hbar_axis(vals: list[float], integer: bool, diverging: bool) -> tuple[float, float, list[float]]:
    """(lower end, upper end, ticks) of a bar chart's value axis."""
    if integer:
        vmax, ticks = _integer_axis(max(vals or [1]))
        return 0.0, vmax, ticks
    vmax = _nice_max(max([abs(v) for v in vals] or [1]) * 1.05)
    vmin = -vmax if diverging and any(v < 0 for v in vals) else 0.0
    if diverging and vmin == 0 and vals and max(vals) <= 0:
        vmin, vmax = -vmax, 0.0
    return vmin, vmax, _ticks(vmin, vmax, 4 if vmin < 0 else _round_steps(vmax))


def hbar_chart(title: str, bars: list[Bar], x_label: str, ref: tuple[float, str] | None = None,
               w: int = 560, label_w: int | None = None, fmt: Callable[[float], str] = pct, diverging: bool = False,
               ref_colour: str = ORANGE, integer: bool = False) -> HBarChart:
    """Horizontal bars, one per row; ``ref`` draws a dashed reference line (value, label) in ``ref_colour``.

    The label column is as wide as the longest label (at most 45 % of the chart; longer ones end in "…",
    whole in the bar's tooltip), so no name runs off the left edge. A reference label gets its own line
    under the title. ``integer``: counts, whole-number ticks.
    """
    row_h, bottom, right = 20, 46, 90
    top = 52 if ref else 34
    h = top + bottom + row_h * max(1, len(bars))
    max_label = w * 0.45
    labels = [clip(b.label, max_label) for b in bars]
    if label_w is None:
        label_w = int(min(max_label, max([text_px(t) for t in labels] or [40])) + 12)
    pw = w - label_w - right
    vals = [b.value for b in bars if b.value is not None] + ([ref[0]] if ref else [])
    vmin, vmax, ticks = _hbar_axis(vals, integer, diverging)

    def x(v: float) -> float:
        return label_w + pw * (v - vmin) / (vmax - vmin)

    zero = x(0)
    chart = HBarChart(title, w, h, top, h - bottom, row_h, label_w, Label(label_w + pw / 2, h - 10, x_label), zero,
                      ticks=[Label(x(t), h - bottom + 14, fmt(t)) for t in ticks])
    for i, (b, shown) in enumerate(zip(bars, labels, strict=True)):
        yy = top + i * row_h
        if b.value is None:
            chart.bars.append(DrawnBar(yy, b.label, shown, b.colour, None, "", zero + 4))
            continue
        x0, x1 = sorted((zero, x(b.value)))
        # a negative bar's value goes beside the zero line, never over the names at the left
        chart.bars.append(DrawnBar(yy, b.label, shown, b.colour, (x0, max(x1 - x0, 1)), b.text or fmt(b.value),
                                   x1 + 4 if b.value >= 0 else zero + 4))
    if ref:
        rx = x(ref[0])
        anchor = "end" if rx > label_w + pw * 0.7 else "start" if rx < label_w + pw * 0.3 else "middle"
        chart.ref = RefLine(rx, ref[1], anchor, ref_colour)
    return chart
