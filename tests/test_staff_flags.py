"""The registrars' pages: register flags for their own department with one of its registered
businesses (annex 1); request a release that a second registrar of the department confirms; the
renewal list of the department. Every refusal of the flag rules is shown in the catalog's words,
in Japanese and in English, and changes nothing."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from gateway import flags
from gateway.simulator import Resident
from gateway.staff.i18n import Translator
from tests.conftest import Running
from tests.staffkit import Staff, StaffClient, flash_of, title_of


def _register_form(running: Running, index: int = 0, **over: str) -> dict[str, str]:
    person = running.residents[index]
    return {
        "atena_number": person.atena_number,
        "name": person.name,
        "business": "児童手当業務",
        "basis": "application",
        "until": "2027-03-31",
        "auto_response_disabled": "1",
        "non_disclosure": "1",
        **over,
    }


def _release_form(person: Resident, **over: str) -> dict[str, str]:
    return {
        "atena_number": person.atena_number,
        "basis": "application",
        "note": "本人から解除の申出（窓口）",
        "auto_response_disabled": "1",
        "non_disclosure": "1",
        **over,
    }


async def _flag(
    running: Running, person: Resident, department: str = "子ども家庭課", **kw: object
) -> None:
    args: dict[str, object] = dict(
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
    await flags.set_flags(running.gw, **args)  # type: ignore[arg-type]


def _pending_ids(page_html: str) -> list[str]:
    return re.findall(r'<tr data-request="([0-9a-f]+)"', page_html)


async def _events(running: Running, kind: str) -> list[dict[str, object]]:
    return [e for e in await running.events(kind) if e["kind"] == kind]


def _said(page_html: str) -> str:
    return html.unescape(flash_of(page_html))


async def test_registrar_registers_flags_for_their_own_department(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    person = running.residents[0]
    status, page = await reg.submit("/staff/flags/register", _register_form(running))
    assert status == 200 and flash_of(page) == "フラグを登録しました。"
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert (
        record is not None and record.state.auto_response_disabled and record.state.non_disclosure
    )
    [hold] = record.holds
    assert (hold.department, hold.business, hold.basis, hold.until) == (
        "子ども家庭課",
        "児童手当業務",
        "application",
        "2027-03-31",
    )
    assert hold.name == person.name and hold.set_by == "staff:reg-kodomo"
    [event] = await _events(running, "flag.set")
    assert event["actor"] == "staff:reg-kodomo" and event["department"] == "子ども家庭課"
    # nothing personal went into a URL, the title, or the flash kept between requests
    assert all(person.atena_number not in u and person.name not in u for u in reg.seen_urls)
    assert person.name not in title_of(page) and person.atena_number not in flash_of(page)


async def test_the_department_is_the_registrars_own_whatever_the_form_says(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar_tax")
    form = _register_form(running, department="子ども家庭課", business="特別区民税・都民税")
    await reg.submit("/staff/flags/register", form)
    record = await running.gw.flags.get(running.residents[0].atena_number)
    assert record is not None and record.departments == ["税務課"]


async def test_the_business_is_one_of_the_departments_registered_businesses(
    running: Running, staff: Staff
) -> None:
    def options(page_html: str) -> list[tuple[str, bool]]:
        select = re.search(r'<select name="business" required>(.*?)</select>', page_html, re.S)
        assert select is not None
        return [
            (value, " selected" in attrs)
            for value, attrs in re.findall(r'<option value="([^"]*)"([^>]*)>', select.group(1))
        ]

    # 子ども家庭課 has two businesses in annex 1: the registrar chooses, nothing is preselected
    _, page = await (await staff.client("registrar")).page("/staff/flags")
    assert options(page) == [("", True), ("児童手当業務", False), ("児童扶養手当業務", False)]
    # 税務課 has one: it is preselected
    _, page = await (await staff.client("registrar_tax")).page("/staff/flags")
    assert options(page) == [("特別区民税・都民税", True)]


async def test_refused_registrations_say_why_keep_what_was_typed_and_change_nothing(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    person = running.residents[0]
    t = Translator("ja")
    cases = [
        (_register_form(running, atena_number="12345"), 400, t("err.flag.atena_number")),
        # one digit too many is refused, not cut short into somebody else's number
        (
            _register_form(running, atena_number=person.atena_number + "9"),
            400,
            t("err.flag.atena_number"),
        ),
        (
            _register_form(running, auto_response_disabled="", non_disclosure=""),
            400,
            t("err.flag.no_flag_chosen"),
        ),
        (_register_form(running, basis="whim"), 400, t("err.flag.basis")),
        (_register_form(running, name=" "), 400, t("err.flag.name_required")),
        (_register_form(running, name="名" * 101), 400, t("err.flag.name_format", max="100")),
        (_register_form(running, until="2027-02-30"), 400, t("err.flag.date")),
        (
            _register_form(running, business=""),
            400,
            t("err.annex.business_required", department="子ども家庭課"),
        ),
        (
            _register_form(running, business="特別区民税・都民税"),
            400,
            t("err.annex.business_unknown", department="子ども家庭課"),
        ),
    ]
    for form, want_status, want_text in cases:
        status, _, page = await reg.request("POST", "/staff/flags/register", form=form)
        assert (status, _said(page)) == (want_status, want_text), form
        # the form comes back as it was sent, to be corrected
        assert f'name="name" value="{html.escape(form["name"].strip())}"' in page, form
    assert await running.gw.flags.get(person.atena_number) is None
    assert await running.events("flag.") == []


async def test_a_registrar_outside_annex_1_is_told_plainly_and_can_do_nothing(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar_outside")
    status, page = await reg.page("/staff/flags")
    assert status == 200 and 'data-testid="not-holding"' in page
    assert "/staff/flags/register" not in page and "/staff/flags/release-request" not in page
    status, _, page = await reg.request(
        "POST", "/staff/flags/register", form=_register_form(running, business="")
    )
    assert status == 403
    assert _said(page) == Translator("ja")("err.annex.department", department="戸籍住民課")
    assert await running.events("flag.") == []


async def test_a_release_is_requested_by_one_registrar_and_confirmed_by_another(
    running: Running, staff: Staff
) -> None:
    person = running.residents[0]
    reg = await staff.client("registrar")
    await reg.submit("/staff/flags/register", _register_form(running))
    status, page = await reg.submit("/staff/flags/release-request", _release_form(person))
    assert status == 200 and "申請しました" in flash_of(page)
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled  # not yet
    [request_id] = _pending_ids(page)
    row = page[page.index(f'data-request="{request_id}"') :]
    assert person.atena_number in row and person.name in row and "本人から解除の申出" in row
    assert "/staff/flags/release-confirm" not in row.split("</tr>")[0]  # not offered to oneself
    # the requester cannot confirm their own request (sent by hand): refused, and recorded once
    status, _, page = await reg.request(
        "POST", "/staff/flags/release-confirm", form={"request_id": request_id}
    )
    assert (status, _said(page)) == (403, Translator("ja")("err.flag.same_person"))
    [event] = await _events(running, "security.self_approval")
    assert (event["actor"], event["request"]) == ("staff:reg-kodomo", request_id)
    second = await staff.client("registrar2")
    status, page = await second.submit("/staff/flags/release-confirm", {"request_id": request_id})
    assert status == 200 and "確認しました" in flash_of(page) and _pending_ids(page) == []
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and not record.state.any
    [released] = await _events(running, "flag.release")
    assert (released["actor"], released["requested_by"]) == (
        "staff:reg-kodomo2",
        "staff:reg-kodomo",
    )
    assert len(await _events(running, "security.self_approval")) == 1
    assert all(person.atena_number not in u for u in reg.seen_urls + second.seen_urls)


async def test_a_registrar_cancels_a_release_request_and_the_flag_stays(
    running: Running, staff: Staff
) -> None:
    person = running.residents[1]
    await _flag(running, person)
    reg = await staff.client("registrar")
    _, page = await reg.submit("/staff/flags/release-request", _release_form(person))
    [request_id] = _pending_ids(page)
    status, page = await reg.submit("/staff/flags/release-cancel", {"request_id": request_id})
    assert status == 200 and flash_of(page) == "解除申請を取り消しました。"
    assert _pending_ids(page) == []
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled
    [event] = await _events(running, "flag.release_cancelled")
    assert event["actor"] == "staff:reg-kodomo"


async def test_a_department_that_did_not_flag_the_person_learns_nothing_and_is_recorded(
    running: Running, staff: Staff
) -> None:
    flagged, nobody = running.residents[0], running.residents[1]
    await running.flag(flagged)  # by 子ども家庭課
    other = await staff.client("registrar_tax")
    said = set()
    for person in (flagged, nobody):
        status, _, page = await other.request(
            "POST", "/staff/flags/release-request", form=_release_form(person)
        )
        assert status == 403
        said.add(_said(page))
    # the same answer whether someone else flagged the person or nobody did
    assert said == {Translator("ja")("err.flag.not_holder")}
    events = await _events(running, "security.department_mismatch")
    assert [(e["actor"], e["department"]) for e in events] == [("staff:reg-zeimu", "税務課")] * 2
    assert await _events(running, "flag.release_requested") == []


async def test_any_department_that_flagged_the_person_may_ask_for_the_release(
    running: Running, staff: Staff
) -> None:
    """The rule is gateway.flags': the departments that set a flag of the person, not only the one
    that set it last."""
    person = running.residents[2]
    await _flag(running, person)  # 子ども家庭課 first,
    await _flag(running, person, department="税務課")  # then 税務課
    reg = await staff.client("registrar")
    status, page = await reg.submit("/staff/flags/release-request", _release_form(person))
    assert status == 200 and len(_pending_ids(page)) == 1
    # the request is 子ども家庭課's: 税務課 neither sees nor confirms it
    other = await staff.client("registrar_tax")
    _, tax_page = await other.page("/staff/flags")
    assert _pending_ids(tax_page) == []
    status, _, tax_page = await other.request(
        "POST", "/staff/flags/release-confirm", form={"request_id": _pending_ids(page)[0]}
    )
    assert (status, _said(tax_page)) == (403, Translator("ja")("err.no_release_request"))
    [event] = await _events(running, "security.department_mismatch")
    assert (event["actor"], event["request"]) == ("staff:reg-zeimu", _pending_ids(page)[0])
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.any


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_every_refusal_of_a_release_has_its_message_in_both_languages(
    running: Running, staff: Staff, lang: str
) -> None:
    t = Translator(lang)
    reg, second = await staff.client("registrar"), await staff.client("registrar2")
    for client in (reg, second):
        await client.request("GET", f"/staff/lang/{lang}?next=/staff/flags")
    r = running.residents

    async def refused(client: StaffClient, path: str, form: dict[str, str]) -> tuple[int, str]:
        status, _, page = await client.request("POST", path, form=form)
        assert f'<html lang="{lang}">' in page
        return status, _said(page)

    async def ask(person: Resident) -> str:
        status, page = await reg.submit("/staff/flags/release-request", _release_form(person))
        assert status == 200, _said(page)
        return _pending_ids(page)[-1]

    request = "/staff/flags/release-request"
    for person in r[3:6]:
        await _flag(running, person)
    await _flag(running, r[6], non_disclosure=False)
    # asking
    assert await refused(reg, request, _release_form(r[3], atena_number="123")) == (
        400,
        t("err.flag.atena_number"),
    )
    assert await refused(reg, request, _release_form(r[3], basis="ex-officio")) == (
        400,
        t("err.flag.application_only"),
    )
    assert await refused(reg, request, _release_form(r[3], note="")) == (
        400,
        t("err.flag.note_required"),
    )
    assert await refused(reg, request, _release_form(r[3], note="x" * 2001)) == (
        400,
        t("err.flag.note_too_long", max="2000"),
    )
    assert await refused(
        reg, request, _release_form(r[3], auto_response_disabled="", non_disclosure="")
    ) == (400, t("err.flag.no_flag_chosen"))
    assert await refused(reg, request, _release_form(r[6], auto_response_disabled="")) == (
        409,
        t("err.flag.not_on"),
    )
    assert await refused(reg, request, _release_form(r[7])) == (403, t("err.flag.not_holder"))
    first = await ask(r[3])
    assert await refused(second, request, _release_form(r[3])) == (409, t("err.flag.pending"))
    # confirming
    confirm, cancel = "/staff/flags/release-confirm", "/staff/flags/release-cancel"
    assert await refused(reg, confirm, {"request_id": first}) == (403, t("err.flag.same_person"))
    for bad in ("", "../x", "0123456789abcdef"):
        assert await refused(second, confirm, {"request_id": bad}) == (404, t("err.flag.unknown"))
        assert await refused(second, cancel, {"request_id": bad}) == (404, t("err.flag.unknown"))
    assert (await second.submit(confirm, {"request_id": first}))[0] == 200
    assert await refused(second, confirm, {"request_id": first}) == (409, t("err.flag.decided"))
    assert await refused(reg, cancel, {"request_id": first}) == (409, t("err.flag.decided"))
    # a released flag cannot be asked to release again
    assert await refused(reg, request, _release_form(r[3])) == (409, t("err.flag.no_flag"))
    # a request whose flag changed since (renewed) is shown as such, and cannot be confirmed
    stale = await ask(r[4])
    await _flag(running, r[4], until="2028-03-31")
    _, page = await second.page("/staff/flags")
    row = page[page.index(f'data-request="{stale}"') :].split("</tr>")[0]
    assert 'data-testid="stale"' in row and "release-confirm" not in row
    assert await refused(second, confirm, {"request_id": stale}) == (
        409,
        t("err.flag.superseded"),
    )
    assert await refused(second, cancel, {"request_id": stale}) == (409, t("err.flag.superseded"))
    # nothing was released but the one confirmed request; the self-confirmation was recorded once
    assert [e["request"] for e in await _events(running, "flag.release")] == [first]
    assert [e["request"] for e in await _events(running, "security.self_approval")] == [first]
    for person in r[4:7]:
        record = await running.gw.flags.get(person.atena_number)
        assert record is not None and record.state.any


async def test_the_renewal_list_shows_the_registrars_department_and_is_recorded(
    running: Running, staff: Staff
) -> None:
    soon = (running.clock.today() + timedelta(days=10)).isoformat()
    ours, theirs, both = running.residents[0], running.residents[1], running.residents[2]
    await _flag(running, ours, until=soon)
    await _flag(running, theirs, department="税務課", until=soon)
    # flagged by us first and by 税務課 last: still ours to ask about renewal
    await _flag(running, both, until=soon)
    await _flag(running, both, department="税務課", until=soon)
    reg = await staff.client("registrar")
    status, page = await reg.page("/staff/flags/due")
    assert status == 200
    assert ours.name in page and both.name in page and theirs.name not in page
    [event] = await _events(running, "flag.due_read")
    assert (event["actor"], event["department"], event["within"], event["count"]) == (
        "staff:reg-kodomo",
        "子ども家庭課",
        "30",
        "2",
    )
    far = (date.today() + timedelta(days=300)).isoformat()
    await _flag(running, ours, until=far)
    status, page = await reg.page("/staff/flags/due?days=366")
    assert status == 200 and ours.name in page
    status, page = await reg.page("/staff/flags/due?days=-1")  # not a window: the default one
    assert status == 200 and ours.name not in page and 'value="30"' in page
