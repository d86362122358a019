"""The one-pass readers of requests and answers give exactly what a search per field gives.

`read_submit_query` and the answers' field reader were rewritten for speed (bench/micro.py); these
property checks hold them to the straightforward versions on thousands of random documents: every
schema-valid SubmitQuery, and upstream answers with missing, repeated, reordered and foreign parts.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

from lxml import etree

from gateway.model import Field
from gateway.soap import PORTAL_NS, PROVISION_NS, SOAP_ENV
from gateway.soap.messages import _fields, read_submit_query
from gateway.soap.parse import BodyElement, body_element, parse_xml, service_schema

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CASES = 3000


def _reference_submit_query(body: BodyElement) -> dict[str, str]:
    t = body.text_of
    names = [
        "processingNumber", "requesterOrgCode", "requesterDeptCode", "requesterUserId",
        "affairCode", "procedureCode", "itemCode", "subjectCode", "requesterNonDisclosure",
        "periodFrom", "periodTo", "requestedAt",
    ]  # fmt: skip
    return {n: t(n) for n in names}


def _reference_fields(container: etree._Element | None, ns: str) -> tuple[Field, ...]:
    if container is None:
        return ()
    out = []
    for f in container.iterfind(f"{{{ns}}}field"):
        name = f.find(f"{{{ns}}}name")
        value = f.find(f"{{{ns}}}value")
        out.append(
            Field(
                (name.text or "") if name is not None else "",
                (value.text or "") if value is not None else "",
            )
        )
    return tuple(out)


def _word(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _submit_query(rng: random.Random) -> bytes:
    p = rng.choice(["q", "t", "ns0", "a"])
    space = (lambda: rng.choice(["", " ", "\n  "])) if rng.random() < 0.3 else (lambda: "")
    parts = [("processingNumber", _word(rng, ALNUM + "-", 1, 32))]
    parts.append(("requesterOrgCode", _digits(rng, 16)))
    if rng.random() < 0.6:
        parts.append(("requesterDeptCode", _word(rng, ALNUM + "_-", 0, 20)))
    if rng.random() < 0.6:
        parts.append(("requesterUserId", _word(rng, ALNUM + "_-", 0, 20)))
    parts += [
        ("affairCode", "JM" + _digits(rng, 14)),
        ("procedureCode", "JT" + _digits(rng, 14)),
        ("itemCode", "TM" + _digits(rng, 14)),
        ("subjectCode", _word(rng, ALNUM, 1, 64)),
    ]
    if rng.random() < 0.5:
        parts.append(("requesterNonDisclosure", rng.choice("01")))
    if rng.random() < 0.3:
        parts.append(
            ("periodFrom", f"20{_digits(rng, 2)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
        )
    if rng.random() < 0.3:
        parts.append(("periodTo", f"20{_digits(rng, 2)}-1{rng.randint(0, 2)}-2{rng.randint(0, 8)}"))
    parts.append(("requestedAt", "2026-11-26T10:00:00" + rng.choice(["", "Z", "+09:00"])))
    inner = "".join(f"{space()}<{p}:{n}>{escape(v)}</{p}:{n}>" for n, v in parts)
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<{p}:SubmitQueryRequest xmlns:{p}="{PROVISION_NS}">{inner}{space()}'
        f"</{p}:SubmitQueryRequest></soap:Body></soap:Envelope>"
    ).encode()


def test_read_submit_query_matches_a_search_per_field_on_every_valid_request() -> None:
    rng = random.Random(20261126)
    schema = service_schema("provision.wsdl")
    for _ in range(CASES):
        doc = _submit_query(rng)
        body = body_element(parse_xml(doc))
        assert schema.validate(body.element), doc  # the generator makes only valid requests
        got = read_submit_query(body)
        want = _reference_submit_query(body)
        assert (
            got.processing_number,
            got.requester_org_code,
            got.requester_dept_code,
            got.requester_user_id,
            got.affair_code,
            got.procedure_code,
            got.item_code,
            got.subject_code,
            got.requester_non_disclosure,
            got.period_from,
            got.period_to,
            got.requested_at,
        ) == (
            want["processingNumber"],
            want["requesterOrgCode"],
            want["requesterDeptCode"],
            want["requesterUserId"],
            want["affairCode"],
            want["procedureCode"],
            want["itemCode"],
            want["subjectCode"],
            want["requesterNonDisclosure"].strip() == "1",
            want["periodFrom"],
            want["periodTo"],
            want["requestedAt"],
        ), doc


def _answer_fields(rng: random.Random, ns: str) -> str:
    """Field elements as a careless or hostile upstream might write them."""
    out = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if kind < 0.1:
            out.append('<x:field xmlns:x="urn:other"><x:name>n</x:name></x:field>')
            continue
        if kind < 0.15:
            out.append("<t:other>ignored</t:other>")
            continue
        parts = []
        for _ in range(rng.randint(0, 4)):
            tag = rng.choice(["name", "value", "name", "value", "extra"])
            text = rng.choice(["", "課税標準額", "1800000", "&amp;<>", _word(rng, ALNUM, 1, 8)])
            text = text if text != "&amp;<>" else "&amp;&lt;&gt;"
            parts.append(f"<t:{tag}>{text}</t:{tag}>" if rng.random() < 0.9 else f"<t:{tag}/>")
        out.append(f"<t:field>{''.join(parts)}</t:field>")
    return "".join(out)


def test_field_reader_matches_a_search_per_part_on_any_answer() -> None:
    rng = random.Random(7)
    for _ in range(CASES):
        ns = rng.choice([PROVISION_NS, PORTAL_NS])
        doc = (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><t:R xmlns:t="{ns}">'
            f"<t:status>AVAILABLE</t:status>{_answer_fields(rng, ns)}</t:R>"
            "</soap:Body></soap:Envelope>"
        ).encode()
        element = body_element(parse_xml(doc)).element
        assert _fields(element, ns) == _reference_fields(element, ns), doc
