"""Our operations' messages: read a validated request into domain values, write canonical answers.

Every answer the gateway gives is built here, in one canonical form (fixed prefixes, fixed order,
no whitespace), so that two answers with the same content are the same bytes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

from gateway.model import (
    Field,
    PortalRequest,
    ProvisionRecord,
    QueryResult,
    SubmitQuery,
    UpstreamAnswer,
)
from gateway.soap import PORTAL_NS, PROVISION_NS, SOAP_ENV
from gateway.soap.faults import ErrorCode, SoapFault
from gateway.soap.parse import BodyElement, body_element, parse_xml, plain_value

_HEAD = (
    f"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>"
)
_TAIL = "</soap:Body></soap:Envelope>"


def _el(name: str, text: str) -> str:
    return f"<t:{name}>{escape(text)}</t:{name}>"


# -- provision.wsdl ---------------------------------------------------------------------------
def read_submit_query(body: BodyElement) -> SubmitQuery:
    """The validated request as the one value the decision, the idempotency key, the stored
    request, the provision record and the upstream's request are all made from."""
    texts = body.texts()  # one pass over the children, not one search per field

    def t(name: str, default: str) -> str:
        return plain_value(texts.get(name, default))

    return SubmitQuery(
        processing_number=t("processingNumber", ""),
        requester_org_code=t("requesterOrgCode", ""),
        requester_dept_code=t("requesterDeptCode", ""),
        requester_user_id=t("requesterUserId", ""),
        affair_code=t("affairCode", ""),
        procedure_code=t("procedureCode", ""),
        item_code=t("itemCode", ""),
        subject_code=t("subjectCode", ""),
        requester_non_disclosure=t("requesterNonDisclosure", "") == "1",
        period_from=t("periodFrom", ""),
        period_to=t("periodTo", ""),
        requested_at=t("requestedAt", ""),
    )


def submit_query_envelope(q: SubmitQuery) -> bytes:
    """The SubmitQuery request the gateway sends upstream, automatically or when staff release a
    held query: built from the validated values alone, never from the requester's bytes."""
    parts = [
        _el("processingNumber", q.processing_number),
        _el("requesterOrgCode", q.requester_org_code),
    ]
    if q.requester_dept_code:
        parts.append(_el("requesterDeptCode", q.requester_dept_code))
    if q.requester_user_id:
        parts.append(_el("requesterUserId", q.requester_user_id))
    parts += [
        _el("affairCode", q.affair_code),
        _el("procedureCode", q.procedure_code),
        _el("itemCode", q.item_code),
        _el("subjectCode", q.subject_code),
        _el("requesterNonDisclosure", "1" if q.requester_non_disclosure else "0"),
    ]
    if q.period_from:
        parts.append(_el("periodFrom", q.period_from))
    if q.period_to:
        parts.append(_el("periodTo", q.period_to))
    parts.append(_el("requestedAt", q.requested_at))
    inner = "".join(parts)
    return (
        f'{_HEAD}<t:SubmitQueryRequest xmlns:t="{PROVISION_NS}">{inner}</t:SubmitQueryRequest>{_TAIL}'
    ).encode()


def query_result_envelope(result: QueryResult, operation: str) -> bytes:
    """SubmitQueryResponse or GetQueryResultResponse (`operation` is SubmitQuery/GetQueryResult)."""
    if result.relayed is not None and operation == "SubmitQuery":
        # the upstream's bytes, which were exactly what the lines below write for this result
        # (checked by gateway/soap/canonical.py, for this processing number)
        return result.relayed
    parts = [_el("processingNumber", result.processing_number), _el("status", result.status)]
    if result.fields is not None:
        fields = "".join(
            f"<t:field>{_el('name', f.name)}{_el('value', f.value)}</t:field>"
            for f in result.fields
        )
        parts.append(f"<t:provision>{fields}</t:provision>")
    if result.handling_notice is not None:
        parts.append(_el("handlingNotice", result.handling_notice))
    if result.refusal_code is not None:
        parts.append(_el("refusalCode", result.refusal_code))
    name = f"{operation}Response"
    return f'{_HEAD}<t:{name} xmlns:t="{PROVISION_NS}">{"".join(parts)}</t:{name}>{_TAIL}'.encode()


