"""The lean provision listener (gateway/lean/server.py) over real sockets: h11 as the client
and as the reader of answers, and raw byte streams for what h11 would never send. Every test
runs on asyncio's loop and on uvloop (production's)."""

from __future__ import annotations

import asyncio
import socket

import h11
import pytest
import uvloop
from aiohttp import web

from gateway.lean.http import Response
from gateway.lean.server import LeanServer, Routes
from tests.lean_support import PATH, Recorder, lean_server, parse_answers, raw, request
from tests.support import serve_app

# pytest-asyncio's newer hook for this would apply to the whole suite; this fixture, to this module
pytestmark = pytest.mark.filterwarnings(
    'ignore:Overriding the "event_loop_policy":DeprecationWarning'
)


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    return (
        uvloop.EventLoopPolicy() if request.param == "uvloop" else asyncio.DefaultEventLoopPolicy()
    )


async def h11_exchange(
    port: int, requests: list[tuple[h11.Request, list[bytes]]]
) -> list[tuple[h11.Response, bytes]]:
    """Send each request with h11 (body in the given pieces) on one connection, read each
    answer with h11 before the next request, as a keep-alive client does."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    out = []
    try:
        for req, pieces in requests:
            writer.write(conn.send(req))
            for piece in pieces:
                writer.write(conn.send(h11.Data(data=piece)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            response, body = None, b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await asyncio.wait_for(reader.read(65536), 5))
                    continue
                if isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert response is not None
            out.append((response, body))
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                break
            conn.start_next_cycle()
    finally:
        writer.close()
    return out


def post(body: bytes, *headers: tuple[str, str]) -> h11.Request:
    return h11.Request(
        method="POST",
        target=PATH,
        headers=[("Host", "gw"), ("Content-Length", str(len(body))), *headers],
    )


# -- what a well-behaved client gets --------------------------------------------------------
async def test_a_request_sent_by_h11_reaches_the_handler_as_parsed() -> None:
    async with lean_server() as s:
        body = "<soap:Envelope>照会</soap:Envelope>".encode()
        [(resp, got)] = await h11_exchange(
            s.port,
            [
                (
                    post(body, ("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", '"x"')),
                    [body],
                )
            ],
        )
        assert resp.status_code == 200
        assert got == b"answer 0:" + body
        [seen] = s.handler.seen
        assert (seen.method, seen.target, seen.body) == ("POST", PATH.encode(), body)
        assert seen.headers == [
            (b"host", b"gw"),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"text/xml; charset=utf-8"),
            (b"soapaction", b'"x"'),
        ]
        assert seen.certified is None  # plain HTTP: no certificate asked for


async def test_keep_alive_answers_several_requests_on_one_connection() -> None:
    async with lean_server() as s:
        got = await h11_exchange(s.port, [(post(b"<a/>"), [b"<a/>"]), (post(b"<b/>"), [b"<b/>"])])
        assert [body for _, body in got] == [b"answer 0:<a/>", b"answer 1:<b/>"]
        assert all((b"connection", b"keep-alive") in r.headers for r, _ in got)


async def test_chunked_body_with_trailers_reaches_the_handler_without_the_trailers() -> None:
    async with lean_server() as s:
        data = (
            b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        [answer] = parse_answers(await raw(s.port, data))
        assert answer.body == b"answer 0:abcde"
        [seen] = s.handler.seen
        assert b"x-trailer" not in dict(seen.headers)


async def test_http10_closes_unless_keep_alive_is_asked() -> None:
    async with lean_server() as s:
        out = await raw(s.port, request(b"x", version=b"1.0") + request(b"y", version=b"1.0"))
        [answer] = parse_answers(out)
        assert answer.headers[b"connection"] == b"close"
        assert len(s.handler.seen) == 1
        two = request(b"x", version=b"1.0", extra=b"Connection: keep-alive\r\n")
        out = await raw(s.port, two + request(b"y", version=b"1.0"))
        answers = parse_answers(out)
        assert [a.body for a in answers] == [b"answer 1:x", b"answer 2:y"]
        assert [a.headers[b"connection"] for a in answers] == [b"keep-alive", b"close"]


async def test_connection_close_is_the_last_request_read() -> None:
    async with lean_server() as s:
        out = await raw(s.port, request(b"1", extra=b"Connection: close\r\n") + request(b"2"))
        assert [a.body for a in parse_answers(out)] == [b"answer 0:1"]
        assert len(s.handler.seen) == 1
        assert s.refusals.got == []


async def test_pipelined_requests_are_answered_in_order_behind_a_slow_first_one() -> None:
    async with lean_server(Recorder(delays={0: 0.4})) as s:
        data = (
            request(b"slow") + request(b"fast") + request(b"last", extra=b"Connection: close\r\n")
        )
        answers = parse_answers(await raw(s.port, data))
        assert [a.body for a in answers] == [b"answer 0:slow", b"answer 1:fast", b"answer 2:last"]
        # the second was not even started before the first was answered
        assert [seen.body for seen in s.handler.seen] == [b"slow", b"fast", b"last"]


async def test_unknown_paths_and_methods_are_answered_as_aiohttp_does() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_post(PATH, ok)
    served = await serve_app(app)
    aio_port = served.port
    try:
        async with lean_server() as s:
            for data in (
                b"GET /nowhere HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
                b"GET /soap/provision HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
                b"PUT /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
            ):
                [mine] = parse_answers(await raw(s.port, data, half_close=False))
                [theirs] = parse_answers(await raw(aio_port, data, half_close=False))
                assert (mine.status, mine.body) == (theirs.status, theirs.body)
                assert mine.headers.get(b"allow") == theirs.headers.get(b"allow")
            assert s.handler.seen == []
    finally:
        await served.cleanup()


async def test_paths_are_matched_exactly_as_received() -> None:
    async with lean_server() as s:
        for target in (
            b"/soap//provision",
            b"/soap/%70rovision",
            b"/soap/provision/",
            b"/SOAP/provision",
        ):
            out = await raw(s.port, request(target=target))
            assert [a.status for a in parse_answers(out)] == [404], target
        assert s.handler.seen == []
        out = await raw(s.port, request(target=b"/soap/provision?wsdl"))
        assert [a.status for a in parse_answers(out)] == [
            200
        ]  # a query is ignored, as aiohttp does


async def test_an_unknown_path_with_a_body_keeps_the_connection() -> None:
    async with lean_server() as s:
        data = request(b"ignored", target=b"/elsewhere") + request(
            b"x", extra=b"Connection: close\r\n"
        )
        answers = parse_answers(await raw(s.port, data))
        assert [a.status for a in answers] == [404, 200]


async def test_head_is_answered_without_a_body() -> None:
    async def healthz(request):
        return Response(200, b'{"status": "alive"}', b"application/json")

    def routes(handler: Recorder) -> Routes:
        return Routes({("POST", PATH): handler, ("GET", "/healthz"): healthz})

    async with lean_server(routes=routes) as s:
        data = (
            b"HEAD /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
        )
        head, get = parse_answers(await raw(s.port, data), ["HEAD", "GET"])
        assert (head.status, head.body, head.headers[b"content-length"]) == (200, b"", b"19")
        assert get.body == b'{"status": "alive"}'


async def test_a_failing_handler_gives_500_and_closes() -> None:
    async def broken(request):
        raise RuntimeError("boom")

    async with lean_server(routes=lambda h: Routes({("POST", PATH): broken})) as s:
        [answer] = parse_answers(await raw(s.port, request()))
        assert (answer.status, answer.headers[b"connection"]) == (500, b"close")


async def test_a_handler_cannot_split_the_response_with_a_header() -> None:
    async def injecting(request):
        return Response(200, b"x", headers=((b"x-from-upstream", b"a\r\nSet-Cookie: evil"),))

    async with lean_server(routes=lambda h: Routes({("POST", PATH): injecting})) as s:
        out = await raw(s.port, request())
        assert b"Set-Cookie" not in out
        assert [a.status for a in parse_answers(out)] == [500]


# -- the body limit and Expect: 100-continue ----------------------------------------------
async def test_content_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    async with lean_server(max_body=1000) as s:
        head = b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1001\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(head)  # and no body at all
        out = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        [answer] = parse_answers(out)
        assert (answer.status, answer.body) == (413, b"<Fault>BODY_TOO_LARGE</Fault>")
        assert answer.headers[b"connection"] == b"close"
        assert s.refusals.reasons == ["body_too_large"]
        assert s.handler.seen == []


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    async with lean_server(max_body=1000) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(
            b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"3e8\r\n" + b"x" * 1000 + b"\r\n1\r\ny\r\n"
        )  # fmt: skip
        # the body is not finished: the answer comes anyway
        out = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert [a.status for a in parse_answers(out)] == [413]
        assert s.refusals.reasons == ["body_too_large"]


async def test_a_body_at_the_limit_is_served() -> None:
    async with lean_server(max_body=1000) as s:
        [answer] = parse_answers(
            await raw(s.port, request(b"x" * 1000, extra=b"Connection: close\r\n"))
        )
        assert answer.status == 200


async def test_expect_100_continue_is_answered_before_the_body_is_sent() -> None:
    async with lean_server(max_body=1000) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(
            b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"body")
        [answer] = parse_answers(await asyncio.wait_for(reader.read(), 5))
        writer.close()
        assert answer.body == b"answer 0:body"


async def test_expect_100_continue_over_the_limit_gets_413_and_no_100() -> None:
    async with lean_server(max_body=1000) as s:
        out = await raw(
            s.port,
            b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n",
        )
        assert b"100 Continue" not in out
        assert [a.status for a in parse_answers(out)] == [413]


async def test_an_unknown_expectation_gets_417() -> None:
    async with lean_server() as s:
        out = await raw(s.port, request(extra=b"Expect: something-else\r\n"))
        assert [a.status for a in parse_answers(out)] == [417]
        assert s.handler.seen == []


async def test_100_continue_waits_for_the_answers_before_it() -> None:
    async with lean_server(Recorder(delays={0: 0.3})) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(
            request(b"first")
            + b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        first = await asyncio.wait_for(reader.readuntil(b"answer 0:first"), 5)
        assert b"100 Continue" not in first  # not inside or before the first answer
        assert (
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            == b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(b"second")
        [answer] = parse_answers(await asyncio.wait_for(reader.read(), 5))
        writer.close()
        assert answer.body == b"answer 1:second"


# -- header limits ---------------------------------------------------------------------------
async def test_a_request_line_over_8190_bytes_is_refused() -> None:
    async with lean_server() as s:
        out = await raw(s.port, request(target=b"/" + b"a" * 8190))
        assert [a.status for a in parse_answers(out)] == [414]
        assert s.refusals.reasons == ["request_line_too_long"]


async def test_a_header_field_over_8190_bytes_is_refused() -> None:
    async with lean_server() as s:
        fits = b"X-A: " + b"a" * (8190 - 3) + b"\r\n"
        out = await raw(
            s.port,
            request(extra=fits, target=PATH.encode())
            + request(extra=b"X-B: " + b"b" * 8188 + b"\r\n"),
        )
        assert [a.status for a in parse_answers(out)] == [200, 431]


async def test_more_than_128_header_fields_are_refused() -> None:
    async with lean_server() as s:
        many = b"".join(b"X-%d: v\r\n" % i for i in range(126))  # + Host + Content-Length
        out = await raw(s.port, request(extra=many) + request(extra=many + b"X-last: v\r\n"))
        assert [a.status for a in parse_answers(out)] == [200, 431]


async def test_an_endless_header_line_is_cut_off_without_being_buffered() -> None:
    async with lean_server() as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        answered = asyncio.ensure_future(reader.read(4096))
        writer.write(b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 4 * 1024 * 1024 and not answered.done():  # stopped long before
                writer.write(b"a" * 4096)
                await asyncio.wait_for(writer.drain(), 5)
                sent += 4096
                await asyncio.sleep(0)
        except ConnectionError:
            pass
        out = await asyncio.wait_for(answered, 5)
        writer.close()
        assert out.startswith(b"HTTP/1.1 431 ")
        # what the server held is bounded by its head limit (64 KiB) and one slice; the
        # client may have sent more before it saw the answer
        assert sent <= 1024 * 1024
        assert s.refusals.reasons == ["head_too_large"]


# -- hostile bytes ------------------------------------------------------------------------------
HOSTILE = {
    # request smuggling: two framings, or a framing only one side understands
    "content-length and transfer-encoding": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    ),
    "transfer-encoding and content-length": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG",
    ),
    "two content-lengths, same": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    ),
    "two content-lengths, different": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
    ),
    "content-length list": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1, 1\r\n\r\nx",
    ),
    "content-length sign": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: +1\r\n\r\nx",
    ),
    "content-length hex": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 0x1\r\n\r\nx",
    ),
    "content-length overflow": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 99999999999999999999999\r\n\r\nx",
    ),
    "space before colon": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length : 1\r\n\r\nx",
    ),
    "transfer-encoding chunked, identity": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    ),
    "transfer-encoding identity, chunked": (
        501,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
    ),
    "transfer-encoding gzip, chunked": (
        501,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ),
    "transfer-encoding xchunked": (
        501,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    ),
    "transfer-encoding twice": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    "transfer-encoding in HTTP/1.0": (
        400,
        b"POST /soap/provision HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    "content-length in the trailers": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nContent-Length: 5\r\n\r\n",
    ),
    "chunk size not hex": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1x\r\nx\r\n0\r\n\r\n",
    ),
    "chunk size negative": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n",
    ),
    "chunk size overflow": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n",
    ),
    "chunk size with space": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
    ),
    "chunk data longer than its size": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
    ),
    "chunk lines with bare LF": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\n0\n\n",
    ),
    "obsolete line folding": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nX-A: 1\r\n 2\r\nContent-Length: 1\r\n\r\nx",
    ),
    "folding on the first field": (
        400,
        b"POST /soap/provision HTTP/1.1\r\n Host: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "bare LF line ends": (400, b"POST /soap/provision HTTP/1.1\nHost: gw\nContent-Length: 1\n\nx"),
    "bare CR": (400, b"POST /soap/provision HTTP/1.1\rHost: gw\r\nContent-Length: 1\r\n\r\nx"),
    "NUL in a value": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\nContent-Length: 1\r\n\r\nx",
    ),
    "control byte in a value": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nX-A: a\x01b\r\nContent-Length: 1\r\n\r\nx",
    ),
    "control byte in a name": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nX\x01A: a\r\nContent-Length: 1\r\n\r\nx",
    ),
    "field without colon": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nNoColon\r\nContent-Length: 1\r\n\r\nx",
    ),
    "lower-case method": (
        400,
        b"post /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "unknown method": (
        400,
        b"BREW /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "HTTP/2.0 in a request line": (
        505,
        b"POST /soap/provision HTTP/2.0\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "HTTP/1.2": (400, b"POST /soap/provision HTTP/1.2\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx"),
    "HTTP/0.9": (505, b"GET /soap/provision\r\n\r\n"),
    "HTTP/2 preface": (400, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    "no Host in HTTP/1.1": (400, b"POST /soap/provision HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"),
    "two Hosts": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nHost: evil\r\nContent-Length: 1\r\n\r\nx",
    ),
    "absolute-form target": (
        400,
        b"POST http://gw/soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "asterisk target": (400, b"OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n"),
    "CONNECT": (400, b"CONNECT gw:443 HTTP/1.1\r\nHost: gw\r\n\r\n"),
    "Upgrade": (
        400,
        b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx",
    ),
    "tab in the target": (
        400,
        b"POST /soap/pro\tvision HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "non-ASCII in the target": (
        400,
        b"POST /soap/\xe7\x85\xa7 HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx",
    ),
    "binary garbage": (400, bytes(range(256))),
    "a TLS ClientHello on the plain port": (
        400,
        bytes.fromhex("1603010200010001fc0303") + b"\x00" * 40,
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_bytes_are_refused_and_close_the_connection(name: str) -> None:
    status, data = HOSTILE[name]
    async with lean_server() as s:
        # a valid request after the hostile one must not be read as a second request
        out = await raw(s.port, data + request(b"smuggled"))
        assert [a.status for a in parse_answers(out)] == [status]
        assert parse_answers(out)[0].headers[b"connection"] == b"close"
        assert s.handler.seen == []
        assert len(s.refusals.got) == 1


async def test_a_hostile_request_behind_a_good_one_is_refused_after_its_answer() -> None:
    async with lean_server(Recorder(delays={0: 0.2})) as s:
        out = await raw(
            s.port, request(b"good") + HOSTILE["content-length and transfer-encoding"][1]
        )
        assert [a.status for a in parse_answers(out)] == [200, 400]
        assert [seen.body for seen in s.handler.seen] == [b"good"]


async def test_a_request_cut_off_by_the_client_is_not_handled() -> None:
    async with lean_server() as s:
        out = await raw(s.port, request(b"0123456789")[:-3])
        assert out == b""
        assert s.handler.seen == []


# -- deadlines ----------------------------------------------------------------------------------
async def test_a_slowloris_head_is_cut_off_at_the_head_deadline() -> None:
    async with lean_server(head_timeout=0.5) as s:
        data = request()
        loop = asyncio.get_running_loop()
        started = loop.time()
        # one byte every 0.1 s: the head alone would take ten seconds
        out = await raw(s.port, [data[i : i + 1] for i in range(100)], pause=0.1, timeout=15)
        assert loop.time() - started < 5
        assert [a.status for a in parse_answers(out)] == [408]
        assert s.refusals.reasons == ["head_timeout"]


async def test_a_connection_that_sends_nothing_is_closed_at_the_head_deadline() -> None:
    async with lean_server(head_timeout=0.3) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        assert await asyncio.wait_for(reader.read(), 3) == b""
        writer.close()


async def test_a_slow_body_is_cut_off_at_the_body_deadline() -> None:
    async with lean_server(body_timeout=0.5) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(b"POST /soap/provision HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nabc")
        out = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert [a.status for a in parse_answers(out)] == [408]
        assert s.refusals.reasons == ["body_timeout"]
        assert s.handler.seen == []


async def test_an_idle_keep_alive_connection_is_closed_and_crlf_does_not_keep_it() -> None:
    async with lean_server(idle_timeout=0.5) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(request())
        await asyncio.wait_for(reader.readuntil(b"answer 0:<q/>"), 5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        closed = False
        while loop.time() - started < 3:
            try:
                writer.write(b"\r\n")  # bytes, but no request
                if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
        writer.close()
        assert closed  # within the 3 s the client kept sending CRLF, for a 0.5 s deadline


# -- flow control -------------------------------------------------------------------------------
async def test_a_pipelined_flood_is_read_only_as_fast_as_it_is_answered() -> None:
    async with lean_server(Recorder(delays={0: 0.5}), max_pipelined=4) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(request(b"0") + b"".join(request(b"%d" % i) for i in range(1, 400)))
        await asyncio.sleep(0.3)  # the first is still being handled
        [conn] = s.server.connections
        # the rest waits in the kernel, not in our memory: at most max_pipelined requests
        # and those of one parser slice (4 KiB) are read ahead
        assert len(conn._pending) <= 4 + 4096 // len(request(b"1")) + 1
        writer.write_eof()
        out = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert [a.body for a in parse_answers(out)] == [
            b"answer %d:%d" % (i, i) for i in range(400)
        ]


async def test_a_client_that_does_not_read_is_not_answered_further_and_is_cut_off() -> None:
    big = b"x" * (1024 * 1024)

    async def bulky(request):
        return Response(200, big)

    async with lean_server(routes=lambda h: Routes({("POST", PATH): bulky}), send_timeout=1.0) as s:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"".join(request(b"%d" % i) for i in range(50)))  # and never read
        await asyncio.sleep(0.5)
        assert s.server.tasks == set() or len(s.server.tasks) <= 1
        # cut off once the send timeout (1 s) has passed: waited for, not slept through
        deadline = asyncio.get_running_loop().time() + 20
        while "send_timeout" not in s.refusals.reasons or s.server.connections:
            assert asyncio.get_running_loop().time() < deadline, s.refusals.reasons
            await asyncio.sleep(0.05)
        sock.close()


# -- several processes, one port ------------------------------------------------------------
async def test_two_servers_share_a_port_with_so_reuseport() -> None:
    first, second = Recorder(), Recorder()
    a = LeanServer(Routes({("POST", PATH): first}))
    b = LeanServer(Routes({("POST", PATH): second}))
    await a.start("127.0.0.1", 0, reuse_port=True)
    await b.start("127.0.0.1", a.port, reuse_port=True)
    try:
        for i in range(40):
            out = await raw(a.port, request(b"%d" % i, extra=b"Connection: close\r\n"))
            assert parse_answers(out)[0].status == 200
        assert len(first.seen) + len(second.seen) == 40
        assert first.seen and second.seen  # the kernel spread them
    finally:
        await a.shutdown(1)
        await b.shutdown(1)


async def test_shutdown_answers_the_request_in_flight_and_closes_idle_connections() -> None:
    async with lean_server(Recorder(delays={0: 0.5})) as s:
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", s.port)
        busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", s.port)
        busy_writer.write(request(b"in flight"))
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(s.server.shutdown(5))
        assert await asyncio.wait_for(idle_reader.read(), 1) == b""  # closed at once
        [answer] = parse_answers(await asyncio.wait_for(busy_reader.read(), 3))
        assert (answer.body, answer.headers[b"connection"]) == (b"answer 0:in flight", b"close")
        await stopping
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", s.port)
        idle_writer.close()
        busy_writer.close()
