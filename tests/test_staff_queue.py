"""The approvers' queue in the console and its API: oldest first with what is needed to judge,
the name only on the item's screen, claims, release with the notice, refusal, four-eyes."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from gateway.settings import Settings
from tests.conftest import Running
from tests.staffkit import NOTICE, Staff, StaffClient, flash_of, held_query, seen_of, title_of
from tests.support import OTHER_REQUESTER, Query


async def test_queue_lists_held_queries_oldest_first_with_what_is_needed(
    running: Running, staff: Staff
) -> None:
    first = await held_query(running, "Q-old", 0)
    running.clock.advance(1)
    person = running.residents[1]
    await running.flag(person)
    await running.submit(
        Query("Q-new", person.subject_code, requester=OTHER_REQUESTER, item="TM00000000000077")
    )
    await running.submit(Query("Q-clear", running.residents[9].subject_code))  # answered
    appr = await staff.client("approver")
    status, page = await appr.api("GET", "/api/v1/held")
    assert status == 200 and (page["total"], page["start"], page["next"]) == (2, 0, None)
    items = page["items"]
    assert [i["processing_number"] for i in items] == ["Q-old", "Q-new"]
    old, new = items
    assert old["id"] == first and old["requester_name"] == "見本市 子ども家庭課"
    assert new["requester_name"] == "例示町 税務課" and new["item_code"] == "TM00000000000077"
    for it in items:
        assert it["reason"] == "auto_response_disabled" and it["held_at"] and it["requested_at"]
        assert it["affair_code"] and it["procedure_code"] and not it["overdue"]
        assert "name" not in it and "person_name" not in it
    status, html = await appr.page("/staff/queue")
    assert status == 200
    rows = re.findall(r'data-query="([0-9a-f]+)"', html)
    assert rows == [i["id"] for i in items]
    assert "例示町 税務課" in html and "自動応答不可フラグ" in html
    assert person.name not in html  # never the name in the list


async def test_the_name_is_shown_only_on_the_items_screen_and_the_view_is_recorded(
    running: Running, staff: Staff
) -> None:
    qid = await held_query(running, "Q-1", 0)
    person = running.residents[0]
    appr = await staff.client("approver")
    status, html = await appr.page(f"/staff/queue/{qid}")
    assert status == 200
    assert re.search(r'data-testid="person-name">([^<]+)<', html).group(1) == person.name
    assert person.name not in title_of(html)
    [viewed] = await running.events("staff.viewed_name")
    assert viewed["actor"] == "staff:appr-one" and viewed["query"] == qid
    assert person.name not in str(viewed)
    status, detail = await appr.api("GET", f"/api/v1/held/{qid}")
    assert status == 200 and person.name not in str(detail)
    assert detail["person_known"] and detail["flags_now"]["auto_response_disabled"]
    assert len(await running.events("staff.viewed_name")) == 1  # the API unsealed nothing


async def test_release_from_the_console_turns_get_query_result_provided(
    running: Running, staff: Staff
) -> None:
    qid = await held_query(running, "Q-2", 0)
    appr = await staff.client("approver")
    seen = await seen_of(appr, qid)
    status, html = await appr.submit(
        f"/staff/queue/{qid}/release", {"notice": NOTICE, "seen": seen}
    )
    assert status == 200 and qid in flash_of(html)
    got = await running.result("Q-2")
    assert got.status == "PROVIDED" and got.handling_notice == NOTICE
    assert got.fields == [(f.name, f.value) for f in running.residents[0].fields]
    [released] = await running.events("query.released")
    assert released["actor"] == "staff:appr-one"
    held = await running.gw.queries.get(qid)
    assert held is not None and held.decided_by == "staff:appr-one"


async def test_refuse_from_the_api_answers_refused_by_staff(running: Running, staff: Staff) -> None:
    qid = await held_query(running, "Q-3", 0)
    appr = await staff.client("approver")
    assert (await appr.api("POST", f"/api/v1/held/{qid}/refuse", {"reason": ""}))[0] == 400
    status, out = await appr.api("POST", f"/api/v1/held/{qid}/refuse", {"reason": "照会理由不明"})
    assert (status, out["state"]) == (200, "refused")
    got = await running.result("Q-3")
    assert (got.status, got.refusal_code) == ("REFUSED", "REFUSED_BY_STAFF")
    assert running.upstream.calls == []
    status, out = await appr.api(
        "POST", f"/api/v1/held/{qid}/release", {"notice": NOTICE, "seen": "0" * 40}
    )
    assert (status, out["error"]) == (409, "not_held")


async def test_release_needs_a_notice_and_changes_nothing_without_one(
    running: Running, staff: Staff
) -> None:
    qid = await held_query(running, "Q-4", 0)
    appr = await staff.client("approver")
    status, out = await appr.api("POST", f"/api/v1/held/{qid}/release", {"notice": "   "})
    assert (status, out["error"]) == (400, "notice_required")
    assert (await running.result("Q-4")).status == "PENDING"


async def test_when_the_upstream_fails_the_item_stays_held(running: Running, staff: Staff) -> None:
    qid = await held_query(running, "Q-5", 0)
    appr = await staff.client("approver")
    running.upstream.fail = True
    release = {"notice": NOTICE, "seen": await seen_of(appr, qid)}
    status, out = await appr.api("POST", f"/api/v1/held/{qid}/release", release)
    assert (status, out["error"]) == (502, "upstream")
    assert (await running.result("Q-5")).status == "PENDING"
    running.upstream.fail = False
    assert (await appr.api("POST", f"/api/v1/held/{qid}/release", release))[0] == 200
    assert (await running.result("Q-5")).status == "PROVIDED"


async def test_a_claim_keeps_others_off_the_item(running: Running, staff: Staff) -> None:
    qid = await held_query(running, "Q-6", 0)
    one = await staff.client("approver")
    two = await staff.client("approver2")
    assert (await one.api("POST", f"/api/v1/held/{qid}/claim"))[0] == 200
    status, out = await two.api("POST", f"/api/v1/held/{qid}/claim")
    assert (status, out["error"], out["who"]) == (409, "taken", "appr-one")
    release = {"notice": NOTICE, "seen": await seen_of(two, qid)}
    status, out = await two.api("POST", f"/api/v1/held/{qid}/release", release)
    assert (status, out["error"]) == (409, "taken")
    status, out = await two.api("POST", f"/api/v1/held/{qid}/refuse", {"reason": "x"})
    assert (status, out["error"]) == (409, "taken")
    assert (await running.result("Q-6")).status == "PENDING"
    # the page shows who holds it
    status, html = await two.page(f"/staff/queue/{qid}")
    assert "appr-one" in re.search(r'data-testid="claim">(.*?)</p>', html, re.S).group(1)
    # given back, the other may take it
    assert (await one.api("DELETE", f"/api/v1/held/{qid}/claim"))[0] == 200
    assert (await two.api("POST", f"/api/v1/held/{qid}/claim"))[0] == 200
    status, out = await one.api("DELETE", f"/api/v1/held/{qid}/claim")
    assert (status, out["error"]) == (409, "not_yours")


async def test_twenty_simultaneous_claims_give_the_item_to_exactly_one(
    running: Running, staff: Staff
) -> None:
    qid = await held_query(running, "Q-7", 0)
    approvals = staff.console.approvals
    from gateway.services.approvals import ApprovalError
    from gateway.store.sessions import Session

    viewers = [Session(f"d{i}", f"appr-{i}", "approver", "企画政策課", "t") for i in range(20)]
    outcomes = await asyncio.gather(
        *(approvals.claim(qid, v) for v in viewers), return_exceptions=True
    )
    assert sum(1 for o in outcomes if o is None) == 1
    assert all(isinstance(o, ApprovalError) and o.code == "taken" for o in outcomes if o)
    assert len(await running.events("staff.claimed")) == 1


async def test_a_claim_lapses_by_itself(running: Running, staff: Staff) -> None:
    claim_seconds = running.gw.settings.staff_claim_seconds
    qid = await held_query(running, "Q-8", 0)
    one = await staff.client("approver")
    two = await staff.client("approver2")
    assert (await one.api("POST", f"/api/v1/held/{qid}/claim"))[0] == 200
    running.clock.advance(claim_seconds - 10)
    assert (await two.api("POST", f"/api/v1/held/{qid}/claim"))[0] == 409
    [item] = (await two.api("GET", "/api/v1/held"))[1]["items"]
    assert item["claimed_by"] == "appr-one"
    running.clock.advance(11)
    [item] = (await two.api("GET", "/api/v1/held"))[1]["items"]
    assert not item["claimed_by"]
    assert (await two.api("POST", f"/api/v1/held/{qid}/claim"))[0] == 200


class TestAgeLimit:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(
            settings,
            held_age_warning_seconds=600,  # (within the session's idle timeout)
        )

    async def test_items_past_the_age_limit_are_highlighted_never_released(
        self, running: Running, staff: Staff
    ) -> None:
        appr = await staff.client("approver")
        qid = await held_query(running, "Q-9", 0)
        running.clock.advance(590)
        assert not (await appr.api("GET", "/api/v1/held"))[1]["items"][0]["overdue"]
        running.clock.advance(11)
        status, page = await appr.api("GET", "/api/v1/held")
        items = page["items"]
        assert status == 200 and items[0]["overdue"] and items[0]["state"] == "held"
        _status, html = await appr.page("/staff/queue")
        assert f'<tr class="overdue" data-query="{qid}">' in html
        assert (await running.result("Q-9")).status == "PENDING"
        assert await running.events("query.released") == []


class TestFourEyes:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(
            settings,
            staff_four_eyes_release=True,
        )

    async def test_a_second_approver_confirms_and_nobody_approves_their_own(
        self, running: Running, staff: Staff
    ) -> None:
        qid = await held_query(running, "Q-10", 0)
        one = await staff.client("approver")
        two = await staff.client("approver2")
        seen = {"seen": await seen_of(one, qid)}
        status, out = await one.api(
            "POST", f"/api/v1/held/{qid}/release", {"notice": NOTICE, **seen}
        )
        assert (status, out["outcome"], out["state"]) == (200, "proposed", "held")
        assert (await running.result("Q-10")).status == "PENDING"
        # the proposer cannot confirm: refused, and recorded as a security event
        status, out = await one.api("POST", f"/api/v1/held/{qid}/confirm", seen)
        assert (status, out["error"]) == (403, "same_person")
        assert [e["actor"] for e in await running.events("security.self_approval")] == [
            "staff:appr-one"
        ]
        assert (await running.result("Q-10")).status == "PENDING"
        # a second proposal by someone else is refused: there is one proposal at a time
        status, out = await two.api(
            "POST", f"/api/v1/held/{qid}/release", {"notice": "別文", **seen}
        )
        assert (status, out["error"]) == (409, "proposed")
        # the second approver sees the proposed notice and confirms
        status, html = await two.page(f"/staff/queue/{qid}")
        assert NOTICE in html and "/confirm" in html
        status, out = await two.api("POST", f"/api/v1/held/{qid}/confirm", seen)
        assert (status, out["outcome"]) == (200, "released")
        got = await running.result("Q-10")
        assert got.status == "PROVIDED" and got.handling_notice == NOTICE
        [confirmed] = await running.events("staff.release_confirmed")
        assert confirmed["actor"] == "staff:appr-two"
        assert confirmed["proposed_by"] == "staff:appr-one"
        assert [e["actor"] for e in await running.events("query.released")] == ["staff:appr-two"]

    async def test_a_proposal_can_be_withdrawn_by_its_proposer_only(
        self, running: Running, staff: Staff
    ) -> None:
        qid, one, two, seen = await _proposed(running, staff, "Q-11")
        status, out = await two.api("POST", f"/api/v1/held/{qid}/withdraw")
        assert (status, out["error"]) == (409, "not_yours")
        assert (await one.api("POST", f"/api/v1/held/{qid}/withdraw"))[0] == 200
        status, out = await two.api("POST", f"/api/v1/held/{qid}/confirm", seen)
        assert (status, out["error"]) == (409, "no_proposal")
        assert (await running.result("Q-11")).status == "PENDING"

    async def test_a_failed_confirmation_leaves_the_proposal_waiting(
        self, running: Running, staff: Staff
    ) -> None:
        qid, _, two, seen = await _proposed(running, staff, "Q-12")
        running.upstream.fail = True
        assert (await two.api("POST", f"/api/v1/held/{qid}/confirm", seen))[0] == 502
        running.upstream.fail = False
        assert (await two.api("POST", f"/api/v1/held/{qid}/confirm", seen))[0] == 200
        assert (await running.result("Q-12")).status == "PROVIDED"


async def _proposed(
    running: Running, staff: Staff, query_id: str
) -> tuple[str, StaffClient, StaffClient, dict[str, str]]:
    """A held query the first approver proposed to release (four eyes): its id, the proposer,
    a second approver, and the `seen` the proposal was made with."""
    qid = await held_query(running, query_id, 0)
    one = await staff.client("approver")
    two = await staff.client("approver2")
    seen = {"seen": await seen_of(one, qid)}
    await one.api("POST", f"/api/v1/held/{qid}/release", {"notice": NOTICE, **seen})
    return qid, one, two, seen


async def test_unknown_query_ids_are_not_found(running: Running, staff: Staff) -> None:
    appr = await staff.client("approver")
    assert (await appr.page("/staff/queue/ffffffffffffffffffff"))[0] == 404
    assert (await appr.api("GET", "/api/v1/held/..%2F..%2Fetc"))[0] == 404
    status, out = await appr.api("POST", "/api/v1/held/ffffffffffffffffffff/claim")
    assert (status, out["error"]) == (404, "not_found")
