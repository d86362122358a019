"""The citizen portal (マイナポータル): a flagged person's views are byte for byte those of a person
with no data, records made while flagged never appear, and every blocked view is recorded."""

from __future__ import annotations

import asyncio

from gateway.directory_import import import_pairs
from gateway.simulator import Resident
from tests.conftest import Running
from tests.flag_support import all_values, events_of, flag, unflag
from tests.support import Query, portal_xml


async def _view(running: Running, operation: str, subject: str) -> bytes:
    async with running.session.post(
        running.url + "/soap/portal",
        data=portal_xml(operation, subject),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    ) as resp:
        assert resp.status == 200
        return await resp.read()


async def _release(
    running: Running, person: Resident, *, ard: bool = True, nd: bool = True
) -> None:
    await unflag(running.gw, person, ard=ard, nd=nd)


# -- GetSelfInformation -----------------------------------------------------------------------
async def test_self_information_of_a_flagged_person_is_the_no_data_answer_byte_for_byte(
    running: Running,
) -> None:
    flagged, no_data, clear = running.residents[0], running.residents[1], running.residents[2]
    await flag(running.gw, flagged, nd=False)  # 自動応答不可 alone blocks the view
    del running.upstream.residents[no_data.subject_code]  # the upstream holds nothing for them
    blocked = await _view(running, "GetSelfInformation", flagged.subject_code)
    nothing = await _view(running, "GetSelfInformation", no_data.subject_code)
    unknown = await _view(running, "GetSelfInformation", "NOTINDIRECTORY9")
    assert blocked == nothing == unknown
    assert b"UNAVAILABLE" in blocked and flagged.fields[0].value.encode() not in blocked
    shown = await _view(running, "GetSelfInformation", clear.subject_code)
    assert b"AVAILABLE" in shown and clear.fields[0].value.encode() in shown
    # the upstream was asked in every case, so that time does not tell them apart either
    asked = [c[1] for c in running.upstream.calls if c[0] == "GetSelfInformationRequest"]
    assert asked == [
        flagged.subject_code,
        no_data.subject_code,
        "NOTINDIRECTORY9",
        clear.subject_code,
    ]


async def test_a_blocked_view_is_a_security_event_without_plaintext(running: Running) -> None:
    person = running.residents[3]
    record = await flag(running.gw, person)
    await _view(running, "GetSelfInformation", person.subject_code)
    [event] = await events_of(running.gw, "security.portal_blocked")
    assert event["subject"] == record.person_key and event["operation"] == "GetSelfInformation"
    assert event["reason"] == "auto_response_disabled"
    blob = await all_values(running.gw)
    for secret in (person.atena_number, person.subject_code, person.name, person.fields[0].value):
        assert secret.encode() not in blob


async def test_non_disclosure_alone_does_not_hide_self_information(running: Running) -> None:
    person = running.residents[4]
    await flag(running.gw, person, ard=False, nd=True)
    shown = await _view(running, "GetSelfInformation", person.subject_code)
    assert person.fields[0].value.encode() in shown
    assert await events_of(running.gw, "security.portal_blocked") == []


async def test_a_flag_set_while_the_upstream_answers_blocks_the_view(running: Running) -> None:
    person, no_data = running.residents[5], running.residents[6]
    del running.upstream.residents[no_data.subject_code]
    running.upstream.gate = answering = asyncio.Event()
    view = asyncio.create_task(_view(running, "GetSelfInformation", person.subject_code))
    while not any(c[1] == person.subject_code for c in running.upstream.calls):
        await asyncio.sleep(0.01)
    await flag(running.gw, person, nd=False)
    answering.set()
    blocked = await view
    running.upstream.gate = None
    assert blocked == await _view(running, "GetSelfInformation", no_data.subject_code)
    [event] = await events_of(running.gw, "security.portal_blocked")
    assert event["reason"] == "flag_set_in_flight"


async def test_a_released_flag_shows_self_information_again(running: Running) -> None:
    person = running.residents[7]
    await flag(running.gw, person)
    assert b"UNAVAILABLE" in await _view(running, "GetSelfInformation", person.subject_code)
    await _release(running, person)
    assert person.fields[0].value.encode() in await _view(
        running, "GetSelfInformation", person.subject_code
    )


