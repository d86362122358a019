"""For any history, the auditors' numbers are the trail's: whatever queries, portal views and
staff decisions happen on whatever days (through the real gateway, store and trail), the counts
kept in the store and brought up to date view after view equal a count of the whole window from
nothing, and both equal what is counted here from the events by the definition in words."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.attempts import AttemptKind
from gateway.services.patterns import AGE_BUCKETS, WINDOW_DAYS, Patterns
from gateway.store.pattern_counts import PatternCounts
from gateway.wareki import JST
from tests.conftest import Running
from tests.support import OTHER_REQUESTER, REQUESTER, Query, portal_xml

ACTIONS = ("flagged", "unflagged", "unknown", "self_info", "records", "release", "refuse")
steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=WINDOW_DAYS + 10),  # days back: some before the window
        st.sampled_from(ACTIONS),
        st.sampled_from((REQUESTER, OTHER_REQUESTER)),
    ),
    min_size=1,
    max_size=8,
)


def _day(at: str) -> date:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(JST).date()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
async def test_kept_counts_equal_a_fresh_count_and_the_trail(
    running: Running, history: list[tuple[int, str, str]]
) -> None:
    # one gateway for every example: the history grows, and so do the kept counts
    r = running.residents
    state = running.__dict__.setdefault("pattern_test", {"n": 0, "kept": None})
    if state["kept"] is None:
        await running.flag(r[0])
        await running.flag(r[1], ard=False)  # 不開示 only: its records are filtered, no hold
        state["kept"] = Patterns(running.gw)
        await state["kept"].pictures()
    kept = state["kept"]
    today = running.clock.today()
    for back, action, org in sorted(history, key=lambda s: -s[0]):
        state["n"] += 1
        pn = f"H-{state['n']}"
        with running.clock.on_day(today - timedelta(days=back)):
            if action == "flagged":
                await running.submit(Query(pn, r[0].subject_code, requester=org))
            elif action == "unflagged":
                await running.submit(Query(pn, r[5].subject_code, requester=org))
            elif action == "unknown":
                await running.submit(Query(pn, "SIM0000000000404", requester=org))
            elif action == "self_info":
                await running.post(
                    "/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code)
                )
            elif action == "records":
                await running.post(
                    "/soap/portal", portal_xml("GetProvisionRecords", r[1].subject_code)
                )
            else:
                waiting = await running.gw.queries.list_held(only_waiting=True)
                if waiting:
                    if action == "release":
                        await running.gw.queue.release(waiting[0].id, "取扱注意", "staff:p")
                    else:
                        await running.gw.queue.refuse(waiting[0].id, "理由", "staff:p")
    incremental = await kept.pictures(today)
    await PatternCounts(running.gw.redis).forget()  # and counted again from nothing
    fresh = await Patterns(running.gw).pictures(today)
    assert incremental.complete and fresh.complete
    assert incremental.attempts == fresh.attempts
    assert incremental.requesters == fresh.requesters
    assert (incremental.released, incremental.refused) == (fresh.released, fresh.refused)
    assert incremental.held_ages == fresh.held_ages

    # the trail, counted here
    first = today - timedelta(days=WINDOW_DAYS - 1)
    attempts: Counter[tuple[date, str]] = Counter()
    holds: Counter[str] = Counter()
    weekly: Counter[tuple[str, date]] = Counter()
    async for ev in running.gw.events.iterate():
        d = _day(ev.at)
        if ev.kind == "query.held" and first <= d <= today:
            holds[ev.fields["org"]] += 1
        if ev.kind == "query.held" and ev.fields.get("reason") == "auto_response_disabled":
            attempts[(d, "query_held")] += 1
        if ev.kind in ("security.portal_blocked", "security.portal_filtered"):
            attempts[(d, "portal_blocked")] += 1
        if ev.kind in ("query.released", "query.refused"):
            weekly[(ev.kind, d - timedelta(days=d.weekday()))] += 1
    for kind in AttemptKind:
        assert fresh.attempts[kind] == [attempts[(d, kind.value)] for d in fresh.days], kind
    assert {x.org: x.holds for x in fresh.requesters} == dict(holds)
    assert fresh.released == [weekly[("query.released", w)] for w in fresh.weeks]
    assert fresh.refused == [weekly[("query.refused", w)] for w in fresh.weeks]
    now = running.clock.now()
    ages: Counter[str] = Counter()
    for h in await running.gw.queries.list_held(only_waiting=True):
        # (a hold stamped later today than now, by the moved clock, has waited no time)
        waited = max(0, (now - datetime.fromisoformat(h.held_at.replace("Z", "+00:00"))).days)
        ages[next(b.key for b in reversed(AGE_BUCKETS) if waited >= b.lo_days)] += 1
    assert fresh.held_ages == [ages[b.key] for b in AGE_BUCKETS]
