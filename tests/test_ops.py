"""/healthz, /readyz and /metrics as the operator sees them."""

from __future__ import annotations

from tests.conftest import Running, start_running, stop_running
from tests.support import Query, RedisServer


async def _get(running: Running, path: str) -> tuple[int, str]:
    async with running.session.get(running.url + path) as resp:
        return resp.status, await resp.text()


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{line_start} not in metrics")


async def test_healthz_and_readyz(running: Running) -> None:
    assert (await _get(running, "/healthz"))[0] == 200
    status, body = await _get(running, "/readyz")
    assert status == 200 and '"ready": true' in body


async def test_readyz_fails_when_the_upstream_is_gone(
    running: Running, settings, redis_url, residents
) -> None:
    from dataclasses import replace

    from gateway.app import build_app
    from gateway.context import open_gateway

    gw = await open_gateway(replace(settings, upstream_url="http://127.0.0.1:9/"), redis_url)
    from tests.support import serve_app

    served = await serve_app(build_app(gw.settings, redis_url, gateway=gw))
    try:
        async with running.session.get(served.url + "/readyz") as resp:
            assert resp.status == 503
            assert (await resp.json()) == {"ready": False, "store": True, "upstream": False}
    finally:
        await served.cleanup()
        await gw.close()


async def test_readyz_fails_when_the_store_is_gone(
    settings, own_redis: RedisServer, residents
) -> None:
    r, runners = await start_running(settings, own_redis.url, residents)
    try:
        own_redis.kill()
        async with r.session.get(r.url + "/readyz") as resp:
            assert resp.status == 503 and (await resp.json())["store"] is False
        async with r.session.get(r.url + "/metrics") as resp:
            assert "hogo_store_up 0.0" in await resp.text()
    finally:
        await stop_running(r, runners)


async def test_metrics_count_outcomes_and_security_events(running: Running) -> None:
    _, before = await _get(running, "/metrics")
    await running.flag(running.residents[0])
    await running.submit(Query("M-1", running.residents[10].subject_code))
    await running.submit(Query("M-2", running.residents[0].subject_code))
    await running.submit(
        Query("M-3", running.residents[10].subject_code, requester="9999999999999999")
    )
    await running.post("/soap/provision", b"<bad")
    running.upstream.fail = True
    await running.submit(Query("M-4", running.residents[11].subject_code))
    _, after = await _get(running, "/metrics")

    def delta(name: str) -> float:
        return _metric(after, name) - (_metric(before, name) if name in before else 0.0)

    assert delta('hogo_queries_total{outcome="provided"}') == 1
    assert delta('hogo_queries_total{outcome="held"}') == 1
    assert delta('hogo_queries_total{outcome="refused"}') == 1
    assert delta('hogo_queries_total{outcome="fault"}') == 2
    assert delta('hogo_security_events_total{kind="hostile_input"}') == 1
    assert delta('hogo_security_events_total{kind="unknown_requester"}') == 1
    assert delta('hogo_holds_total{reason="auto_response_disabled"}') == 1
    assert _metric(after, "hogo_held_waiting") == 1
    assert "hogo_upstream_seconds_bucket" in after
