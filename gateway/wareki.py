"""Dates as the ward writes them: the Japanese era (和暦, 令和8年12月3日) beside ISO 8601
(2026-12-03), in Japan's time. One formatter for every staff screen and the council's report
(the jinja2 filter `ward_date`), and the era parser behind `gateway.flags.parse_date`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

from markupsafe import Markup, escape

JST = timezone(timedelta(hours=9), "JST")  # the ward's calendar; Japan keeps no summer time

# (name, first day), newest first. Reiwa began on 2019-05-01, Heisei on 1989-01-08, Showa on
# 1926-12-25; nothing the gateway keeps is older than that.
ERAS: tuple[tuple[str, date], ...] = (
    ("令和", date(2019, 5, 1)),
    ("平成", date(1989, 1, 8)),
    ("昭和", date(1926, 12, 25)),
)

_WAREKI = re.compile(
    r"^(令和|平成|昭和)\s*(元|[0-9]{1,3})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日$"
)
_WESTERN = re.compile(r"^([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})$")


def era_of(day: date) -> tuple[str, int]:
    """The era a day falls in and its year in that era (1 for the first year, 元年)."""
    for name, first in ERAS:
        if day >= first:
            return name, day.year - first.year + 1
    raise ValueError(f"{day} is before the eras this gateway knows")


def _year_text(n: int) -> str:
    return "元" if n == 1 else str(n)


def wareki(day: date) -> str:
    """令和8年12月3日 (令和元年5月1日 for the first year); a day before Showa: 1925年1月1日."""
    try:
        name, n = era_of(day)
    except ValueError:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{name}{_year_text(n)}年{day.month}月{day.day}日"


def wareki_year(year: int) -> str:
    """A year as a report's title names it: the era in force at its end (2019 is 令和元, 2018 is
    平成30). A fiscal year 年度 takes the name of the calendar year it begins in: 令和8年度."""
    name, n = era_of(date(year, 12, 31))
    return f"{name}{_year_text(n)}"


def parse_ward_date(text: str) -> date:
    """A date as a person in the ward types it: 2026-12-03, 2026/12/3, 令和8年12月3日, 令和元年5月1日,
    full-width digits too. ValueError for anything else, also for a day its era did not reach
    (平成31年5月1日 is 令和元年5月1日) or a day that does not exist."""
    value = unicodedata.normalize("NFKC", text).strip()
    m = _WESTERN.match(value)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = _WAREKI.match(value)
    if not m:
        raise ValueError(f"not a date: {text!r}")
    names = [name for name, _ in ERAS]
    index = names.index(m[1])
    first = ERAS[index][1]
    year = first.year + (1 if m[2] == "元" else int(m[2])) - 1
    day = date(year, int(m[3]), int(m[4]))
    ends = ERAS[index - 1][1] if index > 0 else None
    if day < first or (ends is not None and day >= ends):
        raise ValueError(f"{m[1]} does not cover {day.isoformat()}")
    return day


def _moment(value: object) -> tuple[date, str, str] | None:
    """(day in Japan, time of day or "", the machine-readable value for <time datetime>)."""
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=UTC)
        local = at.astimezone(JST)
        return local.date(), local.strftime("%H:%M:%S"), local.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value, "", value.isoformat()
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return day, "", day.isoformat()
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _moment(at)


def ward_date(value: object, plain: bool = False) -> Markup | str:
    """A day or a moment as the ward writes it: 令和8年12月3日 (2026-12-03), and for a moment the
    time of day in Japan after it. Accepts a date, a datetime (naive ones are UTC, as the store
    writes them) or ISO 8601 text; empty for nothing, the text itself for what is no date.

    The jinja2 filter of every console page and the report. `plain` gives text for messages
    (a translated sentence with the date in it); otherwise a <time> element whose `datetime`
    attribute is machine-readable.
    """
    moment = _moment(value)
    if moment is None:
        text = "" if value is None else str(value)
        return text if plain else escape(text)
    day, clock, machine = moment
    text = f"{wareki(day)} ({day.isoformat()})" + (f" {clock}" if clock else "")
    if plain:
        return text
    return Markup('<time datetime="{}">{}</time>').format(machine, text)
