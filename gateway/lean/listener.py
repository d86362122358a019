"""The main listener on the lean server (issue 14): `POST /soap/provision` answered here, every
other path handed over, connection and all, to the aiohttp application.

`hogo-gateway serve` (and the tests' gateway) listens on the main address with `LeanServer`.
A connection's requests for `/soap/provision` are parsed by llhttp here and answered through
`gateway.soap.answer.provision`, the very function the aiohttp endpoint calls: the same parse,
validation, services, faults and events, so the two transports give the same bytes. At the first
request boundary where the next request is for any other path (the portal, the staff console,
/healthz, ...) the connection is given to the aiohttp application's protocol with the bytes read
from that request on, and stays there.

The requester is read from the connection's client certificate (`Peer.certified`, as
`gateway.tls.certified_org` reads it for aiohttp); TLS handshake refusals go through the same
`RefusalLimiter` as the other listeners'. What the server refuses before a request exists
(malformed HTTP, a head over the limits, a slow client) is a `security.hostile_input` event with
the refusal's reason, at most 10 a second per process (a scanner must not fill the trail); a
body over the limit is answered with the SOAP fault and recorded exactly as the aiohttp path
records it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway import metrics
from gateway.context import Gateway
from gateway.lean.http import XML, Handler, Limits, Peer, Request, Response
from gateway.lean.server import Handoff, LeanServer, Routes
from gateway.soap import answer as soap_answer
from gateway.soap.faults import ErrorCode, SoapFault
from gateway.tls import RefusalLimiter, schedule

PROVISION = "/soap/provision"


def _host(peer: Peer) -> str:
    """What aiohttp's `request.remote` gives: the address of the socket's peer."""
    address = peer.address
    return str(address[0]) if address else ""


def provision_handler(gw: Gateway) -> Callable[[Request], Any]:
    """`POST /soap/provision` on the lean server: the body, the certified requester and the
    peer's address to `gateway.soap.answer.provision`, its answer back as it is."""

    async def handle(request: Request) -> Response:
        answer = await soap_answer.provision(
            gw, request.body, request.peer.certified, _host(request.peer)
        )
        return Response(answer.status, answer.body, XML)

    return handle


def refusal_reporter(gw: Gateway, pending: set[asyncio.Task[Any]]) -> Any:
    """`on_refused` for the provision listener: events for what the server refused."""
    peer_of_report = [""]  # the limiter reports synchronously, from inside on_refused

    def report(reason: str, detail: str) -> None:
        schedule(
            gw.events.security(
                "hostile_input",
                f"peer:{peer_of_report[0] or 'unknown'}",
                service="provision",
                decision="rejected",
                reason=reason,
                detail=detail,
            ),
            pending,
        )

    limiter = RefusalLimiter(report)

    def on_refused(reason: str, detail: str, peer: Peer) -> None:
        host = _host(peer)
        if reason == "body_too_large":
            return  # recorded by too_large's handler, as the aiohttp endpoint records it
        metrics.FAULTS.labels("HTTP_REFUSED").inc()
        peer_of_report[0] = host
        limiter(reason, detail)

    return on_refused


def too_large_handler(gw: Gateway) -> Callable[[Request], Handler]:
    """The 413 on the lean server: the aiohttp endpoint's fault, count and event (one per
    request), recorded before the answer goes out, as there."""

    def too_large(request: Request) -> Handler:
        async def answer(head: Request) -> Response:
            fault = SoapFault(ErrorCode.BODY_TOO_LARGE)
            found = await soap_answer.fault_answer(gw, fault, "provision", _host(head.peer))
            return Response(found.status, found.body, XML)

        return answer

    return too_large


def aiohttp_handoff(runner: web.AppRunner) -> Handoff:
    """Hand a connection to the aiohttp application's protocol, as if it had accepted it."""

    def hand_over(transport: asyncio.Transport, data: bytes) -> None:
        server = runner.server
        if server is None:  # the application is shutting down
            transport.close()
            return
        protocol = server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if data:
            protocol.data_received(data)

    return hand_over


def provision_server(gw: Gateway, runner: web.AppRunner) -> LeanServer:
    """The lean server for the main listener: provision here, the rest to `runner`'s app."""
    pending: set[asyncio.Task[Any]] = set()  # kept by on_refused's closure
    return LeanServer(
        Routes({("POST", PROVISION): provision_handler(gw)}),
        limits=Limits(max_body=gw.settings.max_body_bytes),
        too_large=too_large_handler(gw),
        on_refused=refusal_reporter(gw, pending),
        handoff=aiohttp_handoff(runner),
    )
