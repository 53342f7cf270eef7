"""Static SVG charts as plain shapes: Python does the geometry, the template only writes them.

Written by hand on purpose: the report must open with no network and no script, print well and
stay small. Charting libraries either draw with JavaScript in the browser or pull in a
plotting stack (matplotlib) for what is a few rectangles; here every chart is a list of
:class:`Rect`, :class:`Text` and :class:`Line` in SVG user units, and every string they carry is
escaped by the template (autoescaping), never by this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chart", "Line", "Rect", "Series", "Text", "column_chart", "hbar_chart", "nice_ticks"]


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    tooltip: str
    kind: str = "rect"


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    css: str = "label"
    anchor: str = "start"
    kind: str = "text"


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "grid"
    kind: str = "line"


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a chart: its label (English and Chinese) and CSS class (its colour)."""

    label: str
    css: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One SVG chart: ``description`` is its accessible name (and the tooltip text base)."""

    width: int
    height: int
    description: str
    shapes: tuple[Rect | Text | Line, ...]
    legend: tuple[Series, ...] = ()

    @property
    def bars(self) -> int:
        """How many non-empty bars the chart draws."""
        return sum(1 for s in self.shapes if isinstance(s, Rect) and s.width > 0 and s.height > 0)


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Axis ticks from 0 up to at least ``maximum`` in 1/2/5×10ⁿ steps."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def hbar_chart(
    description: str,
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[Series],
    *,
    stacked: bool = True,
    width: int = 560,
    label_width: int = 190,
    row_height: int = 24,
    notes: Sequence[str] | None = None,
    unit: str = "",
) -> Chart:
    """Horizontal bars, one row per ``(label, values)``: stacked, or grouped side by side.

    ``values`` has one number per series. ``notes`` (one per row) is written after the bar
    (e.g. "−52%"); by default the row's total.
    """
    top, bottom = 8, 26
    # Grouped rows write each value after its bar and the note at the right edge: keep room.
    right = 56 if stacked else 118
    plot = width - label_width - right
    height = top + bottom + max(1, len(rows)) * row_height
    peak = max((sum(v) if stacked else max(v, default=0) for _, v in rows), default=0)
    ticks = nice_ticks(peak)
    scale = plot / ticks[-1]
    shapes: list[Rect | Text | Line] = []
    axis_y = top + len(rows) * row_height
    for tick in ticks:
        x = label_width + tick * scale
        shapes.append(Line(x, top, x, axis_y))
        shapes.append(Text(x, axis_y + 16, _fmt(tick), "tick", "middle"))
    for index, (label, values) in enumerate(rows):
        y = top + index * row_height
        shapes.append(Text(label_width - 8, y + row_height / 2 + 4, label, "label", "end"))
        x = float(label_width)
        bar_gap = 4
        sub = (row_height - 2 * bar_gap) / (1 if stacked else max(1, len(series)))
        end = x
        for position, (value, s) in enumerate(zip(values, series, strict=True)):
            w = value * scale
            tip = f"{label} · {s.label}: {_fmt(value)}{unit}"
            if stacked:
                shapes.append(Rect(x, y + bar_gap, w, row_height - 2 * bar_gap, s.css, tip))
                x += w
                end = x
            else:
                yy = y + bar_gap + position * sub
                shapes.append(Rect(x, yy, w, sub - 1, s.css, tip))
                end = max(end, x + w)
                shapes.append(
                    Text(x + w + 4, yy + sub / 2 + 3, f"{value:.1f}{unit}", "value small", "start")
                )
        note = notes[index] if notes is not None else _fmt(sum(values)) + unit
        if note:
            if stacked:
                shapes.append(Text(end + 6, y + row_height / 2 + 4, note, "value", "start"))
            else:
                shapes.append(Text(width - 4, y + row_height / 2 + 4, note, "note", "end"))
    shapes.append(Line(label_width, top, label_width, axis_y, "axis"))
    return Chart(width, height, description, tuple(shapes), tuple(series))


def column_chart(
    description: str,
    bins: Sequence[tuple[str, float]],
    series: Series,
    *,
    width: int = 560,
    height: int = 240,
    x_title: str = "",
) -> Chart:
    """Vertical columns (a histogram): one per ``(label, value)``, the value above each."""
    left, right, top, bottom = 44, 12, 16, 44
    plot_w = width - left - right
    plot_h = height - top - bottom
    peak = max((v for _, v in bins), default=0)
    ticks = nice_ticks(peak)
    scale = plot_h / ticks[-1]
    base = top + plot_h
    shapes: list[Rect | Text | Line] = []
    for tick in ticks:
        y = base - tick * scale
        shapes.append(Line(left, y, left + plot_w, y))
        shapes.append(Text(left - 6, y + 4, _fmt(tick), "tick", "end"))
    slot = plot_w / max(1, len(bins))
    for index, (label, value) in enumerate(bins):
        x = left + index * slot + slot * 0.12
        h = value * scale
        shapes.append(
            Rect(
                x, base - h, slot * 0.76, h, series.css, f"{label} · {series.label}: {_fmt(value)}"
            )
        )
        shapes.append(Text(x + slot * 0.38, base + 16, label, "tick", "middle"))
        if value:
            shapes.append(Text(x + slot * 0.38, base - h - 4, _fmt(value), "value", "middle"))
    shapes.append(Line(left, base, left + plot_w, base, "axis"))
    if x_title:
        shapes.append(Text(left + plot_w / 2, height - 6, x_title, "tick", "middle"))
    return Chart(width, height, description, tuple(shapes), (series,))
