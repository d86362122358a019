"""Access rights, deny by default: a requester may ask only about the affairs (事務) and
procedures (事務手続) it was granted; anything else is REFUSED / NOT_AUTHORIZED and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.decision import Action, decide
from gateway.model import SubmitQuery
from gateway.store.requesters import UnknownRequester
from tests.conftest import Running
from tests.support import AFFAIR, REQUESTER, Query, cli_runner

THIRD = "1330000000000003"
OTHER_AFFAIR = "JM00000000000002"
PROC_A = "JT00000000000005"
PROC_B = "JT00000000000006"


async def _nothing_stored(r: Running, org: str, pn: str) -> None:
    assert not await r.gw.redis.client.exists(r.gw.redis.keys.idempotency(org, pn))
    assert await r.gw.queries.list_held() == []


async def test_registered_requester_without_rights_is_refused(running: Running) -> None:
    await running.gw.requesters.add(THIRD, "第三区 保険年金課", "test")
    person = running.residents[10]
    ans = await running.submit(Query("R-1", person.subject_code, requester=THIRD))
    assert (ans.status, ans.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert running.upstream.calls == []
    await _nothing_stored(running, THIRD, "R-1")
    [event] = await running.events("security.requester_not_permitted")
    assert (event["org"], event["affair"], event["procedure"], event["operation"]) == (
        THIRD,
        AFFAIR,
        "JT00000000000001",
        "SubmitQuery",
    )


async def test_allowed_affair_is_answered_and_another_is_refused(running: Running) -> None:
    person = running.residents[11]
    allowed = await running.submit(Query("R-2", person.subject_code))
    assert allowed.status == "PROVIDED"
    other = await running.submit(Query("R-3", person.subject_code, affair=OTHER_AFFAIR))
    assert (other.status, other.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    assert len(running.upstream.calls) == 1
    await _nothing_stored(running, REQUESTER, "R-3")
    [event] = await running.events("security.requester_not_permitted")
    assert (event["org"], event["affair"], event["pn"]) == (REQUESTER, OTHER_AFFAIR, "R-3")
    # refused, not held: a flagged person outside the rights gets the same answer
    await running.flag(running.residents[0])
    flagged = await running.submit(
        Query("R-4", running.residents[0].subject_code, affair=OTHER_AFFAIR)
    )
    assert (flagged.status, flagged.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    # granted, the same affair is answered
    await running.gw.requesters.grant(REQUESTER, OTHER_AFFAIR, [], "test")
    assert (
        await running.submit(Query("R-5", person.subject_code, affair=OTHER_AFFAIR))
    ).status == "PROVIDED"


async def test_a_procedure_right_covers_only_that_procedure(running: Running) -> None:
    gw = running.gw
    await gw.requesters.add(THIRD, "第三区 保険年金課", "test")
    await gw.requesters.grant(THIRD, OTHER_AFFAIR, [PROC_A], "test")
    person = running.residents[12]
    ok = await running.submit(
        Query("R-6", person.subject_code, requester=THIRD, affair=OTHER_AFFAIR, procedure=PROC_A)
    )
    assert ok.status == "PROVIDED"
    no = await running.submit(
        Query("R-7", person.subject_code, requester=THIRD, affair=OTHER_AFFAIR, procedure=PROC_B)
    )
    assert (no.status, no.refusal_code) == ("REFUSED", "NOT_AUTHORIZED")
    # a procedure right does not open the whole affair's other procedures, nor another affair
    wrong_affair = await running.submit(
        Query("R-8", person.subject_code, requester=THIRD, procedure=PROC_A)
    )
    assert wrong_affair.refusal_code == "NOT_AUTHORIZED"
    assert [e["pn"] for e in await running.events("security.requester_not_permitted")] == [
        "R-7",
        "R-8",
    ]


async def test_revoking_stops_new_queries_and_the_results_of_earlier_ones(
    running: Running,
) -> None:
    person = running.residents[13]
    assert (await running.submit(Query("R-9", person.subject_code))).status == "PROVIDED"
    await running.gw.requesters.revoke(REQUESTER, AFFAIR, [], "test")
    got = await running.result("R-9")
    assert (got.status, got.refusal_code, got.fields) == ("REFUSED", "NOT_AUTHORIZED", None)
    new = await running.submit(Query("R-10", person.subject_code))
    assert new.refusal_code == "NOT_AUTHORIZED"
    # the same processing number sent again is refused too, not answered from the first query
    again = await running.submit(Query("R-9", person.subject_code))
    assert again.refusal_code == "NOT_AUTHORIZED"
    events = await running.events("security.requester_not_permitted")
    assert [(e["pn"], e["operation"]) for e in events] == [
        ("R-9", "GetQueryResult"),
        ("R-10", "SubmitQuery"),
        ("R-9", "SubmitQuery"),
    ]
    await running.gw.requesters.grant(REQUESTER, AFFAIR, [], "test")
    assert (await running.result("R-9")).status == "PROVIDED"


async def test_the_admission_script_refuses_exactly_what_decide_refuses(
    running: Running,
) -> None:
    """admit.lua stores nothing for a query decide() refuses, and reserves every other one."""
    gw = running.gw
    person = running.residents[14]
    cases = {
        # org: (registered, permitted)
        "1340000000000004": (False, False),
        "1350000000000005": (True, False),
        "1360000000000006": (True, True),
    }
    for org, (registered, permitted) in cases.items():
        if registered:
            await gw.requesters.add(org, "table", "test")
        if permitted:
            await gw.requesters.grant(org, AFFAIR, [], "test")
        q = SubmitQuery(
            "R-T",
            org,
            AFFAIR,
            "JT00000000000001",
            "TM00000000000001",
            person.subject_code,
            "2026-11-26T10:00:00+09:00",
        )
        admission = await gw.queries.admit(q, gw.keyring.person_keys("subject", q.subject_code))
        facts = admission.facts
        assert (facts.requester_registered, facts.requester_permitted) == (registered, permitted)
        refused = decide(facts).action is Action.REFUSE
        assert refused == (not (registered and permitted))
        stored = await gw.redis.client.exists(gw.redis.keys.idempotency(org, "R-T"))
        assert bool(stored) == (not refused)


async def test_rights_rules_in_the_store(running: Running) -> None:
    store = running.gw.requesters
    with pytest.raises(UnknownRequester):
        await store.grant(THIRD, AFFAIR, [], "test")
    await store.add(THIRD, "第三区 保険年金課", "test")
    assert (await store.get(THIRD)).rights == ()  # deny by default
    with pytest.raises(ValueError, match="affair code"):
        await store.grant(THIRD, "JT00000000000001", [], "test")
    with pytest.raises(ValueError, match="procedure code"):
        await store.grant(THIRD, AFFAIR, ["JM00000000000001"], "test")
    await store.grant(THIRD, AFFAIR, [], "test")
    with pytest.raises(ValueError, match="revoke the affair"):
        await store.revoke(THIRD, AFFAIR, [PROC_A], "test")
    await store.grant(THIRD, OTHER_AFFAIR, [PROC_A, PROC_B], "test")
    after = await store.revoke(THIRD, OTHER_AFFAIR, [PROC_A], "test")
    assert [(r.affair, r.procedure) for r in after.rights] == [
        (AFFAIR, None),
        (OTHER_AFFAIR, PROC_B),
    ]
    # revoking an affair takes its procedure rights with it
    revoked = await store.revoke(THIRD, OTHER_AFFAIR, [], "test")
    assert [(r.affair, r.procedure) for r in revoked.rights] == [(AFFAIR, None)]
    # removing a requester drops its rights: registered again, it starts from nothing
    assert await store.remove(THIRD, "test")
    await store.add(THIRD, "第三区 保険年金課", "test")
    assert (await store.get(THIRD)).rights == ()
    kinds = [e["kind"] for e in await running.events("requester.") if e["org"] == THIRD]
    assert kinds == [
        "requester.added",
        "requester.granted",
        "requester.granted",
        "requester.revoked",
        "requester.revoked",
        "requester.removed",
        "requester.added",
    ]


def test_rights_on_the_command_line(tmp_path: Path, redis_url: str) -> None:
    hogo = cli_runner(tmp_path / "data", redis_url)

    assert hogo("requesters", "add", THIRD, "--name", "第三区").returncode == 0
    shown = json.loads(hogo("requesters", "rights", THIRD, "--json").stdout)
    assert shown["rights"] == []
    assert "nothing (deny by default)" in hogo("requesters", "rights", THIRD).stdout
    granted = hogo(
        "requesters",
        "grant",
        THIRD,
        "--affair",
        OTHER_AFFAIR,
        "--procedure",
        PROC_A,
        "--procedure",
        PROC_B,
        "--json",
    )
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["rights"] == [
        {"affair": OTHER_AFFAIR, "procedure": PROC_A},
        {"affair": OTHER_AFFAIR, "procedure": PROC_B},
    ]
    assert hogo("requesters", "grant", THIRD, "--affair", AFFAIR).returncode == 0
    listed = json.loads(hogo("requesters", "list", "--json").stdout)
    assert [r["org_code"] for r in listed] == [THIRD] and len(listed[0]["rights"]) == 3
    revoked = hogo("requesters", "revoke", THIRD, "--affair", OTHER_AFFAIR, "--json")
    assert json.loads(revoked.stdout)["rights"] == [{"affair": AFFAIR, "procedure": None}]
    unknown = hogo("requesters", "grant", "1399999999999999", "--affair", AFFAIR)
    assert unknown.returncode == 1 and "not registered" in unknown.stderr
    bad = hogo("requesters", "grant", THIRD, "--affair", "JX00000000000001")
    assert bad.returncode == 1 and "affair code" in bad.stderr
    assert hogo("requesters", "grant", THIRD).returncode == 2  # --affair is required
