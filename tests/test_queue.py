"""The manual queue: staff release with a handling notice, or refuse; each exactly once."""

from __future__ import annotations

import asyncio

import pytest

from gateway.model import QueryState
from gateway.queue import QueueRefusal
from tests.conftest import Running
from tests.support import Query

NOTICE = "取扱注意：DV等支援措置対象者。住所を第三者に開示しないこと。"


async def _held(running: Running, pn: str, index: int = 0) -> str:
    person = running.residents[index]
    await running.flag(person)
    assert (await running.submit(Query(pn, person.subject_code))).status == "PENDING"
    held = [h for h in await running.gw.queries.list_held() if h.processing_number == pn]
    return held[0].id


async def test_release_provides_the_answer_with_the_handling_notice(running: Running) -> None:
    qid = await _held(running, "Q-1")
    released = await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert released.state is QueryState.RELEASED and released.decided_by == "staff:approver1"
    got = await running.result("Q-1")
    person = running.residents[0]
    assert got.status == "PROVIDED"
    assert got.fields == [(f.name, f.value) for f in person.fields]
    assert got.handling_notice == NOTICE
    # asked upstream at release time, with the query's id as idempotency key
    assert running.upstream.calls[-1] == ("SubmitQueryRequest", person.subject_code, qid)
    [record] = await running.gw.records.of_subject(
        running.gw.keyring.person_keys("subject", person.subject_code)
    )
    assert record.how == "released" and record.non_disclosure  # the person has 不開示 too
    assert released.decided_at and record.provided_at == released.decided_at


async def test_refuse_answers_refused_by_staff(running: Running) -> None:
    qid = await _held(running, "Q-2")
    await running.gw.queue.refuse(qid, "本人確認が取れないため", "staff:approver1")
    got = await running.result("Q-2")
    assert (got.status, got.refusal_code) == ("REFUSED", "REFUSED_BY_STAFF")
    assert running.upstream.calls == []
    with pytest.raises(QueueRefusal) as refused:
        await running.gw.queue.release(qid, NOTICE, "staff:approver2")
    assert refused.value.code == "not_held" and refused.value.query_id == qid


async def test_release_when_upstream_cannot_answer_changes_nothing(running: Running) -> None:
    qid = await _held(running, "Q-3")
    running.upstream.fail = True
    with pytest.raises(QueueRefusal) as refused:
        await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert refused.value.code == "upstream"
    held = await running.gw.queries.get(qid)
    assert held is not None and held.state is QueryState.HELD and "releasing" not in held.extra
    assert (await running.result("Q-3")).status == "PENDING"
    running.upstream.fail = False
    await running.gw.queue.release(qid, NOTICE, "staff:approver1")
    assert (await running.result("Q-3")).status == "PROVIDED"


async def test_fifty_concurrent_releases_release_exactly_once(running: Running) -> None:
    qid = await _held(running, "Q-4")
    running.upstream.delay = 0.2
    outcomes = await asyncio.gather(
        *(running.gw.queue.release(qid, f"{NOTICE} #{i}", f"staff:a{i}") for i in range(50)),
        return_exceptions=True,
    )
    ok = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(ok) == 1
    assert all(
        isinstance(o, QueueRefusal) and o.code in ("busy", "not_held")
        for o in outcomes
        if isinstance(o, BaseException)
    )
    assert len([c for c in running.upstream.calls if c[2] == qid]) == 1
    events = [e for e in await running.events("query.released") if e["query"] == qid]
    assert len(events) == 1
    person = running.residents[0]
    assert (
        len(
            await running.gw.records.of_subject(
                running.gw.keyring.person_keys("subject", person.subject_code)
            )
        )
        == 1
    )


async def test_release_and_refuse_racing_happen_once_in_total(running: Running) -> None:
    qid = await _held(running, "Q-5")
    running.upstream.delay = 0.05
    tasks = []
    for i in range(25):
        tasks.append(running.gw.queue.release(qid, NOTICE, f"staff:r{i}"))
        tasks.append(running.gw.queue.refuse(qid, "理由", f"staff:f{i}"))
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert len([o for o in outcomes if not isinstance(o, BaseException)]) == 1
    decided = [
        e
        for e in await running.events("query.")
        if e.get("query") == qid and e["kind"] in ("query.released", "query.refused")
    ]
    assert len(decided) == 1


async def test_held_list_keeps_every_held_query_whatever_its_state(running: Running) -> None:
    a = await _held(running, "Q-6", 0)
    b = await _held(running, "Q-7", 1)
    await _held(running, "Q-8", 2)
    await running.gw.queue.release(a, NOTICE, "staff:x")
    await running.gw.queue.refuse(b, "理由", "staff:x")
    everything = await running.gw.queries.list_held()
    assert {h.processing_number: h.state.value for h in everything} == {
        "Q-6": "released",
        "Q-7": "refused",
        "Q-8": "held",
    }
    waiting = await running.gw.queries.list_held(only_waiting=True)
    assert [h.processing_number for h in waiting] == ["Q-8"]
    assert [h.processing_number for h in everything] == ["Q-6", "Q-7", "Q-8"]  # oldest first


async def test_release_needs_a_notice_and_refusal_a_reason(running: Running) -> None:
    qid = await _held(running, "Q-9")
    with pytest.raises(QueueRefusal) as refused:
        await running.gw.queue.release(qid, "  ", "staff:x")
    assert refused.value.code == "notice_required"
    with pytest.raises(QueueRefusal) as refused:
        await running.gw.queue.refuse(qid, "", "staff:x")
    assert refused.value.code == "reason_required"
    assert (await running.gw.queries.get(qid)).state is QueryState.HELD


async def test_releasing_a_flag_leaves_held_queries_held(running: Running) -> None:
    from gateway.flags import release_flags

    qid = await _held(running, "Q-10")
    await release_flags(
        running.gw,
        atena_number=running.residents[0].atena_number,
        basis="application",
        note="本人申出",
        auto_response_disabled=True,
        non_disclosure=True,
        actor="test",
    )
    assert (await running.gw.queries.get(qid)).state is QueryState.HELD
    assert (await running.result("Q-10")).status == "PENDING"


async def test_every_refusal_of_the_queue_is_one_type_with_a_code(running: Running) -> None:
    """The command line and the console map the queue's refusals to their messages once each:
    a refusal whose code one of them cannot tell would fall through as an internal error."""
    from gateway.cli.held import REFUSALS
    from gateway.services.approvals import _QUEUE_STATUS
    from gateway.staff.i18n import Translator

    assert set(REFUSALS) == set(_QUEUE_STATUS) == QueueRefusal.CODES
    for code in QueueRefusal.CODES:
        for lang in ("ja", "en"):
            assert Translator(lang)(f"err.{code}") != f"err.{code}"
    qid = await _held(running, "Q-20")
    await running.gw.queue.refuse(qid, "理由", "staff:x")
    with pytest.raises(QueueRefusal) as refused:
        await running.gw.queue.refuse(qid, "理由", "staff:y")
    assert refused.value.code == "not_held"
