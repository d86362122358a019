"""Two-person release (console and API): one asks on the person's application, another confirms;
nobody confirms their own request; the confirmation re-reads the department's hold in the same
atomic step, and releases that hold alone."""

from __future__ import annotations

import asyncio

import pytest

from gateway.flags import (
    ReleaseRequestError,
    SamePersonError,
    cancel_release,
    confirm_release,
    pending_releases,
    release_request,
    request_release,
)
from gateway.model import QueryState
from tests.conftest import Running
from tests.flag_support import events_of, flag, unflag
from tests.support import Query

DEPT = "子ども家庭課"


async def _ask(running: Running, index: int, **kw: object):
    person = running.residents[index]
    args: dict[str, object] = dict(
        atena_number=person.atena_number,
        basis="application",
        note="本人より解除の申出（窓口）",
        auto_response_disabled=True,
        non_disclosure=True,
        requested_by="staff:registrar1",
        department=DEPT,
    )
    args.update(kw)
    return await request_release(running.gw, **args)  # type: ignore[arg-type]


async def test_a_second_person_confirms_and_the_flag_is_released(running: Running) -> None:
    person = running.residents[0]
    await flag(running.gw, person)
    req = await _ask(running, 0)
    assert req.state == "pending" and req.atena_number == person.atena_number
    assert req.name == person.name and req.note == "本人より解除の申出（窓口）"
    # asking releases nothing
    still = await running.gw.flags.get(person.atena_number)
    assert still is not None and still.state.auto_response_disabled and still.state.non_disclosure

    record = await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:approver1")
    assert not record.state.any
    last = record.history[-1]
    assert last["action"] == "release" and last["actor"] == "staff:approver1"
    assert last["request"] == req.id and last["requested_by"] == "staff:registrar1"
    assert last["basis"] == "application" and last["note"] == "(sealed)"
    [event] = await events_of(running.gw, "flag.release")
    assert event["request"] == req.id and event["actor"] == "staff:approver1"
    assert event["requested_by"] == "staff:registrar1" and event["department"] == "子ども家庭課"
    done = await release_request(running.gw, request_id=req.id)
    assert done is not None and done.state == "confirmed" and done.decided_by == "staff:approver1"
    assert await pending_releases(running.gw) == []


async def test_nobody_confirms_their_own_request(running: Running) -> None:
    await flag(running.gw, running.residents[1])
    req = await _ask(running, 1, requested_by="staff:same")
    with pytest.raises(SamePersonError) as refused:
        await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:same")
    assert issubclass(SamePersonError, ValueError) and refused.value.reason == "same_person"
    record = await running.gw.flags.get(running.residents[1].atena_number)
    assert record is not None and record.state.any and record.version == 1
    assert [r.id for r in await pending_releases(running.gw)] == [req.id]
    assert await events_of(running.gw, "flag.release") == []
    # the attempt is a security event, recorded once, by the rule itself (whoever calls it)
    [event] = await events_of(running.gw, "security.self_approval")
    assert (event["actor"], event["request"], event["department"]) == (
        "staff:same",
        req.id,
        "子ども家庭課",
    )
    assert event["subject"] == record.person_key


