"""The security team's pattern rules (gateway/rules.py), each with real traffic through a real
gateway: it fires at the threshold the ward set, not below, once per window per person or
requester, as a security event and a metric."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.settings import AttemptSettings, Settings
from gateway.simulator import Resident
from gateway.wareki import JST
from tests.conftest import Running, start_running, stop_running
from tests.support import AFFAIR, REQUESTER, Query, portal_xml

ORGS = [f"14{i}000000000000{i}" for i in range(1, 6)]  # 16 digits


@pytest.fixture
async def ruled(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[Running]:
    limits = AttemptSettings(
        rule_requesters_per_person=3,
        rule_requesters_days=30,
        rule_rate_days=5,
        rule_rate_k=1.0,
        rule_rate_floor=3,
        rule_portal_views=3,
        rule_probing=4,
    )
    r, runners = await start_running(replace(settings, attempts=limits), redis_url, residents)
    for org in ORGS:
        await r.gw.requesters.add(org, f"試験 {org[-1]}", "test")
        await r.gw.requesters.grant(org, AFFAIR, [], "test")
    yield r
    await stop_running(r, runners)


class Watch:
    """The security events of one rule, counted after each fold."""

    def __init__(self, running: Running, rule: str) -> None:
        self.running = running
        self.kind = f"security.pattern_{rule}"
        self.n = 0

    async def new(self) -> list[dict[str, object]]:
        await self.running.gw.notices.catch_up()
        found = await self.running.events(self.kind)
        fresh, self.n = found[self.n :], len(found)
        return fresh


async def _hold(running: Running, pn: str, subject: str, org: str = REQUESTER) -> None:
    assert (await running.submit(Query(pn, subject, requester=org))).status == "PENDING"


async def test_requesters_fires_at_the_third_requester_within_the_window_once(
    ruled: Running,
) -> None:
    r = ruled
    person = r.residents[0]
    await r.flag(person)
    pk = r.gw.keyring.person_key("atena", person.atena_number)
    watch = Watch(r, "requesters")
    now = r.clock.now().astimezone(JST)
    with r.clock.on_day((now - timedelta(days=31)).date()):  # before the 30 days: not counted
        await _hold(r, "RQ-0", person.subject_code, ORGS[0])
    await _hold(r, "RQ-1", person.subject_code, ORGS[1])
    await _hold(r, "RQ-2", person.subject_code, ORGS[1])  # the same requester again: one
    await _hold(r, "RQ-3", person.subject_code, ORGS[2])
    assert await watch.new() == []  # two requesters within 30 days
    await _hold(r, "RQ-4", person.subject_code, ORGS[3])
    [fired] = await watch.new()
    assert (fired["subject"], fired["requesters"], fired["threshold"]) == (pk, "3", "3")
    await _hold(r, "RQ-5", person.subject_code, ORGS[4])
    assert await watch.new() == []  # once in the window
    # another person is counted on its own
    other = r.residents[1]
    await r.flag(other)
    for i, org in enumerate(ORGS[:3]):
        await _hold(r, f"RQ-O{i}", other.subject_code, org)
    [second] = await watch.new()
    assert second["subject"] == r.gw.keyring.person_key("atena", other.atena_number)


async def test_requester_rate_fires_above_its_usual_and_the_floor(ruled: Running) -> None:
    r = ruled
    flagged = r.residents[2]
    await r.flag(flagged)
    today = r.clock.today()
    busy, new = ORGS[0], ORGS[1]
    n = 0
    for back in range(5, 0, -1):  # a usual day of the busy requester: 4 holds
        with r.clock.on_day(today - timedelta(days=back)):
            for _ in range(4):
                n += 1
                await _hold(r, f"RR-{n}", flagged.subject_code, busy)
    watch = Watch(r, "requester_rate")
    await watch.new()  # (its first days had no usual yet: whatever fired then)
    for i in range(4):  # today, as usual: the floor (3) is passed, its usual (4) is not
        await _hold(r, f"RR-T{i}", flagged.subject_code, busy)
        assert await watch.new() == []
    await _hold(r, "RR-T4", flagged.subject_code, busy)
    [fired] = await watch.new()
    assert (fired["org"], fired["count"], fired["usual"], fired["floor"]) == (
        busy,
        "5",
        "4.00",
        "3",
    )
    await _hold(r, "RR-T5", flagged.subject_code, busy)
    assert await watch.new() == []  # once a day
    # a requester with no history: its usual is 0, the floor decides
    for i in range(2):
        await _hold(r, f"RN-{i}", flagged.subject_code, new)
        assert await watch.new() == []
    await _hold(r, "RN-2", flagged.subject_code, new)
    [fresh] = await watch.new()
    assert (fresh["org"], fresh["count"]) == (new, "3")


async def test_repeated_blocked_portal_views_fire_within_24_hours(ruled: Running) -> None:
    r = ruled
    person = r.residents[3]
    await r.flag(person)
    watch = Watch(r, "portal_views")
    earlier = r.clock.now().astimezone(JST) - timedelta(hours=25)
    with r.clock.on_day(earlier.date(), earlier.hour, earlier.minute):
        await r.post("/soap/portal", portal_xml("GetSelfInformation", person.subject_code))
    for _ in range(2):
        await r.post("/soap/portal", portal_xml("GetSelfInformation", person.subject_code))
    # a view that shows something is no blocked view
    await r.post("/soap/portal", portal_xml("GetSelfInformation", r.residents[4].subject_code))
    assert await watch.new() == []
    await r.post("/soap/portal", portal_xml("GetProvisionRecords", person.subject_code))
    [fired] = await watch.new()
    assert (fired["count"], fired["threshold"]) == ("3", "3")
    await r.post("/soap/portal", portal_xml("GetSelfInformation", person.subject_code))
    assert await watch.new() == []


async def test_probing_fires_at_the_fourth_unknown_subject_from_one_requester(
    ruled: Running,
) -> None:
    r = ruled
    watch = Watch(r, "probing")
    for i in range(3):
        await _hold(r, f"PB-{i}", f"SIMPROBE{i:08d}")
        await _hold(r, f"PB-X{i}", f"SIMOTHER{i:08d}", ORGS[0])  # another requester's own count
    assert await watch.new() == []
    await _hold(r, "PB-3", "SIMPROBE00000003")
    [fired] = await watch.new()
    assert (fired["org"], fired["count"], fired["threshold"]) == (REQUESTER, "4", "4")
    await _hold(r, "PB-4", "SIMPROBE00000004")
    assert await watch.new() == []
    # the security counter and the rules' own counter say so too
    async with r.session.get(r.url + "/metrics") as resp:
        text = await resp.text()
    fired_total = re.search(r'hogo_pattern_rules_fired_total\{rule="probing"\} ([0-9.]+)', text)
    assert fired_total and float(fired_total.group(1)) >= 1
    assert 'hogo_security_events_total{kind="pattern_probing"}' in text
