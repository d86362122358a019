"""The registrars' JSON API (/api/v1/flag-records, /api/v1/release-requests, /api/v1/renewals):
what the flag pages do, as JSON, through the same functions: the registrar's own department, the
same refusals (the catalog key as the error code), the same events, the two-person release. Atena
numbers and names travel in JSON bodies only; request ids are opaque."""

from __future__ import annotations

import html
import json
import re
from datetime import date, timedelta
from typing import Any

from gateway import flags
from gateway.simulator import Resident
from gateway.staff.i18n import Translator
from tests.conftest import Running
from tests.staffkit import Staff, StaffClient, flash_of

RECORDS, LOOKUP = "/api/v1/flag-records", "/api/v1/flag-records/lookup"
REQUESTS, RENEWALS = "/api/v1/release-requests", "/api/v1/renewals"


def _register(person: Resident, **over: Any) -> dict[str, Any]:
    return {
        "atena_number": person.atena_number,
        "name": person.name,
        "business": "児童手当業務",
        "basis": "application",
        "until": "2027-03-31",
        **over,
    }


def _release(person: Resident, **over: Any) -> dict[str, Any]:
    return {
        "atena_number": person.atena_number,
        "basis": "application",
        "note": "本人から解除の申出（窓口）",
        **over,
    }


async def _flag(running: Running, person: Resident, department: str = "子ども家庭課", **kw: Any):
    args: dict[str, Any] = dict(
        atena_number=person.atena_number,
        name=person.name,
        department=department,
        business="児童手当業務" if department == "子ども家庭課" else None,
        basis="application",
        until="2027-03-31",
        auto_response_disabled=True,
        non_disclosure=True,
        actor="test",
    )
    args.update(kw)
    return await flags.set_flags(running.gw, **args)


async def _events(running: Running, kind: str) -> list[dict[str, object]]:
    return [e for e in await running.events(kind) if e["kind"] == kind]


def _no_person_in_urls(person: Resident, *clients: StaffClient) -> None:
    for client in clients:
        assert all(
            person.atena_number not in u and person.name not in u for u in client.seen_urls
        ), client.seen_urls


