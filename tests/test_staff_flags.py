"""The registrars' pages: register flags for their own department; request and confirm releases
and see the renewal list once the flag rules (issue 3) provide them, and until then say plainly
that these are unavailable."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from gateway import flags
from gateway.staff import flagviews
from tests.conftest import Running
from tests.staffkit import Staff, flash_of, staff_for, title_of

FLAGS_ISSUE = "arrives with the flags issue (issue 3)"


def lacks(*names: str) -> list[str]:
    return [n for n in names if not callable(getattr(flags, n, None))]


RELEASE = flagviews.FEATURES["release"]
needs_release = pytest.mark.skipif(
    bool(lacks(*RELEASE)), reason=f"gateway.flags lacks {', '.join(lacks(*RELEASE))}: {FLAGS_ISSUE}"
)
needs_due = pytest.mark.skipif(bool(lacks("due")), reason=f"gateway.flags lacks due: {FLAGS_ISSUE}")
only_while_release_missing = pytest.mark.skipif(
    not lacks(*RELEASE), reason="gateway.flags has the release functions now"
)
only_while_due_missing = pytest.mark.skipif(not lacks("due"), reason="gateway.flags has due() now")


@pytest.fixture
async def staff(running: Running):
    async with staff_for(running) as s:
        yield s


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


async def test_registrar_registers_flags_for_their_own_department(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    person = running.residents[0]
    status, html = await reg.submit("/staff/flags/register", _register_form(running))
    assert status == 200 and flash_of(html) == "フラグを登録しました。"
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert (
        record is not None and record.state.auto_response_disabled and record.state.non_disclosure
    )
    assert (record.department, record.business, record.basis, record.until) == (
        "子ども家庭課",
        "児童手当業務",
        "application",
        "2027-03-31",
    )
    assert record.name == person.name and record.updated_by == "staff:reg-kodomo"
    [event] = await running.events("flag.set")
    assert event["actor"] == "staff:reg-kodomo" and event["department"] == "子ども家庭課"
    # nothing personal went into a URL, the title, or the flash kept between requests
    assert all(person.atena_number not in u and person.name not in u for u in reg.seen_urls)
    assert person.name not in title_of(html) and person.atena_number not in flash_of(html)


async def test_the_department_is_the_registrars_own_whatever_the_form_says(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar_tax")
    form = _register_form(running, department="子ども家庭課", business="特別区民税・都民税")
    await reg.submit("/staff/flags/register", form)
    record = await running.gw.flags.get(running.residents[0].atena_number)
    assert record is not None and record.department == "税務課"


async def test_bad_registrations_are_refused_on_the_page_and_change_nothing(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    status, _headers, html = await reg.request(
        "POST", "/staff/flags/register", form=_register_form(running, atena_number="12345")
    )
    assert status == 400 and "15 digits" in flash_of(html)
    form = _register_form(running)
    del form["auto_response_disabled"], form["non_disclosure"]
    status, _, html = await reg.request("POST", "/staff/flags/register", form=form)
    assert status == 400 and "1つ以上" in flash_of(html)
    status, _, html = await reg.request(
        "POST", "/staff/flags/register", form=_register_form(running, basis="whim")
    )
    assert status == 400
    assert await running.gw.flags.get(running.residents[0].atena_number) is None
    assert await running.events("flag.") == []


@only_while_release_missing
async def test_release_requests_say_plainly_that_they_are_unavailable(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    await reg.submit("/staff/flags/register", _register_form(running))
    status, html = await reg.page("/staff/flags")
    assert status == 200
    assert "まだ利用できません" in re.search(
        r'data-testid="unavailable">(.*?)</p>', html, re.S
    ).group(1)
    assert "/staff/flags/release-request" not in html  # no form that would pretend
    status, _, html = await reg.request(
        "POST",
        "/staff/flags/release-request",
        form={
            "atena_number": running.residents[0].atena_number,
            "basis": "application",
            "note": "本人申出",
            "auto_response_disabled": "1",
            "non_disclosure": "1",
        },
    )
    assert status == 501 and "まだ利用できません" in html
    record = await running.gw.flags.get(running.residents[0].atena_number)
    assert record is not None and record.state.auto_response_disabled  # nothing was released


@only_while_due_missing
async def test_the_renewal_list_says_plainly_that_it_is_unavailable(
    running: Running, staff: Staff
) -> None:
    reg = await staff.client("registrar")
    status, html = await reg.page("/staff/flags/due")
    assert status == 501 and 'data-testid="unavailable"' in html and "<table" not in html


@needs_release
async def test_a_release_is_requested_by_one_registrar_and_confirmed_by_another(
    running: Running, staff: Staff
) -> None:
    person = running.residents[0]
    reg = await staff.client("registrar")
    await reg.submit("/staff/flags/register", _register_form(running))
    release_form = {
        "atena_number": person.atena_number,
        "basis": "application",
        "note": "本人から解除の申出",
        "auto_response_disabled": "1",
        "non_disclosure": "1",
    }
    status, html = await reg.submit("/staff/flags/release-request", release_form)
    assert status == 200 and "申請しました" in flash_of(html)
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled  # not yet
    request_id = re.search(r'name="request_id" value="([^"]+)"', html).group(1)
    # the requester cannot confirm their own request
    status, _, html = await reg.request(
        "POST", "/staff/flags/release-confirm", form={"request_id": request_id}
    )
    assert status == 400 and "自分" in flash_of(html)
    # another department cannot confirm it either
    other = await staff.client("registrar_tax")
    status, _, html = await other.request(
        "POST", "/staff/flags/release-confirm", form={"request_id": request_id}
    )
    assert status == 400
    second = await staff.client("registrar2")
    status, html = await second.submit("/staff/flags/release-confirm", {"request_id": request_id})
    assert status == 200 and "確認しました" in flash_of(html)
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and not record.state.any
    assert all(person.atena_number not in u for u in reg.seen_urls + second.seen_urls)


@needs_release
async def test_a_release_request_for_another_departments_record_is_refused(
    running: Running, staff: Staff
) -> None:
    await running.flag(running.residents[0])  # held by 子ども家庭課
    other = await staff.client("registrar_tax")
    status, _, html = await other.request(
        "POST",
        "/staff/flags/release-request",
        form={
            "atena_number": running.residents[0].atena_number,
            "basis": "application",
            "note": "x",
            "auto_response_disabled": "1",
            "non_disclosure": "1",
        },
    )
    assert status == 400 and "他の課" in flash_of(html)
    assert len(await running.events("security.department_mismatch")) == 1


@needs_due
async def test_the_renewal_list_shows_the_registrars_department_only(
    running: Running, staff: Staff
) -> None:
    soon = (date.today() + timedelta(days=10)).isoformat()
    ours, theirs = running.residents[0], running.residents[1]
    for person, dept, business in (
        (ours, "子ども家庭課", "児童手当業務"),
        (theirs, "税務課", "特別区民税・都民税"),
    ):
        await flags.set_flags(
            running.gw,
            atena_number=person.atena_number,
            name=person.name,
            department=dept,
            business=business,
            basis="application",
            until=soon,
            auto_response_disabled=True,
            non_disclosure=True,
            actor="test",
        )
    reg = await staff.client("registrar")
    status, html = await reg.page("/staff/flags/due")
    assert status == 200 and ours.name in html and theirs.name not in html
