"""The story of issue 13 in a real browser (Debian's Chromium, Playwright): a requester's query
about a flagged person is held → the registrar of the holding department sees the attempt (the
count in the header, the page, the attempt's screen with the name) and acknowledges it → the
auditor's chart shows it → the department's mail arrived at the SMTP server on loopback, without
personal data. Another department's registrar sees nothing of it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator

import pytest

from gateway.settings import Settings
from gateway.simulator import Resident
from tests.conftest import Running, start_running, stop_running
from tests.staffkit import Staff, staff_for
from tests.support import REQUESTER, Query, SmtpServer
from tests.test_attempts_mail import Sink, _mail_settings, _secrets
from tests.test_browser import CHROMIUM, Visit, _no_personal_data, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
async def story(
    settings: Settings, redis_url: str, residents: list[Resident]
) -> AsyncIterator[tuple[Running, Sink]]:
    sink = Sink()
    controller = SmtpServer(sink)  # on port 0: .port is the one it got
    controller.start()
    r, runners = await start_running(
        _mail_settings(settings, controller.port), redis_url, residents
    )
    yield r, sink
    await stop_running(r, runners)
    controller.stop()


@pytest.fixture
async def staff(story: tuple[Running, Sink]) -> AsyncIterator[Staff]:
    async with staff_for(story[0]) as s:
        yield s


async def _tab(chromium, running: Running) -> Visit:  # type: ignore[no-untyped-def]
    context = await chromium.new_context(locale="ja-JP")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return Visit(page, running.url)


async def test_a_held_query_reaches_the_holding_department_and_the_auditor(
    story: tuple[Running, Sink],
    staff: Staff,
    browser,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    from playwright.async_api import expect

    running, sink = story
    await staff.create("registrar", "registrar_tax", "auditor")
    person = running.residents[0]
    await running.flag(person)  # 子ども家庭課's hold
    answer = await running.submit(Query("R08-000321", person.subject_code))
    assert answer.status == "PENDING"

    # the registrar of the holding department: the count in the header, the page, the screen
    tab = await _tab(browser, running)
    await tab.login("registrar")
    page = tab.page
    count = page.get_by_test_id("attempts-count")
    await expect(count).to_have_text("1")
    await page.get_by_role("link", name=re.compile("試行の通知")).click()
    await page.wait_for_url(re.compile(r"/staff/attempts$"))
    await tab.title()
    row = page.locator("tr[data-attempt]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("見本市 子ども家庭課")
    await expect(row).to_contain_text(REQUESTER)
    await expect(row).to_contain_text("R08-000321")
    await expect(row).to_contain_text("照会の保留（フラグ）")
    await expect(row).to_contain_text("保留中")
    await expect(row).to_contain_text("未確認")
    await expect(page.locator("main")).not_to_contain_text(person.name)
    await row.get_by_role("link", name="内容").click()
    await page.wait_for_url(re.compile(r"/staff/attempts/[0-9a-f]{20}$"))
    await tab.title()
    await expect(page.get_by_test_id("person-name")).to_have_text(person.name)
    await page.get_by_label("本人に伝えた").check()
    await page.locator("textarea[name=note]").fill("本人へ電話で伝達（試験）")
    await page.get_by_role("button", name="確認を記録する").click()
    await page.wait_for_url(re.compile(r"/staff/attempts/[0-9a-f]{20}$"))
    await expect(page.get_by_test_id("flash")).to_have_text("確認を記録しました。")
    await expect(page.get_by_test_id("acknowledged")).to_contain_text("本人に伝えた")
    await expect(page.get_by_test_id("attempts-count")).to_have_text("0")
    await tab.title()
    _no_personal_data(tab, person.name, person.atena_number, person.subject_code)
    [ack] = await running.events("attempt.acknowledged")
    assert (ack["outcome"], ack["actor"]) == ("told", "staff:reg-kodomo")

    # the registrar of another holding department sees nothing of it
    other = await _tab(browser, running)
    await other.login("registrar_tax")
    await expect(other.page.get_by_test_id("attempts-count")).to_have_text("0")
    await other.goto("/staff/attempts")
    await expect(other.page.get_by_test_id("no-attempts")).to_be_visible()

    # the auditor's chart shows it: today's bar of attempts, held because flagged
    auditor = await _tab(browser, running)
    await auditor.login("auditor")
    await auditor.page.get_by_role("link", name="傾向").click()
    await auditor.page.wait_for_url("**/staff/audit/patterns")
    held = auditor.page.locator("svg[data-chart=attempts] rect[data-series=query_held]").last
    box = await held.bounding_box()
    assert box is not None and box["height"] > 5
    today = auditor.page.get_by_test_id("table-attempts").locator("tr[data-day]").first
    await expect(today.locator("td[data-series=query_held]")).to_have_text("1")

    # the department's mail arrived, with nothing personal in it
    for _ in range(100):
        if sink.messages:
            break
        await asyncio.sleep(0.1)
    [(_, [to], raw)] = sink.messages
    assert to == "kodomo@ward.example"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(("plain",))
    assert body is not None
    text = "\n".join(f"{k}: {v}" for k, v in msg.items()) + "\n" + body.get_content()
    assert "https://hogo.ward.example/staff/attempts?open=1" in text
    for secret in [*_secrets(running, person), "R08-000321"]:
        assert secret not in text, secret
