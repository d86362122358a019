"""The lean upstream pool (gateway/lean/pool/) and `LeanUpstream` against real servers on
loopback: aiohttp (the simulator and a small app) and raw sockets that misbehave on purpose."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import uvloop
from aiohttp import web

from gateway.lean.pool import UpstreamPool
from gateway.lean.upstream import LeanUpstream
from gateway.model import PortalRequest
from gateway.simulator import Simulator
from gateway.soap import PROVISION_NS
from gateway.upstream import Upstream, UpstreamUnavailable
from tests.pki import ThrowawayCA
from tests.support import Query, serve_app

pytestmark = pytest.mark.filterwarnings(
    'ignore:Overriding the "event_loop_policy":DeprecationWarning'
)


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    return (
        uvloop.EventLoopPolicy() if request.param == "uvloop" else asyncio.DefaultEventLoopPolicy()
    )


# -- a well-behaved upstream: aiohttp --------------------------------------------------------


class Counting:
    """An aiohttp app that counts connections and requests."""

    def __init__(self) -> None:
        self.connections: set[int] = set()
        self.requests = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.connections.add(id(request.transport))
        self.requests += 1
        body = await request.read()
        kind = request.path.strip("/")
        if kind == "slow":  # for as many seconds as the body says
            await asyncio.sleep(float(body or b"0.1"))
        if kind == "chunked":
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for part in (b"chunk-1,", b"chunk-2,", body):
                await resp.write(part)
            await resp.write_eof()
            return resp
        if kind == "close":
            return web.Response(body=b"bye", headers={"Connection": "close"})
        if kind == "big":
            return web.Response(body=b"x" * int(request.query["n"]))
        if kind == "error":
            return web.Response(status=500, body=b"oops")
        if kind == "fault":
            return web.Response(status=500, body=b"<soap:Fault>x</soap:Fault>")
        return web.Response(body=b"echo:" + body)


@asynccontextmanager
async def aiohttp_upstream(
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[str, Counting]]:
    counting = Counting()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counting.handle)
    served = await serve_app(app, ssl_context=ssl_context)
    port = served.port
    try:
        yield (
            f"https://localhost:{port}" if ssl_context else f"http://127.0.0.1:{port}",
            counting,
        )
    finally:
        await served.cleanup()


# -- a misbehaving upstream: raw sockets --------------------------------------------------------
Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawUpstream:
    """Accepts connections and lets `behaviour(reader, writer, n)` speak on each; counts every
    request head it reads (via `read_request`)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.behaviour(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests += 1
        return body

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/provision"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


# -- keep-alive, the cap, deadlines ----------------------------------------------------------
async def test_requests_reuse_one_keep_alive_connection() -> None:
    async with aiohttp_upstream() as (url, up):
        pool = UpstreamPool(url + "/echo")
        for i in range(5):
            answer = await pool.request("POST", b"%d" % i)
            assert (answer.status, answer.body) == (200, b"echo:%d" % i)
        assert pool.stats.opened == 1 and pool.stats.reused == 4
        assert len(up.connections) == 1
        await pool.close()


async def test_no_more_connections_than_the_cap() -> None:
    async with aiohttp_upstream() as (url, up):
        pool = UpstreamPool(url + "/slow", max_connections=2)
        answers = await asyncio.gather(*(pool.request("POST", b"0.1") for i in range(10)))
        assert all(a.status == 200 for a in answers)
        assert pool.stats.opened == 2
        assert len(up.connections) == 2
        await pool.close()


async def test_a_slow_answer_fails_at_the_deadline_and_its_connection_is_not_reused() -> None:
    async with aiohttp_upstream() as (url, up):
        pool = UpstreamPool(url + "/slow", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="in time"):
            await pool.request("POST", b"10")
        assert time.monotonic() - started < 5  # the deadline, not the upstream's 10 s
        assert (await pool.request("POST", b"0")).status == 200
        assert pool.stats.opened == 2  # the timed-out connection was dropped, not reused
        assert len(up.connections) == 2
        await pool.close()


async def test_waiting_for_a_free_connection_counts_against_the_deadline() -> None:
    async with aiohttp_upstream() as (url, _):
        pool = UpstreamPool(url + "/slow", max_connections=1, timeout=0.4)
        first = asyncio.ensure_future(pool.request("POST", b"1", timeout=3))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamUnavailable):
            await pool.request("POST", b"0")
        assert (await first).status == 200
        await pool.close()


