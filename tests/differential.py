"""The differential test of what the upstream receives (issue 11): generated and mutated envelopes
go through a real gateway (`hogo-gateway serve` in its own process, a real redis-server) to a
recording upstream (a real aiohttp server on loopback that answers about the first subjectCode
it finds in document order, as a careless endpoint would). For every example, either

- the requester got a Client fault, the upstream received nothing and the store holds no query
  for it; or
- what the upstream received is byte for byte the request built from the values the example
  meant (so nothing of the requester's bytes came through), a naive document-order reader finds
  in it exactly one subjectCode, the one the gateway decided on (its stored request, its query's
  subject key, its provision record), and the decoy's and the hidden person's codes appear
  nowhere else; and the flagged (hidden) person's answer never comes back.

Used by tests/test_upstream_differential.py (a few hundred examples) and, for the full run,
`python -m bench.differential --examples 10000` (or `python -m tests.differential`).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import secrets
import shutil
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import redis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.context import Gateway, open_gateway
from gateway.crypto import Keyring
from gateway.demo import flag_resident
from gateway.directory_import import import_pairs
from gateway.model import SubmitQuery
from gateway.settings import Settings
from gateway.simulator import synthetic_residents
from gateway.soap.faults import ErrorCode
from gateway.soap.messages import self_information_request_envelope, submit_query_envelope
from gateway.store.keys import Keys
from tests.support import (
    AFFAIR,
    PORTAL,
    PROV,
    REQUESTER,
    SOAP_ENV,
    GatewayProcess,
    RedisServer,
    parse_answer,
    serve_app,
)
from tests.upstreams import RecordingUpstream, naive_subject_codes

T = TypeVar("T")

RESIDENTS = list(synthetic_residents(6))
DECOY = RESIDENTS[1]  # not flagged: what the Body asks about
HIDDEN = RESIDENTS[2]  # flagged: what the attacker wants answered
UNKNOWN = "NOTINDIRECTORY7"
# what only the flagged person's answer holds (the synthetic residents share some values)
HIDDEN_ONLY = {f.value for f in HIDDEN.fields if len(f.value) >= 5} - {
    f.value for r in RESIDENTS if r is not HIDDEN for f in r.fields
}
SUBJECTS = {"decoy": DECOY.subject_code, "hidden": HIDDEN.subject_code, "unknown": UNKNOWN}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FAULT_CODES = {c.value for c in ErrorCode}


# -- examples --------------------------------------------------------------------------------
# Snippets put somewhere in the document; each names the hidden person ({H}) where it can.
SNIPPETS = {
    "comment": "<!-- <t:subjectCode>{H}</t:subjectCode> -->",
    "pi": "<?subjectCode {H}?>",
    "element": '<h:subjectCode xmlns:h="{ns}">{H}</h:subjectCode>',
    "foreign_element": '<h:subjectCode xmlns:h="urn:evil">{H}</h:subjectCode>',
    "unqualified_element": "<subjectCode>{H}</subjectCode>",
    "request": (
        '<h:SubmitQueryRequest xmlns:h="{ns}"><h:processingNumber>X-1</h:processingNumber>'
        f"<h:requesterOrgCode>{REQUESTER}</h:requesterOrgCode><h:affairCode>{AFFAIR}"
        "</h:affairCode><h:procedureCode>JT00000000000001</h:procedureCode><h:itemCode>"
        "TM00000000000001</h:itemCode><h:subjectCode>{H}</h:subjectCode><h:requestedAt>"
        "2026-11-26T10:00:00Z</h:requestedAt></h:SubmitQueryRequest>"
    ),
    "portal_request": (
        f'<h:GetSelfInformationRequest xmlns:h="{PORTAL}"><h:subjectCode>{{H}}</h:subjectCode>'
        "</h:GetSelfInformationRequest>"
    ),
    "text": "{H}",
    "cdata": "<![CDATA[{H}]]>",
    "whitespace": "\n\t  ",
    "entity_ref": "&h;",  # with a DOCTYPE that defines it
}
SLOTS = (
    "prolog",
    "env_start",
    "before_body",
    "body_start",
    "op_start",
    "between",
    "op_end",
    "body_end",
    "env_end",
    "epilog",
)
ATTRIBUTES = {
    "foreign": 'x:subjectCode="{H}" xmlns:x="urn:evil"',
    "plain": 'subjectCode="{H}"',
    "xsi_type": f'xmlns:xsi="{XSI}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string"',
    "xsi_nil": f'xmlns:xsi="{XSI}" xsi:nil="true"',
    "xsi_location": f'xmlns:xsi="{XSI}" xsi:schemaLocation="urn:x {{H}}"',
    "xsi_no_ns_location": f'xmlns:xsi="{XSI}" xsi:noNamespaceSchemaLocation="{{H}}"',
    "xml_lang": 'xml:lang="ja"',
    "must_understand": '{env}:mustUnderstand="1"',
    "encoding_style": '{env}:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"',
}
ATTRIBUTE_PLACES = ("envelope", "header", "body", "op", "field")
# How a value is written: the first ones keep its meaning, the last ones change it (and must be
# refused: whatever is accepted must be sent exactly as meant).
VALUE_FORMS = (
    "plain",
    "cdata",
    "split_comment",
    "split_pi",
    "split_cdata",
    "charref",
    "hexref",
    "lead_space",
    "trail_space",
    "trail_newline",
    "trail_nbsp",
    "trail_ideographic_space",
    "split_element",
)
PROLOGS = (
    "none",
    "decl",
    "decl_utf8",
    "decl_utf8_single",
    "decl_utf8_standalone",
    "bom",
    "bom_decl_utf8",
    "bom_decl_sjis",
    "bom_decl_latin1",
    "bom_decl_utf16",
    "decl_sjis",
    "decl_unquoted",
    "utf16",
    "doctype",
)
HEADERS = ("none", "empty", "comment_only", "whitespace_only", "entries", "after_body", "twice")


@dataclass(frozen=True)
class Example:
    """One generated request: what it means (operation, whose, the optional values) and how it is
    written (prefixes, prolog, header, inserted snippets, attributes, value forms)."""

    operation: str  # SubmitQuery | GetSelfInformation
    subject: str  # decoy | hidden | unknown
    dept: str | None
    user: str | None
    non_disclosure: str | None
    period_from: str | None
    period_to: str | None
    requested_at: str
    item: str | None  # the portal's optional itemCode
    env_prefix: str
    op_prefix: str  # "" for a default namespace
    redeclare: str  # none | same (a child declares the namespace again) | evil (another one)
    prolog: str
    header: str
    header_snippet: str
    inserts: tuple[tuple[str, int, str], ...]  # (slot, position, snippet)
    attributes: tuple[tuple[str, int, str], ...]  # (place, position, attribute)
    forms: tuple[tuple[int, str, int], ...]  # (field position, form, split point)
    indent: bool


# What a mild mutation may use: things that carry no meaning and must not stop a valid request
# (the gateway must not refuse everything either). The rest of each list is for the wild ones.
MILD_SNIPPETS = ("comment", "pi", "whitespace")
MILD_SLOTS = ("prolog", "env_start", "before_body", "body_start", "op_start", "between", "op_end")
MILD_ATTRIBUTES = ("foreign", "plain", "xml_lang", "must_understand", "encoding_style")
MILD_FORMS = ("plain", "cdata", "split_comment", "split_pi", "split_cdata", "charref", "hexref")
MILD_PROLOGS = PROLOGS[:7]
MILD_HEADERS = HEADERS[:4]


@st.composite
def examples(draw: st.DrawFn) -> Example:
    """A tenth are left alone, four tenths mildly mutated, half wildly."""
    level = draw(st.sampled_from(["none"] + ["mild"] * 4 + ["wild"] * 5))
    wild = level == "wild"

    def pick(mild: tuple[str, ...], every: tuple[str, ...]) -> st.SearchStrategy[str]:
        return st.sampled_from(sorted(every if wild else mild))

    def some(element: st.SearchStrategy[Any], most: int, unique: Any = None) -> tuple[Any, ...]:
        if level == "none":
            return ()
        # (a wild one may repeat an attribute: not well-formed, and must be refused as such)
        return tuple(draw(st.lists(element, max_size=most, unique_by=None if wild else unique)))

    return Example(
        operation=draw(st.sampled_from(["SubmitQuery"] * 3 + ["GetSelfInformation"])),
        subject=draw(st.sampled_from(["decoy"] * 4 + ["hidden", "unknown"])),
        dept=draw(st.sampled_from([None, "", "D01", "dept_9-X"])),
        user=draw(st.sampled_from([None, "", "user_7"])),
        non_disclosure=draw(st.sampled_from([None, "0", "1"])),
        period_from=draw(st.sampled_from([None, "2026-01-01", "2025-12-31+09:00"])),
        period_to=draw(st.sampled_from([None, "2026-03-31Z"])),
        requested_at=draw(
            st.sampled_from(
                [
                    "2026-11-26T10:00:00+09:00",
                    "2026-11-26T10:00:00Z",
                    "2026-11-26T10:00:00",
                    "2026-11-26T10:00:00.125-05:30",
                ]
            )
        ),
        item=draw(st.sampled_from([None, "TM00000000000001"])),
        env_prefix=draw(st.sampled_from(["soap", "SOAP-ENV", "s", "e1"])),
        op_prefix=draw(st.sampled_from(["q", "t", "ns1", "h", ""])),
        redeclare=draw(pick(("none", "same"), ("none", "same", "evil"))),
        prolog=draw(pick(MILD_PROLOGS, PROLOGS)) if level != "none" else "none",
        header=draw(pick(MILD_HEADERS, HEADERS)) if level != "none" else "none",
        header_snippet=draw(pick(MILD_SNIPPETS, tuple(SNIPPETS))),
        inserts=some(
            st.tuples(
                pick(MILD_SLOTS, SLOTS), st.integers(0, 20), pick(MILD_SNIPPETS, tuple(SNIPPETS))
            ),
            3,
        ),
        attributes=some(
            st.tuples(
                pick(("envelope", "body"), ATTRIBUTE_PLACES),
                st.integers(0, 20),
                pick(MILD_ATTRIBUTES, tuple(ATTRIBUTES)),
            ),
            2,
            lambda a: (a[0], a[2]),
        ),
        forms=some(
            st.tuples(st.integers(0, 20), pick(MILD_FORMS, VALUE_FORMS), st.integers(1, 8)), 3
        ),
        indent=draw(st.booleans()),
    )


@dataclass(frozen=True)
class Rendered:
    """The bytes sent, and what they mean: the one request the upstream may receive for them."""

    body: bytes
    subject_code: str
    expected_upstream: bytes


def _form(value: str, form: str, cut: int, ns: str) -> str:
    """`value` written in XML the way `form` says."""
    if form == "plain" or not value:
        return escape(value)
    k = max(1, min(cut, len(value) - 1)) if len(value) > 1 else 1
    head, tail = value[:k], value[k:]
    hidden = HIDDEN.subject_code
    return {
        "cdata": f"<![CDATA[{value}]]>",
        "split_comment": f"{escape(head)}<!-- {hidden} -->{escape(tail)}",
        "split_pi": f"{escape(head)}<?x {hidden}?>{escape(tail)}",
        "split_cdata": f"{escape(head)}<![CDATA[{tail}]]>",
        "charref": f"&#{ord(value[0])};{escape(value[1:])}",
        "hexref": f"{escape(value[:-1])}&#x{ord(value[-1]):x};",
        "lead_space": " " + escape(value),
        "trail_space": escape(value) + " ",
        "trail_newline": escape(value) + "\r\n",
        "trail_nbsp": escape(value) + "&#xA0;",
        "trail_ideographic_space": escape(value) + "\u3000",
        "split_element": f'{escape(head)}<z:subjectCode xmlns:z="{ns}">{hidden}</z:subjectCode>'
        f"{escape(tail)}",
    }[form]


def render(ex: Example, pn: str) -> Rendered:
    """The request `ex` describes, for processing number `pn`."""
    subject = SUBJECTS[ex.subject]
    hidden = HIDDEN.subject_code
    if ex.operation == "SubmitQuery":
        ns, op = PROV, "SubmitQueryRequest"
        fields: list[tuple[str, str]] = [("processingNumber", pn), ("requesterOrgCode", REQUESTER)]
        for name, v in (("requesterDeptCode", ex.dept), ("requesterUserId", ex.user)):
            if v is not None:
                fields.append((name, v))
        fields += [
            ("affairCode", AFFAIR),
            ("procedureCode", "JT00000000000001"),
            ("itemCode", "TM00000000000001"),
            ("subjectCode", subject),
        ]
        for name, v in (
            ("requesterNonDisclosure", ex.non_disclosure),
            ("periodFrom", ex.period_from),
            ("periodTo", ex.period_to),
        ):
            if v is not None:
                fields.append((name, v))
        fields.append(("requestedAt", ex.requested_at))
        expected = submit_query_envelope(
            SubmitQuery(
                processing_number=pn,
                requester_org_code=REQUESTER,
                requester_dept_code=ex.dept or "",
                requester_user_id=ex.user or "",
                affair_code=AFFAIR,
                procedure_code="JT00000000000001",
                item_code="TM00000000000001",
                subject_code=subject,
                requester_non_disclosure=ex.non_disclosure == "1",
                period_from=ex.period_from or "",
                period_to=ex.period_to or "",
                requested_at=ex.requested_at,
            )
        )
    else:
        ns, op = PORTAL, "GetSelfInformationRequest"
        fields = [("subjectCode", subject)]
        if ex.item is not None:
            fields.append(("itemCode", ex.item))
        expected = self_information_request_envelope(subject, ex.item or "")

    def snippet(name: str) -> str:
        return SNIPPETS[name].replace("{ns}", ns).replace("{H}", hidden)

    env = ex.env_prefix
    p = f"{ex.op_prefix}:" if ex.op_prefix else ""
    decl = f'xmlns:{ex.op_prefix}="{ns}"' if ex.op_prefix else f'xmlns="{ns}"'
    nl = "\n  " if ex.indent else ""

    def attrs(place: str, index: int = 0) -> str:
        out = [
            ATTRIBUTES[a].replace("{env}", env).replace("{H}", hidden)
            for where, pos, a in ex.attributes
            if where == place and (place != "field" or pos % len(fields) == index)
        ]
        return "".join(" " + a for a in out)

    def inserts(slot: str, index: int = 0) -> str:
        return "".join(
            snippet(name)
            for where, pos, name in ex.inserts
            if where == slot and (slot != "between" or pos % (len(fields) + 1) == index)
        )

    forms = {pos % len(fields): (form, cut) for pos, form, cut in ex.forms}
    parts = []
    for i, (name, value) in enumerate(fields):
        form, cut = forms.get(i, ("plain", 1))
        tag = f"{p}{name}"
        open_tag = f"<{tag}{attrs('field', i)}>"
        if ex.redeclare != "none" and name == "subjectCode":
            other = ns if ex.redeclare == "same" else "urn:evil"
            tag = f"r:{name}"
            open_tag = f'<{tag} xmlns:r="{other}"{attrs("field", i)}>'
        parts.append(f"{nl}{inserts('between', i)}{open_tag}{_form(value, form, cut, ns)}</{tag}>")
    operation = (
        f"<{p}{op} {decl}{attrs('op')}>{inserts('op_start')}{''.join(parts)}"
        f"{inserts('between', len(fields))}{inserts('op_end')}{nl}</{p}{op}>"
    )
    header_inner = {
        "none": "",
        "empty": "",
        "comment_only": "<!-- nothing here -->",
        "whitespace_only": "\n  ",
        "entries": snippet(ex.header_snippet),
        "after_body": "",
        "twice": "",
    }[ex.header]
    header = f"<{env}:Header{attrs('header')}>{header_inner}</{env}:Header>"
    body = (
        f"<{env}:Body{attrs('body')}>{inserts('body_start')}{operation}"
        f"{inserts('body_end')}</{env}:Body>"
    )
    head = {
        "none": "",
        "empty": header,
        "comment_only": header,
        "whitespace_only": header,
        "entries": header,
        "after_body": "",
        "twice": header + header,
    }[ex.header]
    tail = header if ex.header == "after_body" else ""
    envelope = (
        f'<{env}:Envelope xmlns:{env}="{SOAP_ENV}"{attrs("envelope")}>{inserts("env_start")}'
        f"{nl}{head}{inserts('before_body')}{nl}{body}{tail}{inserts('env_end')}</{env}:Envelope>"
    )
    doctype = (
        f'<!DOCTYPE {env}:Envelope [<!ENTITY h "{hidden}">]>' if ex.prolog == "doctype" else ""
    )
    text = f"{doctype}{inserts('prolog')}{envelope}{inserts('epilog')}"
    raw = _prolog(ex.prolog, text)
    return Rendered(raw, subject, expected)


def _prolog(kind: str, text: str) -> bytes:
    bom = b"\xef\xbb\xbf"
    decl = {
        "decl": '<?xml version="1.0"?>',
        "decl_utf8": '<?xml version="1.0" encoding="UTF-8"?>',
        "decl_utf8_single": "<?xml version='1.0' encoding='utf-8'?>",
        "decl_utf8_standalone": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        "bom_decl_utf8": '<?xml version="1.0" encoding="UTF-8"?>',
        "bom_decl_sjis": '<?xml version="1.0" encoding="Shift_JIS"?>',
        "bom_decl_latin1": "<?xml version='1.0' encoding='ISO-8859-1'?>",
        "bom_decl_utf16": '<?xml version="1.0" encoding="UTF-16"?>',
        "decl_sjis": '<?xml version="1.0" encoding="Shift_JIS"?>',
        "decl_unquoted": '<?xml version="1.0" encoding=UTF-8?>',
    }.get(kind, "")
    if kind == "utf16":
        return ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16")
    raw = (decl + text).encode()
    return bom + raw if kind.startswith("bom") else raw


# -- the running system ----------------------------------------------------------------------
class Harness:
    """redis-server (given), the recording upstream and a helper Gateway on a loop of their own
    (a thread), and `hogo-gateway serve` in its own process; examples are sent from the caller's
    thread with a plain HTTP client."""

    def __init__(self, redis_url: str, workdir: Path) -> None:
        self.redis_url = redis_url
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.upstream = RecordingUpstream(
            residents={r.subject_code: r for r in RESIDENTS}, naive=True, record_calls=False
        )
        self.run_id = secrets.token_hex(2)
        self.count = 0
        self.outcomes: Counter[str] = Counter()
        self.keys = Keys()
        self.proc: GatewayProcess | None = None
        self._runner: web.AppRunner | None = None
        self._gw: Gateway | None = None

    def _await(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def start(self) -> Harness:
        self.thread.start()
        upstream_url = self._await(self._start_upstream())
        self._gw = self._await(self._prepare(upstream_url))
        self.keyring = Keyring(self.data_dir / "keys")
        self.store = redis.Redis.from_url(self.redis_url, decode_responses=True)
        self.proc = GatewayProcess(self.data_dir, self.redis_url, upstream_url)
        self._await(self.proc.wait_ready())
        self.conn = http.client.HTTPConnection("127.0.0.1", self.proc.port, timeout=30)
        self.no_data = self._post("/soap/portal", _plain_portal(UNKNOWN))[1]
        self.upstream.received.clear()
        return self

    async def _start_upstream(self) -> str:
        served = await serve_app(self.upstream.app())
        self._runner = served.runner
        return served.url + "/provision"

    async def _prepare(self, upstream_url: str) -> Gateway:
        gw = await open_gateway(
            Settings(data_dir=self.data_dir, upstream_url=upstream_url), self.redis_url
        )
        await gw.requesters.add(REQUESTER, "見本市 子ども家庭課", "differential")
        await gw.requesters.grant(REQUESTER, AFFAIR, [], "differential")
        pairs = ((r.atena_number, r.subject_code) for r in RESIDENTS)
        await import_pairs(gw.directory, gw.events, pairs, "t")
        await flag_resident(gw, HIDDEN, actor="differential")
        return gw

    def stop(self) -> None:
        """Stop what `start` started, also when it stopped half-way."""
        if self.proc is not None:
            self.proc.stop()
        if not self.thread.is_alive():
            return
        if self._gw is not None:
            self._await(self._gw.close())
        if self._runner is not None:
            self._await(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.proc.port, timeout=30)
        return resp.status, data

    # -- one example ---------------------------------------------------------------------------
    def check(self, ex: Example) -> str:
        """Send one example and check what came of it; its outcome, or AssertionError."""
        self.count += 1
        pn = f"DF-{self.run_id}-{self.count}"
        doc = render(ex, pn)
        path = "/soap/provision" if ex.operation == "SubmitQuery" else "/soap/portal"
        before = len(self.upstream.received)
        status, raw = self._post(path, doc.body)
        received = self.upstream.received[before:]
        answer = parse_answer(status, raw)
        assert answer.fields != [(f.name, f.value) for f in HIDDEN.fields]
        for value in HIDDEN_ONLY:
            assert value.encode() not in raw, "the flagged person's data came back"
        if answer.fault_code is not None:
            outcome = self._fault(ex, pn, answer.fault_code, answer.error_code, status, received)
        elif ex.operation == "SubmitQuery":
            outcome = self._submitted(doc, pn, answer.status, answer.fields, received)
        else:
            outcome = self._viewed(doc, raw, answer.status, received)
        self.outcomes[outcome] += 1
        return outcome

    def _fault(
        self, ex: Example, pn: str, fault: str, code: str | None, status: int, received: list
    ) -> str:
        assert fault == "soap:Client", (fault, code)
        assert code in FAULT_CODES and status in (500, 413), (code, status)
        assert received == [], "a refused request reached the upstream"
        if ex.operation == "SubmitQuery":
            assert not self.store.exists(self.keys.idempotency(REQUESTER, pn)), "fault stored"
        return "fault"

    def _submitted(
        self, doc: Rendered, pn: str, status: str | None, fields: Any, received: list
    ) -> str:
        query_id = self.store.get(self.keys.idempotency(REQUESTER, pn))
        assert query_id, "an accepted query has no stored query"
        q = self.store.hgetall(self.keys.query(query_id))
        subject_key = self.keyring.person_key("subject", doc.subject_code)
        # what the gateway decided on: its stored request, its query's subject key
        assert q["subject_key"] == subject_key, "the stored query names another subject"
        request = json.loads(self.keyring.unseal_text(q["sealed"], f"query:{query_id}:request"))
        assert request["subject_code"] == doc.subject_code
        if doc.subject_code != DECOY.subject_code:  # flagged or unknown: held, nothing sent
            assert (status, q["state"], received) == ("PENDING", "held", []), (status, q)
            return "held"
        assert status == "PROVIDED" and q["state"] == "provided", (status, q)
        assert fields == [(f.name, f.value) for f in DECOY.fields]
        [got] = received
        self._sent_exactly(got.body, doc)
        records = self.store.lrange(self.keys.records(subject_key), 0, -1)
        assert any(json.loads(r)["pn"] == pn for r in records), "no provision record"
        return "forwarded"

    def _viewed(self, doc: Rendered, raw: bytes, status: str | None, received: list) -> str:
        [got] = received  # the upstream is asked for every view, whoever it is about
        self._sent_exactly(got.body, doc)
        if doc.subject_code == DECOY.subject_code:
            assert status == "AVAILABLE", status
            return "portal_forwarded"
        # flagged or unknown: the "no data" answer, byte for byte
        assert raw == self.no_data, raw
        return "portal_blocked" if doc.subject_code == HIDDEN.subject_code else "portal_unknown"

    @staticmethod
    def _sent_exactly(body: bytes, doc: Rendered) -> None:
        assert body == doc.expected_upstream, (body, doc.expected_upstream)
        # and as a careless upstream reads it: one subject, the one decided on, nothing else
        assert naive_subject_codes(body) == [doc.subject_code], naive_subject_codes(body)
        for code in (DECOY.subject_code, HIDDEN.subject_code):
            assert body.count(code.encode()) == (code == doc.subject_code), code


def _plain_portal(subject: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<p:GetSelfInformationRequest xmlns:p="{PORTAL}"><p:subjectCode>{subject}'
        "</p:subjectCode></p:GetSelfInformationRequest></soap:Body></soap:Envelope>"
    ).encode()


def run(harness: Harness, max_examples: int, on_example: Callable[[int], None] | None = None):
    """Run `max_examples` examples (derandomized, no example database: the same every time)."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(examples())
    def one(ex: Example) -> None:
        harness.check(ex)
        if on_example is not None:
            on_example(harness.count)

    one()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.differential",
        description="Mutated envelopes through a real gateway to a recording upstream: "
        "either a Client fault, or the upstream receives exactly the checked request.",
    )
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hogo-differential-"))
    server = RedisServer(workdir / "redis").start()
    harness = Harness(server.url, workdir)
    failed = False
    try:
        harness.start()

        def progress(n: int) -> None:
            if n % 1000 == 0:
                print(f"  {n} requests sent", file=sys.stderr, flush=True)

        try:
            run(harness, args.examples, progress)
        except AssertionError as exc:
            failed = True
            print(f"VIOLATION: {exc!r}", file=sys.stderr)
    finally:
        harness.stop()
        server.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    o = harness.outcomes
    examples_run = sum(o.values())
    forwarded = o["forwarded"] + o["portal_forwarded"]
    print(
        f"examples: {examples_run}  faults: {o['fault']}  forwarded: {forwarded} "
        f"(SubmitQuery {o['forwarded']}, GetSelfInformation {o['portal_forwarded']})  "
        f"held: {o['held']}  portal blocked: {o['portal_blocked']}  "
        f"portal unknown: {o['portal_unknown']}  requests sent: {harness.count}  "
        f"violations: {1 if failed else 0}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