async def test_a_registrar_registers_flags_and_reads_the_record_back(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    person = running.residents[0]
    status, record = await reg.api("POST", RECORDS, _register(person))
    assert status == 200
    assert (record["atena_number"], record["name"]) == (person.atena_number, person.name)
    assert record["auto_response_disabled"] is True and record["non_disclosure"] is True
    assert (record["department"], record["business"], record["until"]) == (
        "子ども家庭課",
        "児童手当業務",
        "2027-03-31",
    )
    assert record["updated_by"] == "staff:reg-kodomo"
    [event] = await _events(running, "flag.set")
    assert (event["actor"], event["department"]) == ("staff:reg-kodomo", "子ども家庭課")
    # one flag only, when told so; anything but a JSON boolean is refused before the rules
    status, record = await reg.api(
        "POST", RECORDS, _register(running.residents[1], auto_response_disabled=False)
    )
    assert (record["auto_response_disabled"], record["non_disclosure"]) == (False, True)
    status, out = await reg.api(
        "POST", RECORDS, _register(running.residents[2], non_disclosure="yes")
    )
    assert (status, out) == (400, {"error": "bad_field", "field": "non_disclosure"})
    assert await running.gw.flags.get(running.residents[2].atena_number) is None
    [bad] = await _events(running, "security.api_bad_input")
    assert (bad["actor"], bad["reason"], bad["field"]) == (
        "staff:reg-kodomo",
        "bad_field",
        "non_disclosure",
    )

    # reading it back: the whole record, and the read is recorded
    status, shown = await reg.api("POST", LOOKUP, {"atena_number": person.atena_number})
    assert status == 200 and shown["version"] == 1 and shown["name"] == person.name
    assert [h["action"] for h in shown["history"]] == ["set"]
    [read] = await _events(running, "flag.read")
    assert (read["actor"], read["department"], read["victim"]) == (
        "staff:reg-kodomo",
        "子ども家庭課",
        "1",
    )
    _no_person_in_urls(person, reg)


async def test_the_department_is_the_registrars_own_whatever_the_body_says(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar_tax")
    body = _register(running.residents[0], department="子ども家庭課", business="特別区民税・都民税")
    status, record = await reg.api("POST", RECORDS, body)
    assert status == 200 and record["department"] == "税務課"


async def test_the_api_refuses_as_the_pages_do_with_the_catalogs_key(
    running: Running, staff: Staff
) -> None:
    """Each refusal through the API has the page's status, and as its error code the key of the
    message the page shows."""
    reg = await staff.client("registrar")
    t = Translator("en")
    await reg.request("GET", "/staff/lang/en?next=/staff/flags")
    person, flagged = running.residents[0], running.residents[3]
    await _flag(running, flagged, non_disclosure=False)

    def form(body: dict[str, Any]) -> dict[str, str]:
        out = {k: str(v) for k, v in body.items() if not isinstance(v, bool)}
        for name in ("auto_response_disabled", "non_disclosure"):
            out[name] = "" if body.get(name) is False else "1"
        return out

    cases = [
        (RECORDS, "/staff/flags/register", _register(person, atena_number="12345")),
        (RECORDS, "/staff/flags/register", _register(person, basis="whim")),
        (RECORDS, "/staff/flags/register", _register(person, name=" ")),
        (RECORDS, "/staff/flags/register", _register(person, until="2027-02-30")),
        (RECORDS, "/staff/flags/register", _register(person, business="")),
        (
            RECORDS,
            "/staff/flags/register",
            _register(person, auto_response_disabled=False, non_disclosure=False),
        ),
        (REQUESTS, "/staff/flags/release-request", _release(flagged, basis="ex-officio")),
        (REQUESTS, "/staff/flags/release-request", _release(flagged, note="")),
        (REQUESTS, "/staff/flags/release-request", _release(flagged, note="x" * 2001)),
        (
            REQUESTS,
            "/staff/flags/release-request",
            _release(flagged, auto_response_disabled=False),
        ),
        (REQUESTS, "/staff/flags/release-request", _release(person)),
    ]
    seen = []
    for api_path, page_path, body in cases:
        status, out = await reg.api("POST", api_path, body)
        page_status, _, page = await reg.request("POST", page_path, form=form(body))
        assert status == page_status, (body, out)
        params = {k: v for k, v in out.items() if k != "error"}
        assert html.unescape(flash_of(page)) == t(f"err.{out['error']}", **params), out
        seen.append((status, out["error"]))
    assert seen == [
        (400, "flag.atena_number"),
        (400, "flag.basis"),
        (400, "flag.name_required"),
        (400, "flag.date"),
        (400, "annex.business_required"),
        (400, "flag.no_flag_chosen"),
        (400, "flag.application_only"),
        (400, "flag.note_required"),
        (400, "flag.note_too_long"),
        (409, "flag.not_on"),
        (403, "flag.not_holder"),
    ]
    assert await running.gw.flags.get(person.atena_number) is None
    assert await _events(running, "flag.release_requested") == []


async def test_a_registrar_outside_annex_1_can_do_nothing_through_the_api(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar_outside")
    person = running.residents[0]
    await _flag(running, person)
    for path, body in (
        (RECORDS, _register(person, business="")),
        (LOOKUP, {"atena_number": person.atena_number}),
        (REQUESTS, _release(person)),
    ):
        status, out = await reg.api("POST", path, body)
        assert (status, out) == (403, {"error": "annex.department", "department": "戸籍住民課"})
    assert [e["kind"] for e in await running.events("flag.")] == ["flag.set"]


async def test_a_department_reads_only_the_records_of_persons_it_flagged(
    running: Running, staff: Staff
) -> None:
    ours, theirs, nobody = running.residents[0], running.residents[1], running.residents[2]
    await _flag(running, ours, department="税務課")
    theirs_record = await _flag(running, theirs)  # by 子ども家庭課 only
    tax = await staff.client("registrar_tax")
    assert (await tax.api("POST", LOOKUP, {"atena_number": ours.atena_number}))[0] == 200
    # flagged by another department or by nobody: the same refusal, so it tells nothing
    answers = [
        await tax.api("POST", LOOKUP, {"atena_number": p.atena_number}) for p in (theirs, nobody)
    ]
    assert answers == [(403, {"error": "flag.not_flagged_here"})] * 2
    refused = await _events(running, "security.flag_read_refused")
    assert [(e["actor"], e["department"]) for e in refused] == [("staff:reg-zeimu", "税務課")] * 2
    assert refused[0]["subject"] == theirs_record.person_key
    assert [e["actor"] for e in await _events(running, "flag.read")] == ["staff:reg-zeimu"]
    # once 税務課 has flagged the person too, its own hold is theirs to read (and only that)
    await _flag(running, theirs, department="税務課")
    status, shown = await tax.api("POST", LOOKUP, {"atena_number": theirs.atena_number})
    assert status == 200 and [h["department"] for h in shown["history"]] == ["税務課"]
    assert (await tax.api("POST", LOOKUP, {"atena_number": "12345"})) == (
        400,
        {"error": "flag.atena_number"},
    )
    _no_person_in_urls(theirs, tax)


async def test_a_release_asked_through_the_api_is_confirmed_by_a_second_registrar(
    running: Running, staff: Staff
) -> None:
    person = running.residents[0]
    reg, second = await staff.client("registrar"), await staff.client("registrar2")
    await reg.api("POST", RECORDS, _register(person))
    status, req = await reg.api("POST", REQUESTS, _release(person))
    assert status == 201 and req["state"] == "pending" and re.fullmatch(r"[0-9a-f]+", req["id"])
    assert (req["requested_by"], req["department"]) == ("staff:reg-kodomo", "子ども家庭課")
    rid = req["id"]
    # both see it; only the other registrar may confirm it
    _, mine = await reg.api("GET", REQUESTS)
    _, theirs = await second.api("GET", REQUESTS)
    assert [(r["id"], r["may_confirm"]) for r in mine] == [(rid, False)]
    assert [(r["id"], r["may_confirm"], r["atena_number"]) for r in theirs] == [
        (rid, True, person.atena_number)
    ]
    # the requester confirming their own request: refused, recorded once, nothing released
    status, out = await reg.api("POST", f"{REQUESTS}/{rid}/confirm")
    assert (status, out) == (403, {"error": "flag.same_person"})
    [event] = await _events(running, "security.self_approval")
    assert (event["actor"], event["request"]) == ("staff:reg-kodomo", rid)
    # another department's registrar: not theirs, and recorded
    tax = await staff.client("registrar_tax")
    assert await tax.api("GET", REQUESTS) == (200, [])
    status, out = await tax.api("POST", f"{REQUESTS}/{rid}/confirm")
    assert (status, out) == (403, {"error": "no_release_request"})
    [mismatch] = await _events(running, "security.department_mismatch")
    assert (mismatch["actor"], mismatch["request"]) == ("staff:reg-zeimu", rid)
    record = await running.gw.flags.get(person.atena_number)
    assert (
        record is not None and record.state.auto_response_disabled and record.state.non_disclosure
    )

    status, out = await second.api("POST", f"{REQUESTS}/{rid}/confirm")
    assert status == 200 and out["outcome"] == "released"
    assert (out["request"]["state"], out["request"]["decided_by"]) == (
        "confirmed",
        "staff:reg-kodomo2",
    )
    assert out["record"]["auto_response_disabled"] is False
    assert out["record"]["non_disclosure"] is False
    [released] = await _events(running, "flag.release")
    assert (released["actor"], released["requested_by"], released["request"]) == (
        "staff:reg-kodomo2",
        "staff:reg-kodomo",
        rid,
    )
    assert await second.api("POST", f"{REQUESTS}/{rid}/confirm") == (
        409,
        {"error": "flag.decided"},
    )
    for bad in ("zz", "0123456789abcdef"):
        assert await second.api("POST", f"{REQUESTS}/{bad}/confirm") == (
            404,
            {"error": "flag.unknown"},
        )
    assert len(await _events(running, "security.self_approval")) == 1
    assert await reg.api("GET", REQUESTS) == (200, [])
    _no_person_in_urls(person, reg, second, tax)


async def test_a_release_request_is_cancelled_through_the_api_and_the_flag_stays(
    running: Running, staff: Staff
) -> None:
    person = running.residents[1]
    await _flag(running, person)
    reg, second = await staff.client("registrar"), await staff.client("registrar2")
    _, req = await reg.api("POST", REQUESTS, _release(person, non_disclosure=False))
    assert (req["auto_response_disabled"], req["non_disclosure"]) == (True, False)
    # asked twice: one pending request per person
    assert await second.api("POST", REQUESTS, _release(person)) == (409, {"error": "flag.pending"})
    tax = await staff.client("registrar_tax")
    assert (await tax.api("POST", f"{REQUESTS}/{req['id']}/cancel"))[0] == 403
    status, out = await second.api("POST", f"{REQUESTS}/{req['id']}/cancel")
    assert status == 200 and out["outcome"] == "cancelled"
    assert (out["request"]["state"], out["request"]["decided_by"]) == (
        "cancelled",
        "staff:reg-kodomo2",
    )
    assert await reg.api("POST", f"{REQUESTS}/{req['id']}/cancel") == (
        409,
        {"error": "flag.decided"},
    )
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled
    [event] = await _events(running, "flag.release_cancelled")
    assert event["actor"] == "staff:reg-kodomo2"
    assert await _events(running, "flag.release") == []


async def test_the_renewal_list_of_the_registrars_department_through_the_api(
    running: Running, staff: Staff
) -> None:
    soon = (running.clock.today() + timedelta(days=10)).isoformat()
    ours, theirs, both = running.residents[0], running.residents[1], running.residents[2]
    await _flag(running, ours, until=soon)
    await _flag(running, theirs, department="税務課", until=soon)
    await _flag(running, both, until=soon)
    await _flag(running, both, department="税務課", until=soon)
    reg = await staff.client("registrar")
    status, out = await reg.api("GET", RENEWALS)
    assert status == 200 and (out["department"], out["within_days"]) == ("子ども家庭課", 30)
    assert {i["atena_number"] for i in out["items"]} == {ours.atena_number, both.atena_number}
    assert all(i["days_left"] == 10 and i["overdue"] is False for i in out["items"])
    [event] = await _events(running, "flag.due_read")
    assert (event["actor"], event["department"], event["within"], event["count"]) == (
        "staff:reg-kodomo",
        "子ども家庭課",
        "30",
        "2",
    )
    far = (date.today() + timedelta(days=300)).isoformat()
    await _flag(running, ours, until=far)
    _, out = await reg.api("GET", f"{RENEWALS}?within=366")
    assert ours.atena_number in {i["atena_number"] for i in out["items"]}
    _, out = await reg.api("GET", f"{RENEWALS}?within=0")
    assert {i["atena_number"] for i in out["items"]} == set()
    for bad in ("-1", "367", "abc"):
        assert await reg.api("GET", f"{RENEWALS}?within={bad}") == (
            400,
            {"error": "renewal_window", "max": "366"},
        )
    assert len(await _events(running, "flag.due_read")) == 3


async def test_every_state_change_of_the_registrars_api_needs_the_csrf_token(
    running: Running, staff: Staff
) -> None:
    person = running.residents[0]
    await _flag(running, person)
    reg = await staff.client("registrar")
    _, req = await reg.api("POST", REQUESTS, _release(person))
    before = await running.events()
    for path, body in (
        (RECORDS, _register(running.residents[1])),
        (LOOKUP, {"atena_number": person.atena_number}),
        (REQUESTS, _release(running.residents[1])),
        (f"{REQUESTS}/{req['id']}/confirm", {}),
        (f"{REQUESTS}/{req['id']}/cancel", {}),
    ):
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            status, hdrs, _ = await reg.request("POST", path, json=body, csrf="", headers=headers)
            assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf"), path
        status, hdrs, _ = await reg.request(
            "POST", path, json=body, headers={"Origin": "http://evil.example"}
        )
        assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf"), path
    after = await running.events()
    assert [e["kind"] for e in after[len(before) :]] == ["security.csrf_refused"] * 15
    assert await running.gw.flags.get(running.residents[1].atena_number) is None
    [pending] = await flags.pending_releases(running.gw)
    assert pending.id == req["id"]


async def test_a_body_the_pages_never_send_is_refused_and_recorded(
    running: Running, staff: Staff
) -> None:
    """Not JSON, JSON that is not an object, another content type: each answered with its error,
    each a security event naming the caller and the route (no body in it), nothing changed."""
    reg = await staff.client("registrar")
    person = running.residents[5]
    cases = [
        ("application/json", b'{"atena_number": "' + person.atena_number.encode(), 400, "bad_json"),
        ("application/json", b"[1, 2]", 400, "bad_json"),
        ("application/json", b"\xff\xfe{}", 400, "bad_json"),
        ("text/plain", b"atena_number=1", 415, "json_required"),
    ]
    for content_type, body, status, reason in cases:
        async with reg.http.post(
            reg.base + RECORDS,
            data=body,
            headers={"Content-Type": content_type, "X-CSRF-Token": reg.csrf},
        ) as resp:
            assert (resp.status, await resp.json()) == (status, {"error": reason})
    events = await _events(running, "security.api_bad_input")
    assert [(e["reason"], e["actor"], e["route"]) for e in events] == [
        (reason, "staff:reg-kodomo", RECORDS) for _, _, _, reason in cases
    ]
    assert all(person.atena_number not in str(e) for e in events)
    assert await running.gw.flags.get(person.atena_number) is None
    assert await _events(running, "flag.set") == []

    # before login too (the login call is public, with the pre-login token): the actor is the peer
    anon = staff.anonymous()
    status, _, body = await anon.request("GET", "/api/v1/session")
    pre = json.loads(body)["csrf"]
    async with anon.http.post(
        anon.base + "/api/v1/session",
        data=b'{"login": "reg-kodomo", "password": ',
        headers={"Content-Type": "application/json", "X-CSRF-Token": pre},
    ) as resp:
        assert (resp.status, await resp.json()) == (400, {"error": "bad_json"})
    last = (await _events(running, "security.api_bad_input"))[-1]
    assert (last["actor"], last["route"]) == ("peer:127.0.0.1", "/api/v1/session")
    await anon.close()
