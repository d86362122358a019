"""Script calls of concurrent callers go to Redis as one pipeline (store/batches.py ScriptBatches),
and each caller still gets exactly its own reply or its own error: per-call errors stay per call,
a script the store lost is loaded again, a batch is bounded, and a batch that does not return in
time fails every caller in it and leaves nothing behind for the next batch to misread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.model import SubmitQuery
from gateway.store import batches as store_batches
from gateway.store.queries import Admission, QueryStore
from gateway.store.redis import Redis, StoreUnavailable, connect
from tests.conftest import Running, start_running, stop_running
from tests.support import AFFAIR, REQUESTER, RedisServer


def _query(pn: str, subject_code: str) -> SubmitQuery:
    return SubmitQuery(
        processing_number=pn,
        requester_org_code=REQUESTER,
        affair_code=AFFAIR,
        procedure_code="JT00000000000001",
        item_code="TM00000000000001",
        subject_code=subject_code,
        requested_at="2026-11-26T10:00:00+09:00",
    )


def _own_store(r: Running, url: str) -> QueryStore:
    """A store client of its own (the gateway's background duties use the gateway's), so that
    every batch it sends is one of the test's."""
    settings = r.gw.settings
    return QueryStore(Redis(connect(url, settings), settings), r.gw.keyring)


@pytest.fixture
async def store(running: Running, redis_url: str) -> AsyncIterator[QueryStore]:
    store = _own_store(running, redis_url)
    await _admit(store, "warm-up", running.residents[0].subject_code)  # past the keyring gate
    yield store
    await store.r.close()


async def _admit(store: QueryStore, pn: str, subject_code: str) -> Admission:
    return await store.admit(
        _query(pn, subject_code), store.keyring.person_keys("subject", subject_code)
    )


async def _pn_of(store: QueryStore, query_id: str | None) -> str | None:
    assert query_id is not None
    return await store.r.client.hget(store.k.query(query_id), "pn")


async def test_concurrent_scripts_go_out_as_one_batch_each_with_its_own_reply(
    running: Running, store: QueryStore, residents
) -> None:
    flagged = residents[:5]
    for person in flagged:
        await running.flag(person)
    batches = store.r.batches
    sent_before = batches.sent
    people = [residents[i % len(residents)] for i in range(40)]
    broken = store.r.script("hold", [], [])  # no key: this script fails inside Redis
    *admissions, failure = await asyncio.gather(
        *(_admit(store, f"B-{i}", p.subject_code) for i, p in enumerate(people)),
        broken,
        return_exceptions=True,
    )
    assert batches.sent == sent_before + 1  # one pipeline for all 41 calls
    assert isinstance(failure, StoreUnavailable)  # its own error, and only its own
    ids = set()
    for i, (person, admission) in enumerate(zip(people, admissions, strict=True)):
        assert isinstance(admission, Admission), admission
        assert admission.facts.flags is not None
        assert admission.facts.flags.auto_response_disabled == (person in flagged)
        # the reply is this caller's: the query it names was reserved for its processing number
        assert await _pn_of(store, admission.query_id) == f"B-{i}"
        idem = store.k.idempotency(REQUESTER, f"B-{i}")
        assert await store.r.client.get(idem) == admission.query_id
        ids.add(admission.query_id)
    assert len(ids) == 40


async def test_a_call_redis_cannot_take_fails_alone(store: QueryStore, residents) -> None:
    """An argument the protocol has no form for (None) is refused before the call joins a batch,
    as redis-py refuses it: the others in the same loop turn are not affected."""
    bad = store.r.script("hold", [store.k.query("x")], ["x", None])
    admissions = await asyncio.gather(
        bad, *(_admit(store, f"D-{i}", residents[i].subject_code) for i in range(5)),
        return_exceptions=True,
    )  # fmt: skip
    assert isinstance(admissions[0], StoreUnavailable)
    for i, admission in enumerate(admissions[1:]):
        assert isinstance(admission, Admission)
        assert await _pn_of(store, admission.query_id) == f"D-{i}"
    assert not await store.r.client.exists(store.k.query("x"))


async def test_a_batch_holds_at_most_max_batch_calls(store: QueryStore, residents) -> None:
    batches = store.r.batches
    sent_before, calls_before = batches.sent, batches.sent_calls
    n = 2 * store_batches.MAX_BATCH + 5
    admissions = await asyncio.gather(
        *(_admit(store, f"M-{i}", residents[i % len(residents)].subject_code) for i in range(n))
    )
    assert batches.sent_calls - calls_before == n
    assert batches.sent - sent_before == 3  # MAX_BATCH, MAX_BATCH, 5
    for i, admission in enumerate(admissions):
        assert await _pn_of(store, admission.query_id) == f"M-{i}"


async def test_scripts_the_store_lost_are_loaded_again_and_run_once(
    store: QueryStore, residents
) -> None:
    person = residents[3]
    inflight_before = await store.r.client.zcard(store.k.inflight)
    await store.r.client.script_flush()  # as after a restart, or a failover to a fresh master
    admissions = await asyncio.gather(
        *(_admit(store, f"L-{i}", person.subject_code) for i in range(8))
    )
    for i, admission in enumerate(admissions):
        assert await _pn_of(store, admission.query_id) == f"L-{i}"
    # each ran exactly once: eight more reservations, no more
    assert await store.r.client.zcard(store.k.inflight) == inflight_before + 8


async def test_a_batch_that_times_out_fails_every_caller_and_the_next_batch_reads_right(
    settings, own_redis: RedisServer, residents
) -> None:
    r, runners = await start_running(replace(settings, store_timeout=0.5), own_redis.url, residents)
    store = _own_store(r, own_redis.url)
    try:
        person = residents[4]
        await _admit(store, "T-warm", person.subject_code)
        own_redis.pause()  # SIGSTOP: the batch is sent, nothing answers
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(_admit(store, f"T-{i}", person.subject_code) for i in range(10)),
            return_exceptions=True,
        )
        assert time.monotonic() - started < 5
        assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
        # a call made while the stuck batch is on its way fails on its own deadline too
        with pytest.raises(StoreUnavailable):
            await _admit(store, "T-late", person.subject_code)
        own_redis.resume()
        # The stuck batch may still run now (which is why its callers were told nothing but
        # StoreUnavailable); its replies must never reach the callers of a later batch.

        async def admitted_right() -> bool:
            tag = time.monotonic_ns()
            try:
                got = await asyncio.gather(
                    *(_admit(store, f"T-after-{tag}-{i}", person.subject_code) for i in range(10))
                )
            except StoreUnavailable:
                return False
            for i, admission in enumerate(got):
                assert await _pn_of(store, admission.query_id) == f"T-after-{tag}-{i}"
            return True

        deadline = time.monotonic() + 15
        while not await admitted_right():
            assert time.monotonic() < deadline, "the store did not come back"
            await asyncio.sleep(0.1)
    finally:
        own_redis.resume()
        await store.r.close()
        await stop_running(r, runners)
