"""Fixtures: one real redis-server per session (flushed per test), a real upstream and gateway
on loopback per test (each on a port the system gave), and helpers to talk SOAP to them.

Every gateway the fixtures open reads a `ManualClock` (`Running.clock`): the real time until a test
moves it past an expiry (`running.clock.advance(seconds)`) or to another day (`set_day`), instead
of sleeping."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.app import build_app
from gateway.clock import ManualClock
from gateway.context import Gateway, open_gateway
from gateway.demo import flag_resident
from gateway.directory_import import import_pairs
from gateway.listeners import start_listeners
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator, synthetic_residents
from tests.support import (
    AFFAIR,
    OTHER_REQUESTER,
    REQUESTER,
    Answer,
    Query,
    RedisServer,
    get_result_xml,
    parse_answer,
    serve_app,
)

RESIDENTS = 30


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.remove()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.running():
        redis_server.start()
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, for tests that kill, pause or restart it."""
    server = RedisServer(tmp_path / "own-redis").start()
    yield server
    server.remove()


@pytest.fixture
def residents() -> list[Resident]:
    return list(synthetic_residents(RESIDENTS))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # 2 s: generous enough for a loaded CI machine; the hung-store tests are bounded by it anyway.
    # The flag state check's own loop is left out of a test's minute (tests write the store by
    # hand to set up their cases): tests run the check when they mean to (tests/test_flag_verify*).
    return Settings(
        data_dir=tmp_path / "data",
        store_timeout=2.0,
        upstream_timeout=5.0,
        verify_interval_seconds=3600.0,
    )


@dataclass
class Running:
    """A gateway and its simulated upstream, both listening on loopback."""

    url: str
    gw: Gateway
    upstream: Simulator
    upstream_url: str
    session: aiohttp.ClientSession
    residents: list[Resident]
    clock: ManualClock
    listeners: dict[str, str] = field(default_factory=dict)  # name -> URL, as bound

    async def post(self, path: str, body: bytes, **headers: str) -> Answer:
        async with self.session.post(
            self.url + path,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8", **headers},
        ) as resp:
            return parse_answer(resp.status, await resp.read())

    async def submit(self, query: Query) -> Answer:
        return await self.post("/soap/provision", query.xml())

    async def result(self, processing_number: str, requester: str = REQUESTER) -> Answer:
        return await self.post("/soap/provision", get_result_xml(processing_number, requester))

    async def flag(self, resident: Resident, *, ard: bool = True, nd: bool = True) -> None:
        await flag_resident(
            self.gw, resident, actor="test", auto_response_disabled=ard, non_disclosure=nd
        )

    async def events(self, kind_prefix: str = "") -> list[dict[str, object]]:
        """Every event of the log whose kind starts so (all of them: read page by page)."""
        return [
            e.as_json() async for e in self.gw.events.iterate() if e.kind.startswith(kind_prefix)
        ]


async def start_running(
    settings: Settings,
    redis_url: str,
    residents: list[Resident],
    upstream: Simulator | None = None,
    clock: ManualClock | None = None,
) -> tuple[Running, list[web.AppRunner]]:
    upstream = upstream or Simulator(residents={r.subject_code: r for r in residents})
    served = await serve_app(upstream.app())
    upstream_url = served.url + "/provision"
    settings = replace(settings, upstream_url=upstream_url)
    clock = clock or ManualClock()
    gw = await open_gateway(settings, redis_url, clock)
    # Deny by default: the test requesters may ask about the one affair the tests use (every
    # procedure of it); tests/test_rights.py covers what happens outside it.
    for org, name in ((REQUESTER, "見本市 子ども家庭課"), (OTHER_REQUESTER, "例示町 税務課")):
        await gw.requesters.add(org, name, "test")
        await gw.requesters.grant(org, AFFAIR, [], "test")
    pairs = ((r.atena_number, r.subject_code) for r in residents)
    await import_pairs(gw.directory, gw.events, pairs, "test")
    # the listeners as `serve` makes them (TLS and separate listeners if the settings say so),
    # each on the port the system gives it
    settings = replace(settings, host="127.0.0.1", port=0)
    listening = await start_listeners(build_app(settings, redis_url, gateway=gw), settings)
    session = aiohttp.ClientSession()
    running = Running(listening.url, gw, upstream, upstream_url, session, residents, clock)
    running.listeners = {listener.name: listener.url for listener in listening.listeners}
    return running, [listening.runner, served.runner]


@pytest.fixture
async def running(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[Running]:
    r, runners = await start_running(settings, redis_url, residents)
    yield r
    await stop_running(r, runners)


async def stop_running(r: Running, runners: list[web.AppRunner]) -> None:
    """What start_running started, stopped: the client session, the listeners, the gateway."""
    await r.session.close()
    for runner in runners:
        await runner.cleanup()
    await r.gw.close()


@pytest.fixture
async def staff(running: Running) -> AsyncIterator[Any]:
    """A member of staff of each role, logged in to the running gateway's console (one per
    test; tests/staffkit.py)."""
    from tests.staffkit import staff_for  # (staffkit builds on this module's Running)

    async with staff_for(running) as s:
        yield s


@pytest.fixture
def venv_bin() -> Path:
    return Path(os.sys.executable).parent
