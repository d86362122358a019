"""Dates as the ward writes them: the era (和暦) beside ISO 8601, in Japan's time, and the one
parser of dates people type (gateway.flags.parse_date)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.flags import FlagRuleError, parse_date
from gateway.wareki import parse_ward_date, ward_date, wareki, wareki_year

FULL_WIDTH = str.maketrans("0123456789-/", "０１２３４５６７８９－／")


def test_the_eras_and_their_first_years() -> None:
    assert wareki(date(2026, 12, 3)) == "令和8年12月3日"
    assert wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert wareki(date(1989, 1, 8)) == "平成元年1月8日"
    assert wareki(date(1989, 1, 7)) == "昭和64年1月7日"
    assert wareki_year(2026) == "令和8" and wareki_year(2019) == "令和元"
    assert wareki_year(2018) == "平成30"


def test_a_moment_is_shown_on_japans_calendar_beside_iso() -> None:
    # 15:30 UTC on 3 December is half past midnight on the 4th in Japan
    assert (
        ward_date("2026-12-03T15:30:00.123Z", plain=True) == "令和8年12月4日 (2026-12-04) 00:30:00"
    )
    html = str(ward_date("2026-12-03T15:30:00Z"))
    assert (
        html
        == '<time datetime="2026-12-04T00:30:00+09:00">令和8年12月4日 (2026-12-04) 00:30:00</time>'
    )
    assert ward_date("2027-03-31", plain=True) == "令和9年3月31日 (2027-03-31)"
    assert ward_date(date(2019, 5, 1), plain=True) == "令和元年5月1日 (2019-05-01)"
    assert ward_date("", plain=True) == "" and ward_date(None, plain=True) == ""
    assert str(ward_date("<not a date>")) == "&lt;not a date&gt;"


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1926, 12, 25), max_value=date(2200, 12, 31)))
def test_every_way_of_writing_a_day_reads_back_as_that_day(day: date) -> None:
    for text in (
        day.isoformat(),
        day.strftime("%Y/%m/%d"),
        f"{day.year}/{day.month}/{day.day}",
        wareki(day),
        wareki(day).translate(FULL_WIDTH),
        day.isoformat().translate(FULL_WIDTH),
        f"  {wareki(day).replace('年', ' 年 ')} ",
    ):
        assert parse_ward_date(text) == day, text
        assert parse_date(text) == day, text


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_a_moment_is_always_its_day_in_japan(at: datetime) -> None:
    local = at.astimezone(timezone(timedelta(hours=9)))
    text = ward_date(at.isoformat().replace("+00:00", "Z"), plain=True)
    assert text == f"{wareki(local.date())} ({local.date().isoformat()}) {local:%H:%M:%S}"


@pytest.mark.parametrize(
    "text",
    [
        "12/03/2026",  # a US browser's mm/dd/yyyy: never guessed at
        "03/12/2026",
        "2026-02-30",
        "2026-13-01",
        "平成31年5月1日",  # Heisei ended on 30 April 2019
        "令和0年1月1日",
        "令和元年4月30日",  # before Reiwa began
        "昭和64年1月8日",
        "R8.12.3",
        "26-12-03",
        "",
        "2026-12-03T00:00",
    ],
)
def test_what_is_no_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ward_date(text)
    with pytest.raises(FlagRuleError) as exc:
        parse_date(text)
    assert exc.value.reason == "date"
