"""Who may do what: every console and API route has a rule, and the rule holds for every role.

The table below is the specification. A route added to the application without an entry here
(or without a rule of its own) fails `test_every_route_has_a_rule_and_an_entry_here`.
"""

from __future__ import annotations

from gateway.app import build_app
from gateway.settings import Settings
from gateway.staff.access import Rule
from tests.conftest import Running
from tests.staffkit import ROLES, Staff, StaffClient

PUBLIC = "public"
ANY = set(ROLES)
R, AP, AU, AD = {"registrar"}, {"approver"}, {"auditor"}, {"admin"}

EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/staff/"): ANY,
    ("GET", "/staff/login"): PUBLIC,
    ("POST", "/staff/login"): PUBLIC,
    ("POST", "/staff/logout"): ANY,
    ("GET", "/staff/lang/{lang}"): PUBLIC,
    ("GET", "/staff/static/{name}"): PUBLIC,
    ("GET", "/staff/queue"): AP,
    ("GET", "/staff/queue/{id}"): AP,
    ("POST", "/staff/queue/{id}/claim"): AP,
    ("POST", "/staff/queue/{id}/unclaim"): AP,
    ("POST", "/staff/queue/{id}/release"): AP,
    ("POST", "/staff/queue/{id}/confirm"): AP,
    ("POST", "/staff/queue/{id}/withdraw"): AP,
    ("POST", "/staff/queue/{id}/refuse"): AP,
    ("GET", "/staff/reviews"): AP,
    ("POST", "/staff/reviews/{id}/confirm"): AP,
    ("GET", "/staff/flags"): R,
    ("POST", "/staff/flags/register"): R,
    ("POST", "/staff/flags/release-request"): R,
    ("POST", "/staff/flags/release-confirm"): R,
    ("POST", "/staff/flags/release-cancel"): R,
    ("GET", "/staff/flags/due"): R,
    ("GET", "/staff/attempts"): R,
    ("GET", "/staff/attempts/{id}"): R,
    ("POST", "/staff/attempts/{id}/acknowledge"): R,
    ("GET", "/staff/audit"): AU,
    ("POST", "/staff/audit/{event_id}/review"): AU,
    ("GET", "/staff/audit/export.csv"): AU,
    ("GET", "/staff/audit/patterns"): AU,
    ("GET", "/staff/admin/users"): AD,
    ("POST", "/staff/admin/users"): AD,
    ("POST", "/staff/admin/users/{login}/disable"): AD,
    ("POST", "/staff/admin/users/{login}/enable"): AD,
    ("POST", "/staff/admin/users/{login}/unlock"): AD,
    ("POST", "/staff/admin/users/{login}/password"): AD,
    ("POST", "/staff/admin/users/{login}/role"): AD,
    ("GET", "/staff/admin/requesters"): AD,
    ("POST", "/staff/admin/requesters"): AD,
    ("POST", "/staff/admin/requesters/{org_code}/remove"): AD,
    ("GET", "/api/v1/session"): PUBLIC,
    ("POST", "/api/v1/session"): PUBLIC,
    ("DELETE", "/api/v1/session"): ANY,
    ("GET", "/api/v1/held"): AP,
    ("GET", "/api/v1/held/{id}"): AP,
    ("POST", "/api/v1/held/{id}/claim"): AP,
    ("DELETE", "/api/v1/held/{id}/claim"): AP,
    ("POST", "/api/v1/held/{id}/release"): AP,
    ("POST", "/api/v1/held/{id}/confirm"): AP,
    ("POST", "/api/v1/held/{id}/withdraw"): AP,
    ("POST", "/api/v1/held/{id}/refuse"): AP,
    ("GET", "/api/v1/reviews"): AP,
    ("POST", "/api/v1/reviews/{id}/confirm"): AP,
    ("POST", "/api/v1/flag-records"): R,
    ("POST", "/api/v1/flag-records/lookup"): R,
    ("GET", "/api/v1/release-requests"): R,
    ("POST", "/api/v1/release-requests"): R,
    ("POST", "/api/v1/release-requests/{id}/confirm"): R,
    ("POST", "/api/v1/release-requests/{id}/cancel"): R,
    ("GET", "/api/v1/renewals"): R,
    ("GET", "/api/v1/attempts"): R,
    ("GET", "/api/v1/attempts/{id}"): R,
    ("POST", "/api/v1/attempts/{id}/acknowledge"): R,
    ("GET", "/api/v1/events"): AU,
    ("POST", "/api/v1/events/{event_id}/review"): AU,
    ("GET", "/api/v1/users"): AD,
    ("POST", "/api/v1/users"): AD,
    ("PATCH", "/api/v1/users/{login}"): AD,
    ("GET", "/api/v1/requesters"): AD,
    ("POST", "/api/v1/requesters"): AD,
    ("DELETE", "/api/v1/requesters/{org_code}"): AD,
}
# Values for path placeholders: nothing here exists, so allowed calls change nothing.
PLACEHOLDERS = {
    "{id}": "0123456789abcdef0123",
    "{event_id}": "1-0",
    "{login}": "nobody-here",
    "{org_code}": "1999999999999999",
    "{lang}": "en",
    "{name}": "console.css",
}
ENDS_SESSION = {("POST", "/staff/logout"), ("DELETE", "/api/v1/session")}


def _concrete(path: str) -> str:
    for k, v in PLACEHOLDERS.items():
        path = path.replace(k, v)
    return path


