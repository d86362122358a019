"""The auditors' pictures in a real browser: reached from the navigation, drawn (the bars have a
size on screen), and nothing on the page is refused by the console's Content-Security-Policy
(no script, no inline style: the SVG uses presentation attributes only)."""

from __future__ import annotations

import pytest

from tests.conftest import Running
from tests.staffkit import ACCOUNTS, PASSWORD, staff_for
from tests.support import OTHER_REQUESTER, Query, portal_xml
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


async def test_the_pictures_are_drawn_under_the_consoles_csp(running: Running) -> None:
    from playwright.async_api import async_playwright, expect

    r = running.residents
    await running.flag(r[0])
    for i in range(3):
        await running.submit(Query(f"B-{i}", r[0].subject_code))
    await running.submit(Query("B-9", r[0].subject_code, requester=OTHER_REQUESTER))
    await running.post("/soap/portal", portal_xml("GetSelfInformation", r[0].subject_code))
    async with staff_for(running) as staff:
        await staff.create("auditor")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(locale="ja-JP")
                complaints: list[str] = []
                page.on(
                    "console",
                    lambda m: complaints.append(m.text) if m.type in ("error", "warning") else None,
                )
                await page.goto(running.url + "/staff/login")
                await page.fill("input[name=login]", ACCOUNTS["auditor"][0])
                await page.fill("input[name=password]", PASSWORD)
                async with page.expect_navigation():
                    await page.click("button[type=submit].primary")
                await page.get_by_role("link", name="傾向").click()
                await page.wait_for_url("**/staff/audit/patterns")
                csp = (await page.request.get(running.url + "/staff/audit/patterns")).headers[
                    "content-security-policy"
                ]
                assert "script-src" not in csp and "'unsafe-inline'" not in csp
                chart = page.locator("svg[data-chart=attempts]")
                await expect(chart).to_be_visible()
                box = await chart.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100
                # today's bar: 3 held + 1 held + 1 blocked view, drawn with a height on screen
                today = chart.locator("g.bar").last
                heights = [
                    (await rect.bounding_box() or {"height": 0})["height"]
                    for rect in await today.locator("rect").all()
                ]
                assert sum(1 for h in heights if h > 5) == 2  # held and portal, both visible
                fill = await chart.locator("rect[data-series=query_held]").last.evaluate(
                    "e => getComputedStyle(e).fill"
                )
                assert fill == "rgb(31, 95, 139)"  # the presentation attribute applies
                rows = page.get_by_test_id("table-requesters").locator("tr[data-org]")
                await expect(rows).to_have_count(2)
                assert not [c for c in complaints if "Content Security Policy" in c], complaints
            finally:
                await browser.close()