async def test_an_upstream_that_is_not_there_is_unavailable() -> None:
    async with RawUpstream(lambda r, w, n: asyncio.sleep(0)) as url:
        pass  # closed: nothing listens there any more
    with pytest.raises(UpstreamUnavailable, match="cannot be reached"):
        await UpstreamPool(url, timeout=2).request("POST", b"x")


# -- answers of every shape -------------------------------------------------------------------
async def test_chunked_and_content_length_answers_are_read() -> None:
    async with aiohttp_upstream() as (url, _):
        chunked = UpstreamPool(url + "/chunked")
        assert (await chunked.request("POST", b"body")).body == b"chunk-1,chunk-2,body"
        assert (await chunked.request("POST", b"again")).body == b"chunk-1,chunk-2,again"
        assert chunked.stats.opened == 1
        await chunked.close()


async def test_connection_close_from_the_upstream_is_not_pooled() -> None:
    async with aiohttp_upstream() as (url, up):
        pool = UpstreamPool(url + "/close")
        for _ in range(3):
            assert (await pool.request("POST", b"x")).body == b"bye"
        assert pool.stats.opened == 3 and pool.stats.reused == 0
        assert len(up.connections) == 3
        await pool.close()


async def test_an_answer_over_the_limit_is_refused() -> None:
    async with aiohttp_upstream() as (url, _):
        fits = UpstreamPool(url + "/big?n=1000", max_answer=1000)
        assert len((await fits.request("POST")).body) == 1000
        over = UpstreamPool(url + "/big?n=1001", max_answer=1000)
        with pytest.raises(UpstreamUnavailable, match="too large"):
            await over.request("POST")
        await fits.close()
        await over.close()


async def test_a_chunked_answer_is_refused_as_soon_as_it_passes_the_limit() -> None:
    sent = 0

    async def endless(reader, writer, n):
        nonlocal sent
        await up.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(1000):  # 1 MiB, a chunk at a time
            writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.01)

    up = RawUpstream(endless)
    async with up as url:
        pool = UpstreamPool(url, max_answer=10 * 1024, timeout=30)
        with pytest.raises(UpstreamUnavailable, match="too large"):
            await pool.request("POST", b"x")
        assert sent < 100  # refused at the 11th KiB, not after the whole answer


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n",
            "head is too large",
        ),
        (
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n",
            "head is too large",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nzz",
            "content coding",
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
            "switched",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "malformed",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "mid-answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "mid-answer"),
        (b"HTTP/1.1 200 OK\r\nContent-", "mid-answer"),
        (b"SMTP ready\r\n", "malformed"),
    ],
    ids=[
        "huge header",
        "too many headers",
        "gzip",
        "101",
        "CL and TE",
        "cut body",
        "closed after the head",
        "cut head",
        "not HTTP",
    ],
)
async def test_a_broken_answer_is_unavailable_and_not_sent_again(answer: bytes, why: str) -> None:
    async def broken(reader, writer, n):
        await up.read_request(reader)
        writer.write(answer)
        await writer.drain()

    up = RawUpstream(broken)
    async with up as url:
        pool = UpstreamPool(url, timeout=3)
        with pytest.raises(UpstreamUnavailable, match=why):
            await pool.request("POST", b"x", replayable=True)
        assert up.requests == 1


async def test_an_interim_100_continue_is_skipped() -> None:
    async def interim(reader, writer, n):
        await up.read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final"))

    up = RawUpstream(interim)
    async with up as url:
        assert (await UpstreamPool(url).request("POST", b"x")).body == b"final"


async def test_an_answer_delimited_by_the_end_of_the_connection_is_read_whole() -> None:
    async def until_close(reader, writer, n):
        await up.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await writer.drain()

    up = RawUpstream(until_close)
    async with up as url:
        pool = UpstreamPool(url)
        assert (await pool.request("POST", b"x")).body == b"all of it"
        assert pool._idle == []


