"""A held query is judged on what its subject resolves to now: a query held as "subject unknown"
whose subject the directory has learned since, as a flagged person, shows that flag and its
holding departments to the approver; a release carries what was shown, and is refused when it
changed in between (also while the upstream answers); the operator's command line prints the
facts and wants --flagged-ok for a flagged person the hold did not know of."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from gateway.demo import flag_resident
from gateway.directory_import import import_pairs
from gateway.settings import Settings
from tests.conftest import Running
from tests.flag_support import by_tax_department
from tests.staffkit import NOTICE, Staff, held_query
from tests.support import REQUESTER, Query, cli_runner

CODE = "LEARNED00000001"  # a subject code the directory does not know when the query arrives


async def _unknown_then_flagged(running: Running, pn: str, index: int) -> tuple[str, object]:
    """A query held as subject unknown; then the directory learns the subject, a flagged person
    (flagged by two holding departments)."""
    person = running.residents[index]
    assert (await running.submit(Query(pn, CODE))).status == "PENDING"
    qid = await running.gw.redis.client.get(running.gw.redis.keys.idempotency(REQUESTER, pn))
    [held] = await running.gw.queries.list_held(only_waiting=True)
    assert (held.id, held.reason) == (qid, "subject_unknown")
    running.upstream.residents[CODE] = person
    await import_pairs(
        running.gw.directory, running.gw.events, [(person.atena_number, CODE)], "test"
    )
    await flag_resident(running.gw, person, actor="test")
    await by_tax_department(running.gw, person)
    return qid, person


async def test_a_subject_learned_since_shows_its_flag_and_a_release_on_the_old_view_is_refused(
    running: Running, staff: Staff
) -> None:
    appr = await staff.client("approver")
    person = running.residents[15]
    assert (await running.submit(Query("U-1", CODE))).status == "PENDING"
    [held] = await running.gw.queries.list_held(only_waiting=True)
    status, before = await appr.api("GET", f"/api/v1/held/{held.id}")
    assert status == 200 and not before["person_known"]
    assert not before["subject_now"]["known"] and before["flags_now"] is None
    old_view = before["seen"]

    # the directory learns the subject: a person two holding departments have flagged
    running.upstream.residents[CODE] = person
    await import_pairs(
        running.gw.directory, running.gw.events, [(person.atena_number, CODE)], "test"
    )
    await flag_resident(running.gw, person, actor="test")
    await by_tax_department(running.gw, person)

    status, now = await appr.api("GET", f"/api/v1/held/{held.id}")
    assert status == 200 and now["person_known"]
    assert now["flags_now"] == {"auto_response_disabled": True, "non_disclosure": True}
    subject = now["subject_now"]
    assert subject["holding_departments"] == ["子ども家庭課", "税務課"]
    assert subject["changed_since_hold"] and subject["needs_flag_confirmation"]
    assert now["reason"] == "subject_unknown" and now["seen"] != old_view
    assert person.name not in str(now)
    # the queue marks it, and the item's screen shows the flag and its departments
    status, page = await appr.api("GET", "/api/v1/held")
    assert page["items"][0]["subject_now"]["needs_flag_confirmation"]
    status, html = await appr.page("/staff/queue")
    assert 'data-testid="flagged-now"' in html
    status, html = await appr.page(f"/staff/queue/{held.id}")
    assert 'data-testid="flagged-now"' in html
    shown = re.search(r'data-testid="holding-departments">([^<]*)<', html).group(1)
    assert shown == "子ども家庭課、税務課"
    assert re.search(r'name="seen" value="([0-9a-f]+)"', html).group(1) == now["seen"]

    # released on the view from before the flag: refused, nothing asked, nothing changed
    status, out = await appr.api(
        "POST", f"/api/v1/held/{held.id}/release", {"notice": NOTICE, "seen": old_view}
    )
    assert (status, out["error"]) == (409, "facts_changed")
    assert running.upstream.calls == []
    assert (await running.result("U-1")).status == "PENDING"
    # and without saying what was seen: refused too
    status, out = await appr.api("POST", f"/api/v1/held/{held.id}/release", {"notice": NOTICE})
    assert (status, out["error"]) == (400, "seen_required")
    # on the view that shows the flag, it goes through
    status, out = await appr.api(
        "POST", f"/api/v1/held/{held.id}/release", {"notice": NOTICE, "seen": now["seen"]}
    )
    assert (status, out["outcome"]) == (200, "released")
    got = await running.result("U-1")
    assert (got.status, got.handling_notice) == ("PROVIDED", NOTICE)


async def test_a_release_posted_from_the_item_screen_with_the_old_view_is_refused(
    running: Running, staff: Staff
) -> None:
    appr = await staff.client("approver")
    qid = await held_query(running, "U-2", 16)
    _, html = await appr.page(f"/staff/queue/{qid}")
    old_view = re.search(r'name="seen" value="([0-9a-f]+)"', html).group(1)
    # while the screen is open, another holding department flags the person too
    person = running.residents[16]
    await by_tax_department(running.gw, person)
    status, html = await appr.submit(
        f"/staff/queue/{qid}/release", {"notice": NOTICE, "seen": old_view}
    )
    assert status == 200 and "表示した後に対象者またはフラグが変わりました" in html
    assert (await running.result("U-2")).status == "PENDING"
    new_view = re.search(r'name="seen" value="([0-9a-f]+)"', html).group(1)  # shown again
    assert new_view != old_view
    status, html = await appr.submit(
        f"/staff/queue/{qid}/release", {"notice": NOTICE, "seen": new_view}
    )
    assert (await running.result("U-2")).status == "PROVIDED"


async def test_a_flag_set_while_the_upstream_answers_a_release_stops_it(
    running: Running, staff: Staff
) -> None:
    appr = await staff.client("approver")
    qid, person = await _unknown_then_flagged(running, "U-3", 17)
    status, detail = await appr.api("GET", f"/api/v1/held/{qid}")
    running.upstream.gate = answering = asyncio.Event()
    release = asyncio.create_task(
        appr.api("POST", f"/api/v1/held/{qid}/release", {"notice": NOTICE, "seen": detail["seen"]})
    )
    while not running.upstream.calls:  # the upstream has the release's question now
        await asyncio.sleep(0.01)
    await flag_resident(running.gw, person, actor="test", until="2027-06-30")  # renewed
    answering.set()
    status, out = await release
    assert (status, out["error"]) == (409, "facts_changed")
    held = await running.gw.queries.get(qid)
    assert held is not None and held.state.value == "held" and "releasing" not in held.extra
    assert (await running.result("U-3")).status == "PENDING"
    assert (
        await running.gw.records.of_subject(running.gw.keyring.person_keys("subject", CODE)) == []
    )  # nothing left the ward
    [stale] = await running.events("query.release_stale")
    assert (stale["query"], stale["step"]) == (qid, "finish")


class TestFourEyes:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, staff_four_eyes_release=True)

    async def test_a_proposal_made_on_other_facts_cannot_be_confirmed(
        self, running: Running, staff: Staff
    ) -> None:
        one = await staff.client("approver")
        two = await staff.client("approver2")
        assert (await running.submit(Query("U-4", CODE))).status == "PENDING"
        [held] = await running.gw.queries.list_held(only_waiting=True)
        _, before = await one.api("GET", f"/api/v1/held/{held.id}")
        status, out = await one.api(
            "POST", f"/api/v1/held/{held.id}/release", {"notice": NOTICE, "seen": before["seen"]}
        )
        assert (status, out["outcome"]) == (200, "proposed")
        person = running.residents[18]
        running.upstream.residents[CODE] = person
        await import_pairs(
            running.gw.directory, running.gw.events, [(person.atena_number, CODE)], "test"
        )
        await flag_resident(running.gw, person, actor="test")
        _, now = await two.api("GET", f"/api/v1/held/{held.id}")
        assert now["subject_now"]["needs_flag_confirmation"]
        status, out = await two.api(
            "POST", f"/api/v1/held/{held.id}/confirm", {"seen": now["seen"]}
        )
        assert (status, out["error"]) == (409, "proposal_stale")
        assert (await running.result("U-4")).status == "PENDING"
        # the proposer looks again, proposes again; then the second approver confirms
        assert (await one.api("POST", f"/api/v1/held/{held.id}/withdraw"))[0] == 200
        status, out = await one.api(
            "POST", f"/api/v1/held/{held.id}/release", {"notice": NOTICE, "seen": now["seen"]}
        )
        assert status == 200
        status, out = await two.api(
            "POST", f"/api/v1/held/{held.id}/confirm", {"seen": now["seen"]}
        )
        assert (status, out["outcome"]) == (200, "released")


@pytest.fixture
def hogo(running: Running, redis_url: str):
    """The operator's command, on the running gateway's store and keys, with its upstream."""
    run = cli_runner(running.gw.settings.data_dir, redis_url)

    def with_upstream(*args: str):
        return run(*args, "--upstream-url", running.upstream_url)

    return with_upstream


async def test_the_command_line_prints_the_facts_and_wants_flagged_ok(
    running: Running, hogo
) -> None:
    qid, person = await _unknown_then_flagged(running, "U-5", 19)
    shown = await asyncio.to_thread(hogo, "held", "show", qid)
    assert shown.returncode == 0, shown.stderr
    assert "FLAGGED NOW" in shown.stdout and "子ども家庭課, 税務課" in shown.stdout
    assert person.name not in shown.stdout
    listed = await asyncio.to_thread(hogo, "held", "list")
    assert f"{qid}" in listed.stdout and "FLAGGED NOW" in listed.stdout

    refused = await asyncio.to_thread(hogo, "held", "release", qid, "--notice", NOTICE)
    assert refused.returncode == 1
    assert "flagged" in refused.stderr.splitlines()[-1] and "--flagged-ok" in refused.stderr
    assert "子ども家庭課, 税務課" in refused.stderr  # the facts, so the operator can judge
    assert (await running.result("U-5")).status == "PENDING"
    assert running.upstream.calls == []

    done = await asyncio.to_thread(hogo, "held", "release", qid, "--notice", NOTICE, "--flagged-ok")
    assert done.returncode == 0, done.stderr
    assert "子ども家庭課, 税務課" in done.stdout and "released" in done.stdout
    got = await running.result("U-5")
    assert (got.status, got.handling_notice) == ("PROVIDED", NOTICE)


async def test_the_command_line_releases_a_query_held_for_its_flag_as_before(
    running: Running, hogo
) -> None:
    """The contract's `held release ID --notice TEXT` still releases a query held because the
    person is flagged: the operator knows that flag; --flagged-ok is for flags the hold did not
    know of."""
    qid = await held_query(running, "U-6", 20)
    done = await asyncio.to_thread(hogo, "held", "release", qid, "--notice", NOTICE, "--json")
    assert done.returncode == 0, done.stderr
    assert '"holding_departments"' in done.stdout
    assert (await running.result("U-6")).status == "PROVIDED"
