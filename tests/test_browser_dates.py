"""Dates in a browser set to US English: the console still shows and takes dates as the ward
writes them (ISO and 和暦), never the browser's mm/dd/yyyy (an <input type="date"> would show
that). Real headless Chromium, as in tests/test_browser.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from gateway.wareki import JST, wareki
from tests.conftest import Running
from tests.staffkit import ACCOUNTS, PASSWORD, Staff, held_query
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
async def us_page(running: Running) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
        page = await context.new_page()
        page.set_default_timeout(20_000)
        assert await page.evaluate("navigator.language") == "en-US"
        try:
            yield page
        finally:
            await browser.close()


async def _login(page, base: str, account: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(base + "/staff/login")
    await page.fill("input[name=login]", ACCOUNTS[account][0])
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit].primary")


async def test_a_us_browser_enters_the_support_measures_end_in_the_eras_form(
    running: Running, staff: Staff, us_page
) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    page = us_page
    await staff.create("registrar")
    person = running.residents[4]
    await _login(page, running.url, "registrar")
    form = page.get_by_test_id("register")
    until = form.locator("input[name=until]")
    assert await until.get_attribute("type") == "text"
    assert await until.get_attribute("placeholder") == "2026-12-03"
    await expect(form.get_by_text("令和8年12月3日")).to_be_visible()  # the hint
    # the browser's own format is not taken for a date: the form does not go out
    await until.fill("03/31/2027")
    assert await until.evaluate("e => e.validity.patternMismatch") is True
    for text in ("2027-03-31", "2027/3/31", "令和9年3月31日"):
        await until.fill(text)
        assert await until.evaluate("e => e.checkValidity()") is True, text
    await form.locator("input[name=atena_number]").fill(person.atena_number)
    await form.locator("input[name=name]").fill(person.name)
    await form.locator("select[name=business]").select_option("児童手当業務")
    await form.get_by_role("button", name="登録する").click()
    await page.wait_for_url(re.compile(r"/staff/flags$"))
    await expect(page.get_by_test_id("flash")).to_have_text("フラグを登録しました。")
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and [h.until for h in record.holds] == ["2027-03-31"]


async def test_a_us_browser_sees_and_filters_by_the_wards_dates(
    running: Running, staff: Staff, us_page
) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    page = us_page
    await staff.create("auditor")
    await held_query(running, "D-1", 0)
    await _login(page, running.url, "auditor")
    since = page.get_by_test_id("date-since")
    today = datetime.now(JST).date()
    assert await since.input_value() == (today - timedelta(days=30)).isoformat()
    # a held query's time: 和暦 beside ISO, Japan's day, whatever the browser's zone
    row = page.locator("tr[data-event]").filter(has_text="query.held").first
    await expect(row).to_contain_text(f"{wareki(today)} ({today.isoformat()})")
    assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{4}\b", await page.locator("main").inner_text())

    # a day typed in the era's form filters, and comes back in ISO
    yesterday = today - timedelta(days=1)
    await since.fill(wareki(yesterday))
    await page.get_by_role("button", name="絞り込む").click()
    await page.wait_for_url(re.compile(r"since="))
    assert await page.get_by_test_id("date-since").input_value() == yesterday.isoformat()
    await expect(page.locator("tr[data-event]").filter(has_text="query.held")).to_have_count(1)
    # the same in English: the dates stay the ward's
    await page.get_by_role("link", name="English").click()
    await page.wait_for_load_state()
    row = page.locator("tr[data-event]").filter(has_text="query.held").first
    await expect(row).to_contain_text(f"{wareki(today)} ({today.isoformat()})")
    await expect(
        page.get_by_text("e.g. 2026-12-03, 2026/12/03 or 令和8年12月3日").first
    ).to_be_visible()
