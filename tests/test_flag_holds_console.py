"""A department's flag is its own, in the console and its JSON API: a registrar registering a
person another department flagged changes nothing of that department's hold and sees nothing of
it (not even that it exists); two registrars of a department release its hold alone; approvers
see every holding department."""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.model import FlagState
from gateway.simulator import Resident
from tests.conftest import Running
from tests.staffkit import Staff, StaffClient
from tests.support import Query

RECORDS, LOOKUP = "/api/v1/flag-records", "/api/v1/flag-records/lookup"
REQUESTS = "/api/v1/release-requests"
KODOMO, ZEIMU = "子ども家庭課", "税務課"
OTHER_NAME = "シケン ハナコ"  # the same person as 税務課 registers them


def _kodomo(person: Resident, **over: Any) -> dict[str, Any]:
    return {
        "atena_number": person.atena_number,
        "name": person.name,
        "business": "児童手当業務",
        "basis": "ex-officio",
        "until": "2027-03-31",
        **over,
    }


def _zeimu(person: Resident, **over: Any) -> dict[str, Any]:
    return {
        "atena_number": person.atena_number,
        "name": OTHER_NAME,
        "basis": "application",
        "non_disclosure": False,
        **over,
    }


def _release(person: Resident) -> dict[str, Any]:
    return {"atena_number": person.atena_number, "basis": "application", "note": "本人申出"}


async def _raw(client: StaffClient, path: str, body: dict[str, Any]) -> tuple[int, str]:
    status, _, text = await client.request("POST", path, json=body)
    return status, text


