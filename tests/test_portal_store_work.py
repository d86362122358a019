"""The portal's views do the same store work for a flagged, an unflagged and an unknown person:
the same commands, in number and kind (counted by Redis itself, INFO commandstats), so that
neither the answer nor what it cost tells whether someone is protected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import redis

from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.model import PortalRequest
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator
from gateway.soap.messages import read_submit_query
from gateway.soap.parse import body_element, parse_xml
from tests.flag_support import flag
from tests.support import AFFAIR, REQUESTER, Query, RedisServer, serve_app


@pytest.fixture
async def quiet(
    settings: Settings, own_redis: RedisServer, residents: list[Resident]
) -> AsyncIterator[Gateway]:
    """A gateway's services on a store of their own, with no HTTP application (and so none of its
    background duties: the sweeper, the sealer) adding commands of their own."""
    upstream = await serve_app(Simulator(residents={r.subject_code: r for r in residents}).app())
    gw = await open_gateway(replace(settings, upstream_url=upstream.url + "/"), own_redis.url)
    pairs = ((r.atena_number, r.subject_code) for r in residents)
    await import_pairs(gw.directory, gw.events, pairs, "test")
    yield gw
    await gw.close()
    await upstream.cleanup()


def _commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def _work(client: redis.Redis, view) -> dict[str, int]:
    """The commands Redis ran for one view (the INFO that reads them not counted)."""
    before = _commands(client)
    await view()
    after = _commands(client)
    delta = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    delta["info"] -= 1
    return {k: n for k, n in delta.items() if n}


async def _provided(gw: Gateway, resident: Resident, pn: str) -> None:
    """A provision record for `resident`, made the way the gateway makes one."""
    await gw.requesters.add(REQUESTER, "見本市", "test")
    await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    q = read_submit_query(body_element(parse_xml(Query(pn, resident.subject_code).xml())))
    assert gw.provision is not None
    assert (await gw.provision.submit(q)).status == "PROVIDED"


@pytest.mark.parametrize("operation", ["GetSelfInformation", "GetProvisionRecords"])
async def test_a_view_costs_the_store_the_same_whoever_the_person_is(
    quiet: Gateway, own_redis: RedisServer, residents: list[Resident], operation: str
) -> None:
    gw = quiet
    blocked, clear, no_records = residents[0], residents[1], residents[2]
    # records for two of them, then the flag (non-disclosure hides what they have)
    await _provided(gw, blocked, "W-1")
    await _provided(gw, clear, "W-2")
    await flag(gw, blocked)
    assert gw.portal is not None
    portal = gw.portal

    def view(subject: str):
        request = PortalRequest(subject)
        if operation == "GetSelfInformation":
            return lambda: portal.self_information(request)
        return lambda: portal.provision_records(request)

    subjects = {
        "flagged": blocked.subject_code,
        "unflagged": clear.subject_code,
        "unflagged, nothing recorded": no_records.subject_code,
        "unknown": "NOTINDIRECTORY42",
    }
    for subject in subjects.values():  # scripts loaded, connections made
        await view(subject)()
    counter = own_redis.client()  # one connection of its own, made before counting
    work = {who: await _work(counter, view(s)) for who, s in subjects.items()}
    again = {who: await _work(counter, view(s)) for who, s in reversed(subjects.items())}
    assert work == again, (work, again)
    first = work["flagged"]
    assert all(w == first for w in work.values()), work
    # and it is one script, which reads and records the view
    reads = (
        {"get", "hmget", "hget"}
        if operation == "GetSelfInformation"
        else {"get", "hmget", "lrange"}
    )
    # (hvals: whether the subject, and the person, are under review, gateway/store/quarantine.py;
    # hgetall: which holding departments hold a flag on the person, and the second xadd the view's
    # entry in the inbox of attempts, gateway/notices.py: for every view, blocked or not)
    assert first == {
        "evalsha": 1,
        "xadd": 2,
        "hvals": 2,
        "hgetall": 1,
        **dict.fromkeys(reads, 1),
    }, first


async def test_every_view_is_recorded_with_its_outcome(
    quiet: Gateway, residents: list[Resident]
) -> None:
    gw = quiet
    assert gw.portal is not None
    await flag(gw, residents[0])
    for subject in (residents[0].subject_code, residents[1].subject_code, "NOTINDIRECTORY42"):
        await gw.portal.self_information(PortalRequest(subject))
        await gw.portal.provision_records(PortalRequest(subject))
    events = [e for e in await gw.events.read() if e.fields.get("operation")]
    got = [(e.kind, e.fields["operation"], e.fields["outcome"]) for e in events]
    assert got == [
        ("security.portal_blocked", "GetSelfInformation", "blocked"),
        ("security.portal_filtered", "GetProvisionRecords", "filtered"),
        ("portal.view", "GetSelfInformation", "shown"),
        ("portal.view", "GetProvisionRecords", "shown"),
        ("portal.view", "GetSelfInformation", "unknown_subject"),
        ("portal.view", "GetProvisionRecords", "unknown_subject"),
    ]
    # the same fields whatever the outcome, persons as keys only
    assert len({tuple(sorted(e.fields)) for e in events}) == 1
    for e in events:
        assert "SIM" not in str(e.as_json()) and "NOTINDIRECTORY" not in str(e.as_json())
