"""A stored answer is checked again wherever it can come out: GetQueryResult and the same query
sent again answer PENDING once the person is flagged (or the subject resolves to someone else),
and the query goes back to staff."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.directory_import import import_pairs
from gateway.model import QueryState
from tests.conftest import Running
from tests.flag_support import by_tax_department, unflag
from tests.support import REQUESTER, Query

NOTICE = "取扱注意：DV等支援措置対象者。住所を第三者に開示しないこと。"


def _leaks(ans, person) -> bool:
    """Any of the person's answer in the reply (values long enough not to be there by chance)."""
    values = [f.value.encode() for f in person.fields if len(f.value) >= 4]
    return ans.fields is not None or any(v in ans.raw for v in values)


async def _records(r: Running, person) -> list:
    return await r.gw.records.of_subject(r.gw.keyring.person_keys("subject", person.subject_code))


async def _query_id(r: Running, pn: str) -> str:
    return await r.gw.redis.client.get(r.gw.redis.keys.idempotency(REQUESTER, pn))


async def test_flag_set_after_an_automatic_answer_withholds_it_until_staff_release_it(
    running: Running,
) -> None:
    person = running.residents[5]
    first = await running.submit(Query("W-1", person.subject_code))
    assert first.status == "PROVIDED"
    assert (await running.result("W-1")).status == "PROVIDED"  # not flagged yet: answered again
    qid = await _query_id(running, "W-1")

    await running.flag(person, ard=True, nd=False)  # days later, the person fled and is flagged

    got = await running.result("W-1")
    assert got.status == "PENDING" and not _leaks(got, person)
    again = await running.submit(Query("W-1", person.subject_code))  # the same query sent again
    assert again.status == "PENDING" and not _leaks(again, person)
    assert len(running.upstream.calls) == 1  # nothing was asked or answered anew

    # recorded once, in the step that withheld it, as the auditors see it
    [withheld] = await running.events("query.answer_withheld")
    assert (withheld["query"], withheld["reason"], withheld["was"]) == (
        qid,
        "flagged_after_answer",
        "provided",
    )
    assert withheld["operation"] == "GetQueryResult" and withheld["org"] == REQUESTER
    assert person.name not in str(withheld) and person.subject_code not in str(withheld)
    # back in the manual queue, its stored answer gone; the record of the first answer stays
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert (held.id, held.state, held.reason) == (qid, QueryState.HELD, "flagged_after_answer")
    assert not await running.gw.redis.client.exists(running.gw.redis.keys.answer(qid))
    [record] = await _records(running, person)
    assert (record.processing_number, record.how) == ("W-1", "automatic")

    # staff release it with the notice: the upstream is asked afresh, the requester gets it
    await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert len(running.upstream.calls) == 2
    got = await running.result("W-1")
    assert (got.status, got.handling_notice) == ("PROVIDED", NOTICE)
    assert got.fields == [(f.name, f.value) for f in person.fields]
    assert [r.how for r in await _records(running, person)] == ["automatic", "released"]
    # judged by staff with the flag as it is: asked again, it stays answered
    assert (await running.result("W-1")).status == "PROVIDED"
    assert len(await running.events("query.answer_withheld")) == 1


async def test_a_resubmission_after_the_flag_is_the_first_to_be_withheld(
    running: Running,
) -> None:
    person = running.residents[6]
    assert (await running.submit(Query("W-2", person.subject_code))).status == "PROVIDED"
    await running.flag(person)
    again = await running.submit(Query("W-2", person.subject_code))
    assert again.status == "PENDING" and not _leaks(again, person)
    [withheld] = await running.events("query.answer_withheld")
    assert (withheld["operation"], withheld["reason"]) == ("SubmitQuery", "flagged_after_answer")
    assert (await running.result("W-2")).status == "PENDING"


async def test_a_flag_changed_after_a_staff_release_withholds_the_released_answer(
    running: Running,
) -> None:
    person = running.residents[7]
    await running.flag(person)
    assert (await running.submit(Query("W-3", person.subject_code))).status == "PENDING"
    qid = await _query_id(running, "W-3")
    await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert (await running.result("W-3")).status == "PROVIDED"
    # released with the flag on: the flag's release keeps it answered ...
    await unflag(running.gw, person, note="本人申出", actor="test")
    assert (await running.result("W-3")).status == "PROVIDED"
    # ... but set again after the release, it is a fact the approver did not see
    await running.flag(person)
    got = await running.result("W-3")
    assert got.status == "PENDING" and not _leaks(got, person)
    [withheld] = await running.events("query.answer_withheld")
    assert (withheld["was"], withheld["reason"]) == ("released", "flagged_after_answer")


async def test_a_second_department_flagging_after_a_release_withholds_it_too(
    running: Running,
) -> None:
    person = running.residents[8]
    await running.flag(person)
    assert (await running.submit(Query("W-4", person.subject_code))).status == "PENDING"
    qid = await _query_id(running, "W-4")
    await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    await by_tax_department(running.gw, person)
    assert (await running.result("W-4")).status == "PENDING"


async def test_subject_remapped_or_deleted_after_the_answer_is_withheld(running: Running) -> None:
    person, other, gone = running.residents[9], running.residents[10], running.residents[11]
    assert (await running.submit(Query("W-5", person.subject_code))).status == "PROVIDED"
    assert (await running.submit(Query("W-6", gone.subject_code))).status == "PROVIDED"
    # the directory now says the subject code is another (unflagged) person
    remap = [(other.atena_number, person.subject_code)]
    await import_pairs(running.gw.directory, running.gw.events, remap, "test", allow_remap=True)
    got = await running.result("W-5")
    assert got.status == "PENDING" and not _leaks(got, person)
    # the directory entry deleted: the subject resolves to no one
    for key in running.gw.keyring.person_keys("subject", gone.subject_code):
        await running.gw.redis.client.delete(running.gw.redis.keys.directory(key))
    got = await running.result("W-6")
    assert got.status == "PENDING" and not _leaks(got, gone)
    reasons = {e["pn"]: e["reason"] for e in await running.events("query.answer_withheld")}
    assert reasons == {
        "W-5": "subject_changed_after_answer",
        "W-6": "subject_changed_after_answer",
    }
    held = {h.processing_number: h.reason for h in await running.gw.queries.list_held()}
    assert held == reasons


