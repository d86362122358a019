"""Acknowledged writes are on a replica before they are acknowledged (WAIT), and when no replica
confirms them in time the gateway fails closed: TEMPORARILY_UNAVAILABLE, never an answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway import metrics
from gateway.context import open_gateway
from gateway.directory_import import import_pairs
from gateway.model import SubmitQuery
from gateway.store.redis import StoreUnavailable
from tests.conftest import Running, start_running, stop_running
from tests.support import AFFAIR, REQUESTER, Query, RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """The master, on a TCP port: a replica reaches its master by host and port."""
    server = RedisServer(tmp_path / "own-redis", tcp=True).start()
    yield server
    server.remove()


@pytest.fixture
def replica(own_redis: RedisServer, tmp_path: Path) -> Iterator[RedisServer]:
    """A replica of `own_redis`, linked and in sync."""
    server = RedisServer(tmp_path / "replica", replica_of=own_redis).start()
    yield server
    server.remove()


def _wait_short() -> float:
    return metrics.REGISTRY.get_sample_value("hogo_store_wait_short_total") or 0.0


async def _up(settings, url: str, residents) -> tuple[Running, list]:
    return await start_running(replace(settings, wait_replicas=1, wait_timeout=1.0), url, residents)


async def _down(r: Running, runners: list) -> None:
    await stop_running(r, runners)


async def test_acknowledged_writes_are_on_the_replica_when_acknowledged(
    settings, own_redis: RedisServer, replica: RedisServer, residents
) -> None:
    r, runners = await _up(settings, own_redis.url, residents)
    try:
        on_replica = replica.client()
        keys = r.gw.redis.keys
        await r.flag(residents[0])
        # the flag change is readable on the replica the moment it was acknowledged
        pk = r.gw.keyring.person_key("atena", residents[0].atena_number)
        assert on_replica.hget(keys.flag(pk), "ard") == "1"
        held = await r.submit(Query("W-1", residents[0].subject_code))
        assert held.status == "PENDING"
        qid = on_replica.get(keys.idempotency(REQUESTER, "W-1"))
        assert on_replica.hget(keys.query(qid), "state") == "held"
        provided = await r.submit(Query("W-2", residents[5].subject_code))
        assert provided.status == "PROVIDED"
        subject_key = r.gw.keyring.person_key("subject", residents[5].subject_code)
        records = [json.loads(x) for x in on_replica.lrange(keys.records(subject_key), 0, -1)]
        assert [rec["pn"] for rec in records] == ["W-2"]
        [h] = await r.gw.queries.list_held(only_waiting=True)
        refused = await r.gw.queue.refuse(h.id, "理由", "test")
        assert on_replica.hget(keys.query(refused.id), "state") == "refused"
    finally:
        await _down(r, runners)


async def test_no_replica_in_time_is_temporarily_unavailable_and_never_an_answer(
    settings, own_redis: RedisServer, replica: RedisServer, residents
) -> None:
    r, runners = await _up(settings, own_redis.url, residents)
    try:
        flagged, clear = residents[1], residents[6]
        await r.flag(flagged)
        short_before = _wait_short()
        replica.pause()  # SIGSTOP: linked, but it confirms nothing
        started = time.monotonic()
        held = await r.submit(Query("N-1", flagged.subject_code))
        auto = await r.submit(Query("N-2", clear.subject_code))
        for ans in (held, auto):
            assert (ans.http_status, ans.fault_code, ans.error_code) == (
                500,
                "soap:Server",
                "TEMPORARILY_UNAVAILABLE",
            )
            assert ans.status is None
        assert all(f.value.encode() not in auto.raw for f in clear.fields)
        assert time.monotonic() - started < 5  # bounded by the wait timeout, not hanging
        with pytest.raises(StoreUnavailable, match="replicas"):
            await r.flag(residents[2])
        assert _wait_short() >= short_before + 3
        # What did happen on the master stays there, unacknowledged: the hold, the automatic
        # answer with its provision record, the flag. Nobody was told; once a replica confirms
        # again, the requester's retry of the same processing number finds them.
        replica.resume()

        async def retried(pn: str, subject: str) -> str | None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                ans = await r.submit(Query(pn, subject))
                if ans.status:
                    return ans.status
                await asyncio.sleep(0.1)
            return None

        assert await retried("N-1", flagged.subject_code) == "PENDING"
        assert await retried("N-2", clear.subject_code) == "PROVIDED"
        assert len([c for c in r.upstream.calls if c[1] == clear.subject_code]) == 1
        record = await r.gw.flags.get(residents[2].atena_number)
        assert record is not None and record.state.auto_response_disabled
    finally:
        replica.resume()
        await _down(r, runners)


async def test_a_single_server_waits_for_no_replica(settings, redis_url, residents) -> None:
    """Without replicas (the embedded store, a plain --redis-url) nothing is waited for."""
    r, runners = await start_running(settings, redis_url, residents)
    try:
        assert r.gw.redis.replicas == 0
        assert (await r.submit(Query("S-1", residents[7].subject_code))).status == "PROVIDED"
    finally:
        await _down(r, runners)


async def test_one_wait_covers_a_batch_and_fails_only_its_acknowledged_calls(
    settings, own_redis: RedisServer, replica: RedisServer, residents
) -> None:
    """Concurrent script calls go out as one pipeline with one WAIT at its end (ScriptBatches):
    confirmed, every acknowledged write in it is on the replica; unconfirmed, each acknowledged
    call fails and each call nobody is told about still gets its reply."""
    # the store alone, without the app's background duties: every WAIT counted here is ours
    gw = await open_gateway(replace(settings, wait_replicas=1, wait_timeout=1.0), own_redis.url)
    person = residents[9]
    await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "test")
    await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    await import_pairs(
        gw.directory, gw.events, [(person.atena_number, person.subject_code)], "test"
    )
    store, keys = gw.queries, gw.redis.keys
    person_keys = gw.keyring.person_keys("subject", person.subject_code)
    on_master, on_replica = own_redis.client(), replica.client()

    def query(pn: str) -> SubmitQuery:
        return SubmitQuery(
            pn, REQUESTER, AFFAIR, "JT00000000000001", "TM00000000000001",
            person.subject_code, "2026-11-26T10:00:00+09:00",
        )  # fmt: skip

    def waits() -> int:
        return int(on_master.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))

    try:
        ids = [(await store.admit(query(f"O-{i}"), person_keys)).query_id for i in range(8)]
        assert all(ids)
        # confirmed: four holds (acknowledged) and four admissions (not) in one batch, one WAIT
        sent, waited = gw.redis.batches.sent, waits()
        await asyncio.gather(
            *(store.hold(qid, "test") for qid in ids[:4]),
            *(store.admit(query(f"O-more-{i}"), person_keys) for i in range(4)),
        )
        assert (gw.redis.batches.sent, waits()) == (sent + 1, waited + 1)
        for qid in ids[:4]:
            assert on_replica.hget(keys.query(qid), "state") == "held"
        # unconfirmed: the acknowledged calls fail, the others get their replies
        short_before = _wait_short()
        replica.pause()
        outcomes = await asyncio.gather(
            *(store.hold(qid, "test") for qid in ids[4:]),
            *(store.admit(query(f"O-late-{i}"), person_keys) for i in range(4)),
            return_exceptions=True,
        )
        for held in outcomes[:4]:
            assert isinstance(held, StoreUnavailable) and "replicas" in str(held)
        for i, admission in enumerate(outcomes[4:]):
            assert admission.query_id is not None, admission
            assert on_master.hget(keys.query(admission.query_id), "pn") == f"O-late-{i}"
        assert _wait_short() == short_before + 4
    finally:
        replica.resume()
        await gw.close()
