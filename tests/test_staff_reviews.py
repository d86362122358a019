"""The approvers' page and API for subjects held for review (a remap imported with
--allow-remap), and the remap in the auditors' view."""

from __future__ import annotations

from tests.conftest import Running
from tests.flag_support import events_of, flag
from tests.staffkit import staff_for
from tests.support import Query
from tests.test_quarantine import OPERATOR, _remap


async def test_staff_confirm_a_remap_in_the_console_and_auditors_see_it(
    running: Running,
) -> None:
    a, b = running.residents[2], running.residents[3]
    s1 = a.subject_code
    await flag(running.gw, a)
    review_id = await _remap(running, b.atena_number, s1)
    assert (await running.submit(Query("C-1", s1))).status == "PENDING"
    async with staff_for(running) as staff:
        approver = await staff.client("approver")
        status, html = await approver.page("/staff/reviews")
        assert status == 200 and f'data-review="{review_id}"' in html
        assert "宛名変更（機関別符号の付け替え）の確認待ち" in html and "フラグ設定中" in html
        assert 'href="/staff/reviews"' in html  # in the approvers' navigation
        status, listed = await approver.api("GET", "/api/v1/reviews")
        assert [r["id"] for r in listed["reviews"]] == [review_id]
        # a note is required
        status, out = await approver.api("POST", f"/api/v1/reviews/{review_id}/confirm", {})
        assert (status, out["error"]) == (400, "review_note")
        status, html = await approver.submit(f"/staff/reviews/{review_id}/confirm", {"note": ""})
        assert "確認の内容を入力してください" in html
        assert (await running.submit(Query("C-2", s1))).status == "PENDING"
        # confirmed on the page, with the approver as its actor
        status, html = await approver.submit(
            f"/staff/reviews/{review_id}/confirm", {"note": "宛名システムで確認済"}
        )
        assert status == 200 and f"{review_id} を確認しました" in html
        assert "確認待ちはありません" in html
        status, out = await approver.api(
            "POST", f"/api/v1/reviews/{review_id}/confirm", {"note": "again"}
        )
        assert (status, out["error"]) == (409, "review_not_open")
        status, out = await approver.api("POST", "/api/v1/reviews/nosuch/confirm", {"note": "x"})
        assert (status, out["error"]) == (404, "review_unknown")
        # other roles may not
        auditor = await staff.client("auditor")
        status, _ = await auditor.api("GET", "/api/v1/reviews")
        assert status == 403

        assert (await running.submit(Query("C-3", s1))).status == "PROVIDED"
        [done] = await events_of(running.gw, "quarantine.confirmed")
        assert done["actor"] == "staff:appr-one"

        # the auditors' view: the remap and its confirmation, by default and by kind
        status, out = await auditor.api("GET", "/api/v1/events")
        kinds = [e["kind"] for e in out["events"]]
        assert {
            "directory.remapped",
            "quarantine.confirmed",
            "security.protected_subject_remap",
        } <= set(kinds)
        status, out = await auditor.api("GET", "/api/v1/events?kind=directory.remapped")
        [ev] = out["events"]
        assert ev["review"] == review_id and ev["old_flag"] == "now" and ev["actor"] == OPERATOR
        status, html = await auditor.page("/staff/audit?kind=directory.remapped")
        assert status == 200 and "宛名変更（符号の付け替え）" in html and review_id in html
        assert 'value="directory.remapped"' in html  # a choice of the kind filter