def _upstream_body(payload: bytes, namespace: str, name: str) -> BodyElement:
    """The upstream's answer element, which must be `name` in `namespace`; a fault, a message
    that does not parse or any other element is UPSTREAM_UNAVAILABLE (never passed on)."""
    try:
        body = body_element(parse_xml(payload), header_entries=True)
    except SoapFault:
        raise SoapFault(
            ErrorCode.UPSTREAM_UNAVAILABLE, "the upstream gave no usable answer"
        ) from None
    if body.namespace != namespace or body.name != name:
        raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, "the upstream gave no usable answer")
    return body


def read_upstream_answer(payload: bytes) -> UpstreamAnswer:
    """What the upstream said to a SubmitQuery; a fault or anything unexpected raises."""
    body = _upstream_body(payload, PROVISION_NS, "SubmitQueryResponse")
    status = body.text_of("status")
    if status == "PROVIDED":
        return UpstreamAnswer(
            True, _fields(body.element.find(f"{{{PROVISION_NS}}}provision"), PROVISION_NS)
        )
    if status == "REFUSED" and body.text_of("refusalCode") == "NO_DATA":
        return UpstreamAnswer(False)
    raise SoapFault(ErrorCode.UPSTREAM_UNAVAILABLE, f"the upstream answered {status or 'nothing'}")


def _fields(container: etree._Element | None, ns: str) -> tuple[Field, ...]:
    """Every `field` child as (name, value); a missing part is "", the first of a name wins.

    One walk over the children instead of a search per part: this runs on every answer.
    """
    if container is None:
        return ()
    field_tag, name_tag, value_tag = f"{{{ns}}}field", f"{{{ns}}}name", f"{{{ns}}}value"
    out = []
    for f in container:
        if f.tag != field_tag:
            continue
        name = value = None
        for part in f:
            if part.tag == name_tag and name is None:
                name = part.text or ""
            elif part.tag == value_tag and value is None:
                value = part.text or ""
        out.append(Field(name or "", value or ""))
    return tuple(out)


# -- portal.wsdl ------------------------------------------------------------------------------
def read_portal_request(body: BodyElement) -> PortalRequest:
    """GetSelfInformation or GetProvisionRecords, validated, as the values the portal acts on."""
    return PortalRequest(
        subject_code=plain_value(body.text_of("subjectCode")),
        item_code=plain_value(body.text_of("itemCode")),
    )


def self_information_envelope(fields: tuple[Field, ...] | None) -> bytes:
    """AVAILABLE with fields, or UNAVAILABLE: the one form for "blocked" and "no data" alike."""
    if fields:
        inner = "".join(
            f"<t:field>{_el('name', f.name)}{_el('value', f.value)}</t:field>" for f in fields
        )
        body = _el("status", "AVAILABLE") + inner
    else:
        body = _el("status", "UNAVAILABLE")
    return (
        f'{_HEAD}<t:GetSelfInformationResponse xmlns:t="{PORTAL_NS}">{body}'
        f"</t:GetSelfInformationResponse>{_TAIL}"
    ).encode()


def provision_records_envelope(records: list[ProvisionRecord]) -> bytes:
    rows = "".join(
        "<t:record>"
        + _el("processingNumber", r.processing_number)
        + _el("requesterOrgCode", r.requester_org_code)
        + _el("affairCode", r.affair_code)
        + _el("procedureCode", r.procedure_code)
        + _el("itemCode", r.item_code)
        + _el("requestedAt", r.requested_at)
        + _el("providedAt", r.provided_at)
        + "</t:record>"
        for r in records
    )
    return (
        f'{_HEAD}<t:GetProvisionRecordsResponse xmlns:t="{PORTAL_NS}">{rows}'
        f"</t:GetProvisionRecordsResponse>{_TAIL}"
    ).encode()


def self_information_request_envelope(subject_code: str, item_code: str = "") -> bytes:
    """GetSelfInformation as the gateway asks the upstream for it: from the validated values."""
    inner = _el("subjectCode", subject_code) + (_el("itemCode", item_code) if item_code else "")
    return (
        f'{_HEAD}<t:GetSelfInformationRequest xmlns:t="{PORTAL_NS}">{inner}'
        f"</t:GetSelfInformationRequest>{_TAIL}"
    ).encode()


def read_upstream_self_information(payload: bytes) -> tuple[Field, ...] | None:
    """Fields of an upstream GetSelfInformationResponse; None when it says UNAVAILABLE."""
    body = _upstream_body(payload, PORTAL_NS, "GetSelfInformationResponse")
    if body.text_of("status") != "AVAILABLE":
        return None
    return _fields(body.element, PORTAL_NS) or None
