"""No personal data in the console's URLs, page titles or logs, nor in plaintext in the store:
names and atena numbers travel only in POST bodies and page bodies."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest

from gateway.settings import Settings
from tests.conftest import Running
from tests.staffkit import Staff, held_query, seen_of, title_of
from tests.test_staff_sessions import _all_values


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        staff_four_eyes_release=True,
    )


async def test_console_flows_leave_no_personal_data_in_urls_titles_logs_or_the_store(
    running: Running, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person, other = running.residents[0], running.residents[1]
    reg = await staff.client("registrar")
    # a registrar registers a person through the console
    await reg.submit(
        "/staff/flags/register",
        {
            "atena_number": other.atena_number,
            "name": other.name,
            "business": "児童手当業務",
            "basis": "ex-officio",
            "until": "2027-03-31",
            "auto_response_disabled": "1",
            "non_disclosure": "1",
        },
    )
    bad = await reg.request(
        "POST",
        "/staff/flags/register",
        form={"atena_number": other.atena_number[:-1], "name": other.name, "basis": "x"},
    )
    assert bad[0] == 400
    # two approvers release a query about a person, with a notice and a name inside it
    qid = await held_query(running, "P-1", 0)
    one = await staff.client("approver")
    two = await staff.client("approver2")
    titles = []
    for client in (one, two):
        status, html = await client.page(f"/staff/queue/{qid}")
        assert person.name in html  # shown in the body, to approvers, on this screen
        titles.append(title_of(html))
    notice = f"取扱注意：{person.name}様の住所は開示しないこと"
    seen = await seen_of(one, qid)
    await one.submit(f"/staff/queue/{qid}/release", {"notice": notice, "seen": seen})
    status, html = await two.submit(f"/staff/queue/{qid}/confirm", {"seen": seen})
    titles.append(title_of(html))
    assert (await running.result("P-1")).handling_notice == notice
    # an auditor reviews the hold with a comment naming the person, and exports
    aud = await staff.client("auditor")
    status, out = await aud.api("GET", "/api/v1/events?kind=query.held")
    event_id = out["events"][0]["id"]
    await aud.submit(f"/staff/audit/{event_id}/review", {"comment": f"{person.name}の件、正当"})
    status, html = await aud.page("/staff/audit?scope=all")
    assert status == 200 and f'data-event="{event_id}" class="reviewed"' in html
    titles.append(title_of(html))
    await aud.request("GET", "/staff/audit/export.csv?scope=all")

    secrets = [
        person.name,
        person.atena_number,
        person.subject_code,
        other.name,
        other.atena_number,
    ]
    urls = [u for c in staff.clients for u in c.seen_urls]
    assert urls and titles
    for s in secrets:
        assert not [u for u in urls if s in u], s
        assert not [t for t in titles if s in t], s
        assert s not in caplog.text, s
    # the scan above looked at a real log (the upstream's access lines are in it), and the
    # gateway itself keeps no access log: /api/v1/flags/{atena_number} carries a person number
    assert caplog.records and "POST /provision" in caplog.text
    assert not re.search(r"(GET|POST) /(staff|api|soap)/", caplog.text)
    store = await _all_values(running)
    for s in [*secrets, notice]:
        assert s not in store, s
    assert "の件、正当" not in store  # the review comment is sealed
