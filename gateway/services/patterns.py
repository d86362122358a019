"""The numbers behind the auditors' pictures: attempts and blocked views per day over the last
WINDOW_DAYS, the requesters with the most holds, the queries waiting now by age, and releases and
refusals per week. Days are Japan's calendar days; what an attempt is, gateway.attempts says.

The counts per day are kept in the store (gateway.store.pattern_counts) and brought up to date
from the event log at each view: only the events appended since the last view, by any process,
are read. The first view ever (or after the counts were lost) has the whole window to read; a
view reads for at most SCAN_BUDGET_SECONDS, keeps what it counted and says how far it got, and
the next view goes on from there. An event counts on the day of its own time, wherever the log
has it (a security event spooled while the store was down arrives later, with the time it
happened). The queue's ages are counted in the store at each view (gateway.store.held_ages).
"""

from __future__ import annotations

import asyncio
import time as clock
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.attempts import DEFINITION, AttemptKind, attempt_of, event_time
from gateway.context import Gateway
from gateway.rules import Rule, rule_of_event
from gateway.store.held_ages import HeldAges
from gateway.store.pattern_counts import Folded, PatternCounts
from gateway.store.trail import entry_ms
from gateway.wareki import JST

WINDOW_DAYS = 90
WEEKS = 13  # ending with the current one: 91 days at most, never before the window
TOP_REQUESTERS = 10
RULE_DAYS = 30  # the rules that fired recently: over this many days
DAY_MS = 86_400_000
# An event's stream id is the store's clock when it was appended, its `at` the gateway's when it
# happened: a scan of the window starts this much before it, so that no event of the window's
# first moments is missed by a few milliseconds (or a host's clock a little ahead).
SCAN_MARGIN_MS = 10 * 60 * 1000
# Events a store read brings: each read holds the event loop while its events are decoded.
SCAN_BATCH = 2000
# What one view reads at most before it shows what is counted so far (the rest on the next).
SCAN_BUDGET_SECONDS = 2.0
# Counts are added to the store every this many events read, so that progress is kept.
FOLD_EVERY = 20_000


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


@dataclass(frozen=True)
class RequesterHolds:
    org: str
    name: str  # as registered; "" for a requester no longer registered
    holds: int
    attempts: int


@dataclass(frozen=True)
class RuleFirings:
    """How often one pattern rule fired over the last RULE_DAYS days, and the last day it did."""

    rule: Rule
    count: int
    last: date | None


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
    rules: list[RuleFirings]  # every rule, in Rule's order
    events_read: int  # events this view read from the log
    complete: bool  # every event of the log is counted (else: up to `counted_to`)
    counted_to: datetime | None  # when the last event counted was stored


# The counters of one day, as the store keeps them ("a|<kind>", "h|<org>", "ah|<org>", ...).
def _attempt(kind: AttemptKind) -> str:
    return f"a|{kind.value}"


HELD, ATTEMPT_HELD, RELEASED, REFUSED, RULE = "h|", "ah|", "released", "refused", "r|"
COUNTED_KINDS = frozenset({"query.held", "query.released", "query.refused"})  # besides attempts


def _start_ms(day: date) -> int:
    return int(datetime.combine(day, time.min, JST).timestamp() * 1000)