async def test_bytes_past_the_answers_end_spoil_the_connection() -> None:
    async def too_much(reader, writer, n):
        while True:
            await up.read_request(reader)
            writer.write(ok(b"ok") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged")
            await writer.drain()

    up = RawUpstream(too_much)
    async with up as url:
        pool = UpstreamPool(url)
        assert (await pool.request("POST", b"1")).body == b"ok"
        assert (await pool.request("POST", b"2")).body == b"ok"  # never the "forged" answer
        assert up.connections == 2


async def test_a_stalled_upstream_fails_at_the_deadline() -> None:
    async def stall(reader, writer, n):
        await up.read_request(reader)
        await asyncio.sleep(10)

    up = RawUpstream(stall)
    async with up as url:
        with pytest.raises(UpstreamUnavailable, match="in time"):
            await UpstreamPool(url, timeout=0.3).request("POST", b"x")


# -- when a request may go out twice -----------------------------------------------------------
async def test_an_idle_connection_the_upstream_closed_is_not_written_to() -> None:
    async def close_when_idle(reader, writer, n):
        await up.read_request(reader)
        writer.write(ok(b"first"))
        await writer.drain()
        await asyncio.sleep(0.05)  # then closes: an upstream with a short keep-alive

    up = RawUpstream(close_when_idle)
    async with up as url:
        pool = UpstreamPool(url)
        assert (await pool.request("POST", b"1")).body == b"first"
        await asyncio.sleep(0.3)  # the close has arrived
        assert (await pool.request("POST", b"2")).body == b"first"  # on a new connection
        assert up.requests == 2 and up.connections == 2
        assert pool.stats.replayed == 0


def _answer_once_then_vanish(up_ref: list[RawUpstream]) -> Behaviour:
    async def behaviour(reader, writer, n):
        up = up_ref[0]
        if n == 1:
            await up.read_request(reader)
            writer.write(ok(b"first"))
            await writer.drain()
            await up.read_request(reader)  # the second request arrived...
            return  # ...and the connection is closed without a byte of answer
        while True:
            await up.read_request(reader)
            writer.write(ok(b"again"))
            await writer.drain()

    return behaviour


async def test_a_post_unanswered_on_a_reused_connection_is_not_sent_again() -> None:
    ref: list[RawUpstream] = []
    up = RawUpstream(_answer_once_then_vanish(ref))
    ref.append(up)
    async with up as url:
        pool = UpstreamPool(url)
        await pool.request("POST", b"1")
        with pytest.raises(UpstreamUnavailable, match="without answering"):
            await pool.request("POST", b"2")
        assert up.requests == 2  # it may have been processed: it went out once
        assert pool.stats.replayed == 0


async def test_a_replayable_request_unanswered_on_a_reused_connection_goes_once_more() -> None:
    ref: list[RawUpstream] = []
    up = RawUpstream(_answer_once_then_vanish(ref))
    ref.append(up)
    async with up as url:
        pool = UpstreamPool(url)
        await pool.request("POST", b"1")
        assert (await pool.request("POST", b"2", replayable=True)).body == b"again"
        assert up.requests == 3 and up.connections == 2
        assert pool.stats.replayed == 1


async def test_a_new_connection_closed_unanswered_is_never_sent_again() -> None:
    async def vanish(reader, writer, n):
        await up.read_request(reader)

    up = RawUpstream(vanish)
    async with up as url:
        with pytest.raises(UpstreamUnavailable, match="without answering"):
            await UpstreamPool(url).request("POST", b"x", replayable=True)
        assert up.requests == 1


async def test_a_replay_happens_at_most_once() -> None:
    async def always_vanish_after_first(reader, writer, n):
        if n == 1:
            await up.read_request(reader)
            writer.write(ok(b"first"))
            await writer.drain()
        await up.read_request(reader)

    up = RawUpstream(always_vanish_after_first)
    async with up as url:
        pool = UpstreamPool(url)
        await pool.request("POST", b"1")
        with pytest.raises(UpstreamUnavailable):
            await pool.request("POST", b"2", replayable=True)
        assert up.requests == 3  # the first, the second, its one replay


# -- TLS to the upstream -----------------------------------------------------------------------
@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path / "pki")


def upstream_tls(ca: ThrowawayCA, require_client: bool = False) -> ssl.SSLContext:
    server = ca.server("upstream")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server.cert, server.key)
    if require_client:
        ctx.load_verify_locations(cafile=str(ca.cert_path))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def test_tls_to_the_upstream_verifies_its_certificate(
    ca: ThrowawayCA, tmp_path: Path
) -> None:
    async with aiohttp_upstream(upstream_tls(ca)) as (url, _):
        trusted = UpstreamPool(url + "/echo", ssl_context=ca.client_context(None))
        assert (await trusted.request("POST", b"x")).body == b"echo:x"
        await trusted.close()
        other = ThrowawayCA(tmp_path / "other", name="another CA")
        untrusted = UpstreamPool(url + "/echo", ssl_context=other.client_context(None))
        with pytest.raises(UpstreamUnavailable, match="cannot be reached"):
            await untrusted.request("POST", b"x")
        system = UpstreamPool(url + "/echo")  # the system's CAs do not know a private CA
        with pytest.raises(UpstreamUnavailable):
            await system.request("POST", b"x")


