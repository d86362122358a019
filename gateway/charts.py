"""Bar charts as SVG, drawn on the server: the auditors' pictures and the council's report.

No script and no `style` (the console's CSP allows neither inline): everything is presentation
attributes. Each chart has a <title> and <desc> (its text alternative) and every bar segment its
own <title> with the number; the pages put the same numbers in a table beside it. The scale is
read off the y axis: a tick at value v sits v * (pixels per unit) above the baseline, and so
does the top of every bar of that value (what tests/test_charts.py checks).

pygal was considered (kept up, SVG on the server), but its charts carry an inline <style> and
load a tooltip script from a CDN by default: both refused by the CSP, and without them it draws
unstyled. Three kinds of bars do not need a library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1f5f8b", "#c0392b", "#d68910", "#6c3483", "#1e8449", "#5b6475")
INK = "#1d2330"
MUTED = "#5b6475"
GRID = "#d6dbe4"


@dataclass(frozen=True)
class Series:
    key: str  # machine name (data-series)
    label: str  # shown in the legend and the bars' titles
    values: Sequence[int]
    fill: str = ""


@dataclass(frozen=True)
class BarChart:
    name: str  # data-chart, and the prefix of the ids that tie <title>/<desc> to the picture
    title: str
    desc: str  # the text alternative: what it shows, and the totals
    categories: Sequence[str]  # one per bar (data-category): a day, a week, a bucket, an org
    labels: Sequence[str]  # what the axis shows for each ("" to leave one out)
    series: Sequence[Series]
    unit: str = ""  # after every number in the bars' titles (件)

    def totals(self) -> list[int]:
        return [sum(s.values[i] for s in self.series) for i in range(len(self.categories))]


def nice_scale(top: int, ticks: int = 4) -> tuple[int, int]:
    """(axis maximum, tick step): whole numbers, the step 1, 2 or 5 times a power of ten, the
    maximum the first multiple of the step at or above `top` (at least one step)."""
    rough = max(1.0, top / ticks)
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(1, int(step))
    return max(step, step * math.ceil(top / step)), step


def _n(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _frame(chart: BarChart, width: int, height: int, body: list[str]) -> Markup:
    tid, did = escape(f"{chart.name}-title"), escape(f"{chart.name}-desc")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart.name)}"'
        f' role="img" aria-labelledby="{tid} {did}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" font-size="11" fill="{INK}">'
        f'<title id="{tid}">{escape(chart.title)}</title><desc id="{did}">{escape(chart.desc)}</desc>'
    )
    # every text in it went through escape(); the rest are numbers and this module's constants
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _legend(chart: BarChart, x: float, y: float) -> list[str]:
    if len(chart.series) < 2:
        return []
    out = ['<g class="legend">']
    for i, s in enumerate(chart.series):
        fill = escape(s.fill or PALETTE[i % len(PALETTE)])
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{_n(x + 14)}" y="{_n(y)}">{escape(s.label)}</text>'
        )
        x += 24 + 12 * len(s.label)
    out.append("</g>")
    return out


def bars(chart: BarChart, width: int = 760, height: int = 260) -> Markup:
    """Vertical bars, stacked when there is more than one series."""
    left, right, top, bottom = 48, 12, 30 if len(chart.series) > 1 else 12, 34
    x0, x1, y_top, y0 = left, width - right, top, height - bottom
    axis_max, step = nice_scale(max(chart.totals(), default=0))
    ppu = (y0 - y_top) / axis_max
    body = _legend(chart, left, 14)
    body.append(f'<g class="axis y" data-baseline="{_n(y0)}">')
    for v in range(0, axis_max + 1, step):
        y = y0 - v * ppu
        body.append(
            f'<g class="tick" data-value="{v}"><line x1="{x0}" x2="{x1}" y1="{_n(y)}" y2="{_n(y)}"'
            f' stroke="{GRID if v else MUTED}" stroke-width="1"/>'
            f'<text x="{x0 - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{MUTED}">{v}</text></g>'
        )
    body.append("</g>")
    n = max(1, len(chart.categories))
    slot = (x1 - x0) / n
    width_bar = max(1.0, slot * 0.72)
    body.append('<g class="bars">')
    for i, category in enumerate(chart.categories):
        x = x0 + i * slot + (slot - width_bar) / 2
        label = chart.labels[i] if i < len(chart.labels) else ""
        body.append(f'<g class="bar" data-category="{escape(category)}">')
        base = y0
        for j, s in enumerate(chart.series):
            h = int(s.values[i]) * ppu
            body.append(_segment(chart, i, j, category, x, base - h, width_bar, h))
            base -= h
        body.append("</g>")
        if label:
            body.append(
                f'<text class="label" x="{_n(x + width_bar / 2)}" y="{y0 + 16}"'
                f' text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
            )
    body.append("</g>")
    return _frame(chart, width, height, body)


def hbars(chart: BarChart, width: int = 760, row: int = 24, label_width: int = 300) -> Markup:
    """Horizontal bars, one row per category (long labels: requesters by name and code)."""
    n = len(chart.categories)
    top, bottom = 30 if len(chart.series) > 1 else 8, 24
    height = top + max(1, n) * row + bottom
    x0, x1, y_end = label_width, width - 40, top + max(1, n) * row
    axis_max, step = nice_scale(max(chart.totals(), default=0))
    ppu = (x1 - x0) / axis_max
    body = _legend(chart, 8, 14)
    body.append(f'<g class="axis x" data-baseline="{_n(x0)}">')
    for v in range(0, axis_max + 1, step):
        x = x0 + v * ppu
        body.append(
            f'<g class="tick" data-value="{v}"><line x1="{_n(x)}" x2="{_n(x)}" y1="{top}"'
            f' y2="{y_end}" stroke="{GRID if v else MUTED}" stroke-width="1"/>'
            f'<text x="{_n(x)}" y="{y_end + 14}" text-anchor="middle" fill="{MUTED}">{v}</text></g>'
        )
    body.append("</g>")
    body.append('<g class="bars">')
    for i, category in enumerate(chart.categories):
        y = top + i * row + row * 0.15
        label = chart.labels[i] if i < len(chart.labels) else category
        body.append(f'<g class="bar" data-category="{escape(category)}">')
        base = float(x0)
        for j, s in enumerate(chart.series):
            w = int(s.values[i]) * ppu
            body.append(_segment(chart, i, j, label, base, y, w, row * 0.7))
            base += w
        body.append("</g>")
        body.append(
            f'<text class="label" x="{x0 - 8}" y="{_n(y + row * 0.5)}" text-anchor="end">'
            f"{escape(_clip(label, 30))}</text>"
        )
    body.append("</g>")
    return _frame(chart, width, height, body)


def _segment(
    chart: BarChart, i: int, j: int, name: str, x: float, y: float, w: float, h: float
) -> str:
    """One series' part of bar i, with its number in its own <title> (shown on hover)."""
    s = chart.series[j]
    fill = escape(s.fill or PALETTE[j % len(PALETTE)])
    return (
        f'<rect data-series="{escape(s.key)}" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}"'
        f' height="{_n(h)}" fill="{fill}"><title>{escape(name)} {escape(s.label)}: '
        f"{int(s.values[i])}{escape(chart.unit)}</title></rect>"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