class Patterns:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.ages = HeldAges(gw.redis)
        self.counts = PatternCounts(gw.redis)
        self._lock = asyncio.Lock()  # one catch-up at a time in this process

    async def _read_run(
        self, state: Folded, kept_from: date, deadline: float
    ) -> tuple[Counter[tuple[str, str]], str, int, bool]:
        """Count the events after the last fold (or from the window's start): (counts, last id
        read, events read, reached the log's end)."""
        first_ms = _start_ms(kept_from) - SCAN_MARGIN_MS
        if state.cursor and entry_ms(state.cursor) >= first_ms:
            cursor = f"({state.cursor}"
        else:  # nothing folded yet, or not since the window began: what is older is not shown
            cursor = str(first_ms)
        counts: Counter[tuple[str, str]] = Counter()
        last, read = state.cursor, 0
        while True:
            events = await self.gw.events.read(cursor, "+", SCAN_BATCH)
            for ev in events:
                attempt = attempt_of(ev)
                rule = rule_of_event(ev.kind)
                if attempt is None and rule is None and ev.kind not in COUNTED_KINDS:
                    continue
                at = event_time(ev)
                if at is None or (day := at.astimezone(JST).date()) < kept_from:
                    continue
                key = day.isoformat()
                if attempt is not None:
                    counts[(key, _attempt(attempt.kind))] += 1
                if rule is not None:
                    counts[(key, RULE + rule.value)] += 1
                if ev.kind == "query.held":
                    org = ev.fields.get("org", "")
                    counts[(key, HELD + org)] += 1
                    if attempt is not None:
                        counts[(key, ATTEMPT_HELD + org)] += 1
                elif ev.kind == "query.released":
                    counts[(key, RELEASED)] += 1
                elif ev.kind == "query.refused":
                    counts[(key, REFUSED)] += 1
            read += len(events)
            if events:
                last = events[-1].id
                cursor = f"({last}"
            at_end = len(events) < SCAN_BATCH
            if at_end or read >= FOLD_EVERY or clock.monotonic() > deadline:
                return counts, last, read, at_end

    async def _catch_up(self, kept_from: date) -> tuple[Folded, int, bool]:
        """Bring the store's counts up to date, within the budget: (counts, events read, all
        counted)."""
        deadline = clock.monotonic() + SCAN_BUDGET_SECONDS
        read = 0
        while True:
            state = await self.counts.load()
            if state.cursor and state.definition != DEFINITION:
                # counted by an earlier definition of an attempt: count the window again
                await self.counts.forget()
                continue
            counts, last, n, at_end = await self._read_run(state, kept_from, deadline)
            if n == 0 or last == state.cursor:
                return state, read, True
            if await self.counts.fold(
                state.cursor, last, DEFINITION, counts, kept_from.isoformat()
            ):
                read += n
                if at_end:
                    return await self.counts.load(), read, True
            # (else another process counted these meanwhile: go on from where it got to)
            if clock.monotonic() > deadline:
                return await self.counts.load(), read, False

    async def pictures(self, today: date | None = None) -> Pictures:
        today = today or self.gw.clock.today()
        first = today - timedelta(days=WINDOW_DAYS - 1)
        monday = today - timedelta(days=today.weekday())
        weeks = [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
        kept_from = min(first, weeks[0])  # the first week may begin a day before the window
        # the pattern rules' events are the attempts fold's: whatever waits in its inbox first
        await self.gw.notices.catch_up()
        async with self._lock:
            state, read, complete = await self._catch_up(kept_from)
        days = [first + timedelta(days=i) for i in range(WINDOW_DAYS)]

        def on(day: date) -> dict[str, int]:
            return state.days.get(day.isoformat(), {})

        released, refused = [0] * WEEKS, [0] * WEEKS
        for i, w in enumerate(weeks):
            for d in (w + timedelta(days=n) for n in range(7)):
                if d <= today:
                    released[i] += on(d).get(RELEASED, 0)
                    refused[i] += on(d).get(REFUSED, 0)
        holds: Counter[str] = Counter()
        attempt_holds: Counter[str] = Counter()
        for d in days:
            for counter, n in on(d).items():
                if counter.startswith(HELD):
                    holds[counter.removeprefix(HELD)] += n
                elif counter.startswith(ATTEMPT_HELD):
                    attempt_holds[counter.removeprefix(ATTEMPT_HELD)] += n
        rules = []
        for rule in Rule:
            fired = [
                (d, n) for d in days[-RULE_DAYS:] if (n := on(d).get(RULE + rule.value, 0)) > 0
            ]
            rules.append(
                RuleFirings(rule, sum(n for _, n in fired), fired[-1][0] if fired else None)
            )
        now_ms = self.gw.clock.now_ms()
        ages = await self.ages.count([b.lo_days * DAY_MS for b in AGE_BUCKETS], now_ms)
        names = {r.org_code: r.name for r in await self.gw.requesters.all()}
        top = sorted(holds.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REQUESTERS]
        return Pictures(
            today=today,
            days=days,
            attempts={k: [on(d).get(_attempt(k), 0) for d in days] for k in AttemptKind},
            requesters=[
                RequesterHolds(org, names.get(org, ""), n, attempt_holds[org]) for org, n in top
            ],
            held_ages=ages,
            weeks=weeks,
            released=released,
            refused=refused,
            rules=rules,
            events_read=read,
            complete=complete,
            counted_to=(
                datetime.fromtimestamp(entry_ms(state.cursor) / 1000, JST) if state.cursor else None
            ),
        )
