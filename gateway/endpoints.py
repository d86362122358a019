"""HTTP endpoints: the two SOAP services and the operator's health, readiness and metrics.

Thin on purpose: read the body under the size limit and hand it to `gateway.soap.answer`, which
the lean provision listener shares (parse and validate, the services, the canonical answer or a
fault, every refusal of input a security event).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import metrics
from gateway.audit import tasks as audit_tasks
from gateway.context import Gateway
from gateway.soap import answer as soap_answer
from gateway.soap.faults import ErrorCode, SoapFault
from gateway.store.redis import StoreUnavailable
from gateway.tls import certified_org

GATEWAY = web.AppKey("gateway", Gateway)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, or a BODY_TOO_LARGE fault as soon as it passes `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise SoapFault(ErrorCode.BODY_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise SoapFault(ErrorCode.BODY_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def _respond(answer: soap_answer.Answer) -> web.Response:
    return web.Response(
        body=answer.body, status=answer.status, content_type="text/xml", charset="utf-8"
    )


async def _soap_endpoint(
    request: web.Request, service: str, answer: Callable[[bytes], Awaitable[soap_answer.Answer]]
) -> web.Response:
    """A SOAP service's endpoint: the body read within its limit (else the fault, recorded as
    the service's), then `answer(body)`."""
    gw = request.app[GATEWAY]
    try:
        body = await read_body(request, gw.settings.max_body_bytes)
    except SoapFault as exc:
        return _respond(await soap_answer.fault_answer(gw, exc, service, request.remote or ""))
    return _respond(await answer(body))


async def provision_endpoint(request: web.Request) -> web.Response:
    gw, peer = request.app[GATEWAY], request.remote or ""
    # who the client certificate names (mutual TLS)
    return await _soap_endpoint(
        request,
        "provision",
        lambda body: soap_answer.provision(gw, body, certified_org(request), peer),
    )


async def portal_endpoint(request: web.Request) -> web.Response:
    gw, peer = request.app[GATEWAY], request.remote or ""
    return await _soap_endpoint(request, "portal", lambda body: soap_answer.portal(gw, body, peer))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    store_ok, upstream_ok = await asyncio.gather(
        gw.redis.ping(),
        gw.upstream.reachable(2.0) if gw.upstream else asyncio.sleep(0, result=False),
    )
    metrics.STORE_UP.set(1 if store_ok else 0)
    ready = store_ok and upstream_ok
    return web.json_response(
        {"ready": ready, "store": store_ok, "upstream": upstream_ok}, status=200 if ready else 503
    )


async def metrics_endpoint(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        metrics.HELD_WAITING.set(await gw.queries.count_waiting())
        await audit_tasks.update_metrics(gw)
        metrics.STORE_UP.set(1)
    except StoreUnavailable:
        metrics.STORE_UP.set(0)
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
