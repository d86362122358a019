"""The numbers behind the auditors' pictures: attempts and blocked views per day over the last
WINDOW_DAYS, the requesters with the most holds, the queries waiting now by age, and releases and
refusals per week. Days are Japan's calendar days; what an attempt is, gateway.attempts says.

Counts per day are kept in memory and brought up to date from the event log at each view: the
first view after the process starts reads the window's events once (EventLog from the stream id
of the window's first moment), each later one only the events appended since. An event counts
on the day of its own time, wherever the log has it (a security event spooled while the store
was down arrives later, with the time it happened). The queue's ages are counted in the store
at each view (gateway.store.held_ages).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from gateway.attempts import AttemptKind, Attempts, event_time
from gateway.context import Gateway
from gateway.store.events import Event
from gateway.store.held_ages import HeldAges
from gateway.store.scripts import now
from gateway.wareki import JST

WINDOW_DAYS = 90
WEEKS = 13  # ending with the current one: 91 days at most, never before the window
TOP_REQUESTERS = 10
DAY_MS = 86_400_000
# An event's stream id is the store's clock when it was appended, its `at` the gateway's when it
# happened: the first scan starts this much before the window so that no event of the window's
# first moments is missed by a few milliseconds (or a host's clock a little ahead).
SCAN_MARGIN_MS = 10 * 60 * 1000
# Events a store read brings: each read holds the event loop while its events are decoded
# (about 10 us each), and the store returns this many sealed ones whatever the archive had.
SCAN_BATCH = 2000


@dataclass(frozen=True)
class AgeBucket:
    """Queries waiting [lo_days, hi_days) days; hi None: open. The one place the buckets are."""

    key: str  # i18n: patterns.age_<key>
    lo_days: int
    hi_days: int | None


AGE_BUCKETS: tuple[AgeBucket, ...] = (
    AgeBucket("lt1", 0, 1),
    AgeBucket("1to3", 1, 3),
    AgeBucket("3to7", 3, 7),
    AgeBucket("7to30", 7, 30),
    AgeBucket("gt30", 30, None),
)


@dataclass
class DayCounts:
    attempts: Counter[AttemptKind] = field(default_factory=Counter)
    holds: Counter[str] = field(default_factory=Counter)  # every hold, by requesterOrgCode
    attempt_holds: Counter[str] = field(default_factory=Counter)  # holds that were attempts
    released: int = 0
    refused: int = 0


@dataclass(frozen=True)
class RequesterHolds:
    org: str
    name: str  # as registered; "" for a requester no longer registered
    holds: int
    attempts: int


@dataclass(frozen=True)
class Pictures:
    today: date
    days: list[date]  # the window, oldest first
    attempts: dict[AttemptKind, list[int]]  # per kind, one count per day of `days`
    requesters: list[RequesterHolds]  # most holds first
    held_ages: list[int]  # one count per AGE_BUCKETS
    weeks: list[date]  # the Monday of each week, oldest first
    released: list[int]  # one count per week
    refused: list[int]
    events_read: int  # events this view read from the log (the first view: the whole window)


def ward_day(at: datetime) -> date:
    return at.astimezone(JST).date()


def _start_ms(day: date) -> int:
    return int(datetime.combine(day, time.min, JST).timestamp() * 1000)


class Patterns:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.ages = HeldAges(gw.redis)
        self.days: dict[date, DayCounts] = {}
        self.cursor = ""  # the last event id read; "" before the first view
        self.attempts = Attempts()
        self._lock = asyncio.Lock()

    async def _catch_up(self, first: date) -> int:
        """Read the events appended since the last view (or the window's, the first time)."""
        start = f"({self.cursor}" if self.cursor else f"{max(0, _start_ms(first) - SCAN_MARGIN_MS)}"
        read = 0
        async for ev in self.gw.events.iterate(start=start, batch=SCAN_BATCH):
            read += 1
            self.cursor = ev.id
            self._count(ev, first)
        return read

    def _count(self, ev: Event, first: date) -> None:
        attempt = self.attempts.of(ev)  # every event, in order: the portal rule needs it
        if ev.kind not in ("query.held", "query.released", "query.refused") and attempt is None:
            return
        at = event_time(ev)
        if at is None or ward_day(at) < first:
            return
        day = self.days.setdefault(ward_day(at), DayCounts())
        if attempt is not None:
            day.attempts[attempt.kind] += 1
        if ev.kind == "query.held":
            org = ev.fields.get("org", "")
            day.holds[org] += 1
            if attempt is not None:
                day.attempt_holds[org] += 1
        elif ev.kind == "query.released":
            day.released += 1
        elif ev.kind == "query.refused":
            day.refused += 1

    async def pictures(self, today: date | None = None) -> Pictures:
        today = today or datetime.now(JST).date()
        first = today - timedelta(days=WINDOW_DAYS - 1)
        monday = today - timedelta(days=today.weekday())
        weeks = [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
        kept_from = min(first, weeks[0])  # the first week may begin a day before the window
        days = [first + timedelta(days=i) for i in range(WINDOW_DAYS)]
        released, refused = [0] * WEEKS, [0] * WEEKS
        holds: Counter[str] = Counter()
        attempt_holds: Counter[str] = Counter()
        async with self._lock:
            read = await self._catch_up(kept_from)
            for old in [d for d in self.days if d < kept_from]:
                del self.days[old]
            attempts = {
                k: [self.days.get(d, DayCounts()).attempts[k] for d in days] for k in AttemptKind
            }
            for d, c in self.days.items():
                w = (d - weeks[0]).days // 7
                if d <= today and w < WEEKS:
                    released[w] += c.released
                    refused[w] += c.refused
                if first <= d <= today:
                    holds.update(c.holds)
                    attempt_holds.update(c.attempt_holds)
        _, now_ms = now()
        ages = await self.ages.count([b.lo_days * DAY_MS for b in AGE_BUCKETS], now_ms)
        names = {r.org_code: r.name for r in await self.gw.requesters.all()}
        top = sorted(holds.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REQUESTERS]
        return Pictures(
            today=today,
            days=days,
            attempts=attempts,
            requesters=[
                RequesterHolds(org, names.get(org, ""), n, attempt_holds[org]) for org, n in top
            ],
            held_ages=ages,
            weeks=weeks,
            released=released,
            refused=refused,
            events_read=read,
        )
