"""Line and bar charts as inline SVG: the report must open offline and years later, so it
loads no script, font or stylesheet from anywhere, and this needs no plotting library.

Every mark carries a <title>, so hovering shows the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from itertools import cycle

WIDTH = 760
PLOT_HEIGHT = 220
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MAX_BAR = 56  # px; a chart with few categories gets bars, not slabs
CHAR_WIDTH = 6.6  # of the 11 px labels, to lay out legends and category labels
# Tableau 10: distinguishable, and readable for the common colour-vision deficiencies.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)

Series = Mapping[str, Sequence[float | None]]


def line_chart(x: Sequence[float], series: Series, *, x_label: str, y_label: str) -> str:
    """One line per series over numeric x; a None value breaks its line."""
    ticks = nice_ticks(min(x, default=0), max(x, default=1))
    low, span = ticks[0], ticks[-1] - ticks[0]
    frame = _Frame(list(series), _values(series), x_label, y_label)
    width = frame.right - MARGIN_LEFT
    parts = frame.axes()
    for tick in ticks:
        parts.append(frame.x_tick(MARGIN_LEFT + (tick - low) / span * width, _short(tick)))
    for (name, values), colour in zip(series.items(), cycle(PALETTE)):
        points = [
            (MARGIN_LEFT + (xv - low) / span * width, frame.y(v), xv, v) for xv, v in zip(x, values)
        ]
        path, pen = [], "M"
        for px, py, _, v in points:
            if v is None:
                pen = "M"
                continue
            path.append(f"{pen}{px:.1f},{py:.1f}")
            pen = "L"
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(points) <= 60:
            parts.extend(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} at {_short(xv)}: {_exact(v)}</title></circle>"
                for px, py, xv, v in points
                if v is not None
            )
    return frame.svg(parts, f"{y_label} by {x_label}")


def bar_chart(
    categories: Sequence[str],
    series: Series,
    *,
    x_label: str,
    y_label: str,
    stacked: bool = False,
) -> str:
    """Bars per category: side by side per series, or stacked when parts of one whole."""
    totals = [sum(values[i] or 0 for values in series.values()) for i in range(len(categories))]
    frame = _Frame(
        list(series),
        totals if stacked else _values(series),
        x_label,
        y_label,
        longest_category=max((len(c) for c in categories), default=0),
        categories=len(categories),
    )
    band = (frame.right - MARGIN_LEFT) / max(len(categories), 1)
    group = min(band * 0.8, MAX_BAR * (1 if stacked else len(series)))
    bar = group if stacked else group / max(len(series), 1)
    parts = frame.axes()
    for i, category in enumerate(categories):
        left = MARGIN_LEFT + i * band + (band - group) / 2
        if i % frame.label_every == 0:
            parts.append(frame.x_tick(left + group / 2, category))
        base = 0.0
        for j, ((name, values), colour) in enumerate(zip(series.items(), cycle(PALETTE))):
            value = values[i] or 0
            if not value:
                continue
            x = left if stacked else left + j * bar
            top, bottom = frame.y(base + value), frame.y(base)
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(bar - 1, 0.5):.1f}" '
                f'height="{bottom - top:.1f}" fill="{colour}"><title>{escape(name)}, '
                f"{escape(category)}: {_exact(value)}</title></rect>"
            )
            if stacked:
                base += value
    return frame.svg(parts, f"{y_label} by {x_label}")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` ticks from at most `low` to at least `high`, in steps of 1, 2 or 5 times
    a power of ten, so that labels read as round numbers; the axis spans first to last."""
    if high <= low:
        high = low + 1
    step = _nice_step((high - low) / count)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


class _Frame:
    """The shared layout: legend on top, y axis with grid, x axis labels below."""

    def __init__(
        self,
        names: list[str],
        values: Sequence[float],
        x_label: str,
        y_label: str,
        longest_category: int = 0,
        categories: int = 0,
    ) -> None:
        self.names, self.x_label, self.y_label = names, x_label, y_label
        self.right = WIDTH - MARGIN_RIGHT
        self.legend_rows = self._legend_layout()
        self.top = 12 + 18 * len(self.legend_rows)
        # Crowded category labels (hundreds of generations) are thinned, not overlapped.
        band = (self.right - MARGIN_LEFT) / max(categories, 1)
        self.label_every = math.ceil(_nice_step((longest_category * CHAR_WIDTH + 8) / band))
        self.bottom = self.top + PLOT_HEIGHT
        self.height = self.bottom + 44
        self.y_ticks = nice_ticks(0, max(values, default=0) or 1)
        self.y_max = self.y_ticks[-1]

    def _legend_layout(self) -> list[list[tuple[float, str, str]]]:
        rows: list[list[tuple[float, str, str]]] = [[]] if self.names else []
        x: float = MARGIN_LEFT
        for name, colour in zip(self.names, cycle(PALETTE)):
            width = 22 + len(name) * CHAR_WIDTH
            if x + width > self.right and rows[-1]:
                rows.append([])
                x = MARGIN_LEFT
            rows[-1].append((x, name, colour))
            x += width + 14
        return rows

    def y(self, value: float | None) -> float:
        return self.bottom - (value or 0) / self.y_max * (self.bottom - self.top)

    def axes(self) -> list[str]:
        parts = []
        for row_index, row in enumerate(self.legend_rows):
            y = 14 + 18 * row_index
            for x, name, colour in row:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - 9}" width="14" height="10" fill="{colour}"/>'
                    f'<text x="{x + 18:.1f}" y="{y}" class="legend">{escape(name)}</text>'
                )
        for tick in self.y_ticks:
            py = self.y(tick)
            parts.append(
                f'<line x1="{MARGIN_LEFT}" x2="{self.right}" y1="{py:.1f}" y2="{py:.1f}" '
                f'class="grid"/><text x="{MARGIN_LEFT - 6}" y="{py + 4:.1f}" '
                f'text-anchor="end">{_short(tick)}</text>'
            )
        middle = (self.top + self.bottom) / 2
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{self.right}" y1="{self.bottom}" y2="{self.bottom}" '
            f'class="axis"/><text x="{(MARGIN_LEFT + self.right) / 2}" y="{self.height - 6:.1f}" '
            f'text-anchor="middle" class="axis-label">{escape(self.x_label)}</text>'
            f'<text transform="translate(14 {middle:.1f}) rotate(-90)" text-anchor="middle" '
            f'class="axis-label">{escape(self.y_label)}</text>'
        )
        return parts

    def x_tick(self, px: float, label: str) -> str:
        return (
            f'<text x="{px:.1f}" y="{self.bottom + 16}" text-anchor="middle">{escape(label)}</text>'
        )

    def svg(self, parts: list[str], description: str) -> str:
        return (
            f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {self.height:.0f}" '
            f'width="{WIDTH}" height="{self.height:.0f}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(description)}</title>{''.join(parts)}</svg>"
        )


def _nice_step(at_least: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `at_least`."""
    magnitude = 10 ** math.floor(math.log10(at_least))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= at_least)


def _values(series: Series) -> list[float]:
    return [v for values in series.values() for v in values if v is not None]


def _short(value: float) -> str:
    """Tick label: 1.5M, 800k, 12, 0.25."""
    for above, unit, suffix in ((1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= above:
            return f"{value / unit:.4g}{suffix}"
    return f"{value:.4g}"


def _exact(value: float) -> str:
    """Hover text: 12,345 / 107,081 / 6.407."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