async def test_a_release_of_an_unknown_subject_is_withheld_once_it_resolves(
    running: Running,
) -> None:
    person = running.residents[12]
    code = "LATER0000000001"
    assert (await running.submit(Query("W-7", code))).status == "PENDING"  # subject unknown
    qid = await _query_id(running, "W-7")
    running.upstream.residents[code] = person
    await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert (await running.result("W-7")).status == "PROVIDED"  # released while unknown
    await import_pairs(
        running.gw.directory, running.gw.events, [(person.atena_number, code)], "test"
    )
    assert (await running.result("W-7")).status == "PENDING"  # now someone: look again


async def test_a_stored_answer_is_withheld_once_its_subject_or_person_is_under_review(
    running: Running,
) -> None:
    """A review opened after the answer (a remap, or the check finding the person's flag state
    unlike the trail) means the facts it was given on are not established: lua/result.lua hands
    the stored answer out no more, the query goes back to staff."""
    from gateway.model import HoldReason
    from gateway.store.quarantine import QuarantineStore

    reviews = QuarantineStore(running.gw.redis, running.gw.keyring)
    for n, scope in enumerate(("person", "subject")):
        p = running.residents[20 + n]
        pn = f"U-{n}"
        assert (await running.submit(Query(pn, p.subject_code))).status == "PROVIDED"
        kind = "atena" if scope == "person" else "subject"
        value = p.atena_number if scope == "person" else p.subject_code
        key = running.gw.keyring.person_key(kind, value)
        await reviews.open(scope, key, HoldReason.SUBJECT_REMAPPED, "test")
        got = await running.result(pn)
        assert (got.status, got.fields) == ("PENDING", None), scope
        [held] = [h for h in await running.gw.queries.list_held() if h.processing_number == pn]
        assert held.reason == "subject_remapped"


# (lua/result.lua against gateway.recheck.answer_withheld on every combination, and every step
# from every state against gateway.lifecycle: tests/test_rules_exhaustive.py)


@pytest.mark.parametrize("reason", ["flagged_after_answer", "subject_changed_after_answer"])
def test_the_new_hold_reasons_are_reasons(reason: str) -> None:
    from gateway.model import HoldReason

    assert HoldReason(reason).value == reason


# -- whatever happens after the answer, it comes out only on facts that still hold -------------
PERSONS = ("P", "Q")
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("flag"), st.sampled_from(PERSONS), st.booleans()),
        st.tuples(st.just("remap"), st.sampled_from((*PERSONS, None)), st.just(False)),
        st.tuples(st.just("ask"), st.just(None), st.just(False)),
        st.tuples(st.just("release"), st.just(None), st.just(False)),
    ),
    min_size=1,
    max_size=10,
)
_example = itertools.count(100)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
async def test_an_answer_comes_out_again_only_while_its_facts_hold(
    running: Running, steps: list[tuple[str, str | None, bool]]
) -> None:
    """After an automatic answer, any sequence of flag changes, directory remaps, requests for
    the result and staff releases: PROVIDED only while the subject resolves to the person the
    last answer was given about, and that person is not flagged, unless staff released it on
    the flag exactly as it is now."""
    from gateway.demo import flag_resident
    from gateway.simulator import synthetic_residents

    gw = running.gw
    n = next(_example)
    p, q = synthetic_residents(2, start=1000 + 2 * n)
    subject = p.subject_code
    who = {"P": p, "Q": q}
    running.upstream.residents[subject] = p
    pairs = [(p.atena_number, subject), (q.atena_number, q.subject_code)]
    await import_pairs(gw.directory, gw.events, pairs, "t")
    pn = f"H-{n}"
    assert (await running.submit(Query(pn, subject))).status == "PROVIDED"
    qid = await _query_id(running, pn)
    flagged = {"P": False, "Q": False}
    version = {"P": 0, "Q": 0}
    resolves: str | None = "P"
    given = ("P", None)  # about whom the last answer was given, and the flag version if released
    for action, target, on in steps:
        if action == "flag" and target is not None:
            if on:
                await flag_resident(gw, who[target], actor="t", non_disclosure=False)
                flagged[target], version[target] = True, version[target] + 1
            elif flagged[target]:
                await unflag(gw, who[target], note="本人申出", actor="t")
                flagged[target], version[target] = False, version[target] + 1
        elif action == "remap":
            if target is None:
                for key in gw.keyring.person_keys("subject", subject):
                    await gw.redis.client.delete(gw.redis.keys.directory(key))
            else:
                pair = [(who[target].atena_number, subject)]  # a remap: held for review too
                await import_pairs(gw.directory, gw.events, pair, "t", allow_remap=True)
            resolves = target
        elif action == "ask":
            got = await running.result(pn)
            if got.status == "PROVIDED":
                about, released_at_version = given
                assert resolves == about, (steps, given)
                if resolves is not None and flagged[resolves]:
                    assert released_at_version == version[resolves], (steps, given)
            else:
                assert got.status == "PENDING" and got.fields is None
        elif action == "release":
            held = await gw.queries.get(qid)
            if held is not None and held.state is QueryState.HELD:
                await gw.queue.release(qid, NOTICE, "staff:t")
                given = (resolves, version[resolves] if resolves else 0)
