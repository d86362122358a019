"""Bad input gets a clear SOAP Client fault of the right kind, is a security event, changes nothing,
and the gateway stays up."""

from __future__ import annotations

import pytest

from tests.conftest import Running
from tests.support import PROV, SOAP_ENV, Query

GOOD = Query("X-1", "SIM0000000000011")


def _swap(old: str, new: str) -> bytes:
    xml = GOOD.xml().decode()
    assert old in xml
    return xml.replace(old, new, 1).encode()


XXE = f"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><q:GetQueryResultRequest xmlns:q="{PROV}">
<q:processingNumber>&xxe;</q:processingNumber><q:requesterOrgCode>1310000000000001</q:requesterOrgCode>
</q:GetQueryResultRequest></soap:Body></soap:Envelope>""".encode()

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + f']><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>&lol9;</soap:Body></soap:Envelope>'
).encode()

EXTERNAL_DTD = f"""<?xml version="1.0"?><!DOCTYPE soap:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body/></soap:Envelope>""".encode()

PARAMETER_ENTITY = (
    b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]><x/>"""
)

CLIENT_FAULTS = {
    "xxe": (XXE, "FORBIDDEN_XML"),
    "billion_laughs": (BILLION_LAUGHS, "FORBIDDEN_XML"),
    "external_dtd": (EXTERNAL_DTD, "FORBIDDEN_XML"),
    "parameter_entity": (PARAMETER_ENTITY, "FORBIDDEN_XML"),
    "malformed": (b"<soap:Envelope xmlns:soap='x'><unclosed>", "MALFORMED_XML"),
    "empty": (b"", "MALFORMED_XML"),
    "not_xml": (b"processingNumber=1&subject=2", "MALFORMED_XML"),
    "utf16": ('<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"), "NOT_UTF8"),
    "declared_latin1": (b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "NOT_UTF8"),
    "bad_utf8": (GOOD.xml().replace(b"SIM0000000000011", b"SIM\xff\xfe"), "NOT_UTF8"),
    "not_an_envelope": (f'<q:SubmitQueryRequest xmlns:q="{PROV}"/>'.encode(), "NOT_SOAP"),
    "soap12_envelope": (
        GOOD.xml().replace(SOAP_ENV.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
        "NOT_SOAP",
    ),
    "two_body_children": (
        _swap("</q:SubmitQueryRequest>", '</q:SubmitQueryRequest><x:Other xmlns:x="urn:x"/>'),
        "NOT_SOAP",
    ),
    "empty_body": (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body/></soap:Envelope>'.encode(),
        "NOT_SOAP",
    ),
    "unknown_operation": (
        _swap("SubmitQueryRequest", "DeleteEverythingRequest").replace(
            b"</q:SubmitQueryRequest>", b"</q:DeleteEverythingRequest>"
        ),
        "UNKNOWN_OPERATION",
    ),
    "wrong_namespace": (GOOD.xml().replace(PROV.encode(), b"urn:other"), "UNKNOWN_OPERATION"),
    "portal_op_on_provision": (
        GOOD.xml().replace(b"SubmitQueryRequest", b"GetSelfInformationRequest"),
        "UNKNOWN_OPERATION",
    ),
    # every schema rule
    "pn_too_long": (_swap(">X-1<", ">" + "A" * 33 + "<"), "SCHEMA_INVALID"),
    "pn_bad_char": (_swap(">X-1<", ">X_1<"), "SCHEMA_INVALID"),
    "pn_empty": (_swap(">X-1<", "><"), "SCHEMA_INVALID"),
    "org_15_digits": (_swap(">1310000000000001<", ">131000000000000<"), "SCHEMA_INVALID"),
    "org_letters": (_swap(">1310000000000001<", ">131000000000000A<"), "SCHEMA_INVALID"),
    "dept_too_long": (_swap(">D01<", ">" + "D" * 21 + "<"), "SCHEMA_INVALID"),
    "user_bad_char": (_swap(">user_7<", ">user 7<"), "SCHEMA_INVALID"),
    "affair_prefix": (_swap(">JM00000000000001<", ">JX00000000000001<"), "SCHEMA_INVALID"),
    "affair_short": (_swap(">JM00000000000001<", ">JM0000000000001<"), "SCHEMA_INVALID"),
    "procedure_prefix": (_swap(">JT00000000000001<", ">JM00000000000001<"), "SCHEMA_INVALID"),
    "item_prefix": (_swap(">TM00000000000001<", ">TX00000000000001<"), "SCHEMA_INVALID"),
    "item_long": (_swap(">TM00000000000001<", ">TM000000000000011<"), "SCHEMA_INVALID"),
    "subject_symbol": (_swap(">SIM0000000000011<", ">SIM-0000000011<"), "SCHEMA_INVALID"),
    "subject_too_long": (_swap(">SIM0000000000011<", ">" + "S" * 65 + "<"), "SCHEMA_INVALID"),
    "subject_missing": (
        _swap("<q:subjectCode>SIM0000000000011</q:subjectCode>", ""),
        "SCHEMA_INVALID",
    ),
    "nd_two": (Query("X-1", "SIM0000000000011", non_disclosure="2").xml(), "SCHEMA_INVALID"),
    "requested_at_not_datetime": (
        _swap(">2026-11-26T10:00:00+09:00<", ">yesterday<"),
        "SCHEMA_INVALID",
    ),
    "requested_at_missing": (
        _swap("<q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt>", ""),
        "SCHEMA_INVALID",
    ),
    "period_not_date": (
        _swap("<q:requestedAt>", "<q:periodFrom>2026-13-01</q:periodFrom><q:requestedAt>"),
        "SCHEMA_INVALID",
    ),
    "wrong_order": (
        _swap(
            "<q:affairCode>JM00000000000001</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode>",
            "<q:procedureCode>JT00000000000001</q:procedureCode><q:affairCode>JM00000000000001</q:affairCode>",
        ),
        "SCHEMA_INVALID",
    ),
    "extra_element": (
        _swap("<q:requestedAt>", "<q:myNumber>123456789012</q:myNumber><q:requestedAt>"),
        "SCHEMA_INVALID",
    ),
    "unqualified_child": (
        _swap("<q:itemCode>TM00000000000001</q:itemCode>", "<itemCode>TM00000000000001</itemCode>"),
        "SCHEMA_INVALID",
    ),
    "attribute_injection": (_swap("<q:itemCode>", '<q:itemCode evil="1">'), "SCHEMA_INVALID"),
}


@pytest.mark.parametrize("case", sorted(CLIENT_FAULTS))
async def test_bad_input_is_a_client_fault_a_security_event_and_changes_nothing(
    running: Running, case: str
) -> None:
    body, code = CLIENT_FAULTS[case]
    keys_before = set(await running.gw.redis.client.keys("*"))
    ans = await running.post("/soap/provision", body)
    assert (ans.http_status, ans.fault_code, ans.error_code) == (500, "soap:Client", code)
    assert b"/etc/passwd" not in ans.raw and b"root:" not in ans.raw
    assert running.upstream.calls == []
    events = await running.events("security.hostile_input")
    assert events and events[-1]["error_code"] == code and events[-1]["service"] == "provision"
    # nothing changed but the event log (and the audit trail sealing it)
    assert set(await running.gw.redis.client.keys("*")) - keys_before <= (
        running.gw.redis.keys.audit_keys
    )
    # and the gateway still works
    assert (
        await running.submit(
            Query("ok-" + case.replace("_", "-"), running.residents[10].subject_code)
        )
    ).status == "PROVIDED"


async def test_oversized_body_is_refused_413_as_a_soap_fault(running: Running) -> None:
    body = GOOD.xml().replace(
        b"<q:requestedAt>", b"<!--" + b"x" * (1024 * 1024) + b"--><q:requestedAt>"
    )
    ans = await running.post("/soap/provision", body)
    assert (ans.http_status, ans.fault_code, ans.error_code) == (
        413,
        "soap:Client",
        "BODY_TOO_LARGE",
    )
    assert (await running.events("security.hostile_input"))[-1]["error_code"] == "BODY_TOO_LARGE"


async def test_oversized_chunked_body_is_refused_without_reading_it_all(running: Running) -> None:
    async def chunks():
        yield GOOD.xml()[:100]
        for _ in range(40):
            yield b"y" * 65536

    async with running.session.post(running.url + "/soap/provision", data=chunks()) as resp:
        assert resp.status == 413
        assert b"BODY_TOO_LARGE" in await resp.read()


async def test_portal_rejects_hostile_input_the_same_way(running: Running) -> None:
    ans = await running.post(
        "/soap/portal", XXE.replace(PROV.encode(), b"urn:hogo-gateway:portal:1")
    )
    assert (ans.fault_code, ans.error_code) == ("soap:Client", "FORBIDDEN_XML")
    assert (await running.events("security.hostile_input"))[-1]["service"] == "portal"


async def test_fault_carries_error_code_in_the_service_namespace(running: Running) -> None:
    ans = await running.post("/soap/provision", b"<nope")
    assert (
        b'<tns:errorCode xmlns:tns="urn:hogo-gateway:provision:1">MALFORMED_XML</tns:errorCode>'
        in ans.raw
    )
