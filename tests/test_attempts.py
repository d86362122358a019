"""The holding departments are told (issue 13): every stop about a person flagged at that moment
is an attempt for each department that holds a flag on the person then, recorded in the stop's
own atomic step (the inbox of attempts) and folded into each department's list; its registrars
see it in the console and the API (a count in the header, a page, one screen with the name), and
acknowledge it. Another department sees nothing of it."""

from __future__ import annotations

import re

import pytest

from gateway.attempts import AttemptKind
from tests.conftest import Running
from tests.flag_support import all_values, by_tax_department, flag, unflag
from tests.staffkit import Staff
from tests.support import OTHER_REQUESTER, REQUESTER, Query, portal_xml

KODOMO, ZEIMU = "子ども家庭課", "税務課"


async def _attempts(running: Running, department: str) -> list[dict[str, str]]:
    """The department's attempts as the store keeps them, newest first, after a fold."""
    await running.gw.notices.catch_up()
    page = await running.gw.notices.store.page(department, limit=1000)
    return [
        {"kind": a.kind, "stopped": a.stopped, "org": a.org, "person": a.person, "state": a.state}
        for a in page.items
    ]


def _count(html: str) -> int | None:
    m = re.search(r'data-testid="attempts-count"[^>]*>([0-9]+)<', html)
    return int(m.group(1)) if m else None


async def test_a_held_query_is_an_attempt_for_each_department_holding_a_flag_then(
    running: Running,
) -> None:
    gw, r = running.gw, running.residents
    person = r[0]
    await flag(gw, person)  # 子ども家庭課
    await by_tax_department(gw, person)  # 税務課
    assert (await running.submit(Query("T-1", person.subject_code))).status == "PENDING"
    pk = gw.keyring.person_key("atena", person.atena_number)
    for department in (KODOMO, ZEIMU):
        assert await _attempts(running, department) == [
            {
                "kind": "query_held",
                "stopped": "held",
                "org": REQUESTER,
                "person": pk,
                "state": "open",
            }
        ]
    # 子ども家庭課 releases its hold: the next query is the tax department's alone
    await unflag(gw, person, department=KODOMO)
    assert (await running.submit(Query("T-2", person.subject_code, OTHER_REQUESTER))).status == (
        "PENDING"
    )
    assert len(await _attempts(running, ZEIMU)) == 2
    assert len(await _attempts(running, KODOMO)) == 1
    # nobody flagged, nobody told: an automatic answer, an unknown subject
    assert (await running.submit(Query("T-3", r[1].subject_code))).status == "PROVIDED"
    assert (await running.submit(Query("T-4", "SIMNOSUCHPERSON1"))).status == "PENDING"
    assert len(await _attempts(running, ZEIMU)) == 2
    assert await _attempts(running, "保育課") == []


async def test_blocked_views_withheld_answers_and_refused_reads_are_attempts_too(
    running: Running,
) -> None:
    gw, r = running.gw, running.residents
    # an answer given automatically, then the person is flagged: asked for again, it is withheld
    assert (await running.submit(Query("W-1", r[2].subject_code))).status == "PROVIDED"
    await flag(gw, r[2])
    assert (await running.result("W-1")).status == "PENDING"
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[2].subject_code))
    await running.post("/soap/portal", portal_xml("GetProvisionRecords", r[2].subject_code))
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[3].subject_code))
    found = await _attempts(running, KODOMO)
    assert [(a["kind"], a["stopped"]) for a in reversed(found)] == [
        (AttemptKind.ANSWER_WITHHELD.value, "withheld"),  # once: the hold after it is part of it
        (AttemptKind.PORTAL_BLOCKED.value, "blocked"),
        (AttemptKind.PORTAL_BLOCKED.value, "filtered"),
    ]


async def test_the_automatic_path_writes_nothing_to_the_inbox(running: Running) -> None:
    gw, r = running.gw, running.residents
    assert (await running.submit(Query("A-1", r[4].subject_code))).status == "PROVIDED"
    assert await gw.notices.store.waiting() == 0