# -- GetProvisionRecords ----------------------------------------------------------------------
async def test_records_of_a_non_disclosure_person_are_the_no_records_answer_byte_for_byte(
    running: Running,
) -> None:
    flagged, never_asked = running.residents[8], running.residents[9]
    for i in range(3):  # records made before the flag: unmarked
        assert (await running.submit(Query(f"PR-{i}", flagged.subject_code))).status == "PROVIDED"
    assert b"PR-0" in await _view(running, "GetProvisionRecords", flagged.subject_code)
    record = await flag(running.gw, flagged, ard=False, nd=True)
    hidden = await _view(running, "GetProvisionRecords", flagged.subject_code)
    empty = await _view(running, "GetProvisionRecords", never_asked.subject_code)
    unknown = await _view(running, "GetProvisionRecords", "NOTINDIRECTORY9")
    assert hidden == empty == unknown
    assert b"<t:record>" not in hidden
    [event] = await events_of(running.gw, "security.portal_filtered")
    assert event["subject"] == record.person_key and event["hidden"] == "3"
    assert event["reason"] == "non_disclosure"


async def test_records_the_requester_marked_non_disclosable_never_appear(running: Running) -> None:
    person = running.residents[10]
    await running.submit(Query("ND-1", person.subject_code, non_disclosure="1"))
    await running.submit(Query("ND-2", person.subject_code, non_disclosure="0"))
    shown = await _view(running, "GetProvisionRecords", person.subject_code)
    assert b"ND-2" in shown and b"ND-1" not in shown
    [event] = await events_of(running.gw, "security.portal_filtered")
    assert (event["hidden"], event["reason"]) == ("1", "record_marked")


async def test_a_released_flag_does_not_reveal_records_made_while_flagged(
    running: Running,
) -> None:
    person = running.residents[11]
    await running.submit(Query("RL-before", person.subject_code))
    await flag(running.gw, person, ard=False, nd=True)
    await running.submit(Query("RL-during", person.subject_code))  # answered, record marked
    await _release(running, person)
    await running.submit(Query("RL-after", person.subject_code))
    shown = await _view(running, "GetProvisionRecords", person.subject_code)
    assert b"RL-before" in shown and b"RL-after" in shown
    assert b"RL-during" not in shown


async def test_a_query_held_while_flagged_and_released_after_the_flag_stays_hidden(
    running: Running,
) -> None:
    """The query came in while the person had 不開示; the person then had the flags released, and
    only after that did staff release the held query. Its record was made while flagged."""
    person = running.residents[12]
    await flag(running.gw, person)
    assert (await running.submit(Query("HQ-1", person.subject_code))).status == "PENDING"
    await _release(running, person)
    [held] = await running.gw.queries.list_held(only_waiting=True)
    await running.gw.queue.release(held.id, "取扱注意", "staff:approver1")
    [rec] = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", person.subject_code)
    )
    assert rec.processing_number == "HQ-1" and rec.non_disclosure
    assert b"HQ-1" not in await _view(running, "GetProvisionRecords", person.subject_code)


async def test_a_query_held_for_an_unknown_subject_is_marked_if_the_person_is_flagged_by_release(
    running: Running,
) -> None:
    """The directory did not know the subject when the query came (a sync gap); by the time staff
    release it, the person is known and has 不開示. The record must stay hidden for good."""
    person = Resident(
        "900000000000999", "LATEKNOWN000001", "遅延 登録子", running.residents[0].fields
    )
    running.upstream.residents[person.subject_code] = person
    assert (await running.submit(Query("UK-1", person.subject_code))).status == "PENDING"
    pair = (person.atena_number, person.subject_code)
    await import_pairs(running.gw.directory, running.gw.events, [pair], "test")
    await flag(running.gw, person, ard=False, nd=True)
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert held.reason == "subject_unknown"
    await running.gw.queue.release(held.id, "取扱注意", "staff:approver1")
    await _release(running, person)
    assert b"UK-1" not in await _view(running, "GetProvisionRecords", person.subject_code)


async def test_a_query_held_for_a_subject_still_unknown_is_marked_non_disclosable(
    running: Running,
) -> None:
    assert (await running.submit(Query("UK-2", "STILLUNKNOWN0001"))).status == "PENDING"
    [held] = await running.gw.queries.list_held(only_waiting=True)
    await running.gw.queue.release(held.id, "取扱注意", "staff:approver1")
    [rec] = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", "STILLUNKNOWN0001")
    )
    assert rec.non_disclosure


async def test_a_flag_released_between_admission_and_answer_still_marks_the_record(
    running: Running,
) -> None:
    person = running.residents[13]
    await flag(running.gw, person, ard=False, nd=True)
    running.upstream.gate = answering = asyncio.Event()
    answer = asyncio.create_task(running.submit(Query("RACE-1", person.subject_code)))
    while not any(c[1] == person.subject_code for c in running.upstream.calls):
        await asyncio.sleep(0.01)
    await _release(running, person)
    answering.set()
    assert (await answer).status == "PROVIDED"
    running.upstream.gate = None
    assert b"RACE-1" not in await _view(running, "GetProvisionRecords", person.subject_code)
