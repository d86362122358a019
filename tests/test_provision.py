"""SubmitQuery and GetQueryResult through a real gateway, Redis and upstream on loopback."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from gateway.model import QueryState
from tests.conftest import Running, start_running, stop_running
from tests.support import OTHER_REQUESTER, Query


async def test_clear_subject_is_answered_automatically_with_the_upstreams_fields(
    running: Running,
) -> None:
    person = running.residents[10]
    ans = await running.submit(Query("P-1", person.subject_code))
    assert ans.status == "PROVIDED"
    assert ans.fields == [(f.name, f.value) for f in person.fields]
    assert running.upstream.calls[-1][1] == person.subject_code
    got = await running.result("P-1")
    assert (got.status, got.fields) == ("PROVIDED", ans.fields)
    assert got.handling_notice is None


async def test_unregistered_requester_is_refused_and_is_a_security_event(running: Running) -> None:
    ans = await running.submit(
        Query("P-2", running.residents[10].subject_code, requester="9999999999999999")
    )
    assert (ans.status, ans.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert running.upstream.calls == []
    events = await running.events("security.unknown_requester")
    assert events and events[-1]["org"] == "9999999999999999"
    # nothing was stored for it: GetQueryResult by that requester is refused too
    got = await running.result("P-2", requester="9999999999999999")
    assert got.refusal_code == "NOT_AUTHORIZED"
    assert len(await running.events("security.unknown_requester")) == 2


async def test_unknown_subject_is_held_and_the_upstream_is_not_asked(running: Running) -> None:
    ans = await running.submit(Query("P-3", "NOTINDIRECTORY1"))
    assert ans.status == "PENDING"
    assert running.upstream.calls == []
    held = await running.gw.queries.list_held(only_waiting=True)
    assert [(h.processing_number, h.reason) for h in held] == [("P-3", "subject_unknown")]


async def test_flagged_subject_is_held_with_what_staff_need(running: Running) -> None:
    person = running.residents[0]
    await running.flag(person)
    ans = await running.submit(Query("P-4", person.subject_code, item="TM00000000000042"))
    assert ans.status == "PENDING"
    assert running.upstream.calls == []
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert held.state is QueryState.HELD
    assert held.reason == "auto_response_disabled"
    assert (held.requester_org_code, held.processing_number, held.item_code) == (
        "1310000000000001",
        "P-4",
        "TM00000000000042",
    )
    assert held.affair_code and held.procedure_code and held.requested_at and held.held_at
    assert (await running.result("P-4")).status == "PENDING"


async def test_non_disclosure_alone_answers_but_marks_the_record(running: Running) -> None:
    person = running.residents[3]
    await running.flag(person, ard=False, nd=True)
    ans = await running.submit(Query("P-5", person.subject_code))
    assert ans.status == "PROVIDED"
    [record] = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", person.subject_code)
    )
    assert record.non_disclosure and record.how == "automatic"


async def test_requester_non_disclosure_marks_the_record(running: Running) -> None:
    person = running.residents[4]
    await running.submit(Query("P-6a", person.subject_code, non_disclosure="1"))
    await running.submit(Query("P-6b", person.subject_code, non_disclosure="0"))
    records = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", person.subject_code)
    )
    assert [(r.processing_number, r.non_disclosure) for r in records] == [
        ("P-6a", True),
        ("P-6b", False),
    ]


async def test_upstream_without_data_answers_no_data_and_records_it(running: Running) -> None:
    person = running.residents[5]
    del running.upstream.residents[person.subject_code]
    ans = await running.submit(Query("P-7", person.subject_code))
    assert (ans.status, ans.refusal_code) == ("REFUSED", "NO_DATA")
    assert (await running.result("P-7")).refusal_code == "NO_DATA"


async def test_same_processing_number_never_creates_a_second_query(running: Running) -> None:
    person = running.residents[6]
    first = await running.submit(Query("P-8", person.subject_code))
    again = await running.submit(Query("P-8", person.subject_code))
    assert first.raw.replace(b"SubmitQuery", b"") == again.raw.replace(b"SubmitQuery", b"")
    assert len(running.upstream.calls) == 1
    # the same number from another requester is another query
    other = await running.submit(Query("P-8", person.subject_code, requester=OTHER_REQUESTER))
    assert other.status == "PROVIDED"
    assert len(running.upstream.calls) == 2


async def test_resubmitted_held_query_stays_one_held_item(running: Running) -> None:
    person = running.residents[0]
    await running.flag(person)
    answers = await asyncio.gather(
        *(running.submit(Query("P-9", person.subject_code)) for _ in range(20))
    )
    assert {a.status for a in answers} == {"PENDING"}
    assert len(await running.gw.queries.list_held()) == 1


async def test_concurrent_duplicates_reach_the_upstream_once(running: Running) -> None:
    running.upstream.delay = 0.3
    person = running.residents[7]
    answers = await asyncio.gather(
        *(running.submit(Query("P-10", person.subject_code)) for _ in range(10))
    )
    assert len(running.upstream.calls) == 1
    assert {a.status for a in answers} <= {"PROVIDED", "PENDING"}
    assert (await running.result("P-10")).status == "PROVIDED"


async def test_unknown_query_answers_no_data(running: Running) -> None:
    got = await running.result("NEVER-SENT")
    assert (got.status, got.refusal_code) == ("REFUSED", "NO_DATA")


async def test_answer_is_kept_only_for_its_retention(settings, redis_url, residents) -> None:
    r, runners = await start_running(
        replace(settings, answer_retention_seconds=3600), redis_url, residents
    )
    try:
        person = residents[8]
        assert (await r.submit(Query("P-11", person.subject_code))).status == "PROVIDED"
        r.clock.advance(3590)
        assert (await r.result("P-11")).status == "PROVIDED"
        r.clock.advance(11)
        got = await r.result("P-11")
        assert (got.status, got.refusal_code) == ("REFUSED", "NO_DATA")
        keys, store = r.gw.redis.keys, r.gw.redis.client
        qid = await store.get(keys.idempotency("1310000000000001", "P-11"))
        query = await store.hgetall(keys.query(qid))
        assert query["state"] == "provided" and query["pn"] == "P-11"  # the metadata remains
        assert not await store.exists(keys.answer(qid))  # the answer itself does not
    finally:
        await stop_running(r, runners)


async def test_unreachable_upstream_is_a_server_fault_and_the_query_can_be_sent_again(
    running: Running,
) -> None:
    running.upstream.fail = True
    person = running.residents[9]
    ans = await running.submit(Query("P-12", person.subject_code))
    assert (ans.http_status, ans.fault_code, ans.error_code) == (
        500,
        "soap:Server",
        "UPSTREAM_UNAVAILABLE",
    )
    running.upstream.fail = False
    assert (await running.submit(Query("P-12", person.subject_code))).status == "PROVIDED"


async def test_provision_record_is_written_before_the_answer_leaves(running: Running) -> None:
    person = running.residents[11]
    ans = await running.submit(Query("P-13", person.subject_code))
    assert ans.status == "PROVIDED"
    raw = await running.gw.redis.client.lrange(
        running.gw.redis.keys.records(
            running.gw.keyring.person_key("subject", person.subject_code)
        ),
        0,
        -1,
    )
    rec = json.loads(raw[0])
    assert rec["pn"] == "P-13" and rec["org"] == "1310000000000001" and rec["how"] == "automatic"


async def test_every_decision_is_in_the_event_log(running: Running) -> None:
    await running.flag(running.residents[0])
    await running.submit(Query("E-1", running.residents[12].subject_code))
    await running.submit(Query("E-2", running.residents[0].subject_code))
    kinds = [e["kind"] for e in await running.events()]
    assert "query.provided" in kinds and "query.held" in kinds and "flag.set" in kinds
