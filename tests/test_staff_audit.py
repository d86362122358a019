"""The auditors' view: blocked attempts and security events, filtered, reviewed, exported."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from gateway.services.auditing import JST
from tests.conftest import Running
from tests.staffkit import Staff, held_query
from tests.support import OTHER_REQUESTER, Query, portal_xml


async def _incidents(running: Running, staff: Staff) -> None:
    """One of each: a held query, an unregistered requester, hostile input, a blocked portal
    view, a failed login."""
    await held_query(running, "A-1", 0)
    await running.submit(
        Query("A-2", running.residents[3].subject_code, requester="1999000000000009")
    )
    await running.post("/soap/provision", b"<not-soap")
    await running.post(
        "/soap/portal", portal_xml("GetSelfInformation", running.residents[0].subject_code)
    )
    await staff.create("approver")
    await staff.anonymous().login("appr-one", "wrong-password-9")


async def test_every_kind_of_blocked_attempt_is_listed(running: Running, staff: Staff) -> None:
    await _incidents(running, staff)
    auditor = await staff.client("auditor")
    status, out = await auditor.api("GET", "/api/v1/events")
    assert status == 200
    kinds = {e["kind"] for e in out["events"]}
    assert kinds >= {
        "query.held",
        "security.unknown_requester",
        "security.hostile_input",
        "security.portal_blocked",
        "security.login_failed",
    }
    # staff actions are not blocked attempts: only in the "all" scope
    assert "staff.login" not in kinds and "flag.set" not in kinds
    status, out = await auditor.api("GET", "/api/v1/events?scope=all")
    assert {"staff.login", "flag.set"} <= {e["kind"] for e in out["events"]}
    # newest first
    ids = [e["id"] for e in out["events"]]
    assert ids == sorted(ids, key=lambda i: tuple(int(x) for x in i.split("-")), reverse=True)
    status, html = await auditor.page("/staff/audit")
    assert status == 200 and "未登録照会者" in html and "不正な入力" in html


async def test_filters_by_kind_requester_time_and_review(running: Running, staff: Staff) -> None:
    await _incidents(running, staff)
    await running.submit(Query("A-3", running.residents[1].subject_code, requester=OTHER_REQUESTER))
    await running.flag(running.residents[1])
    await running.submit(Query("A-4", running.residents[1].subject_code, requester=OTHER_REQUESTER))
    auditor = await staff.client("auditor")

    async def events(**q: str) -> list[dict]:
        status, out = await auditor.api("GET", "/api/v1/events?" + urlencode(q))
        assert status == 200, out
        return out["events"]

    assert {e["kind"] for e in await events(kind="security.hostile_input")} == {
        "security.hostile_input"
    }
    by_requester = await events(requester=OTHER_REQUESTER)
    assert [e["pn"] for e in by_requester] == ["A-4"]
    assert by_requester[0]["requester_name"] == "例示町 税務課"
    tomorrow = (datetime.now(JST) + timedelta(days=1)).date().isoformat()
    yesterday = (datetime.now(JST) - timedelta(days=1)).date().isoformat()
    assert await events(since=tomorrow) == []
    assert len(await events(since=yesterday, until=yesterday)) == 0
    everything = await events(since=yesterday)
    assert len(everything) >= 5
    # review one; the filters by review status follow
    target = everything[0]["id"]
    status, _ = await auditor.api(
        "POST", f"/api/v1/events/{target}/review", {"comment": "確認済：訓練"}
    )
    assert status == 200
    assert [e["id"] for e in await events(status="reviewed")] == [target]
    assert target not in [e["id"] for e in await events(status="open")]
    for bad in ({"since": "2026-13-01"}, {"requester": "12"}, {"kind": "x y"}, {"status": "?"}):
        status, _out = await auditor.api("GET", "/api/v1/events?" + urlencode(bad))
        assert status == 400, bad


async def test_a_review_is_kept_with_its_comment_and_is_itself_an_event(
    running: Running, staff: Staff
) -> None:
    await _incidents(running, staff)
    auditor = await staff.client("auditor")
    _, out = await auditor.api("GET", "/api/v1/events?kind=security.hostile_input")
    target = out["events"][0]["id"]
    comment = "試験 花子さんの件と無関係。ポートスキャン。"
    status, html = await auditor.submit(
        f"/staff/audit/{target}/review",
        {"comment": comment, "back": "kind=security.hostile_input"},
    )
    assert status == 200 and comment in html and f'data-event="{target}" class="reviewed"' in html
    [reviewed] = await running.events("audit.reviewed")
    assert reviewed["actor"] == "staff:aud-one" and reviewed["event"] == target
    assert reviewed["event_kind"] == "security.hostile_input" and comment not in str(reviewed)
    # the comment is sealed at rest
    raw = await running.gw.redis.client.lrange(running.gw.redis.keys.staff_reviews(target), 0, -1)
    assert raw and comment not in str(raw) and "花子" not in str(raw)
    # a second review adds, it does not overwrite
    await auditor.api("POST", f"/api/v1/events/{target}/review", {"comment": "再確認"})
    _, out = await auditor.api("GET", "/api/v1/events?kind=security.hostile_input")
    assert [r["comment"] for r in out["events"][0]["reviews"]] == [comment, "再確認"]
    # no comment, or no such event: refused
    status, out = await auditor.api("POST", f"/api/v1/events/{target}/review", {"comment": " "})
    assert (status, out["error"]) == (400, "comment_required")
    status, out = await auditor.api("POST", "/api/v1/events/1-0/review", {"comment": "x"})
    assert (status, out["error"]) == (404, "no_event")


async def test_export_is_csv_of_the_filtered_events_and_is_recorded(
    running: Running, staff: Staff
) -> None:
    await _incidents(running, staff)
    auditor = await staff.client("auditor")
    _, out = await auditor.api("GET", "/api/v1/events?kind=security.login_failed")
    target = out["events"][0]["id"]
    await auditor.api("POST", f"/api/v1/events/{target}/review", {"comment": "=HYPERLINK(1)"})
    status, headers, body = await auditor.request(
        "GET", "/staff/audit/export.csv?kind=security.login_failed"
    )
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert re.match(
        r'attachment; filename="hogo-events-\d{8}-\d{6}\.csv"', headers["Content-Disposition"]
    )
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["event_id"] for r in rows] == [target]
    assert rows[0]["kind"] == "security.login_failed" and rows[0]["reviewed"] == "yes"
    assert rows[0]["review_comment"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert rows[0]["reviewed_by"] == "staff:aud-one"
    [exported] = await running.events("audit.exported")
    assert exported["actor"] == "staff:aud-one" and exported["rows"] == "1"
    assert exported["filter_kind"] == "security.login_failed"


async def test_events_are_read_newest_first_across_windows_and_batches(
    running: Running, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.services import auditing
    from gateway.services.auditing import EventFilter

    for i in range(12):
        await running.gw.events.security("hostile_input", "peer:192.0.2.1", n=str(i))
        if i % 4 == 0:
            await asyncio.sleep(0.01)
    everything = [e.id for e in await running.gw.events.read()]
    monkeypatch.setattr(auditing, "SCAN_BATCH", 3)
    monkeypatch.setattr(auditing, "SCAN_WINDOW_MS", 5)
    a = staff.console.auditing
    first, last = (int(everything[i].split("-")[0]) for i in (0, -1))
    seen = [ev.id async for ev in a.newest_first(first, last + 1)]
    assert seen == list(reversed(everything))
    flt = EventFilter.parse(
        {"kind": "security.hostile_input", "since": "2020-01-01"}, running.gw.clock.today()
    )
    found = await a.find(flt, limit=5)
    assert [r.event.fields["n"] for r in found.rows] == ["11", "10", "9", "8", "7"]
    assert found.truncated
    found = await a.find(flt, limit=12)
    assert len(found.rows) == 12 and not found.truncated
