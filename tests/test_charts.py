"""The SVG bar charts draw the numbers they are given: read back off the drawing (the scale from
the axis' ticks, each bar's size), every value comes out as it went in, for any numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.charts import BarChart, Series, bars, hbars, nice_scale
from tests.chart_support import read_chart

counts = st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=95)


def _chart(columns: list[list[int]], labels: list[str] | None = None) -> BarChart:
    n = len(columns[0])
    return BarChart(
        name="t",
        title='試行 <&> "title"',
        desc="desc & more",
        categories=[f"c{i}" for i in range(n)],
        labels=labels if labels is not None else [f"L{i}" for i in range(n)],
        series=[Series(f"s{j}", f"系列{j}", col) for j, col in enumerate(columns)],
        unit="件",
    )


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda k: counts.flatmap(
            lambda first: st.lists(
                st.lists(st.integers(0, 100_000), min_size=len(first), max_size=len(first)),
                min_size=k - 1,
                max_size=k - 1,
            ).map(lambda rest: [first, *rest])
        )
    )
)
def test_any_numbers_are_drawn_as_they_are(columns: list[list[int]]) -> None:
    chart = _chart(columns)
    for draw in (bars, hbars):
        read = read_chart(str(draw(chart)))
        assert read.title == chart.title and read.desc == chart.desc
        assert list(read.values) == list(chart.categories)
        for i, cat in enumerate(chart.categories):
            for s in chart.series:
                # drawn within 0.02 px of its value (coordinates have two decimals)
                assert abs(read.values[cat][s.key] - s.values[i]) * read.per_unit < 0.02


def test_labels_and_titles_are_escaped_and_every_segment_says_its_number() -> None:
    svg = str(bars(_chart([[3, 0, 12]], ["<b>", "", "x&y"])))
    read = read_chart(svg)
    assert read.labels == ["<b>", "x&y"]  # an empty label draws nothing
    titles = [t.text for t in read.root.iter("{http://www.w3.org/2000/svg}title")]
    assert "c2 系列0: 12件" in titles
    assert "<script" not in svg and "style=" not in svg and "<style" not in svg


def test_the_scale_is_a_round_number_at_or_above_the_largest_bar() -> None:
    assert nice_scale(0) == (1, 1)
    assert nice_scale(7) == (8, 2)
    assert nice_scale(10) == (10, 5)
    assert nice_scale(101) == (150, 50)
    for top in range(0, 3000):
        axis, step = nice_scale(top)
        assert axis >= top and axis % step == 0 and axis // step <= 5
