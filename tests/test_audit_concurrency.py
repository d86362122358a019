"""One chain however many processes seal: sealers taking turns, a sealer paused past its lease,
gateway processes killed with -9 while sealing, and Redis killed and restarted under load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from gateway.audit.sealer import Sealer, sign_batch
from gateway.settings import Settings
from gateway.simulator import Simulator, synthetic_residents
from gateway.store.trail import HeadMoved, LeaseLost
from tests.audit_support import (
    block_sizes,
    make_events,
    open_fresh,
    seal_all,
    trail_lines,
    verify,
)
from tests.conftest import start_running
from tests.support import (
    GatewayProcess,
    Query,
    RedisServer,
    cli_runner,
    parse_answer,
    prepare_by_cli,
    serve_app,
)


async def test_sealers_taking_turns_under_load_produce_one_gap_free_chain(
    settings: Settings, redis_url: str
) -> None:
    settings = replace(settings, audit_block_events=7)
    gws = [await open_fresh(settings, redis_url) for _ in range(3)]
    writers_done = asyncio.Event()
    sealed_by: dict[int, int] = {0: 0, 1: 0, 2: 0}

    async def take_turns(k: int) -> None:
        sealer = Sealer(gws[k].trail, gws[k].keyring, gws[k].settings)
        while not writers_done.is_set() or (await gws[k].trail.status()).unsealed:
            sealed_by[k] += await sealer.seal_once()
            await sealer.lease.drop()  # hand the role over after every batch
            await asyncio.sleep(0.001 * k)

    async def write(k: int) -> None:
        for i in range(150):
            await gws[k % 3].events.append("test.load", f"writer-{k}", n=f"{k}-{i}")

    try:
        sealers = [asyncio.create_task(take_turns(k)) for k in range(3)]
        await asyncio.gather(*(write(k) for k in range(4)))
        writers_done.set()
        await asyncio.wait_for(asyncio.gather(*sealers), 60)
        assert sum(1 for n in sealed_by.values() if n) >= 2, sealed_by
        lines = await trail_lines(gws[0])
        events = [json.loads(line) for line in lines]
        assert [e["seq"] for e in events] == list(range(1, 601))
        assert max(block_sizes(lines)) <= 7  # each sealing step one whole, signed block
        assert sorted(e["fields"]["n"] for e in events) == sorted(
            f"{k}-{i}" for k in range(4) for i in range(150)
        )
        report = await verify(gws[0])
        assert report.ok and report.events == 600, report.text()
    finally:
        for gw in gws:
            await gw.close()


async def test_a_sealer_paused_past_its_lease_writes_nothing(
    settings: Settings, redis_url: str
) -> None:
    settings = replace(settings, audit_lease_seconds=0.3)
    a_gw = await open_fresh(settings, redis_url)
    b_gw = await open_fresh(settings, redis_url)
    try:
        await make_events(a_gw, 10)
        a = Sealer(a_gw.trail, a_gw.keyring, settings)
        assert await a.lease.hold()
        head = await a_gw.trail.head()
        batch = await sign_batch(head, await a_gw.trail.unsealed(100), a_gw.keyring.signing_key)
        await asyncio.sleep(0.5)  # A stalls (GC, SIGSTOP, a slow disk) with a signed batch
        await seal_all(b_gw)  # B takes the lapsed lease and seals the same events
        with pytest.raises(LeaseLost):
            await a_gw.trail.seal(a.lease.value, head, 1, batch)
        # even with a fresh lease, a batch built on an old head is refused
        a.lease.lost()
        await asyncio.sleep(0.4)
        assert await a.lease.hold()
        with pytest.raises(HeadMoved):
            await a_gw.trail.seal(a.lease.value, head, 1, batch)
        report = await verify(a_gw)
        assert report.ok and report.events == 10, report.text()
    finally:
        await a_gw.close()
        await b_gw.close()


async def _submit(session: aiohttp.ClientSession, url: str, q: Query) -> str | None:
    try:
        async with session.post(url + "/soap/provision", data=q.xml()) as resp:
            return parse_answer(resp.status, await resp.read()).status
    except (TimeoutError, aiohttp.ClientError):
        return None


async def _wait_sealed(client: aioredis.Redis, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while await client.xlen("{hogo}:events"):
        assert time.monotonic() < deadline, "events left unsealed"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_gateway_processes_killed_while_sealing_leave_one_whole_chain(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    residents = list(synthetic_residents(20))
    sim = Simulator(residents={r.subject_code: r for r in residents}, record_calls=False)
    up = await serve_app(sim.app())
    upstream = up.url + "/"
    data = tmp_path / "data"
    hogo = cli_runner(data, own_redis.url)
    prepare_by_cli(hogo, tmp_path, residents)
    env = {
        "HOGO_AUDIT_LEASE_SECONDS": "1",
        "HOGO_AUDIT_BLOCK_EVENTS": "8",
        "HOGO_AUDIT_ARCHIVE": "0",
    }
    procs = [GatewayProcess(data, own_redis.url, upstream, **env) for _ in range(2)]
    client = own_redis.client()
    provided: list[str] = []
    stop = asyncio.Event()
    counter = iter(range(10**6))

    async def load(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            n = next(counter)
            pn = f"KILL-{n}"
            status = await _submit(
                session, procs[n % len(procs)].url, Query(pn, residents[n % 20].subject_code)
            )
            if status == "PROVIDED":
                provided.append(pn)

    try:
        for p in procs:
            await p.wait_ready()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            workers = [asyncio.create_task(load(session)) for _ in range(8)]
            for _ in range(3):
                await asyncio.sleep(1.5)
                holder = await asyncio.to_thread(client.get, "{hogo}:audit:lease:sealer")
                assert holder, "no process holds the sealer lease"
                pid = int(holder.split(":")[2])
                [victim] = [p for p in procs if p.proc.pid == pid]
                victim.kill9()  # mid-batch or between batches: the sealing step is atomic
                procs[procs.index(victim)] = fresh = GatewayProcess(
                    data, own_redis.url, upstream, **env
                )
                await fresh.wait_ready()
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*workers)
        watcher = own_redis.async_client()
        await asyncio.wait_for(_wait_sealed(watcher), 60)
        await watcher.aclose()
        res = await asyncio.to_thread(hogo, "audit", "verify", "--json")
        report = json.loads(res.stdout)
        assert res.returncode == 0 and report["ok"], res.stdout + res.stderr
        assert report["events"] == int(client.hget("{hogo}:audit:head", "seq"))
        lines = [f["e"] for _, f in client.xrange("{hogo}:trail", "-", "+")]
        # whoever held the lease next sealed what the killed holder left, in whole blocks: no
        # block was left half written or without its signature
        assert max(block_sizes(lines)) <= 8
        sealed_pns = [
            json.loads(line)["fields"].get("pn")
            for line in lines
            if json.loads(line)["kind"] == "query.provided"
        ]
        assert len(provided) > 50
        assert set(provided) <= set(sealed_pns)  # every acknowledged answer is in the trail
        assert len(sealed_pns) == len(set(sealed_pns))  # and none twice
    finally:
        for p in procs:
            p.kill9()
        await up.cleanup()


@pytest.mark.slow
async def test_events_appended_around_a_redis_crash_are_all_sealed(
    settings: Settings, own_redis: RedisServer
) -> None:
    residents = list(synthetic_residents(20))
    settings = replace(settings, audit_lease_seconds=1.0, store_timeout=0.5)
    r, runners = await start_running(settings, own_redis.url, residents)
    provided: list[str] = []
    stop = asyncio.Event()
    counter = iter(range(10**6))

    async def load() -> None:
        while not stop.is_set():
            n = next(counter)
            status = await _submit(
                r.session, r.url, Query(f"RC-{n}", residents[n % 20].subject_code)
            )
            if status == "PROVIDED":
                provided.append(f"RC-{n}")
            else:
                await asyncio.sleep(0.01)  # a fault while Redis is down

    try:
        workers = [asyncio.create_task(load()) for _ in range(6)]
        await asyncio.sleep(1.0)
        own_redis.kill()  # kill -9: only what appendfsync already wrote survives
        while_down = await r.post("/soap/provision", b"<not xml")
        assert while_down.error_code == "MALFORMED_XML"
        await asyncio.sleep(1.0)
        own_redis.start()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)
        client = own_redis.async_client()
        deadline = time.monotonic() + 30
        while await client.xlen("{hogo}:events") or (
            (settings.audit_dir / "spool").exists()
            and any((settings.audit_dir / "spool").iterdir())
        ):
            assert time.monotonic() < deadline, "events left unsealed or spooled"
            await asyncio.sleep(0.2)
        await client.aclose()
        report = await verify(r.gw)
        assert report.ok, report.text()
        lines = await trail_lines(r.gw)
        assert max(block_sizes(lines)) <= settings.audit_block_events
        events = [json.loads(line) for line in lines]
        sealed_pns = [e["fields"]["pn"] for e in events if e["kind"] == "query.provided"]
        assert len(provided) > 20
        assert set(provided) <= set(sealed_pns) and len(sealed_pns) == len(set(sealed_pns))
        spooled = [
            e
            for e in events
            if e["kind"] == "security.hostile_input"
            and e["fields"].get("error_code") == "MALFORMED_XML"
        ]
        assert len(spooled) == 1 and spooled[0]["fields"]["via"] == "spool"
    finally:
        stop.set()
        await r.session.close()
        for runner in runners:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        await r.gw.close()
