"""The one clock every rule that decides by time reads: the scripts' NOW, sessions, claims,
lock-outs, retention, the sweep of interrupted queries, due dates and renewal windows, the
patterns' days. It travels with the store wrapper (`Redis.clock`, `Gateway.clock`), never as a
module global, so a test can give one gateway a `ManualClock` and move it past an expiry instead
of sleeping through it.

Durations measured inside one process (timeouts, deadlines of a call, a lease's renewal) use the
event loop's or `time.monotonic`, not this: they are not rules about the time of day.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import lru_cache

from gateway.wareki import JST


@lru_cache(maxsize=16)
def _iso_second(second: int) -> str:
    """ISO 8601 UTC of a whole second, without offset: "2026-12-04T07:40:50"."""
    return datetime.fromtimestamp(second, UTC).isoformat().removesuffix("+00:00")


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC with milliseconds (the stores' stamps).

    Every script call and event of a request reads it: the second's text is formatted once and
    reused (the same string `datetime.isoformat(timespec="milliseconds")` gives, property-tested
    in tests/test_same_bytes.py)."""
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"


class Clock:
    """The real time (the operating system's wall clock)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def stamp(self) -> tuple[str, int]:
        """Now as (ISO 8601 UTC with milliseconds, milliseconds since the epoch): the head of
        every script's ARGV and every event's `at`."""
        ms = self.now_ms()
        return iso_ms(ms), ms

    def today(self) -> date:
        """The ward's date today (Japan time): what due dates and renewal windows count from."""
        return self.now().astimezone(JST).date()


SYSTEM_CLOCK = Clock()


class ManualClock(Clock):
    """A clock a test moves (never used in production): the real time plus an offset that
    `advance(seconds)` (past an expiry), `set(when)` or `set_day(day)` (another day) change.
    It runs on from wherever it is set, as the real one does (events keep their order), unless
    it is frozen: then it stands still until moved. `reset()` goes back to the real time."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._offset_ms = 0
        self._fixed_ms: int | None = None
        if start is not None:
            self.set(start)
        if frozen:
            self.freeze()

    def now_ms(self) -> int:
        if self._fixed_ms is not None:
            return self._fixed_ms
        return SYSTEM_CLOCK.now_ms() + self._offset_ms

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock is not moved back by advance(): use set()")
        step = round(seconds * 1000)
        if self._fixed_ms is not None:
            self._fixed_ms += step
        else:
            self._offset_ms += step

    def set(self, when: datetime) -> None:
        ms = _ms_of(when)
        if self._fixed_ms is not None:
            self._fixed_ms = ms
        else:
            self._offset_ms = ms - SYSTEM_CLOCK.now_ms()

    def set_day(self, day: date, hour: int = 10, minute: int = 0) -> None:
        """The ward's `day` (Japan time) at hour:minute."""
        self.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST))

    @contextlib.contextmanager
    def on_day(self, day: date, hour: int = 10, minute: int = 0) -> Iterator[None]:
        """The ward's `day` at hour:minute, running on from there, while the block runs; then
        back to where the clock was."""
        saved = self._offset_ms, self._fixed_ms
        self.set_day(day, hour, minute)
        try:
            yield
        finally:
            self._offset_ms, self._fixed_ms = saved

    def freeze(self) -> None:
        self._fixed_ms = self.now_ms()

    def reset(self) -> None:
        """The real time again, running."""
        self._offset_ms, self._fixed_ms = 0, None


def _ms_of(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("a clock is set to an aware datetime (with its time zone)")
    return round(when.timestamp() * 1000)
