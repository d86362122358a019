"""Nothing acknowledged is lost: held queries and flag changes survive a kill -9 of the gateway
and a restart of Redis (including a kill -9 of Redis: the store fsyncs every write)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiohttp

from gateway.simulator import Simulator, synthetic_residents
from tests.support import (
    REQUESTER,
    GatewayProcess,
    Query,
    RedisServer,
    cli_runner,
    parse_answer,
    prepare_by_cli,
    serve_app,
)


async def _submit(url: str, q: Query):
    async with aiohttp.ClientSession() as s, s.post(url + "/soap/provision", data=q.xml()) as resp:
        return parse_answer(resp.status, await resp.read())


async def test_kill9_of_gateway_and_restart_of_redis_lose_no_held_query(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    residents = list(synthetic_residents(20))
    sim = Simulator(residents={r.subject_code: r for r in residents}, delay=0.0)
    up = await serve_app(sim.app())
    upstream_url = up.url + "/"
    data = tmp_path / "data"
    hogo = cli_runner(data, own_redis.url)
    prepare_by_cli(hogo, tmp_path, residents)
    for r in residents[:5]:
        res = hogo(
            "flags",
            "set",
            r.atena_number,
            "--name",
            r.name,
            "--department",
            "子ども家庭課",
            "--business",
            "児童手当業務",
            "--basis",
            "application",
        )
        assert res.returncode == 0, res.stderr

    gw = GatewayProcess(data, own_redis.url, upstream_url, HOGO_INTERRUPTED_AFTER_SECONDS="1")
    try:
        await gw.wait_ready()
        answers = await asyncio.gather(
            *(_submit(gw.url, Query(f"K-{i}", residents[i % 5].subject_code)) for i in range(40))
        )
        assert {a.status for a in answers} == {"PENDING"}
        # one more in flight when the gateway dies
        sim.delay = 5
        inflight = asyncio.create_task(
            _submit(gw.url, Query("K-inflight", residents[10].subject_code))
        )
        while not any(c[1] == residents[10].subject_code for c in sim.calls):
            await asyncio.sleep(0.02)
        gw.kill9()
        with contextlib.suppress(aiohttp.ClientError):
            await inflight
        sim.delay = 0
    finally:
        if gw.proc.poll() is None:
            gw.kill9()

    own_redis.kill()  # and Redis dies too, without a clean shutdown
    own_redis.start()

    listed = json.loads(hogo("held", "list", "--json").stdout)
    assert sorted(
        h["processing_number"]
        for h in listed
        if h["processing_number"].startswith("K-") and h["processing_number"] != "K-inflight"
    ) == sorted(f"K-{i}" for i in range(40))
    for h in listed:
        assert {
            "id",
            "requester_org_code",
            "processing_number",
            "item_code",
            "state",
            "held_at",
        } <= h.keys()
    flags = json.loads(hogo("flags", "show", residents[0].atena_number, "--json").stdout)
    assert flags["auto_response_disabled"] is True and flags["non_disclosure"] is True

    # a restarted gateway holds the interrupted query for staff instead of answering it
    gw2 = GatewayProcess(data, own_redis.url, upstream_url, HOGO_INTERRUPTED_AFTER_SECONDS="1")
    try:
        await gw2.wait_ready()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = json.loads(hogo("held", "list", "--json").stdout)
            if any(h["processing_number"] == "K-inflight" for h in listed):
                break
            await asyncio.sleep(0.3)
        [inflight_row] = [h for h in listed if h["processing_number"] == "K-inflight"]
        assert inflight_row["state"] == "held" and inflight_row["reason"] == "interrupted"
        again = await _submit(gw2.url, Query("K-inflight", residents[10].subject_code))
        assert again.status == "PENDING"
        # and a release by the operator's command still works after all that
        first = next(h for h in listed if h["processing_number"] == "K-0")
        # (in a thread: the simulated upstream lives on this event loop)
        rel = await asyncio.to_thread(
            hogo,
            "--upstream-url",
            upstream_url,
            "held",
            "release",
            first["id"],
            "--notice",
            "取扱注意",
        )
        assert rel.returncode == 0, rel.stderr
    finally:
        gw2.kill9()
        await up.cleanup()


async def test_clean_restart_of_redis_keeps_everything(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    data = tmp_path / "data"
    hogo = cli_runner(data, own_redis.url)
    assert hogo("requesters", "add", REQUESTER, "--name", "見本市").returncode == 0
    assert (
        hogo(
            "flags",
            "set",
            "900000000000777",
            "--name",
            "試験 花子",
            "--department",
            "税務課",
            "--basis",
            "ex-officio",
        ).returncode
        == 0
    )
    own_redis.restart()
    shown = json.loads(hogo("flags", "show", "900000000000777", "--json").stdout)
    assert shown["auto_response_disabled"] is True and shown["name"] == "試験 花子"
    assert json.loads(hogo("requesters", "list", "--json").stdout)[0]["org_code"] == REQUESTER
