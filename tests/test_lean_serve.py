"""The main listener on the lean server (issue 14): /soap/provision is answered by it, every other
path by the aiohttp application it hands the connection to, and HOGO_PROVISION_ON_AIOHTTP=1
keeps provision on aiohttp. Which server answered shows in the Server header: aiohttp writes
one, the lean server none."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from gateway.lean.upstream import LeanUpstream
from gateway.upstream import Upstream
from tests.conftest import Running, start_running, stop_running
from tests.support import GatewayProcess, Query, get_result_xml, parse_answer

XML = {"Content-Type": "text/xml; charset=utf-8"}


def _by_aiohttp(headers: object) -> bool:
    return "aiohttp" in headers.get("Server", "")  # type: ignore[attr-defined]


async def test_provision_is_answered_by_the_lean_server_and_the_rest_by_aiohttp(
    running: Running,
) -> None:
    subject = running.residents[0].subject_code
    async with running.session.post(
        running.url + "/soap/provision", data=Query("L-1", subject).xml(), headers=XML
    ) as resp:
        assert resp.status == 200
        assert not _by_aiohttp(resp.headers), resp.headers
        assert parse_answer(resp.status, await resp.read()).status == "PROVIDED"
    async with running.session.get(running.url + "/healthz") as resp:
        assert resp.status == 200 and _by_aiohttp(resp.headers)
        assert await resp.json() == {"status": "alive"}
    assert isinstance(running.gw.upstream, LeanUpstream)  # and the upstream through its pool


async def test_option_keeps_provision_on_aiohttp(settings, redis_url, residents) -> None:
    r, runners = await start_running(
        replace(settings, provision_on_aiohttp=True), redis_url, residents
    )
    try:
        async with r.session.post(
            r.url + "/soap/provision",
            data=Query("A-1", residents[0].subject_code).xml(),
            headers=XML,
        ) as resp:
            assert _by_aiohttp(resp.headers)
            assert parse_answer(resp.status, await resp.read()).status == "PROVIDED"
        assert type(r.gw.upstream) is Upstream
    finally:
        await stop_running(r, runners)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[bytes, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


def _post(path: str, body: bytes) -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
    )


async def test_one_keep_alive_connection_is_handed_to_aiohttp_at_a_request_boundary(
    running: Running,
) -> None:
    """Provision twice on the lean server, then another path: from that request on the
    connection is aiohttp's (a later provision request too), and nothing is lost or mixed."""
    subject = running.residents[1].subject_code
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for pn in ("K-1", "K-2"):
            head, body = await _exchange(
                reader, writer, _post("/soap/provision", Query(pn, subject).xml())
            )
            assert b"aiohttp" not in head and parse_answer(200, body).status == "PROVIDED"
        # the portal request and a provision request behind it, in one segment
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = await _exchange(
            reader, writer, _post("/soap/provision", get_result_xml("K-1"))
        )
        assert b"aiohttp" in head and body == b'{"status": "alive"}'
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        assert b"aiohttp" in head
        assert parse_answer(200, await reader.readexactly(length)).status == "PROVIDED"
    finally:
        writer.close()


async def test_refusals_of_the_lean_server_are_security_events(running: Running) -> None:
    """Malformed HTTP to /soap/provision (Content-Length twice): 400, and a hostile_input event
    with the reason and the peer. (A body over the limit: tests/test_hostile_input.py.)"""
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /soap/provision HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"
    )
    assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
    writer.close()
    for _ in range(50):
        events = await running.events("security.hostile_input")
        if events:
            break
        await asyncio.sleep(0.05)
    assert [(e["service"], e["reason"]) for e in events] == [("provision", "malformed")]
    assert events[0]["actor"] == "peer:127.0.0.1"


@pytest.mark.parametrize("server", ["lean", "aiohttp"])
async def test_serve_runs_provision_on_the_server_the_setting_names(
    tmp_path, redis_url, residents, server: str
) -> None:
    from aiohttp import ClientSession, web

    from gateway.simulator import Simulator

    upstream = web.AppRunner(Simulator(residents={r.subject_code: r for r in residents}).app())
    await upstream.setup()
    site = web.TCPSite(upstream, "127.0.0.1", 0)
    await site.start()
    up_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proc = GatewayProcess(
        tmp_path / "data",
        redis_url,
        f"http://127.0.0.1:{up_port}/provision",
        HOGO_PROVISION_ON_AIOHTTP="1" if server == "aiohttp" else "0",
    )
    try:
        await proc.wait_ready()
        async with (
            ClientSession() as s,
            s.post(
                proc.url + "/soap/provision", data=get_result_xml("NONE-1"), headers=XML
            ) as resp,
        ):
            assert _by_aiohttp(resp.headers) is (server == "aiohttp")
            assert parse_answer(resp.status, await resp.read()).status is not None
    finally:
        proc.kill9()
        await upstream.cleanup()


async def test_sigterm_to_serve_answers_the_query_in_flight_on_the_lean_server_then_exits(
    tmp_path, redis_url, residents
) -> None:
    """`serve` drains its lean listener on SIGTERM: the idle connection is closed at once, the
    SubmitQuery in flight (the upstream takes a second) is answered, then the process exits 0."""
    import signal

    from aiohttp import web

    from gateway.context import open_gateway
    from gateway.directory_import import import_pairs
    from gateway.settings import Settings
    from gateway.simulator import Simulator
    from tests.support import AFFAIR, REQUESTER

    sim = Simulator(residents={r.subject_code: r for r in residents})
    upstream = web.AppRunner(sim.app())
    await upstream.setup()
    site = web.TCPSite(upstream, "127.0.0.1", 0)
    await site.start()
    up_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    data = tmp_path / "data"
    gw = await open_gateway(Settings(data_dir=data), redis_url)  # the keys the process will use
    await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "test")
    await gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    await import_pairs(
        gw.directory, gw.events, ((r.atena_number, r.subject_code) for r in residents), "test"
    )
    await gw.close()
    proc = GatewayProcess(data, redis_url, f"http://127.0.0.1:{up_port}/provision")
    try:
        await proc.wait_ready()
        host, port = proc.url.removeprefix("http://").split(":")
        idle_reader, idle_writer = await asyncio.open_connection(host, int(port))
        busy_reader, busy_writer = await asyncio.open_connection(host, int(port))
        sim.delay = 1.0
        subject = residents[2].subject_code
        busy_writer.write(_post("/soap/provision", Query("D-1", subject).xml()))
        while not any(call[1] == subject for call in sim.calls):
            await asyncio.sleep(0.02)
        proc.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # closed at once
        raw = await asyncio.wait_for(busy_reader.read(), 15)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head.lower()
        assert b"aiohttp" not in head
        assert parse_answer(200, body).status == "PROVIDED"
        assert await asyncio.to_thread(proc.proc.wait, 60) == 0
        idle_writer.close()
        busy_writer.close()
    finally:
        proc.kill9()
        await upstream.cleanup()
