"""The council's document: `hogo-gateway report usage --year Y` writes a printable A4 HTML
document in Japanese. It is opened in real Chromium (Debian's, driven by Playwright), printed to
PDF, and every number it shows is checked against counts made here from the audit events; the
chart's bars are measured off the drawing. A year of the ward's life happens through the
gateway on days of the fiscal year (the gateway's clock moved: running.clock.on_day).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.attempts import AttemptKind
from gateway.clock import SYSTEM_CLOCK
from gateway.departments import issue_token
from gateway.store.events import Event
from gateway.wareki import JST, wareki_year
from tests.chart_support import counts_of, read_chart
from tests.conftest import Running
from tests.flag_support import cli_runner, flag, released_by_two, unflag
from tests.support import Query, portal_xml
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]
ATTEMPT_REASONS = ("auto_response_disabled", "flag_set_in_flight")


def _this_fiscal_year() -> int:
    """The fiscal year of today. Its months are given to events by the gateway's clock, before or
    after today: the stream ids stay today's, and the report reads by the ids from the year's
    first moment (so a year that ended before today could not be made up this way)."""
    today = SYSTEM_CLOCK.today()
    return today.year if today.month >= 4 else today.year - 1


async def _read(running: Running, atena: str, token: str) -> None:
    async with running.session.get(
        f"{running.url}/api/v1/flags/{atena}", headers={"Authorization": f"Bearer {token}"}
    ):
        pass


async def _a_year(running: Running, fy: int) -> None:
    """Flags, reads, queries and portal views on days of fiscal year `fy`, and a few just
    outside it (the last minute of March before, the first day of April after)."""
    gw, r = running.gw, running.residents
    held = 0

    async def hold(pn: str, subject: str) -> str:
        nonlocal held
        assert (await running.submit(Query(pn, subject))).status == "PENDING"
        held += 1
        return next(h.id for h in await gw.queries.list_held() if h.processing_number == pn)

    with running.clock.on_day(date(fy, 3, 31), 23, 59):  # the year before
        await flag(gw, r[9], department="税務課", business=None, basis="ex-officio")
        await hold("Y-0", r[9].subject_code)
    with running.clock.on_day(date(fy, 5, 12)):
        await flag(gw, r[0])
        await flag(gw, r[1], department="税務課", business=None, basis="ex-officio")
        await hold("Y-1", r[0].subject_code)
        assert (await running.submit(Query("Y-2", r[5].subject_code))).status == "PROVIDED"
        await running.post("/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code))
        koseki, _ = await issue_token(
            gw, department="戸籍住民課", business=None, label="", actor="t"
        )
        for person in (r[0], r[1], r[6]):  # r[6] is not flagged: a read all the same
            await _read(running, person.atena_number, koseki)
    with running.clock.on_day(date(fy, 8, 3)):
        await flag(gw, r[2], basis="ex-officio")
        await unflag(gw, r[1])
        zeimu, _ = await issue_token(gw, department="税務課", business=None, label="", actor="t")
        await _read(running, r[0].atena_number, zeimu)
        # a holding department that is no using department reads only whom it flagged: refused
        kourei, _ = await issue_token(
            gw, department="高齢者支援課", business=None, label="", actor="t"
        )
        await _read(running, r[0].atena_number, kourei)
    with running.clock.on_day(date(fy + 1, 1, 20)):
        a = await hold("Y-3", r[2].subject_code)
        b = await hold("Y-4", r[2].subject_code)
        await hold("Y-5", r[0].subject_code)
        await gw.queue.release(a, "取扱注意", "staff:c")
        await gw.queue.refuse(b, "理由", "staff:c")
        await running.post("/soap/portal", portal_xml("GetProvisionRecords", r[2].subject_code))
        await released_by_two(gw, r[0])
    with running.clock.on_day(date(fy + 1, 4, 1), 0, 1):  # the year after
        await hold("Y-6", r[2].subject_code)
    assert held == 6


def _expected(events: list[Event], fy: int) -> dict[str, int]:
    """Every number the document shows, counted here from the trail by its own rules."""
    lo = datetime(fy, 4, 1, tzinfo=JST)
    hi = datetime(fy + 1, 4, 1, tzinfo=JST)
    out: Counter[str] = Counter()
    for ev in events:
        at = datetime.fromisoformat(ev.at.replace("Z", "+00:00")).astimezone(UTC)
        if not lo <= at < hi:
            continue
        f = ev.fields
        month = at.astimezone(JST).strftime("%Y-%m")
        if ev.kind in ("flag.set", "flag.release"):
            key = "flags_set" if ev.kind == "flag.set" else "flags_released"
            out[f"{key}.total"] += 1
            out[f"{key}.{f['department']}.{f['basis']}"] += 1
            if ev.kind == "flag.release":
                out["flags_released." + ("two_person" if f.get("request") else "admin_path")] += 1
        elif ev.kind == "flag.read":
            out["reads.total"] += 1
            out[f"reads.{f['department']}.{f.get('business', '')}"] += 1
        elif ev.kind == "security.flag_read_refused":
            out["reads.refused"] += 1
            # a refused read is an attempt too (gateway/attempts.py: read_refused)
            out["attempts.total"] += 1
            out[f"attempts.{month}.read_refused"] += 1
            out[f"attempts.{month}.total"] += 1
        elif ev.kind.startswith("query."):
            out["queries." + ev.kind.removeprefix("query.")] += 1
            if ev.kind == "query.held" and f.get("reason") in ATTEMPT_REASONS:
                out["attempts.total"] += 1
                out[f"attempts.{month}.query_held"] += 1
                out[f"attempts.{month}.total"] += 1
        elif ev.kind in ("security.portal_blocked", "security.portal_filtered"):
            out["portal." + ev.kind.removeprefix("security.portal_")] += 1
            out["attempts.total"] += 1
            out[f"attempts.{month}.portal_blocked"] += 1
            out[f"attempts.{month}.total"] += 1
    return dict(out)


async def test_the_councils_document_in_chromium_shows_the_trails_numbers(
    running: Running, redis_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    fy = _this_fiscal_year()
    await _a_year(running, fy)
    events = [ev async for ev in running.gw.events.iterate()]
    want = _expected(events, fy)
    # the trail says what the year was (and so the counts here are counts of something)
    assert want["flags_set.total"] == 3 and want["flags_released.total"] == 2
    assert want["flags_released.two_person"] == 1 and want["flags_released.admin_path"] == 1
    assert want["reads.total"] == 4 and want["reads.refused"] == 1
    assert (want["queries.held"], want["queries.released"], want["queries.refused"]) == (4, 1, 1)
    assert want["queries.provided"] == 1
    assert want["portal.blocked"] == 1 and want["portal.filtered"] == 1
    assert want["attempts.total"] == 7

    out = tmp_path / "usage.html"
    hogo = cli_runner(running.gw.settings.data_dir, redis_url)
    res = hogo("report", "usage", "--year", str(fy), "--out", str(out))
    assert res.returncode == 0, res.stderr
    source = out.read_text(encoding="utf-8")
    for person in running.residents:
        for secret in (person.name, person.atena_number, person.subject_code):
            assert secret not in source
    for ev in events:
        if ev.fields.get("subject"):
            assert ev.fields["subject"] not in source  # no person key either

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="ja-JP")
            await page.goto(out.as_uri())
            title = await page.get_by_test_id("title").inner_text()
            assert title == f"{wareki_year(fy)}年度 情報提供ゲートウェイ（保護）利用状況報告"
            assert await page.title() == title
            period = await page.locator("[data-key=period]").inner_text()
            first, last = date(fy, 4, 1), date(fy + 1, 3, 31)
            assert first.isoformat() in period and last.isoformat() in period
            assert f"{wareki_year(fy)}年4月1日" in period or "元年4月1日" in period
            assert "Asia/Tokyo" in await page.locator("[data-key=timezone]").inner_text()

            shown: dict[str, int] = {}
            for cell in await page.locator("[data-key]").all():
                key = await cell.get_attribute("data-key")
                text = (await cell.inner_text()).strip()
                if key and re.fullmatch(r"[0-9]+", text):
                    shown[key] = int(text)
            # every number the trail has is in the document, and every other one it shows is 0
            for key, n in want.items():
                assert shown.get(key) == n, (key, shown.get(key), n)
            assert {k: v for k, v in shown.items() if k not in want and v} == {}
            assert (
                len([k for k in shown if k.startswith("attempts.") and k.count(".") == 2])
                == 12 * (len(AttemptKind) + 1)  # a column per kind, and the month's total
            )

            # the chart: twelve months, April first, bars as tall as the month's attempts
            svg = await page.locator("svg[data-chart=report-attempts]").evaluate("e => e.outerHTML")
            drawn = counts_of(read_chart(svg))
            months = [f"{fy}-{m:02d}" for m in range(4, 13)] + [
                f"{fy + 1}-{m:02d}" for m in (1, 2, 3)
            ]
            assert list(drawn) == months
            for month in months:
                for kind, n in drawn[month].items():
                    assert n == want.get(f"attempts.{month}.{kind}", 0), (month, kind)

            # printed on A4
            pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
            assert pdf.startswith(b"%PDF")
            sizes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", pdf)
            assert sizes and all(
                abs(float(w) - 595.92) < 2 and abs(float(h) - 842.88) < 2 for w, h in sizes
            ), sizes[:3]
            assert 1 <= len(sizes) <= 4
            # a table is never cut inside a row, and a small section is kept on one page
            await page.emulate_media(media="print")
            rules = await page.evaluate(
                """() => [...document.querySelectorAll('tr, section:not(.long), figure')]
                   .map(e => getComputedStyle(e).breakInside)"""
            )
            assert set(rules) == {"avoid"}
        finally:
            await browser.close()


def test_the_title_names_the_year_as_the_ward_does() -> None:
    from gateway.report_document import title
    from gateway.reports import UsageReport

    assert title(UsageReport(date(2026, 4, 1), date(2027, 3, 31), True)).startswith("令和8年度 ")
    assert title(UsageReport(date(2019, 4, 1), date(2020, 3, 31), True)).startswith("令和元年度 ")
    assert title(UsageReport(date(2026, 1, 1), date(2026, 12, 31), False)).startswith("令和8年 ")
    assert title(UsageReport(date(2018, 4, 1), date(2019, 3, 31), True)).startswith("平成30年度 ")
