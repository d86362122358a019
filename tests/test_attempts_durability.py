"""Nothing acknowledged is lost between a stop and the departments it is told to: the inbox entry
is written in the stop's own step, kept over a kill -9 of the store, and folded exactly once
however many processes fold at the same time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator
from gateway.soap.messages import read_submit_query
from gateway.soap.parse import body_element, parse_xml
from tests.flag_support import by_tax_department, flag
from tests.support import AFFAIR, REQUESTER, Query, RedisServer, serve_app

KODOMO, ZEIMU = "子ども家庭課", "税務課"


@pytest.fixture
async def quiet(
    settings: Settings, own_redis: RedisServer, residents: list[Resident]
) -> AsyncIterator[Gateway]:
    """A gateway's services on a store of their own, with no background fold."""
    upstream = await serve_app(Simulator(residents={r.subject_code: r for r in residents}).app())
    gw = await open_gateway(replace(settings, upstream_url=f"{upstream.url}/"), own_redis.url)
    await import_pairs(
        gw.directory, gw.events, ((r.atena_number, r.subject_code) for r in residents), "t"
    )
    await gw.requesters.add(REQUESTER, "見本市", "test")
    await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    yield gw
    await gw.close()
    await upstream.cleanup()


async def _held(gw: Gateway, pn: str, subject: str) -> None:
    q = read_submit_query(body_element(parse_xml(Query(pn, subject).xml())))
    assert gw.provision is not None
    assert (await gw.provision.submit(q)).status == "PENDING"


async def _restart(gw: Gateway, server: RedisServer) -> None:
    """kill -9 of the store and a start; the client drops its connections to the old one (each
    would otherwise fail once, as any first call after a restart does)."""
    server.kill()
    server.start()
    await gw.redis.client.connection_pool.disconnect()


async def _kinds(gw: Gateway, department: str) -> list[str]:
    page = await gw.notices.store.page(department, limit=1000)
    return [a.kind for a in page.items]


async def test_a_held_query_is_told_after_a_kill_9_of_the_store(
    quiet: Gateway, own_redis: RedisServer, residents: list[Resident]
) -> None:
    gw = quiet
    await flag(gw, residents[0])
    await _held(gw, "K-1", residents[0].subject_code)  # acknowledged: PENDING
    await _restart(gw, own_redis)  # before anything folded it
    assert await gw.notices.store.waiting() == 1
    assert await gw.notices.catch_up() == 1
    assert await _kinds(gw, KODOMO) == ["query_held"]
    [attempt] = (await gw.notices.store.page(KODOMO)).items
    await gw.notices.store.acknowledge(attempt.id, KODOMO, "told", "", "staff:x")
    await _restart(gw, own_redis)  # folded and acknowledged: neither undone, nor folded again
    assert await gw.notices.catch_up() == 0
    [again] = (await gw.notices.store.page(KODOMO)).items
    assert (again.id, again.state) == (attempt.id, "acknowledged")
    assert await gw.notices.store.open_count(KODOMO) == 0


async def test_processes_folding_at_once_fold_each_stop_once(
    quiet: Gateway, settings: Settings, own_redis: RedisServer, residents: list[Resident]
) -> None:
    gw = quiet
    others = [await open_gateway(gw.settings, own_redis.url) for _ in range(2)]
    try:
        await flag(gw, residents[0])
        await by_tax_department(gw, residents[0])
        await flag(gw, residents[1])
        n = 120
        await asyncio.gather(
            *(_held(gw, f"P-{i}", residents[i % 2].subject_code) for i in range(n))
        )
        folded = await asyncio.gather(*(g.notices.catch_up() for g in (gw, *others)))
        assert sum(folded) == n  # each entry folded by one of them
        assert Counter(await _kinds(gw, KODOMO)) == {"query_held": n}
        assert Counter(await _kinds(gw, ZEIMU)) == {"query_held": n // 2}
        assert await gw.notices.store.waiting() == 0
    finally:
        for g in others:
            await g.close()
