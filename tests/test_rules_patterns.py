"""The pattern rules' firing in lua/attempts_fold.lua, through every combination of its facts,
against the pure core its tables are generated from (gateway/pattern_rules.py).

Each case is built in a real Redis with the store's keys directly (a rule's counts in its window
and its last firing), for a gateway whose own fold does not run (audit_support.fresh); one
observation is folded through the real script (AttemptStore.fold), and whether the rule fired,
and whether its firing was recorded, is compared with the core. The `*_is_safe` check says,
without the core, what no change to it may do: a rule fires only when its count is reached, and
once per window.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from gateway import pattern_rules
from gateway.context import Gateway
from gateway.rules import DAY_MS, Limits, Observation, Rule
from gateway.settings import Settings
from gateway.store.attempts import AttemptStore
from gateway.store.rules_lua import RULES
from tests.audit_support import fresh

BOOLS = (False, True)
THRESHOLD, FLOOR, RATE_DAYS = 3, 3, 3
LIMITS = Limits(THRESHOLD, 7, RATE_DAYS, 0.0, FLOOR, THRESHOLD, THRESHOLD)
MS = 1_800_000_000_000  # the observation's time (a fixed day: the rate rule counts by day)


def test_no_rule_fires_unless_its_count_is_reached_once_in_its_window_is_safe() -> None:
    for key, out in RULES["pattern"].table().items():
        assert (out == "fire") is (key == "1:0"), key
    for key, out in RULES["pattern_rate"].table().items():
        assert (out == "fire") is (key == "1:1:0"), key


@pytest.fixture
async def gw(settings: Settings, redis_url: str) -> AsyncIterator[Gateway]:
    async with fresh(settings, redis_url) as gateway:
        yield gateway


class Folding:
    """One observation at a time through the real fold, its cursor carried along."""

    def __init__(self, gw: Gateway) -> None:
        self.store = AttemptStore(gw.redis, gw.keyring)
        self.cursor = ""
        self.n = 0

    async def fold(self, observation: Observation) -> list[tuple[str, str]]:
        self.n += 1
        new = f"{self.n}-0"
        done = await self.store.fold(self.cursor, new, [], [], [observation], LIMITS)
        assert done.applied
        self.cursor = new
        return done.fired


async def test_a_count_rule_fires_as_the_core_says(gw: Gateway) -> None:
    r, prefix = gw.redis.client, gw.redis.keys.prefix
    folding = Folding(gw)
    rules = (Rule.REQUESTERS, Rule.PORTAL_VIEWS, Rule.PROBING)
    # the last firing: none, within the window, or before it
    firings = ((False, None), (True, MS - 1000), (False, MS - 8 * DAY_MS))
    for n, (rule, reached, (in_window, last)) in enumerate(
        itertools.product(rules, BOOLS, firings)
    ):
        key = f"key-{n}"
        counted = THRESHOLD - 1 if reached else THRESHOLD - 2  # and the observation makes one more
        for i in range(counted):
            await r.zadd(f"{prefix}rules:{rule.value}:{key}", {f"before-{i}": MS - 1000 - i})
        if last is not None:
            await r.zadd(f"{prefix}rules:fired:{rule.value}", {key: last})
        want = pattern_rules.count_fires(reached, in_window)
        case = (rule, reached, last)
        fired = await folding.fold(Observation(rule, key, f"member-{n}", MS))
        assert fired == ([(rule.value, key)] if want == "fire" else []), case
        recorded = await r.zscore(f"{prefix}rules:fired:{rule.value}", key)
        assert recorded == (MS if want == "fire" else last), case  # once per window


async def test_the_rate_rule_fires_as_the_core_says(gw: Gateway) -> None:
    r, prefix = gw.redis.client, gw.redis.keys.prefix
    folding = Folding(gw)
    day = (MS + 9 * 3_600_000) // DAY_MS  # Japan's day, as the script counts it
    day_start = day * DAY_MS - 9 * 3_600_000
    # (today's count with this observation, each earlier day's): rate_k 0, so usual = the mean
    # at each boundary: today at the floor, one below it, today equal to the usual
    counts = {
        (True, True): (FLOOR, 0),
        (True, False): (FLOOR, FLOOR),
        (False, True): (FLOOR - 1, 0),
    }
    counts[(False, False)] = (FLOOR - 1, FLOOR - 1)
    firings = ((False, None), (True, day_start), (False, day_start - 1))  # today, or yesterday
    for n, ((floor_reached, above), (fired_today, last)) in enumerate(
        itertools.product(counts, firings)
    ):
        today, usual = counts[(floor_reached, above)]
        key = f"org-{n}"
        h = f"{prefix}rules:requester_rate:{key}"
        await r.hset(h, mapping={str(day - i): usual for i in range(1, RATE_DAYS + 1)})
        if today > 1:
            await r.hset(h, str(day), today - 1)
        if last is not None:
            await r.zadd(f"{prefix}rules:fired:requester_rate", {key: last})
        want = pattern_rules.rate_fires(floor_reached, above, fired_today)
        case = (floor_reached, above, last)
        fired = await folding.fold(Observation(Rule.REQUESTER_RATE, key, f"m-{n}", MS))
        assert fired == ([("requester_rate", key)] if want == "fire" else []), case
        recorded = await r.zscore(f"{prefix}rules:fired:requester_rate", key)
        assert recorded == (MS if want == "fire" else last), case
