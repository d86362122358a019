"""Every way the upstream can fail an automatic query abandons it: the requester gets soap:Server /
UPSTREAM_UNAVAILABLE and may send the same processing number again, which then works. Nothing is
left RECEIVED for the sweep to hold as `interrupted`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.settings import Settings
from gateway.simulator import Resident
from tests.conftest import Running, start_running, stop_running
from tests.support import Query
from tests.upstreams import FAILURES, RecordingUpstream


@pytest.fixture
async def failing(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[Running]:
    upstream = RecordingUpstream(residents={r.subject_code: r for r in residents}, hang_seconds=3)
    # a short upstream timeout, so that the hanging upstream is given up on quickly
    r, runners = await start_running(
        replace(settings, upstream_timeout=0.5), redis_url, residents, upstream
    )
    yield r
    await stop_running(r, runners)


@pytest.mark.parametrize("mode", FAILURES)
async def test_an_upstream_failure_abandons_the_query_and_the_retry_works(
    failing: Running, mode: str
) -> None:
    up = failing.upstream
    assert isinstance(up, RecordingUpstream)
    person = failing.residents[3]
    up.mode = mode
    ans = await failing.submit(Query("UF-1", person.subject_code))
    assert (ans.http_status, ans.fault_code, ans.error_code) == (
        500,
        "soap:Server",
        "UPSTREAM_UNAVAILABLE",
    )
    assert len(up.received) == 1
    # abandoned: no query left in flight, none for the sweep to hold, an event saying so
    redis = failing.gw.redis
    assert await redis.client.zcard(redis.keys.inflight) == 0
    assert await failing.gw.queries.sweep_interrupted(2**62) == 0
    assert await failing.gw.queries.list_held() == []
    [event] = await failing.events("query.abandoned")
    assert event["pn"] == "UF-1" and event["reason"] == "upstream_unavailable"
    # not a security event: the requester did nothing wrong
    assert await failing.events("security.") == []
    # the same processing number again, once the upstream answers: a fresh automatic answer
    up.mode = ""
    again = await failing.submit(Query("UF-1", person.subject_code))
    assert again.status == "PROVIDED"
    assert again.fields == [(f.name, f.value) for f in person.fields]
    assert (await failing.result("UF-1")).status == "PROVIDED"
