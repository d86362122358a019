"""The console in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; never a downloaded browser) against a running gateway and simulated upstream.

Flows: log in and release a held query with an edited notice, then see the requester's
GetQueryResult turn PROVIDED over SOAP; refuse another; register a flag; request its release and
have a second registrar confirm it; review a security event.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Running
from tests.staffkit import ACCOUNTS, PASSWORD, Staff, held_query

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


class Visit:
    """A browser tab that remembers every URL it requested and every title it showed."""

    def __init__(self, page, base: str) -> None:
        self.page = page
        self.base = base
        self.urls: list[str] = []
        self.titles: list[str] = []
        page.on("request", lambda req: self.urls.append(req.url))
        page.on("load", lambda p: None)

    async def title(self) -> str:
        t = await self.page.title()
        self.titles.append(t)
        return t

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)
        await self.title()

    async def login(self, account: str) -> None:
        await self.goto("/staff/login")
        await self.page.fill("input[name=login]", ACCOUNTS[account][0])
        await self.page.fill("input[name=password]", PASSWORD)
        async with self.page.expect_navigation():
            await self.page.click("button[type=submit].primary")
        await self.title()
        assert not self.page.url.endswith("/staff/login"), await self.page.content()


@pytest.fixture
async def tab(browser, running: Running) -> AsyncIterator[Visit]:
    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    yield Visit(page, running.url)
    await context.close()


def _no_personal_data(visit: Visit, *secrets: str) -> None:
    for s in secrets:
        assert not [u for u in visit.urls if s in u], s
        assert not [t for t in visit.titles if s in t], s


async def test_approver_releases_a_held_query_and_the_requester_gets_it(
    running: Running, staff: Staff, tab: Visit
) -> None:
    from playwright.async_api import expect

    await staff.create("approver")
    qid = await held_query(running, "B-1", 0)
    person = running.residents[0]
    assert (await running.result("B-1")).status == "PENDING"
    await tab.login("approver")
    page = tab.page
    assert page.url.endswith("/staff/queue")
    row = page.locator(f'tr[data-query="{qid}"]')
    await expect(row).to_contain_text("見本市 子ども家庭課")
    await expect(row).to_contain_text("B-1")
    await row.get_by_role("link").click()
    await page.wait_for_url(re.compile(rf"/staff/queue/{qid}$"))
    await tab.title()
    await expect(page.get_by_test_id("person-name")).to_have_text(person.name)
    notice = page.locator("textarea[name=notice]")
    await expect(notice).to_have_value(running.gw.settings.default_handling_notice)
    edited = running.gw.settings.default_handling_notice + "（担当：企画政策課 内線1234）"
    await notice.fill(edited)
    await page.get_by_role("button", name="提供する").click()
    await page.wait_for_url(re.compile(r"/staff/queue$"))
    await expect(page.get_by_test_id("flash")).to_contain_text(qid)
    await expect(page.locator(f'tr[data-query="{qid}"]')).to_have_count(0)
    await tab.title()
    got = await running.result("B-1")
    assert got.status == "PROVIDED" and got.handling_notice == edited
    assert got.fields == [(f.name, f.value) for f in person.fields]
    _no_personal_data(tab, person.name, person.atena_number, person.subject_code)


async def test_approver_refuses_a_held_query(running: Running, staff: Staff, tab: Visit) -> None:
    from playwright.async_api import expect

    await staff.create("approver")
    qid = await held_query(running, "B-2", 1)
    await tab.login("approver")
    page = tab.page
    await tab.goto(f"/staff/queue/{qid}")
    await page.get_by_role("button", name="この照会を担当する").click()
    await expect(page.get_by_test_id("claim")).to_contain_text("appr-one")
    await page.fill("textarea[name=reason]", "照会の事務と特定個人情報の組合せが不自然なため")
    await page.get_by_role("button", name="拒否する").click()
    await page.wait_for_url(re.compile(r"/staff/queue$"))
    await expect(page.get_by_test_id("flash")).to_contain_text("拒否しました")
    got = await running.result("B-2")
    assert (got.status, got.refusal_code) == ("REFUSED", "REFUSED_BY_STAFF")
    assert running.upstream.calls == []


async def test_registrar_registers_a_flag(running: Running, staff: Staff, tab: Visit) -> None:
    from playwright.async_api import expect

    await staff.create("registrar")
    person = running.residents[4]
    await tab.login("registrar")
    page = tab.page
    assert page.url.endswith("/staff/flags")
    form = page.get_by_test_id("register")
    await form.locator("input[name=atena_number]").fill(person.atena_number)
    await form.locator("input[name=name]").fill(person.name)
    # 子ども家庭課 has two registered businesses in annex 1: nothing is chosen for the registrar
    business = form.locator("select[name=business]")
    await expect(business).to_have_value("")
    await business.select_option("児童手当業務")
    await form.locator("input[name=basis][value=ex-officio]").check()
    await form.locator("input[name=until]").fill("2027-03-31")
    await form.get_by_role("button", name="登録する").click()
    await page.wait_for_url(re.compile(r"/staff/flags$"))
    await expect(page.get_by_test_id("flash")).to_have_text("フラグを登録しました。")
    await tab.title()
    record = await running.gw.flags.get(person.atena_number)
    assert (
        record is not None and record.state.auto_response_disabled and record.state.non_disclosure
    )
    [hold] = record.holds
    assert (hold.department, hold.basis, hold.updated_by) == (
        "子ども家庭課",
        "ex-officio",
        "staff:reg-kodomo",
    )
    assert (hold.department, hold.business) == ("子ども家庭課", "児童手当業務")
    _no_personal_data(tab, person.name, person.atena_number)


async def test_one_registrar_requests_a_release_and_another_confirms_it(
    running: Running, staff: Staff, tab: Visit
) -> None:
    from playwright.async_api import expect

    await staff.create("registrar", "registrar2")
    person = running.residents[4]
    await running.flag(person)
    await tab.login("registrar")
    page = tab.page
    form = page.get_by_test_id("release")
    await form.locator("input[name=atena_number]").fill(person.atena_number)
    await form.locator("textarea[name=note]").fill("本人から解除の申出（窓口）")
    await form.get_by_role("button", name="解除を申請する").click()
    await page.wait_for_url(re.compile(r"/staff/flags$"))
    await expect(page.get_by_test_id("flash")).to_contain_text("申請しました")
    await expect(page.get_by_test_id("pending")).to_contain_text("staff:reg-kodomo")
    row = page.get_by_test_id("pending").locator("tr[data-request]")
    await expect(row).to_contain_text(person.name)
    await expect(row.get_by_role("button", name="確認して解除")).to_have_count(0)  # not oneself
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and record.state.auto_response_disabled  # one person is not enough
    # a second registrar of the department confirms it
    await page.get_by_role("button", name="ログアウト").click()
    await page.wait_for_url(re.compile(r"/staff/login$"))
    await tab.login("registrar2")
    row = page.get_by_test_id("pending").locator("tr[data-request]")
    await row.get_by_role("button", name="確認して解除").click()
    await page.wait_for_url(re.compile(r"/staff/flags$"))
    await expect(page.get_by_test_id("flash")).to_have_text("解除を確認しました。")
    await expect(page.get_by_test_id("pending").locator("tr[data-request]")).to_have_count(0)
    await tab.title()
    record = await running.gw.flags.get(person.atena_number)
    assert record is not None and not record.state.any
    _no_personal_data(tab, person.name, person.atena_number)


async def test_auditor_reviews_a_security_event(running: Running, staff: Staff, tab: Visit) -> None:
    from playwright.async_api import expect

    await staff.create("auditor")
    await running.post(
        "/soap/provision", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"
    )
    [event] = await running.events("security.hostile_input")
    await tab.login("auditor")
    page = tab.page
    assert page.url.endswith("/staff/audit")
    await page.locator("select[name=kind]").select_option("security.hostile_input")
    await page.get_by_role("button", name="絞り込む").click()
    await page.wait_for_url(re.compile(r"kind=security\.hostile_input"))
    row = page.locator(f'tr[data-event="{event["id"]}"]')
    await expect(row).to_contain_text("不正な入力")
    await expect(row).to_have_class(re.compile(r"\bopen\b"))
    await row.locator("textarea[name=comment]").fill("外部からのXXE試行。遮断を確認、対応不要。")
    await row.get_by_role("button", name="確認済にする").click()
    await page.wait_for_url(re.compile(r"kind=security\.hostile_input"))
    row = page.locator(f'tr[data-event="{event["id"]}"]')
    await expect(row).to_have_class(re.compile(r"\breviewed\b"))
    await expect(row.get_by_test_id("review")).to_contain_text("外部からのXXE試行")
    await expect(row.get_by_test_id("review")).to_contain_text("aud-one")
    [reviewed] = await running.events("audit.reviewed")
    assert reviewed["event"] == event["id"] and reviewed["actor"] == "staff:aud-one"
    # and the same page in English
    await page.get_by_role("link", name="English").click()
    await page.wait_for_load_state()
    assert (await page.title()).startswith("Blocked attempts and security events")