async def test_a_request_is_confirmed_once_whoever_races_for_it(running: Running) -> None:
    await flag(running.gw, running.residents[2])
    req = await _ask(running, 2)
    outcomes = await asyncio.gather(
        *(
            confirm_release(running.gw, request_id=req.id, confirmed_by=f"staff:approver{i}")
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert len([o for o in outcomes if not isinstance(o, BaseException)]) == 1
    assert all(isinstance(o, ValueError) for o in outcomes if isinstance(o, BaseException))
    assert len(await events_of(running.gw, "flag.release")) == 1


async def test_unknown_or_decided_requests_are_clear_errors(running: Running) -> None:
    with pytest.raises(ReleaseRequestError, match="no release request") as refused:
        await confirm_release(running.gw, request_id="nope", confirmed_by="staff:a")
    assert refused.value.reason == "unknown"
    with pytest.raises(ReleaseRequestError, match="no release request") as refused:
        await cancel_release(running.gw, request_id="nope", cancelled_by="staff:a", department=DEPT)
    assert refused.value.reason == "unknown"
    await flag(running.gw, running.residents[3])
    req = await _ask(running, 3)
    await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:a")
    with pytest.raises(ReleaseRequestError, match="already confirmed") as refused:
        await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:b")
    assert refused.value.reason == "decided"
    with pytest.raises(ReleaseRequestError, match="already confirmed") as refused:
        await cancel_release(running.gw, request_id=req.id, cancelled_by="staff:b", department=DEPT)
    assert refused.value.reason == "decided"


async def test_a_flag_changed_since_the_request_is_not_released(running: Running) -> None:
    person = running.residents[4]
    await flag(running.gw, person, until="2026-12-31")
    req = await _ask(running, 4)
    await flag(running.gw, person, until="2027-12-31")  # renewed after the request was made
    [pending] = await pending_releases(running.gw)
    assert pending.stale
    with pytest.raises(ReleaseRequestError, match="flag changed since") as refused:
        await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:approver1")
    assert refused.value.reason == "superseded"
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled and record.version == 2
    closed = await release_request(running.gw, request_id=req.id)
    assert closed is not None and closed.state == "superseded"
    assert await pending_releases(running.gw) == []
    assert await events_of(running.gw, "flag.release_superseded")


async def test_a_cancelled_request_cannot_be_confirmed(running: Running) -> None:
    await flag(running.gw, running.residents[5])
    req = await _ask(running, 5)
    cancelled = await cancel_release(
        running.gw, request_id=req.id, cancelled_by="staff:registrar1", department=DEPT
    )
    assert cancelled.state == "cancelled"
    with pytest.raises(ReleaseRequestError, match="cancelled"):
        await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:approver1")
    record = await running.gw.flags.get(running.residents[5].atena_number)
    assert record is not None and record.state.any
    # and the person may be asked for again
    again = await _ask(running, 5)
    assert again.id != req.id


async def test_who_may_ask(running: Running) -> None:
    await flag(running.gw, running.residents[6])
    with pytest.raises(ReleaseRequestError, match="has not set a flag") as refused:
        await _ask(running, 6, department="税務課")  # a holding department, but not this flag's
    assert refused.value.reason == "not_holder"
    with pytest.raises(ValueError, match="annex 1"):
        await _ask(running, 6, department="戸籍住民課")  # not a holding department at all
    with pytest.raises(ValueError, match="application"):
        await _ask(running, 6, basis="ex-officio")
    first = await _ask(running, 6)
    with pytest.raises(ReleaseRequestError, match=f"already pending \\({first.id}\\)") as refused:
        await _ask(running, 6, requested_by="staff:other")
    assert refused.value.reason == "pending"
    assert len(await events_of(running.gw, "flag.release_requested")) == 1


async def test_a_department_that_did_not_flag_the_person_learns_nothing(running: Running) -> None:
    """Like a holding department's read, a release request tells a department that has not set a
    flag of this person nothing about it: flagged by someone else or by nobody, the same refusal,
    and each attempt is a security event."""
    flagged, nobody = running.residents[12], running.residents[13]
    await flag(running.gw, flagged)  # by 子ども家庭課
    refusals = []
    for person in (flagged, nobody):
        with pytest.raises(ReleaseRequestError) as refused:
            await _ask(running, running.residents.index(person), department="税務課")
        refusals.append((refused.value.reason, str(refused.value)))
    assert (
        refusals
        == [("not_holder", "税務課 has not set a flag of this person; it cannot ask to release it")]
        * 2
    )
    events = await events_of(running.gw, "security.department_mismatch")
    assert [(e["actor"], e["department"]) for e in events] == [("staff:registrar1", "税務課")] * 2
    assert events[0]["subject"] != events[1]["subject"]
    assert await events_of(running.gw, "flag.release_requested") == []


async def test_a_released_flag_cannot_be_asked_to_release_again(running: Running) -> None:
    person = running.residents[7]
    await flag(running.gw, person, nd=False)
    with pytest.raises(ReleaseRequestError, match="none of the flags") as refused:
        await _ask(running, 7, auto_response_disabled=False)  # only 不開示, which is not set
    assert refused.value.reason == "not_on"
    await unflag(running.gw, person, note="本人申出", actor="operator")
    with pytest.raises(ReleaseRequestError, match="holds no flag of this person now") as refused:
        await _ask(running, 7)
    assert refused.value.reason == "no_flag"


async def test_pending_requests_by_department(running: Running) -> None:
    await flag(running.gw, running.residents[8])
    await flag(running.gw, running.residents[9], department="税務課", business=None)
    a = await _ask(running, 8)
    b = await _ask(running, 9, department="税務課")
    assert [r.id for r in await pending_releases(running.gw)] == [a.id, b.id]
    assert [r.id for r in await pending_releases(running.gw, department="税務課")] == [b.id]
    assert b.as_json()["department"] == "税務課" and b.as_json()["stale"] is False


async def test_a_confirmed_release_of_one_flag_keeps_the_other(running: Running) -> None:
    await flag(running.gw, running.residents[10])
    req = await _ask(running, 10, auto_response_disabled=False)
    record = await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:approver1")
    assert record.state.auto_response_disabled and not record.state.non_disclosure


async def test_a_confirmed_release_leaves_held_queries_held(running: Running) -> None:
    person = running.residents[11]
    await flag(running.gw, person)
    assert (await running.submit(Query("TR-1", person.subject_code))).status == "PENDING"
    req = await _ask(running, 11)
    await confirm_release(running.gw, request_id=req.id, confirmed_by="staff:approver1")
    [held] = await running.gw.queries.list_held()
    assert held.state is QueryState.HELD
    assert (await running.result("TR-1")).status == "PENDING"
    # a new query is answered automatically now
    assert (await running.submit(Query("TR-2", person.subject_code))).status == "PROVIDED"