def _console_routes() -> dict[tuple[str, str], object]:
    """Every route of the gateway's application under /staff/ and /api/v1/, with its handler."""
    app = build_app(Settings(), "redis://unused")  # routes only: nothing is opened
    out = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if not path.startswith(("/staff", "/api/v1/")) or path.startswith("/api/v1/flags"):
            continue  # /api/v1/flags is the departments' flag API, with its own tokens
        out[(route.method, path)] = route.handler
    return out


def test_every_route_has_a_rule_and_an_entry_here() -> None:
    routes = _console_routes()
    assert set(routes) == set(EXPECTED), "a console route without an entry in EXPECTED, or gone"
    for key, handler in routes.items():
        rule = getattr(handler, "rule", None)
        assert isinstance(rule, Rule), f"{key} was not added through gateway.staff.access"
        want = EXPECTED[key]
        assert rule.public == (want == PUBLIC), key
        if want != PUBLIC:
            assert set(rule.roles) == want, key
        assert rule.api == key[1].startswith("/api/"), key


async def _call(client: StaffClient, method: str, path: str) -> tuple[int, dict[str, str]]:
    url = _concrete(path)
    if path.startswith("/api/"):
        status, headers, _ = await client.request(method, url, json={} if method != "GET" else None)
    elif method == "GET":
        status, headers, _ = await client.request("GET", url)
    else:
        status, headers, _ = await client.request(method, url, form={})
    return status, headers


async def test_every_route_admits_exactly_its_roles(running: Running, staff: Staff) -> None:
    anonymous = staff.anonymous()
    clients = {role: await staff.client(role) for role in ROLES}
    checked = 0
    for (method, path), want in EXPECTED.items():
        if want == PUBLIC:
            continue
        status, headers = await _call(anonymous, method, path)
        assert headers.get("X-Access-Denied") == "login", (method, path, status)
        assert status == (401 if path.startswith("/api/") else 303)
        for role, client in clients.items():
            status, headers = await _call(client, method, path)
            denied = headers.get("X-Access-Denied")
            if role in want:
                assert denied is None, (role, method, path, status, denied)
                assert status not in (401,), (role, method, path)
            else:
                assert (denied, status) == ("role", 403), (role, method, path, status)
            if (method, path) in ENDS_SESSION:
                assert await client.login(client.login_name) == 200
            checked += 1
    assert checked == 4 * sum(1 for v in EXPECTED.values() if v != PUBLIC)
    # a refusal for the role is a security event, named by route, never by what was asked
    denials = await running.events("security.access_denied")
    assert denials and all("{" in str(d["route"]) or d["route"] for d in denials)
    assert {d["actor"] for d in denials} >= {f"staff:{c.login_name}" for c in clients.values()}


async def test_public_routes_answer_anyone(running: Running, staff: Staff) -> None:
    anonymous = staff.anonymous()
    for method, path in [k for k, v in EXPECTED.items() if v == PUBLIC and k[0] == "GET"]:
        status, headers = await _call(anonymous, method, path)
        assert "X-Access-Denied" not in headers and status in (200, 303), (path, status)


async def test_state_change_without_the_csrf_token_is_refused(
    running: Running, staff: Staff
) -> None:
    admin = await staff.client("admin")
    body = {"org_code": "1330000000000003", "name": "試験区 税務課"}
    # API: no token, a wrong token, the right token from another origin
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        status, hdrs, _ = await admin.request(
            "POST", "/api/v1/requesters", json=body, csrf="", headers=headers
        )
        assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf")
    for origin in ("http://evil.example", "null"):
        status, hdrs, _ = await admin.request(
            "POST", "/api/v1/requesters", json=body, headers={"Origin": origin}
        )
        assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf")
    # page form: no token, wrong token, cross-site fetch metadata
    status, hdrs, _ = await admin.request("POST", "/staff/admin/requesters", form={**body})
    assert status == 303  # with the token (added by the client): accepted
    for form, headers in (
        ({**body, "csrf": ""}, {}),
        ({**body, "csrf": "forged"}, {}),
        ({**body}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        status, hdrs, _ = await admin.request(
            "POST", "/staff/admin/requesters", form=form, headers=headers
        )
        assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf")
    # only the one accepted request changed anything
    assert [r.org_code for r in await running.gw.requesters.all()].count("1330000000000003") == 1
    assert len(await running.events("security.csrf_refused")) == 7


async def test_login_itself_needs_the_pre_session_token(running: Running, staff: Staff) -> None:
    await staff.create("approver")
    client = staff.anonymous()
    status, hdrs, _ = await client.request(
        "POST", "/api/v1/session", json={"login": "appr-one", "password": "x" * 12}, csrf=""
    )
    assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf")
    status, hdrs, _ = await client.request(
        "POST", "/staff/login", form={"login": "appr-one", "password": "x", "csrf": "guess"}
    )
    assert (status, hdrs.get("X-Access-Denied")) == (403, "csrf")
    # no password was even tried: nothing counts towards the lock-out
    assert await running.events("security.login_failed") == []


async def test_every_console_response_carries_the_security_headers(
    running: Running, staff: Staff
) -> None:
    appr = await staff.client("approver")
    for path in ("/staff/queue", "/staff/login", "/api/v1/held", "/staff/audit"):
        _, headers, _ = await appr.request("GET", path)
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none'
        assert headers["Referrer-Policy"] == "same-origin"