async def test_tls_to_the_upstream_can_present_a_client_certificate(ca: ThrowawayCA) -> None:
    async with aiohttp_upstream(upstream_tls(ca, require_client=True)) as (url, _):
        gateway_cert = ca.issue("gateway-client", client=True)
        with_cert = UpstreamPool(url + "/echo", ssl_context=ca.client_context(gateway_cert))
        assert (await with_cert.request("POST", b"x")).body == b"echo:x"
        await with_cert.close()
        without = UpstreamPool(url + "/echo", ssl_context=ca.client_context(None), timeout=3)
        with pytest.raises(UpstreamUnavailable):
            await without.request("POST", b"x")


# -- LeanUpstream: a drop-in for Upstream -------------------------------------------------------
@asynccontextmanager
async def simulator(**kw: object) -> AsyncIterator[tuple[str, Simulator]]:
    sim = Simulator.with_residents(5, **kw)
    served = await serve_app(sim.app())
    try:
        yield served.url + "/provision", sim
    finally:
        await served.cleanup()


async def test_lean_upstream_answers_as_upstream_does() -> None:
    async with simulator() as (url, sim):
        seconds: list[float] = []
        lean = LeanUpstream(UpstreamPool(url, timeout=5), observe=seconds.append)
        async with aiohttp.ClientSession() as session:
            classic = Upstream(session, url, 5)
            for subject in ("SIM0000000000001", "SIM0000000000099"):
                query = Query("P-1", subject).value()
                assert await lean.submit(query, "key-1") == await classic.submit(query, "key-1")
            view = PortalRequest("SIM0000000000002")
            assert await lean.self_information(view) == await classic.self_information(view)
            assert await lean.reachable() and await classic.reachable()
        assert len(seconds) == 3
        # what the upstream was asked, and with which Idempotency-Key
        assert sim.calls[0] == ("SubmitQueryRequest", "SIM0000000000001", "key-1")
        await lean.close()


async def test_lean_upstream_fails_as_upstream_does() -> None:
    async with simulator(fail=True) as (url, _):
        lean = LeanUpstream(UpstreamPool(url, timeout=5))
        with pytest.raises(UpstreamUnavailable, match="HTTP 503"):
            await lean.submit(Query("P-2", "SIM0000000000001").value(), "key-2")
        await lean.close()
    async with aiohttp_upstream() as (url, _):
        error = LeanUpstream(UpstreamPool(url + "/error"))
        with pytest.raises(UpstreamUnavailable, match="HTTP 500"):
            await error.submit(Query("P-3", "SIM0000000000001").value(), "key-3")
        await error.close()
        fault = LeanUpstream(UpstreamPool(url + "/fault"))
        # a 500 that carries a SOAP fault is the upstream's answer, read by the caller
        assert b"Fault" in await fault._post(b"x", f"{PROVISION_NS}/SubmitQuery", "k")
        await fault.close()
    async with RawUpstream(lambda r, w, n: asyncio.sleep(0)) as url:
        pass
    gone = LeanUpstream(UpstreamPool(url, timeout=1))
    assert not await gone.reachable(1.0)


async def test_lean_upstream_replays_submit_only_when_told_the_upstream_is_idempotent() -> None:
    for replay_submit, expected_requests in ((False, 2), (True, 3)):
        ref: list[RawUpstream] = []
        up = RawUpstream(_answer_once_then_vanish(ref))
        ref.append(up)
        async with up as url:
            lean = LeanUpstream(UpstreamPool(url), replay_submit=replay_submit)
            await lean._post(b"1", f"{PROVISION_NS}/SubmitQuery", "k1")
            if replay_submit:
                assert await lean._post(b"2", f"{PROVISION_NS}/SubmitQuery", "k2") == b"again"
            else:
                with pytest.raises(UpstreamUnavailable):
                    await lean._post(b"2", f"{PROVISION_NS}/SubmitQuery", "k2")
            assert up.requests == expected_requests


async def test_a_header_that_would_split_the_request_is_refused_before_anything_is_sent() -> None:
    async with aiohttp_upstream() as (url, up):
        pool = UpstreamPool(url + "/echo")
        for bad in ((b"x-key", b"k\r\nX-Injected: 1"), (b"x\nkey", b"k"), (b"x-key", b"k\x00")):
            with pytest.raises(ValueError, match="forbidden byte"):
                await pool.request("POST", b"x", [bad])
        assert up.requests == 0
        await pool.close()
