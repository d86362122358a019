"""The auditors' pictures draw the right numbers: attempts and blocked views per day, the
requesters with the most holds, the queue by age, releases and refusals per week.

Everything happens through the real gateway and store, on days in the past: the gateway's clock
(running.clock, which stamps events, holds and decisions) is moved back while it happens. The expected numbers are counted here from the audit events themselves (and checked
against what the test did); the page's SVG is parsed and its bars measured against them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.attempts import AttemptKind, Attempts
from gateway.services.patterns import AGE_BUCKETS, Patterns
from gateway.store.events import Event
from gateway.wareki import JST, wareki
from tests.chart_support import counts_of, read_chart, svg_of
from tests.conftest import Running
from tests.staffkit import Staff
from tests.support import OTHER_REQUESTER, REQUESTER, Query, portal_xml


def today() -> date:
    return datetime.now(JST).date()


async def _held_id(running: Running, pn: str, org: str = REQUESTER) -> str:
    ids = [
        h.id
        for h in await running.gw.queries.list_held()
        if h.processing_number == pn and h.requester_org_code == org
    ]
    assert len(ids) == 1
    return ids[0]


async def _all_events(running: Running) -> list[Event]:
    return [ev async for ev in running.gw.events.iterate()]


def _day(ev: Event) -> date:
    return datetime.fromisoformat(ev.at.replace("Z", "+00:00")).astimezone(JST).date()


def _expected_attempts(events: list[Event]) -> dict[date, Counter[str]]:
    """Counted here, by the definition in words: held because flagged, portal blocked/filtered."""
    out: dict[date, Counter[str]] = {}
    for ev in events:
        if ev.kind == "query.held" and ev.fields.get("reason") in (
            "auto_response_disabled",
            "flag_set_in_flight",
        ):
            out.setdefault(_day(ev), Counter())["query_held"] += 1
        elif ev.kind in ("security.portal_blocked", "security.portal_filtered"):
            out.setdefault(_day(ev), Counter())["portal_blocked"] += 1
    return out


async def _history(running: Running) -> dict[str, object]:
    """Four weeks of a ward's life, written through the gateway on past days."""
    r = running.residents
    t = today()
    await running.flag(r[0])
    await running.flag(r[1])
    with running.clock.on_day(
        t - timedelta(days=95)
    ):  # before the window: no bar, but still waiting
        assert (await running.submit(Query("P-095", r[0].subject_code))).status == "PENDING"
    with running.clock.on_day(t - timedelta(days=40)):
        assert (await running.submit(Query("P-040", r[0].subject_code))).status == "PENDING"
    with running.clock.on_day(t - timedelta(days=10)):
        await running.submit(Query("P-010a", r[1].subject_code))
        await running.submit(Query("P-010b", r[0].subject_code, requester=OTHER_REQUESTER))
        await running.submit(
            Query("P-010c", "SIM9999999999999", requester=OTHER_REQUESTER)
        )  # unknown subject: held, but no attempt
        await running.post("/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code))
    with running.clock.on_day(t - timedelta(days=9)):
        await running.gw.queue.release(await _held_id(running, "P-040"), "取扱注意", "staff:x")
    with running.clock.on_day(t - timedelta(days=2)):
        await running.submit(Query("P-002", r[1].subject_code))
        await running.post("/soap/portal", portal_xml("GetProvisionRecords", r[1].subject_code))
        assert (await running.submit(Query("P-002u", r[5].subject_code))).status == "PROVIDED"
    # today, on the real clock
    await running.gw.queue.release(await _held_id(running, "P-010a"), "取扱注意", "staff:x")
    await running.gw.queue.refuse(
        await _held_id(running, "P-010c", OTHER_REQUESTER), "理由", "staff:x"
    )
    return {
        "attempts": {
            t - timedelta(days=95): {"query_held": 1},
            t - timedelta(days=40): {"query_held": 1},
            t - timedelta(days=10): {"query_held": 2, "portal_blocked": 1},
            t - timedelta(days=2): {"query_held": 1, "portal_blocked": 1},
        },
        # waiting now: P-095 (95 days), P-010b (10 days), P-002 (2 days)
        "ages": {"lt1": 0, "1to3": 1, "3to7": 0, "7to30": 1, "gt30": 1},
    }


async def test_the_pictures_show_what_the_trail_holds(running: Running, staff: Staff) -> None:
    story = await _history(running)
    events = await _all_events(running)
    expected = _expected_attempts(events)
    assert {d: dict(c) for d, c in expected.items()} == story["attempts"]  # the trail agrees

    auditor = await staff.client("auditor")
    status, html = await auditor.page("/staff/audit/patterns")
    assert status == 200, html

    # attempts per day: 90 bars, each stacked by kind, heights as counted from the events
    read = read_chart(svg_of(html, "attempts"))
    t = today()
    days = [t - timedelta(days=89 - i) for i in range(90)]
    assert list(read.values) == [d.isoformat() for d in days]
    drawn = counts_of(read)
    for d in days:
        want = expected.get(d, Counter())
        for kind in AttemptKind:
            assert drawn[d.isoformat()][kind.value] == want[kind.value], (d, kind)
    in_window = sum(sum(c.values()) for d, c in expected.items() if d >= days[0])
    assert "90" in read.title and f"計 {in_window} 件" in read.desc
    # a Monday is labelled month/day, and so is today
    assert f"{t.month}/{t.day}" in read.labels
    mondays = [d for d in days if d.weekday() == 0 and (t - d).days >= 3]
    assert read.labels == [f"{d.month}/{d.day}" for d in mondays] + [f"{t.month}/{t.day}"]

    # requesters with the most holds: their registered names, bars as long as their holds
    held = Counter(
        ev.fields["org"] for ev in events if ev.kind == "query.held" and _day(ev) >= days[0]
    )
    flagged = Counter(
        ev.fields["org"]
        for ev in events
        if ev.kind == "query.held"
        and _day(ev) >= days[0]
        and ev.fields.get("reason") == "auto_response_disabled"
    )
    read = read_chart(svg_of(html, "requesters"))
    drawn = counts_of(read)
    assert set(drawn) == set(held) == {REQUESTER, OTHER_REQUESTER}
    for org in held:
        assert drawn[org]["attempts"] == flagged[org]
        assert drawn[org]["attempts"] + drawn[org]["other"] == held[org]
    assert read.labels[0] == f"見本市 子ども家庭課 ({REQUESTER})"  # 3 holds: the most
    assert f"例示町 税務課 ({OTHER_REQUESTER})" in read.labels

    # the queue by age, now
    read = read_chart(svg_of(html, "ages"))
    assert [c for c in read.values] == [b.key for b in AGE_BUCKETS]
    assert {b: v["waiting"] for b, v in counts_of(read).items()} == story["ages"]
    waiting = await running.gw.queries.list_held(only_waiting=True)
    assert sum(story["ages"].values()) == len(waiting)  # type: ignore[attr-defined]

    # releases and refusals per week (weeks begin on Monday, Japan's calendar)
    read = read_chart(svg_of(html, "weeks"))
    drawn = counts_of(read)
    week = {
        kind: Counter(
            (_day(ev) - timedelta(days=_day(ev).weekday())).isoformat()
            for ev in events
            if ev.kind == f"query.{kind}"
        )
        for kind in ("released", "refused")
    }
    assert sum(week["released"].values()) == 2 and sum(week["refused"].values()) == 1
    for monday, segs in drawn.items():
        assert segs["released"] == week["released"][monday], monday
        assert segs["refused"] == week["refused"][monday], monday
    assert len(drawn) == 13 and list(drawn)[-1] == (t - timedelta(days=t.weekday())).isoformat()

    # the numbers beside the pictures, dates as the ward writes them
    d10 = t - timedelta(days=10)
    assert f'<tr data-day="{d10.isoformat()}"><td><time datetime="{d10.isoformat()}">' in html
    assert f"{wareki(d10)} ({d10.isoformat()})" in html
    # the CSP holds: no script, no inline style anywhere on the page
    assert "<script" not in html and "style=" not in html and "<style" not in html

    # later views read only what was appended since, and count it
    await running.post(
        "/soap/portal", portal_xml("GetSelfInformation", running.residents[1].subject_code)
    )
    status, html = await auditor.page("/staff/audit/patterns")
    drawn = counts_of(read_chart(svg_of(html, "attempts")))
    assert (
        drawn[t.isoformat()]["portal_blocked"] == expected.get(t, Counter())["portal_blocked"] + 1
    )


async def test_a_view_reads_the_window_once_and_then_only_what_is_new(running: Running) -> None:
    r = running.residents
    await running.flag(r[0])
    for i in range(3):
        await running.submit(Query(f"N-{i}", r[0].subject_code))
    patterns = Patterns(running.gw)
    first = await patterns.pictures()
    assert first.events_read >= 4 and sum(first.attempts[AttemptKind.QUERY_HELD]) == 3
    again = await patterns.pictures()
    assert again.events_read == 0 and again.attempts == first.attempts
    await running.submit(Query("N-3", r[0].subject_code))
    third = await patterns.pictures()
    assert 1 <= third.events_read <= 3  # the hold and what came with it, not the window again
    assert sum(third.attempts[AttemptKind.QUERY_HELD]) == 4
    # a new day moves the window: yesterday's counts stay on yesterday
    tomorrow = await patterns.pictures(today() + timedelta(days=1))
    assert tomorrow.attempts[AttemptKind.QUERY_HELD][-2:] == [4, 0]


def _ev(i: int, kind: str, **fields: str) -> Event:
    return Event(f"{i}-0", kind, datetime(2026, 12, 3, tzinfo=UTC).isoformat(), "t", fields)


def test_an_attempt_is_what_the_definition_says_and_a_portal_view_counts_once() -> None:
    told = '{"子ども家庭課": "k1"}'
    log = [
        _ev(1, "query.held", reason="auto_response_disabled", org=REQUESTER, subject="k1"),
        _ev(2, "query.held", reason="flag_set_in_flight", org=REQUESTER),
        _ev(3, "query.held", reason="subject_unknown", org=REQUESTER),
        _ev(4, "query.held", reason="interrupted", org=REQUESTER),
        # this gateway records a blocked or filtered view so, instead of portal.view: each counts
        # wherever it comes in the log (a shown view before it changes nothing)
        _ev(5, "security.portal_blocked", subject="k1"),
        _ev(6, "security.portal_filtered", subject="k1"),
        _ev(7, "query.provided", org=REQUESTER),
        _ev(8, "security.hostile_input"),
        _ev(9, "portal.view", outcome="shown"),
        _ev(10, "portal.view", outcome="blocked"),
        _ev(11, "security.portal_blocked"),
        _ev(12, "portal.view", outcome="filtered"),
        _ev(13, "query.answer_withheld", org=REQUESTER),
        _ev(14, "directory.import_refused"),
        # the hold that follows a withheld answer is that attempt, not one of its own
        _ev(15, "query.held", reason="flagged_after_answer", org=OTHER_REQUESTER),
        # a hold naming the departments told is an attempt whatever its reason
        _ev(16, "query.held", reason="subject_remapped", org=REQUESTER, holders=told),
        _ev(17, "query.held", reason="interrupted", org=REQUESTER, holders="{}"),
        # an import refused for malformed rows alone, or told per person, is no attempt of its own
        _ev(18, "directory.import_refused", remaps="0"),
        _ev(19, "directory.import_refused", remaps="2", remap_events="1"),
        _ev(20, "directory.remap_refused", subject="k1", holders=told),
        _ev(21, "directory.remapped", subject="s1", holders=told),
        _ev(22, "directory.remapped", subject="s2"),
        _ev(23, "security.flag_read_refused", subject="k1", holders=told),
    ]
    found = list(Attempts().all(log))
    assert [(a.event_id, a.kind.value) for a in found] == [
        ("1-0", "query_held"),
        ("2-0", "query_held"),
        ("5-0", "portal_blocked"),
        ("6-0", "portal_blocked"),
        ("10-0", "portal_blocked"),
        ("11-0", "portal_blocked"),
        ("12-0", "portal_blocked"),
        ("13-0", "answer_withheld"),
        ("14-0", "remap_refused"),
        ("16-0", "query_held"),
        ("20-0", "remap_refused"),
        ("21-0", "remap_refused"),
        ("23-0", "read_refused"),
    ]
    assert (found[0].org, found[0].subject) == (REQUESTER, "k1")
    assert found[-1].holders == {"子ども家庭課": "k1"} and found[0].holders == {}


async def test_a_long_first_count_goes_on_view_after_view_and_is_shared(
    running: Running, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.services.patterns as patterns_module

    r = running.residents
    await running.flag(r[0])
    for i in range(12):
        await running.submit(Query(f"L-{i}", r[0].subject_code))
    total = len(await _all_events(running))
    # a log long for its budget: each view reads one batch of 4 events, then shows what it has
    monkeypatch.setattr(patterns_module, "SCAN_BATCH", 4)
    monkeypatch.setattr(patterns_module, "SCAN_BUDGET_SECONDS", 0.0)
    auditor = await staff.client("auditor")
    status, headers, html = await auditor.request("GET", "/staff/audit/patterns")
    assert status == 200 and headers.get("Refresh") == "3"
    assert 'data-testid="counting"' in html and "集計中" in html
    seen = []
    for _ in range(total):
        status, headers, html = await auditor.request("GET", "/staff/audit/patterns")
        held = counts_of(read_chart(svg_of(html, "attempts")))[today().isoformat()]["query_held"]
        seen.append(held)
        if "Refresh" not in headers:
            break
    assert "Refresh" not in headers and "集計中" not in html
    assert seen == sorted(seen) and seen[-1] == 12  # it only grew, to the whole count
    # two processes counting at once count each event once (a fold applies where the last ended)
    for i in range(12, 20):
        await running.submit(Query(f"L-{i}", r[0].subject_code))
    monkeypatch.setattr(patterns_module, "SCAN_BUDGET_SECONDS", 5.0)
    one, two = await asyncio.gather(
        Patterns(running.gw).pictures(), Patterns(running.gw).pictures()
    )
    assert one.complete and two.complete
    assert (
        one.attempts[AttemptKind.QUERY_HELD][-1] == two.attempts[AttemptKind.QUERY_HELD][-1] == 20
    )


async def test_the_pictures_in_english_keep_the_wards_dates(running: Running, staff: Staff) -> None:
    await running.flag(running.residents[0])
    await running.submit(Query("E-1", running.residents[0].subject_code))
    auditor = await staff.client("auditor")
    auditor.http.cookie_jar.update_cookies({"hogo_lang": "en"})
    status, html = await auditor.page("/staff/audit/patterns")
    assert status == 200
    read = read_chart(svg_of(html, "attempts"))
    assert read.title == "Attempts and blocked views per day (last 90 days)"
    assert "1 attempts from" in read.desc and "query held (flagged) 1" in read.desc
    t = today()
    assert f"As of {wareki(t)} ({t.isoformat()})" in html