async def test_registrars_see_their_departments_attempts_and_acknowledge_them(
    running: Running, staff: Staff
) -> None:
    gw, r = running.gw, running.residents
    person = r[0]
    await flag(gw, person)
    for pn in ("C-1", "C-2"):
        assert (await running.submit(Query(pn, person.subject_code))).status == "PENDING"
    reg = await staff.client("registrar")
    status, html = await reg.page("/staff/flags")
    assert status == 200 and _count(html) == 2
    status, html = await reg.page("/staff/attempts")
    ids = re.findall(r'data-attempt="([0-9a-f]{20})"', html)
    assert len(ids) == 2
    assert "見本市 子ども家庭課" in html and REQUESTER in html and "C-2" in html
    assert person.name not in html  # the list shows no name
    # one attempt's screen: the name, and showing it is recorded
    status, one = await reg.page(f"/staff/attempts/{ids[0]}")
    assert status == 200 and person.name in one
    [seen] = [e for e in await running.events("staff.viewed_name") if e.get("attempt") == ids[0]]
    assert seen["actor"] == "staff:reg-kodomo"
    # acknowledged with a note: it leaves the header count, the note is sealed at rest
    note = "本人に電話で伝達済み（試験メモ）"
    status, after = await reg.submit(
        f"/staff/attempts/{ids[0]}/acknowledge", {"outcome": "told", "note": note}
    )
    assert status == 200 and _count(after) == 1 and note in after
    assert note.encode() not in await all_values(gw)
    [ack] = await running.events("attempt.acknowledged")
    assert (ack["attempt"], ack["outcome"], ack["actor"]) == (ids[0], "told", "staff:reg-kodomo")
    # twice is refused
    status, _ = await reg.submit(f"/staff/attempts/{ids[0]}/acknowledge", {"outcome": "expected"})
    assert status == 409
    # the API says the same, without a name
    status, listed = await reg.api("GET", "/api/v1/attempts?limit=1")
    assert status == 200 and (listed["total"], listed["count"], listed["open"]) == (2, 1, 1)
    assert listed["next"] and listed["items"][0]["id"] == ids[0]
    status, rest = await reg.api("GET", listed["next"])
    assert status == 200 and [i["id"] for i in rest["items"]] == [ids[1]] and rest["next"] is None
    status, item = await reg.api("GET", f"/api/v1/attempts/{ids[1]}")
    assert status == 200 and item["requester_org_code"] == REQUESTER
    assert item["processing_number"] == "C-1" and item["now"] == "held"
    assert person.name not in str(item) and person.atena_number not in str(item)
    status, done = await reg.api(
        "POST", f"/api/v1/attempts/{ids[1]}/acknowledge", {"outcome": "expected"}
    )
    assert status == 200 and done["acknowledgement"]["outcome"] == "expected"
    status, html = await reg.page("/staff/attempts")
    assert _count(html) == 0


async def test_another_department_sees_nothing_of_an_attempt(
    running: Running, staff: Staff
) -> None:
    gw, r = running.gw, running.residents
    await flag(gw, r[0])  # 子ども家庭課 only
    assert (await running.submit(Query("X-1", r[0].subject_code))).status == "PENDING"
    own = await staff.client("registrar")
    status, html = await own.page("/staff/attempts")
    [attempt_id] = re.findall(r'data-attempt="([0-9a-f]{20})"', html)
    tax = await staff.client("registrar_tax")
    status, html = await tax.page("/staff/attempts")
    assert status == 200 and _count(html) == 0 and attempt_id not in html and "X-1" not in html
    status, missing = await tax.page(f"/staff/attempts/{'0' * 20}")
    status_other, other = await tax.page(f"/staff/attempts/{attempt_id}")
    assert (status_other, status) == (404, 404)
    # the same answer as for an attempt that does not exist (but for the page's own address)
    assert other.replace(attempt_id, "0" * 20) == missing
    assert (await tax.api("GET", f"/api/v1/attempts/{attempt_id}"))[0] == 404
    status, listed = await tax.api("GET", "/api/v1/attempts")
    assert (listed["total"], listed["open"], listed["items"]) == (0, 0, [])
    status, _ = await tax.api(
        "POST", f"/api/v1/attempts/{attempt_id}/acknowledge", {"outcome": "told"}
    )
    assert status == 404
    mismatches = await running.events("security.department_mismatch")
    assert len([e for e in mismatches if e.get("attempt") == attempt_id]) == 3
    # still open for its own department
    status, html = await own.page("/staff/attempts")
    assert _count(html) == 1
    # and other roles do not reach the pages at all
    approver = await staff.client("approver")
    assert (await approver.page("/staff/attempts"))[0] == 403


async def test_remaps_and_refused_reads_around_a_flagged_person_are_told(
    running: Running,
) -> None:
    from gateway.departments import issue_token, tokens
    from gateway.directory_import import DirectoryImport, DirectoryRefused, pairs_rows

    gw, r = running.gw, running.residents
    flagged, other = r[0], r[1]
    await flag(gw, flagged)
    # an import that would move the flagged person's subject code to someone else: refused whole,
    # and the flagged person's department is told (the line, not the file's other rows)
    moved = [(other.atena_number, flagged.subject_code), (r[9].atena_number, "SIMNEWROW0000001")]
    with pytest.raises(DirectoryRefused):
        await DirectoryImport(gw.directory, gw.events).run(pairs_rows(moved), "os:op@h")
    # the same with --allow-remap: applied and held for review, told again
    await DirectoryImport(gw.directory, gw.events).run(
        pairs_rows(moved[:1]), "os:op@h", allow_remap=True
    )
    # a department outside both annexes reads the flagged person; a holding department that does
    # not hold them reads them: both refused, both told
    outside, _ = await tokens(gw).issue("総務課", "文書管理", "legacy", "test")
    holding, _ = await issue_token(
        gw, department="高齢者支援課", business=None, label="", actor="t"
    )
    for token in (outside, holding):
        async with running.session.get(
            f"{running.url}/api/v1/flags/{flagged.atena_number}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 403
    found = list(reversed(await _attempts(running, KODOMO)))
    assert [(a["kind"], a["stopped"]) for a in found] == [
        ("remap_refused", "refused"),
        ("remap_refused", "held_for_review"),
        ("read_refused", "refused"),
        ("read_refused", "refused"),
    ]
    pk = gw.keyring.person_key("atena", flagged.atena_number)
    assert {a["person"] for a in found} == {pk}
    page = await gw.notices.store.page(KODOMO)
    readers = sorted(a.reader for a in page.items if a.kind == "read_refused")
    assert readers == [
        "総務課 / 文書管理",
        "高齢者支援課 / 高齢者総合相談センター（地域包括支援センター）設置に伴う相談及び申請受付",
    ]
