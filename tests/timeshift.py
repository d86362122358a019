"""Days in the past, through the real gateway: the store's clock (gateway.store.scripts.now, which
stamps every event, hold and decision the gateway writes) set to another day while a block runs.
Stream ids stay the store's own (now): what is read by day is read by each event's own time."""

from __future__ import annotations

import contextlib
import time as real_time
from collections.abc import Iterator
from datetime import date, datetime
from types import SimpleNamespace

import gateway.store.scripts as scripts
from gateway.wareki import JST


@contextlib.contextmanager
def store_clock(day: date, hour: int = 10, minute: int = 0) -> Iterator[None]:
    """The store's clock on `day` (Japan) at hour:minute, running on from there."""
    target = datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST).timestamp()
    offset = int((target - real_time.time()) * 1e9)
    saved = scripts.time
    scripts.time = SimpleNamespace(time_ns=lambda: real_time.time_ns() + offset)  # type: ignore[assignment]
    try:
        yield
    finally:
        scripts.time = saved  # type: ignore[assignment]
