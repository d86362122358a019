"""Fail closed: when the flag store is down, hung or erroring, nothing is answered automatically,
and the gateway recovers by itself when the store returns."""

from __future__ import annotations

import asyncio
import time

from gateway.model import SubmitQuery
from tests.conftest import start_running, stop_running
from tests.support import Query, RedisServer


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def test_redis_killed_gives_temporarily_unavailable_then_recovers(
    settings, own_redis: RedisServer, residents
) -> None:
    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        person = residents[10]
        assert (await r.submit(Query("F-1", person.subject_code))).status == "PROVIDED"
        own_redis.kill()
        calls_before = len(r.upstream.calls)
        for i in range(5):
            ans = await r.submit(Query(f"F-2-{i}", person.subject_code))
            assert (ans.http_status, ans.fault_code, ans.error_code) == (
                500,
                "soap:Server",
                "TEMPORARILY_UNAVAILABLE",
            )
        got = await r.result("F-1")
        assert got.error_code == "TEMPORARILY_UNAVAILABLE"
        assert len(r.upstream.calls) == calls_before  # never even asked upstream
        async with r.session.get(r.url + "/readyz") as resp:
            assert resp.status == 503
        own_redis.start()

        async def recovered() -> bool:
            return (
                await r.submit(Query(f"F-3-{time.monotonic_ns()}", person.subject_code))
            ).status == "PROVIDED"

        await _until(recovered)
        assert (await r.result("F-1")).status == "PROVIDED"  # acknowledged state survived
    finally:
        await stop_running(r, runners)


async def test_redis_hung_gives_temporarily_unavailable_within_the_timeout_then_recovers(
    settings, own_redis: RedisServer, residents
) -> None:
    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        person = residents[11]
        own_redis.pause()  # SIGSTOP: connections open, nothing answers
        started = time.monotonic()
        answers = await asyncio.gather(
            *(r.submit(Query(f"H-{i}", person.subject_code)) for i in range(10))
        )
        elapsed = time.monotonic() - started
        assert {a.error_code for a in answers} == {"TEMPORARILY_UNAVAILABLE"}
        assert {a.fault_code for a in answers} == {"soap:Server"}
        assert elapsed < 10  # bounded by the store timeout, not hanging
        assert r.upstream.calls == []
        own_redis.resume()

        async def recovered() -> bool:
            return (
                await r.submit(Query(f"H-ok-{time.monotonic_ns()}", person.subject_code))
            ).status == "PROVIDED"

        await _until(recovered)
    finally:
        own_redis.resume()
        await stop_running(r, runners)


async def test_redis_lost_while_upstream_answers_never_relays(
    settings, own_redis: RedisServer, residents
) -> None:
    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        r.upstream.gate = answering = asyncio.Event()
        person = residents[12]
        task = asyncio.create_task(r.submit(Query("L-1", person.subject_code)))
        while not r.upstream.calls:
            await asyncio.sleep(0.01)
        own_redis.kill()
        answering.set()
        ans = await task
        assert ans.error_code == "TEMPORARILY_UNAVAILABLE" and ans.status is None
        assert all(f.value.encode() not in ans.raw for f in person.fields)
        own_redis.start()
        # the half-done query is still there, received, and never answered automatically later
        await _until(lambda: _state_is(r, "L-1", ("received", "held")))
    finally:
        await stop_running(r, runners)


async def _state_is(r, pn: str, states: tuple[str, ...]) -> bool:
    try:
        qid = await r.gw.redis.client.get(r.gw.redis.keys.idempotency("1310000000000001", pn))
        return (
            qid is not None
            and await r.gw.redis.client.hget(r.gw.redis.keys.query(qid), "state") in states
        )
    except Exception:
        return False


async def test_redis_erroring_gives_temporarily_unavailable(
    settings, own_redis: RedisServer, residents
) -> None:
    """A store that answers with errors (here: out of memory for writes) is treated as down."""
    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        client = own_redis.client()
        client.config_set("maxmemory", "1")
        client.config_set("maxmemory-policy", "noeviction")
        ans = await r.submit(Query("OOM-1", residents[13].subject_code))
        assert ans.error_code == "TEMPORARILY_UNAVAILABLE"
        assert r.upstream.calls == []
        client.config_set("maxmemory", "0")
        assert (await r.submit(Query("OOM-2", residents[13].subject_code))).status == "PROVIDED"
    finally:
        await stop_running(r, runners)


async def test_interrupted_query_is_swept_into_the_queue(settings, redis_url, residents) -> None:
    from gateway.app import sweep_interrupted

    r, runners = await start_running(settings, redis_url, residents)
    try:
        person = residents[14]
        # a query admitted by a process that then died: RECEIVED, never completed
        adm = await r.gw.queries.admit(
            SubmitQuery(
                "I-1",
                "1310000000000001",
                "JM00000000000001",
                "JT00000000000001",
                "TM00000000000001",
                person.subject_code,
                "2026-11-26T10:00:00+09:00",
            ),
            r.gw.keyring.person_keys("subject", person.subject_code),
        )
        assert adm.query_id
        assert (await r.result("I-1")).status == "PENDING"

        async def swept() -> bool:
            held = await r.gw.queries.list_held(only_waiting=True)
            return any(h.processing_number == "I-1" and h.reason == "interrupted" for h in held)

        r.clock.advance(settings.interrupted_after_seconds - 5)
        assert await sweep_interrupted(r.gw) == 0  # it may still be on its way
        assert not await swept()
        r.clock.advance(6)
        await sweep_interrupted(r.gw)  # (as the gateway's own sweeper does, every 15 s)
        assert await swept()
        assert (await r.result("I-1")).status == "PENDING"
        assert r.upstream.calls == []
    finally:
        await stop_running(r, runners)
