"""The two SOAP services as bytes in, bytes out, whatever serves the HTTP.

Both the aiohttp application (`gateway/endpoints.py`) and the lean provision listener
(`gateway/lean/`) hand a request's body here and write back what comes out: parse and validate at
the edge, domain values to the services, the canonical answer or a fault. The requester's bytes
end in `read_operation`; what goes on is built from the values read there. Every refusal of
input is a security event, recorded here once for every transport.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway import metrics
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

log = logging.getLogger("hogo.soap")

PROVISION_OPERATIONS = frozenset({"SubmitQueryRequest", "GetQueryResultRequest"})
PORTAL_OPERATIONS = frozenset({"GetSelfInformationRequest", "GetProvisionRecordsRequest"})


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP status and the SOAP envelope to send with it (text/xml; charset=utf-8)."""

    status: int
    body: bytes


def read_operation(
    body: bytes, namespace: str, wsdl: str, operations: frozenset[str]
) -> BodyElement:
    """The validated operation element. The requester's bytes end here: what goes on (to the
    store, the upstream) is read from this element into domain values and built anew."""
    element = body_element(parse_xml(body))
    if element.namespace != namespace or element.name not in operations:
        raise SoapFault(ErrorCode.UNKNOWN_OPERATION)
    validate(element.element, wsdl)
    return element


async def fault_answer(gw: Gateway, exc: Exception, service: str, peer: str) -> Answer:
    """The fault for a failure of `service` ("provision" | "portal"), counted and, for a client
    fault, recorded as hostile input from `peer` (its address, never anything it claimed)."""
    namespace = PROVISION_NS if service == "provision" else PORTAL_NS
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
            f"peer:{peer or 'unknown'}",
            service=service,
            error_code=fault.code.value,
            decision="rejected",
            reason=fault.code.value,
        )
    else:
        log.warning("%s fault %s: %s", service, fault.code.value, fault)
    status = 413 if fault.code is ErrorCode.BODY_TOO_LARGE else 500
    message = str(fault) if fault.code is ErrorCode.UPSTREAM_UNAVAILABLE else None
    return Answer(status, fault_body(fault.code, namespace, message))


async def provision(gw: Gateway, body: bytes, certified: str | None, peer: str) -> Answer:
    """POST /soap/provision: SubmitQuery or GetQueryResult. `certified`: the requester the
    client certificate names (gateway.tls.certified_org); `peer`: the connection's address."""
    try:
        if gw.provision is None:
            raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, "no upstream is configured")
        element = read_operation(body, PROVISION_NS, "provision.wsdl", PROVISION_OPERATIONS)
        if element.name == "SubmitQueryRequest":
            result = await gw.provision.submit(read_submit_query(element), certified)
            return Answer(200, query_result_envelope(result, "SubmitQuery"))
        result = await gw.provision.result(
            element.text_of("requesterOrgCode"), element.text_of("processingNumber"), certified
        )
        return Answer(200, query_result_envelope(result, "GetQueryResult"))
    except Exception as exc:
        return await fault_answer(gw, exc, "provision", peer)


async def portal(gw: Gateway, body: bytes, peer: str) -> Answer:
    """POST /soap/portal: GetSelfInformation or GetProvisionRecords."""
    try:
        if gw.portal is None:
            raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, "no upstream is configured")
        element = read_operation(body, PORTAL_NS, "portal.wsdl", PORTAL_OPERATIONS)
        view = read_portal_request(element)
        if element.name == "GetSelfInformationRequest":
            return Answer(200, self_information_envelope(await gw.portal.self_information(view)))
        records = await gw.portal.provision_records(view)
        return Answer(200, provision_records_envelope(records))
    except Exception as exc:
        return await fault_answer(gw, exc, "portal", peer)
