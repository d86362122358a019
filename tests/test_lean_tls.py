"""Mutual TLS on the lean listener: the certificate's requester reaches the handler as
`gateway.tls.certified_org` reads it from aiohttp, and refusals at the handshake are reported
through the same `RefusalLimiter` hook. On asyncio's loop and on uvloop."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import uvloop

from gateway.settings import TlsFiles
from gateway.tls import RefusalLimiter, server_context
from tests.lean_support import lean_server, parse_answers, request
from tests.pki import ThrowawayCA
from tests.support import OTHER_REQUESTER, REQUESTER

pytestmark = pytest.mark.filterwarnings(
    'ignore:Overriding the "event_loop_policy":DeprecationWarning'
)


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    return (
        uvloop.EventLoopPolicy() if request.param == "uvloop" else asyncio.DefaultEventLoopPolicy()
    )


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path / "pki")


def listener_context(ca: ThrowawayCA, refused: list[tuple[str, str]]) -> ssl.SSLContext:
    server = ca.server()
    return server_context(
        TlsFiles(server.cert, server.key, ca.cert_path),
        RefusalLimiter(lambda reason, detail: refused.append((reason, detail))),
    )


async def tls_exchange(port: int, ctx: ssl.SSLContext, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
    )
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_the_certificates_requester_reaches_the_handler(ca: ThrowawayCA) -> None:
    refused: list[tuple[str, str]] = []
    async with lean_server(ssl_context=listener_context(ca, refused)) as s:
        for org in (REQUESTER, OTHER_REQUESTER):
            ctx = ca.client_context(ca.requester(org))
            out = await tls_exchange(s.port, ctx, request(extra=b"Connection: close\r\n"))
            assert [a.status for a in parse_answers(out)] == [200]
        assert [seen.certified for seen in s.handler.seen] == [REQUESTER, OTHER_REQUESTER]
        assert refused == []


async def test_a_certificate_naming_no_single_requester_is_certified_as_nobody(
    ca: ThrowawayCA,
) -> None:
    async with lean_server(ssl_context=listener_context(ca, [])) as s:
        nameless = ca.issue("no-org", client=True)
        twofold = ca.issue(
            "two-orgs",
            client=True,
            uris=(f"urn:hogo-gateway:org:{REQUESTER}", f"urn:hogo-gateway:org:{OTHER_REQUESTER}"),
        )
        for cert in (nameless, twofold):
            out = await tls_exchange(
                s.port, ca.client_context(cert), request(extra=b"Connection: close\r\n")
            )
            assert [a.status for a in parse_answers(out)] == [200]
        # "" matches no requesterOrgCode (None would mean plain HTTP)
        assert [seen.certified for seen in s.handler.seen] == ["", ""]


@pytest.mark.parametrize("who", ["no certificate", "another CA"])
async def test_a_client_that_does_not_prove_who_it_is_is_refused_at_the_handshake(
    ca: ThrowawayCA, tmp_path: Path, who: str
) -> None:
    refused: list[tuple[str, str]] = []
    async with lean_server(ssl_context=listener_context(ca, refused)) as s:
        if who == "no certificate":
            ctx = ca.client_context(None)
        else:
            other = ThrowawayCA(tmp_path / "other", name="some other CA")
            ctx = ca.client_context(other.requester(REQUESTER))
        # TLS 1.3: the client learns of the refusal when it reads, not at its handshake
        with pytest.raises((ssl.SSLError, ConnectionError)):
            out = await tls_exchange(s.port, ctx, request(extra=b"Connection: close\r\n"))
            assert out == b""  # no HTTP answer of any kind
            raise ConnectionError("closed without an answer")
        await asyncio.sleep(0.1)
        assert s.handler.seen == []
        assert len(refused) == 1
        assert refused[0][0] in (
            "PEER_DID_NOT_RETURN_A_CERTIFICATE",
            "CERTIFICATE_VERIFY_FAILED",
            "NO_CERTIFICATE_RETURNED",
        )


async def test_plain_http_on_the_tls_port_gets_no_http_answer(ca: ThrowawayCA) -> None:
    async with lean_server(ssl_context=listener_context(ca, [])) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(request())
        try:
            out = await asyncio.wait_for(reader.read(), 5)
        except ConnectionError:
            out = b""
        writer.close()
        assert not out.startswith(b"HTTP/")
        assert s.handler.seen == []


async def test_a_stalled_handshake_is_dropped(ca: ThrowawayCA) -> None:
    async with lean_server(ssl_context=listener_context(ca, []), handshake_timeout=0.5) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(bytes.fromhex("160301"))  # the start of a ClientHello, and then nothing
        try:
            out = await asyncio.wait_for(reader.read(), 5)
        except ConnectionError:
            out = b""
        writer.close()
        assert out == b"" or not out.startswith(b"HTTP/")
