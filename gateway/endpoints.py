"""HTTP endpoints: the two SOAP services and the operator's health, readiness and metrics.

Thin on purpose: read the body under the size limit, parse and validate at the edge, hand domain
values to the services, write the canonical answer. Every refusal of input is a security event.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import metrics
from gateway.audit import tasks as audit_tasks
from gateway.context import Gateway
from gateway.soap import PORTAL_NS, PROVISION_NS
from gateway.soap.faults import ErrorCode, SoapFault, fault_body
from gateway.soap.messages import (
    provision_records_envelope,
    query_result_envelope,
    read_portal_request,
    read_submit_query,
    self_information_envelope,
)
from gateway.soap.parse import BodyElement, body_element, parse_xml, validate
from gateway.store.redis import StoreUnavailable
from gateway.tls import certified_org

log = logging.getLogger("hogo.http")

GATEWAY = web.AppKey("gateway", Gateway)
XML = "text/xml; charset=utf-8"


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


async def _read_operation(
    request: web.Request, namespace: str, wsdl: str, operations: set[str]
) -> BodyElement:
    """The validated operation element. The requester's bytes end here: what goes on (to the
    store, the upstream) is read from this element into domain values and built anew."""
    gw = request.app[GATEWAY]
    body = await read_body(request, gw.settings.max_body_bytes)
    element = body_element(parse_xml(body))
    if element.namespace != namespace or element.name not in operations:
        raise SoapFault(ErrorCode.UNKNOWN_OPERATION)
    validate(element.element, wsdl)
    return element


async def _fault(
    request: web.Request, exc: Exception, namespace: str, service: str
) -> web.Response:
    gw = request.app[GATEWAY]
    if isinstance(exc, StoreUnavailable):
        fault = SoapFault(ErrorCode.TEMPORARILY_UNAVAILABLE)
    elif isinstance(exc, SoapFault):
        fault = exc
    else:
        log.exception("unexpected failure in %s", service)
        fault = SoapFault(ErrorCode.INTERNAL_ERROR)
    metrics.FAULTS.labels(fault.code.value).inc()
    if service == "provision":
        metrics.QUERIES.labels("fault").inc()
    if fault.is_client:
        await gw.events.security(
            "hostile_input",
            f"peer:{request.remote or 'unknown'}",
            service=service,
            error_code=fault.code.value,
            decision="rejected",
            reason=fault.code.value,
        )
    else:
        log.warning("%s fault %s: %s", service, fault.code.value, fault)
    status = 413 if fault.code is ErrorCode.BODY_TOO_LARGE else 500
    message = (
        None
        if fault.is_client
        else str(fault)
        if fault.code is ErrorCode.UPSTREAM_UNAVAILABLE
        else None
    )
    return web.Response(
        body=fault_body(fault.code, namespace, message),
        status=status,
        content_type="text/xml",
        charset="utf-8",
    )


async def provision_endpoint(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        if gw.provision is None:
            raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, "no upstream is configured")
        element = await _read_operation(
            request, PROVISION_NS, "provision.wsdl", {"SubmitQueryRequest", "GetQueryResultRequest"}
        )
        certified = certified_org(request)  # who the client certificate names (mutual TLS)
        if element.name == "SubmitQueryRequest":
            result = await gw.provision.submit(read_submit_query(element), certified)
            payload = query_result_envelope(result, "SubmitQuery")
        else:
            result = await gw.provision.result(
                element.text_of("requesterOrgCode"),
                element.text_of("processingNumber"),
                certified,
            )
            payload = query_result_envelope(result, "GetQueryResult")
    except Exception as exc:
        return await _fault(request, exc, PROVISION_NS, "provision")
    return web.Response(body=payload, content_type="text/xml", charset="utf-8")


async def portal_endpoint(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        if gw.portal is None:
            raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, "no upstream is configured")
        element = await _read_operation(
            request,
            PORTAL_NS,
            "portal.wsdl",
            {"GetSelfInformationRequest", "GetProvisionRecordsRequest"},
        )
        view = read_portal_request(element)
        if element.name == "GetSelfInformationRequest":
            fields = await gw.portal.self_information(view)
            payload = self_information_envelope(fields)
        else:
            payload = provision_records_envelope(await gw.portal.provision_records(view))
    except Exception as exc:
        return await _fault(request, exc, PORTAL_NS, "portal")
    return web.Response(body=payload, content_type="text/xml", charset="utf-8")


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