def _nothing_of(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, value


async def test_registering_a_person_another_department_flagged_changes_and_shows_nothing_of_it(
    running: Running, staff: Staff
) -> None:
    person = running.residents[0]
    kodomo, tax = await staff.client("registrar"), await staff.client("registrar_tax")
    status, _ = await kodomo.api("POST", RECORDS, _kodomo(person))
    assert status == 200
    theirs = await _raw(kodomo, LOOKUP, {"atena_number": person.atena_number})
    assert theirs[0] == 200

    status, answer = await _raw(tax, RECORDS, _zeimu(person))
    assert status == 200
    mine = json.loads(answer)
    assert (mine["department"], mine["name"], mine["basis"], mine["until"]) == (
        ZEIMU,
        OTHER_NAME,
        "application",
        None,
    )
    assert (mine["auto_response_disabled"], mine["non_disclosure"], mine["version"]) == (
        True,
        False,
        1,
    )
    assert [(h["department"], h["version"], h["ard"], h["nd"]) for h in mine["history"]] == [
        (ZEIMU, 1, 1, 0)
    ]
    # nothing of 子ども家庭課's hold: its name, department, business, basis, date, actors
    kodomo_values = (person.name, KODOMO, "児童手当業務", "ex-officio", "2027-03-31", "reg-kodomo")
    _nothing_of(answer, *kodomo_values)
    status, looked_up = await _raw(tax, LOOKUP, {"atena_number": person.atena_number})
    assert status == 200 and json.loads(looked_up) == mine
    _nothing_of(looked_up, *kodomo_values)
    # 子ども家庭課's hold is as it was (its own answer has not changed by a byte), and its
    # registrar sees nothing of 税務課's either
    assert await _raw(kodomo, LOOKUP, {"atena_number": person.atena_number}) == theirs
    _nothing_of(theirs[1], OTHER_NAME, ZEIMU, "特別区民税", "reg-zeimu")
    # 子ども家庭課 renews its hold: 税務課's answer does not move by a byte (versions included)
    await kodomo.api("POST", RECORDS, _kodomo(person, until="2028-03-31"))
    assert await _raw(tax, LOOKUP, {"atena_number": person.atena_number}) == (200, looked_up)
    # the whole record (the operator's) has both, the aggregate on while either holds a flag
    record = await running.gw.flags.get(person.atena_number, unseal=True)
    assert record is not None and record.state == FlagState(True, True)
    assert record.departments == [KODOMO, ZEIMU]


async def test_the_flag_page_shows_the_departments_own_registration_of_the_name(
    running: Running, staff: Staff
) -> None:
    person = running.residents[1]
    tax = await staff.client("registrar_tax")
    kodomo = await staff.client("registrar")
    await tax.api("POST", RECORDS, _zeimu(person))
    await kodomo.api("POST", RECORDS, _kodomo(person))  # later: the person as 子ども家庭課 wrote it
    status, page = await tax.submit(
        "/staff/flags/release-request",
        {
            "atena_number": person.atena_number,
            "basis": "application",
            "note": "本人申出",
            "non_disclosure": "",
            "auto_response_disabled": "1",
        },
    )
    assert status == 200 and re.search(r'data-request="[0-9a-f]+"', page)
    assert OTHER_NAME in page
    _nothing_of(page, person.name, KODOMO + "</", "児童手当業務", "reg-kodomo")
    _, theirs = await kodomo.page("/staff/flags")
    assert 'data-request="' not in theirs  # 税務課's request is 税務課's


async def test_two_registrars_release_their_departments_hold_and_the_person_stays_protected(
    running: Running, staff: Staff
) -> None:
    """Through the real gateway: after 税務課's two-person release the person is still protected
    (子ども家庭課 holds a flag) and a query about them is held; 子ども家庭課's release frees them."""
    person = running.residents[2]
    kodomo, kodomo2 = await staff.client("registrar"), await staff.client("registrar2")
    tax, tax2 = await staff.client("registrar_tax"), await staff.client("registrar_tax2")
    await kodomo.api("POST", RECORDS, _kodomo(person))
    await tax.api("POST", RECORDS, _zeimu(person, non_disclosure=True))

    status, req = await tax.api("POST", REQUESTS, _release(person))
    assert status == 201 and req["name"] == OTHER_NAME
    status, _, answer = await tax2.request("POST", f"{REQUESTS}/{req['id']}/confirm", json={})
    assert status == 200
    out = json.loads(answer)
    assert out["outcome"] == "released" and out["record"]["department"] == ZEIMU
    assert (out["record"]["auto_response_disabled"], out["record"]["non_disclosure"]) == (
        False,
        False,
    )
    _nothing_of(answer, person.name, KODOMO, "児童手当業務", "reg-kodomo")
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state == FlagState(True, True)
    assert (await running.submit(Query("HD-1", person.subject_code))).status == "PENDING"

    status, req = await kodomo.api("POST", REQUESTS, _release(person))
    assert status == 201
    status, out = await kodomo2.api("POST", f"{REQUESTS}/{req['id']}/confirm")
    assert status == 200
    assert await running.gw.flags.state_of_person(record.person_key) == FlagState(False, False)
    assert (await running.submit(Query("HD-2", person.subject_code))).status == "PROVIDED"
    assert (await running.result("HD-1")).status == "PENDING"  # held queries stay held


async def test_a_department_without_a_hold_is_refused_alike_whether_or_not_another_holds(
    running: Running, staff: Staff
) -> None:
    """Byte for byte the same answers (API and page) for a department whose own hold was released,
    and for one that never held one, before and after another department flags the person."""
    released, never = running.residents[3], running.residents[4]
    kodomo, kodomo2 = await staff.client("registrar"), await staff.client("registrar2")
    tax = await staff.client("registrar_tax")
    await kodomo.api("POST", RECORDS, _kodomo(released))
    _, req = await kodomo.api("POST", REQUESTS, _release(released))
    assert (await kodomo2.api("POST", f"{REQUESTS}/{req['id']}/confirm"))[0] == 200
    release_form = {
        "atena_number": released.atena_number,
        "basis": "application",
        "note": "本人申出",
        "auto_response_disabled": "1",
        "non_disclosure": "1",
    }

    async def answers() -> list[tuple[int, str]]:
        out = [
            await _raw(kodomo, REQUESTS, _release(released)),
            await _raw(kodomo, LOOKUP, {"atena_number": released.atena_number}),
            await _raw(kodomo, REQUESTS, _release(never)),
            await _raw(kodomo, LOOKUP, {"atena_number": never.atena_number}),
        ]
        status, _, page = await kodomo.request(
            "POST", "/staff/flags/release-request", form=release_form
        )
        return [*out, (status, page)]

    alone = await answers()
    assert [status for status, _ in alone] == [409, 200, 403, 403, 409]
    assert json.loads(alone[0][1]) == {"error": "flag.no_flag"}
    assert json.loads(alone[1][1])["auto_response_disabled"] is False
    assert json.loads(alone[2][1]) == {"error": "flag.not_holder"}
    assert json.loads(alone[3][1]) == {"error": "flag.not_flagged_here"}

    for person in (released, never):
        assert (await tax.api("POST", RECORDS, _zeimu(person, non_disclosure=True)))[0] == 200
    assert await answers() == alone
    assert await running.gw.flags.state_of_person(
        await running.gw.flags.person_key(released.atena_number)
    ) == FlagState(True, True)


async def test_approvers_see_every_department_holding_a_flag_now(
    running: Running, staff: Staff
) -> None:
    """The approver's screen and JSON name every department whose hold is on, and stop naming a
    department once its own hold is released (the person still protected by the other)."""
    person = running.residents[5]
    kodomo, kodomo2 = await staff.client("registrar"), await staff.client("registrar2")
    tax = await staff.client("registrar_tax")
    await kodomo.api("POST", RECORDS, _kodomo(person))
    await tax.api("POST", RECORDS, _zeimu(person))
    assert (await running.submit(Query("HD-3", person.subject_code))).status == "PENDING"
    [held] = await running.gw.queries.list_held()
    approver = await staff.client("approver")

    async def shown() -> tuple[str, list[str], str]:
        status, page = await approver.page(f"/staff/queue/{held.id}")
        assert status == 200
        m = re.search(r'data-testid="holding-departments">([^<]*)<', page)
        assert m is not None
        status, item = await approver.api("GET", f"/api/v1/held/{held.id}")
        assert status == 200
        subject = item["subject_now"]
        return m.group(1), subject["holding_departments"], subject["department"]

    assert await shown() == (f"{KODOMO}、{ZEIMU}", [KODOMO, ZEIMU], ZEIMU)
    _, req = await kodomo.api("POST", REQUESTS, _release(person))
    assert (await kodomo2.api("POST", f"{REQUESTS}/{req['id']}/confirm"))[0] == 200
    assert await shown() == (ZEIMU, [ZEIMU], KODOMO)  # KODOMO's release was the last change
