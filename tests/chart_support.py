"""Reading the SVG charts back (gateway/charts.py) as a person reads them: the scale off the axis
ticks, and each bar's value from its drawn size, not from any number written beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class ReadChart:
    title: str
    desc: str
    values: dict[str, dict[str, float]]  # category -> series -> value read off the drawing
    per_unit: float  # pixels a unit: what a reader's ruler gives
    labels: list[str]  # the axis' labels, in order
    root: etree._Element


def svg_of(html: str, name: str) -> str:
    """The one inline <svg data-chart=name> of a page."""
    found = re.findall(rf'<svg [^>]*data-chart="{name}".*?</svg>', html, re.S)
    assert len(found) == 1, f"{len(found)} charts named {name}"
    return found[0]


def read_chart(svg: str) -> ReadChart:
    """Parse (lxml, as XML: a chart must be well formed) and measure every bar segment."""
    root = etree.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None and title.text and desc.text
    axis = root.find(f"{SVG}g[@class='axis y']")
    vertical = axis is not None
    if axis is None:
        axis = root.find(f"{SVG}g[@class='axis x']")
    assert axis is not None
    ticks = []
    for tick in axis.findall(f"{SVG}g[@class='tick']"):
        line = tick.find(f"{SVG}line")
        label = tick.find(f"{SVG}text")
        assert line is not None and label is not None
        value = float(label.text or "")  # the number a reader sees, not an attribute
        pos = float(line.get("y1" if vertical else "x1"))
        ticks.append((value, pos))
    (v0, base), *rest = sorted(ticks)
    assert v0 == 0 and rest, ticks
    top_value, top_pos = rest[-1]
    per_unit = abs(base - top_pos) / top_value
    # evenly spaced ticks: the axis is linear
    for value, pos in rest:
        assert abs(abs(base - pos) - value * per_unit) < 0.02, (value, pos)
    values: dict[str, dict[str, float]] = {}
    for bar in root.iter(f"{SVG}g"):
        if bar.get("class") != "bar":
            continue
        cat = bar.get("data-category", "")
        segs = {}
        edge = base
        for rect in bar.findall(f"{SVG}rect"):
            size = float(rect.get("height" if vertical else "width"))
            start = float(rect.get("y" if vertical else "x"))
            # stacked: each segment starts where the one below it ended
            if vertical:
                assert abs(start + size - edge) < 0.02, (cat, start, size, edge)
                edge = start
            else:
                assert abs(start - edge) < 0.02, (cat, start, edge)
                edge = start + size
            segs[rect.get("data-series", "")] = size / per_unit
        values[cat] = segs
    labels = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    return ReadChart(title.text, desc.text, values, per_unit, labels, root)


def counts_of(read: ReadChart) -> dict[str, dict[str, int]]:
    """The whole numbers the bars show (each drawn within 0.02 px of one)."""
    out: dict[str, dict[str, int]] = {}
    for cat, segs in read.values.items():
        out[cat] = {}
        for key, value in segs.items():
            n = round(value)
            assert abs(value - n) * read.per_unit < 0.02, (cat, key, value)
            out[cat][key] = n
    return out
