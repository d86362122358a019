"""Through the running gateway: however the upstream writes a valid answer, the requester gets
the same canonical bytes, and the stored answer is the same.

The upstream's answer is read fast only when it is exactly the canonical form
(gateway/soap/canonical.py); any other well-formed writing of the same answer goes through the
full parse. Both ways must end in the very same answer, provision record and stored answer; a
flagged person's query is held whatever form the upstream would use.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from aiohttp import web

from gateway.settings import Settings
from gateway.simulator import Resident, Simulator
from gateway.soap import PROVISION_NS
from gateway.soap.messages import query_result_envelope, read_submit_query
from gateway.soap.parse import body_element, parse_xml
from tests.conftest import Running, start_running
from tests.support import REQUESTER, Query

# canonical: read fast and relayed; other_pn: read fast (canonical for another processing
# number), not relayed; the rest: not canonical, read by the full parse
FORMS = ("canonical", "other_pn", "other_prefix", "indented", "character_references")


@dataclass
class RewritingUpstream(Simulator):
    """The simulator, writing its SubmitQuery answers in `form` (same content, other bytes)."""

    form: str = "canonical"
    answered: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        response = await super().handle(request)
        if request.method != "POST" or self.form == "canonical":
            self.answered += 1
            return response
        body = response.body
        assert isinstance(body, bytes)
        if self.form == "other_pn":
            body = re.sub(rb"<t:processingNumber>[^<]*<", b"<t:processingNumber>ELSEWHERE<", body)
        elif self.form == "other_prefix":
            body = body.replace(b"<t:", b"<ns0:").replace(b"</t:", b"</ns0:")
            body = body.replace(b'xmlns:t="', b'xmlns:ns0="')
        elif self.form == "indented":
            body = body.replace(b"><t:", b">\n  <t:").replace(b"></soap:Body>", b">\n</soap:Body>")
        elif self.form == "character_references":
            body = body.replace(b"<t:status>PROVIDED", b"<t:status>&#80;ROVIDED")
        self.answered += 1
        return web.Response(body=body, content_type="text/xml", charset="utf-8")


@pytest.fixture
async def rewriting(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[Running]:
    # the upstream holds no data on residents[7] (in the directory, unflagged): NO_DATA
    upstream = RewritingUpstream(
        residents={r.subject_code: r for r in residents if r != residents[7]}
    )
    r, runners = await start_running(settings, redis_url, residents, upstream)
    yield r
    await r.session.close()
    for runner in runners:
        await runner.cleanup()
    await r.gw.close()


async def test_every_form_of_the_same_answer_gives_the_same_bytes(rewriting: Running) -> None:
    up = rewriting.upstream
    assert isinstance(up, RewritingUpstream)
    person, nobody = rewriting.residents[5], rewriting.residents[7].subject_code
    seen: dict[str, tuple[bytes, bytes, bytes]] = {}
    for i, form in enumerate(FORMS):
        up.form = form
        ans = await rewriting.submit(Query(f"UFM-{i}", person.subject_code))
        assert ans.status == "PROVIDED", (form, ans.raw)
        assert ans.fields == [(f.name, f.value) for f in person.fields]
        stored = await rewriting.result(f"UFM-{i}")
        assert stored.status == "PROVIDED" and stored.fields == ans.fields
        none = await rewriting.submit(Query(f"UFN-{i}", nobody))
        assert (none.status, none.refusal_code) == ("REFUSED", "NO_DATA"), (form, none.raw)
        seen[form] = (
            ans.raw.replace(f"UFM-{i}".encode(), b"PN"),
            stored.raw.replace(f"UFM-{i}".encode(), b"PN"),
            none.raw.replace(f"UFN-{i}".encode(), b"PN"),
        )
    assert len(set(seen.values())) == 1, seen
    assert PROVISION_NS.encode() in seen["canonical"][0]
    records = await rewriting.events("query.provided")
    assert len(records) == 2 * len(FORMS)


async def test_a_flagged_person_is_held_whatever_the_upstream_writes(rewriting: Running) -> None:
    up = rewriting.upstream
    assert isinstance(up, RewritingUpstream)
    person = rewriting.residents[6]
    await rewriting.flag(person)
    for i, form in enumerate(FORMS):
        up.form = form
        before = up.answered
        ans = await rewriting.submit(Query(f"UFH-{i}", person.subject_code))
        assert ans.status == "PENDING" and not ans.fields
        assert up.answered == before  # the upstream was not asked


async def test_only_the_canonical_answer_for_this_very_query_is_relayed(rewriting: Running) -> None:
    """Not vacuous: the canonical answer is relayed (the upstream's bytes, which are the ones
    the gateway would write); canonical bytes for another processing number, or any other
    form, are not; the bytes the requester gets are the same either way."""
    up = rewriting.upstream
    assert isinstance(up, RewritingUpstream)
    assert rewriting.gw.provision is not None
    person = rewriting.residents[8]
    relayed: dict[str, bool] = {}
    for i, form in enumerate(FORMS):
        up.form = form
        q = read_submit_query(body_element(parse_xml(Query(f"UFR-{i}", person.subject_code).xml())))
        result = await rewriting.gw.provision.submit(q, REQUESTER)
        assert result.status == "PROVIDED" and result.processing_number == f"UFR-{i}"
        relayed[form] = result.relayed is not None
        written = query_result_envelope(replace(result, relayed=None), "SubmitQuery")
        assert query_result_envelope(result, "SubmitQuery") == written
        assert f"UFR-{i}".encode() in written
        # GetQueryResult never takes the relayed bytes (another operation's answer)
        got = query_result_envelope(result, "GetQueryResult")
        assert got == query_result_envelope(replace(result, relayed=None), "GetQueryResult")
    assert relayed == {form: form == "canonical" for form in FORMS}
