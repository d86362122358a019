"""What the upstream receives is the request the gateway built from the values it checked, never
the requester's bytes; what could make the two differ is refused as a Client fault."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.model import SubmitQuery
from gateway.settings import Settings
from gateway.simulator import Resident, synthetic_residents
from gateway.soap.messages import self_information_request_envelope, submit_query_envelope
from tests.conftest import Running, start_running, stop_running
from tests.flag_support import flag
from tests.support import PORTAL, PROV, SOAP_ENV, Query, portal_xml
from tests.upstreams import RecordingUpstream, naive_subject_codes


@pytest.fixture
async def recorded(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[Running]:
    upstream = RecordingUpstream(residents={r.subject_code: r for r in residents})
    r, runners = await start_running(settings, redis_url, residents, upstream)
    yield r
    await stop_running(r, runners)


def _upstream(running: Running) -> RecordingUpstream:
    assert isinstance(running.upstream, RecordingUpstream)
    return running.upstream


def _expected(q: Query, **changes: str) -> bytes:
    """The one request the gateway may send for `q`: built from its values, nothing else."""
    values = {
        "processing_number": q.processing_number,
        "requester_org_code": q.requester,
        "requester_dept_code": "D01",
        "requester_user_id": "user_7",
        "affair_code": q.affair,
        "procedure_code": q.procedure,
        "item_code": q.item,
        "subject_code": q.subject_code,
        "requested_at": q.requested_at,
        **changes,
    }
    return submit_query_envelope(SubmitQuery(**values))


DECOY_HEADER = (
    f'<soap:Header><h:SubmitQueryRequest xmlns:h="{PROV}">'
    "<h:subjectCode>{hidden}</h:subjectCode></h:SubmitQueryRequest></soap:Header>"
)


async def test_a_header_cannot_make_a_careless_upstream_answer_about_a_flagged_person(
    recorded: Running,
) -> None:
    """The Body names an unflagged decoy, the Header the flagged person: an upstream that takes
    the first subjectCode in document order would answer about the victim, while the gateway,
    the provision record and the trail name the decoy."""
    up = _upstream(recorded)
    up.naive = True
    decoy, victim = recorded.residents[1], recorded.residents[2]
    await flag(recorded.gw, victim)
    body = (
        Query("HD-1", decoy.subject_code)
        .xml()
        .replace(
            b"<soap:Body>",
            DECOY_HEADER.format(hidden=victim.subject_code).encode() + b"<soap:Body>",
        )
    )
    ans = await recorded.post("/soap/provision", body)
    assert (ans.fault_code, ans.error_code) == ("soap:Client", "HEADER_NOT_ALLOWED")
    assert up.received == []
    [event] = await recorded.events("security.hostile_input")
    assert event["error_code"] == "HEADER_NOT_ALLOWED"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(
            lambda b: b.replace(b"<soap:Body>", b"<soap:Header/><soap:Body>"), id="empty-header"
        ),
        pytest.param(
            lambda b: b.replace(
                b"<soap:Body>", b"<soap:Header>\n  <!-- nothing -->\n</soap:Header><soap:Body>"
            ),
            id="header-with-a-comment-only",
        ),
        pytest.param(
            lambda b: b.replace(
                b"<q:subjectCode>",
                b"<!-- <q:subjectCode>SIM0000000000003</q:subjectCode> --><q:subjectCode>",
            ),
            id="comment-naming-another-subject",
        ),
        pytest.param(
            lambda b: b.replace(
                b"<q:subjectCode>", b"<?subjectCode SIM0000000000003?><q:subjectCode>"
            ),
            id="processing-instruction",
        ),
        pytest.param(
            lambda b: b.replace(b">SIM0000000000001<", b"><![CDATA[SIM0000000000001]]><"),
            id="cdata-value",
        ),
        pytest.param(
            lambda b: b.replace(b">SIM0000000000001<", b">SIM000<!-- x -->0000000001<"),
            id="comment-inside-the-value",
        ),
        pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="utf8-bom"),
        pytest.param(
            lambda b: b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>' + b,
            id="bom-and-utf8-declared",
        ),
        pytest.param(
            lambda b: b.replace(b"q:", b"x:").replace(b"xmlns:q=", b"xmlns:x="), id="other-prefix"
        ),
        pytest.param(
            lambda b: b.replace(
                b"<q:subjectCode>", f'<z:subjectCode xmlns:z="{PROV}">'.encode()
            ).replace(b"</q:subjectCode>", b"</z:subjectCode>"),
            id="namespace-redeclared",
        ),
        pytest.param(lambda b: b.replace(b"<q:itemCode>", b"\n\t <q:itemCode>"), id="indentation"),
        pytest.param(lambda b: b + b"<!-- SIM0000000000003 -->", id="comment-after-the-envelope"),
    ],
)
async def test_the_upstream_receives_the_gateways_own_request(recorded: Running, mutate) -> None:
    q = Query("RB-1", recorded.residents[0].subject_code)
    body = mutate(q.xml())
    ans = await recorded.post("/soap/provision", body)
    assert ans.status == "PROVIDED", ans.raw
    [got] = _upstream(recorded).received
    assert got.body == _expected(q)
    assert naive_subject_codes(got.body) == [q.subject_code]
    assert b"SIM0000000000003" not in got.body


async def test_the_requesters_http_headers_do_not_reach_the_upstream(recorded: Running) -> None:
    q = Query("RB-2", recorded.residents[0].subject_code)
    await recorded.post(
        "/soap/provision", q.xml(), SOAPAction='"urn:other/Delete"', **{"X-Subject": "SIM9"}
    )
    [got] = _upstream(recorded).received
    assert got.headers["SOAPAction"] == f'"{PROV}/SubmitQuery"'
    assert "X-Subject" not in got.headers
    assert got.headers["Idempotency-Key"] != "" and "SIM9" not in str(got.headers)


CLIENT_FAULTS = {
    # a BOM says UTF-8; older libxml2 builds honour a declaration after it instead
    "bom-then-shift-jis": (
        lambda b: b'\xef\xbb\xbf<?xml version="1.0" encoding="Shift_JIS"?>' + b,
        "ENCODING_MISMATCH",
    ),
    "bom-then-latin1-single-quotes": (
        lambda b: b"\xef\xbb\xbf<?xml version='1.0' encoding='ISO-8859-1' standalone='yes'?>" + b,
        "ENCODING_MISMATCH",
    ),
    "declaration-we-cannot-read": (
        lambda b: b'<?xml version="1.0" encoding=Shift_JIS?>' + b,
        "NOT_UTF8",
    ),
    "header-with-text": (
        lambda b: b.replace(
            b"<soap:Body>", b"<soap:Header>SIM0000000000003</soap:Header><soap:Body>"
        ),
        "HEADER_NOT_ALLOWED",
    ),
    "header-with-a-foreign-element": (
        lambda b: b.replace(
            b"<soap:Body>",
            b'<soap:Header><w:Security xmlns:w="urn:x"/></soap:Header><soap:Body>',
        ),
        "HEADER_NOT_ALLOWED",
    ),
    "two-headers": (
        lambda b: b.replace(b"<soap:Body>", b"<soap:Header/><soap:Header/><soap:Body>"),
        "NOT_SOAP",
    ),
    "header-after-the-body": (
        lambda b: b.replace(b"</soap:Envelope>", b"<soap:Header/></soap:Envelope>"),
        "NOT_SOAP",
    ),
    "two-bodies": (
        lambda b: b.replace(b"</soap:Envelope>", b"<soap:Body/></soap:Envelope>"),
        "NOT_SOAP",
    ),
    "a-second-operation-in-the-body": (
        lambda b: b.replace(
            b"</soap:Body>",
            f'<q:SubmitQueryRequest xmlns:q="{PROV}"/></soap:Body>'.encode(),
        ),
        "NOT_SOAP",
    ),
    "text-in-the-body": (
        lambda b: b.replace(b"</soap:Body>", b"SIM0000000000003</soap:Body>"),
        "NOT_SOAP",
    ),
    "text-in-the-envelope": (
        lambda b: b.replace(b"<soap:Body>", b"SIM0000000000003<soap:Body>"),
        "NOT_SOAP",
    ),
    "text-between-the-fields": (
        lambda b: b.replace(b"<q:itemCode>", b"SIM0000000000003<q:itemCode>"),
        "SCHEMA_INVALID",
    ),
    "schema-location-attribute": (
        lambda b: b.replace(
            b"<q:subjectCode>",
            b'<q:subjectCode xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            b'xsi:noNamespaceSchemaLocation="SIM0000000000003">',
        ),
        "SCHEMA_INVALID",
    ),
    "attribute-on-the-operation": (
        lambda b: b.replace(
            b"<q:SubmitQueryRequest ", b'<q:SubmitQueryRequest subjectCode="SIM0000000000003" '
        ),
        "SCHEMA_INVALID",
    ),
    "xsi-nil": (
        lambda b: b.replace(
            b"<q:requesterDeptCode>D01",
            b'<q:requesterDeptCode xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true">',
        ),
        "SCHEMA_INVALID",
    ),
    # xs:dateTime collapses whitespace, and libxml2 accepts it trailing: the value read would
    # not be the one a strict reader sees
    "trailing-whitespace-in-requested-at": (
        lambda b: b.replace(b"+09:00</q:requestedAt>", b"+09:00 \n</q:requestedAt>"),
        "SCHEMA_INVALID",
    ),
    "subject-in-another-namespace": (
        lambda b: b.replace(
            b"<q:subjectCode>SIM0000000000001</q:subjectCode>",
            b'<o:subjectCode xmlns:o="urn:other">SIM0000000000001</o:subjectCode>',
        ),
        "SCHEMA_INVALID",
    ),
    "a-second-envelope-level-element": (
        lambda b: b.replace(
            b"</soap:Envelope>",
            f'<q:SubmitQueryRequest xmlns:q="{PROV}"/></soap:Envelope>'.encode(),
        ),
        "NOT_SOAP",
    ),
}


@pytest.mark.parametrize("case", sorted(CLIENT_FAULTS))
async def test_what_could_make_the_checked_and_the_sent_differ_is_refused(
    recorded: Running, case: str
) -> None:
    mutate, code = CLIENT_FAULTS[case]
    body = mutate(Query("RF-1", recorded.residents[0].subject_code).xml())
    ans = await recorded.post("/soap/provision", body)
    assert (ans.http_status, ans.fault_code, ans.error_code) == (500, "soap:Client", code)
    assert _upstream(recorded).received == []
    [event] = await recorded.events("security.hostile_input")
    assert event["error_code"] == code


# -- the portal -------------------------------------------------------------------------------
async def test_the_portal_sends_the_upstream_its_own_request(recorded: Running) -> None:
    person = recorded.residents[4]
    body = portal_xml("GetSelfInformation", person.subject_code, "TM00000000000001")
    body = body.replace(b"<p:itemCode>", b"<!-- SIM0000000000003 --><p:itemCode>")
    async with recorded.session.post(recorded.url + "/soap/portal", data=body) as resp:
        assert resp.status == 200
    [got] = _upstream(recorded).received
    assert got.body == self_information_request_envelope(person.subject_code, "TM00000000000001")
    assert got.headers["SOAPAction"] == f'"{PORTAL}/GetSelfInformation"'


async def test_the_portal_refuses_a_header(recorded: Running) -> None:
    person = recorded.residents[4]
    body = portal_xml("GetSelfInformation", person.subject_code).replace(
        b"<soap:Body>",
        f'<soap:Header><p:subjectCode xmlns:p="{PORTAL}">SIM0000000000003</p:subjectCode>'
        "</soap:Header><soap:Body>".encode(),
    )
    async with recorded.session.post(recorded.url + "/soap/portal", data=body) as resp:
        assert resp.status == 500 and b"HEADER_NOT_ALLOWED" in await resp.read()
    assert _upstream(recorded).received == []


def test_the_synthetic_residents_used_here_are_the_ones_named() -> None:
    """The cases above name SIM…01 (asked about) and SIM…03 (a decoy) by their codes."""
    codes = [r.subject_code for r in synthetic_residents(3)]
    assert codes == ["SIM0000000000001", "SIM0000000000002", "SIM0000000000003"]
    assert SOAP_ENV in Query("x", codes[0]).xml().decode()


def test_the_parser_reads_utf8_whatever_the_document_declares() -> None:
    """The second wall behind the refusal of a foreign declaration: libxml2 never switches."""
    from lxml import etree

    from gateway.soap.parse import _PARSER, declared_encoding

    sjis = "<?xml version='1.0' encoding='Shift_JIS'?><a>テスト</a>"
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(sjis.encode("shift_jis"), _PARSER)
    assert etree.fromstring(sjis.encode(), _PARSER).text == "テスト"
    assert declared_encoding(b"\xef\xbb\xbf" + sjis.encode()) == b"Shift_JIS"
    assert declared_encoding(b"<?xml version='1.0'?><a/>") is None
    assert declared_encoding(b"<a/>") is None
    assert declared_encoding(b'<?xml version="1.0" encoding=UTF-8?><a/>') == b""
