"""Test support for the staff console: accounts for every role, and HTTP clients that log in
through the console's JSON API, each with its own cookie jar."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.services import accounts
from gateway.services.console import Console
from tests.conftest import Running
from tests.support import Query

PASSWORD = "synthetic-pass-0001"
# name in tests -> (login, role, department)
ACCOUNTS: dict[str, tuple[str, str, str]] = {
    "registrar": ("reg-kodomo", "registrar", "子ども家庭課"),
    "registrar2": ("reg-kodomo2", "registrar", "子ども家庭課"),
    "registrar_tax": ("reg-zeimu", "registrar", "税務課"),
    "registrar_tax2": ("reg-zeimu2", "registrar", "税務課"),
    # not in annex 1: refused by accounts.add_user, so made in the store directly, as an account
    # that was made before annex 1 was amended would be
    "registrar_outside": ("reg-koseki", "registrar", "戸籍住民課"),
    "approver": ("appr-one", "approver", "企画政策課"),
    "approver2": ("appr-two", "approver", "企画政策課"),
    "auditor": ("aud-one", "auditor", "情報政策課"),
    "admin": ("adm-one", "admin", "情報政策課"),
}
ROLES = ("registrar", "approver", "auditor", "admin")
NOTICE = "取扱注意：DV等支援措置対象者。住所を第三者に開示しないこと。"


@dataclass
class StaffClient:
    """One browser-like client: a cookie jar, and the CSRF token of its session once logged in."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    login_name: str = ""
    seen_urls: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, base: str) -> StaffClient:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        return cls(base, aiohttp.ClientSession(cookie_jar=jar))

    async def close(self) -> None:
        await self.http.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: dict[str, str] | None = None,
        csrf: str | None = None,
        follow: bool = False,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        hdrs = dict(headers or {})
        token = self.csrf if csrf is None else csrf
        if json is not None and token:
            hdrs["X-CSRF-Token"] = token
        data = None
        if form is not None:
            data = {"csrf": token, **form} if "csrf" not in form else form
        elif method not in ("GET", "HEAD") and json is None and token:
            hdrs.setdefault("X-CSRF-Token", token)
        self.seen_urls.append(path)
        async with self.http.request(
            method,
            self.base + path,
            json=json,
            data=data,
            headers=hdrs,
            allow_redirects=follow,
        ) as resp:
            return resp.status, dict(resp.headers), await resp.text()

    async def login(self, login: str, password: str = PASSWORD) -> int:
        status, _, body = await self.request("GET", "/api/v1/session")
        pre = _json(body)["csrf"]
        status, _, body = await self.request(
            "POST", "/api/v1/session", json={"login": login, "password": password}, csrf=pre
        )
        if status == 200:
            self.csrf = _json(body)["csrf"]
            self.login_name = login
        return status

    async def api(self, method: str, path: str, data: Any = None) -> tuple[int, Any]:
        status, _, body = await self.request(
            method, path, json=data if data is not None else ({} if method != "GET" else None)
        )
        return status, _json(body) if body.startswith(("{", "[")) else body

    async def page(self, path: str) -> tuple[int, str]:
        status, _, body = await self.request("GET", path)
        return status, body

    async def submit(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        """POST a form like a browser would, following the redirect to the page it leads to."""
        status, headers, body = await self.request("POST", path, form=form)
        if status == 303:
            target = headers["Location"]
            self.seen_urls.append(target)
            status, body = await self.page(target)
        return status, body


def _json(body: str) -> Any:
    import json

    return json.loads(body)


def title_of(html: str) -> str:
    m = re.search(r"<title>(.*?)</title>", html, re.S)
    return m.group(1) if m else ""


def flash_of(html: str) -> str:
    m = re.search(r'data-testid="flash">(.*?)</p>', html, re.S)
    return m.group(1).strip() if m else ""


class Staff:
    """Accounts and logged-in clients against one running gateway."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.console = Console.of(running.gw)
        self.clients: list[StaffClient] = []

    async def create(self, *names: str) -> None:
        for name in names:
            login, role, dept = ACCOUNTS[name]
            if name == "registrar_outside":
                pw = await accounts.hash_password(PASSWORD)
                await self.console.users.add(login, role, dept, pw, "test")
                continue
            await accounts.add_user(self.console.users, login, role, dept, PASSWORD, "test")

    def anonymous(self) -> StaffClient:
        client = StaffClient.new(self.running.url)
        self.clients.append(client)
        return client

    async def client(self, name: str) -> StaffClient:
        """A logged-in client for account `name` (created if need be)."""
        login = ACCOUNTS[name][0]
        if await self.console.users.get(login) is None:
            await self.create(name)
        client = self.anonymous()
        assert await client.login(login) == 200
        return client

    async def close(self) -> None:
        for c in self.clients:
            await c.close()


@contextlib.asynccontextmanager
async def staff_for(running: Running) -> AsyncIterator[Staff]:
    """For each test module's `staff` fixture (fixtures imported from here would shadow names)."""
    s = Staff(running)
    try:
        yield s
    finally:
        await s.close()


async def seen_of(client: StaffClient, qid: str) -> str:
    """What a release or confirmation of an item carries: the token of its subject's facts as the
    item's screen and GET /api/v1/held/{id} show them (read from the API: it unseals no name)."""
    status, detail = await client.api("GET", f"/api/v1/held/{qid}")
    assert status == 200, detail
    return detail["seen"]


async def held_query(running: Running, pn: str, index: int = 0) -> str:
    """A query about a flagged resident, held for staff; its id."""
    person = running.residents[index]
    await running.flag(person)
    assert (await running.submit(Query(pn, person.subject_code))).status == "PENDING"
    [held] = [h for h in await running.gw.queries.list_held() if h.processing_number == pn]
    return held.id
