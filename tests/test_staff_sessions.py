"""Logging in: argon2id passwords, cookies, server-side sessions that expire, lock-out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.services import accounts
from gateway.settings import Settings
from tests.conftest import Running
from tests.staffkit import ACCOUNTS, PASSWORD, Staff


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        staff_session_idle_seconds=600,
        staff_session_absolute_seconds=1500,
        staff_lockout_attempts=3,
        staff_lockout_seconds=600,
    )  # periods passed by moving the gateway's clock (running.clock), never by sleeping


async def test_password_is_stored_as_argon2id_only(running: Running, staff: Staff) -> None:
    await staff.create("approver")
    user = await staff.console.users.get("appr-one")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    dump = await _all_values(running)
    assert PASSWORD not in dump


async def test_login_sets_an_httponly_samesite_strict_session_cookie(
    running: Running, staff: Staff
) -> None:
    await staff.create("approver")
    client = staff.anonymous()
    status, headers, body = await client.request("GET", "/staff/login")
    assert status == 200 and 'name="csrf"' in body
    pre = client.http.cookie_jar.filter_cookies(_url(running))["hogo_pre"].value
    status, headers, _ = await client.request(
        "POST",
        "/staff/login",
        form={"login": "appr-one", "password": PASSWORD, "csrf": pre},
    )
    assert status == 303 and headers["Location"] == "/staff/"
    cookie = headers["Set-Cookie"]
    assert "hogo_session=" in cookie
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; TLS listeners set Secure
    sid = client.http.cookie_jar.filter_cookies(_url(running))["hogo_session"].value
    # the store keeps only a digest of the session id
    assert sid not in await _all_values(running)
    status, body = await client.page("/staff/queue")
    assert status == 200 and "appr-one" in body
    assert len(await running.events("staff.login")) == 1


async def test_wrong_and_unknown_logins_look_alike_and_are_security_events(
    running: Running, staff: Staff
) -> None:
    await staff.create("approver")
    client = staff.anonymous()
    assert await client.login("appr-one", "wrong-password-1") == 401
    assert await client.login("no-such-person", "wrong-password-1") == 401
    events = await running.events("security.login_failed")
    assert [(e["login"], e["reason"]) for e in events] == [
        ("appr-one", "password"),
        ("(unknown)", "unknown_login"),
    ]
    assert all(str(e["actor"]).startswith("peer:") for e in events)
    # the password typed is in no event
    assert "wrong-password-1" not in str(await running.events())


async def test_repeated_failures_lock_the_login_until_the_period_ends(
    running: Running, staff: Staff
) -> None:
    await staff.create("approver")
    client = staff.anonymous()
    for _ in range(3):
        assert await client.login("appr-one", "wrong-password-1") == 401
    [locked] = await running.events("security.login_locked")
    assert locked["login"] == "appr-one"
    # locked: even the right password is refused, and answered like any failure
    assert await client.login("appr-one", PASSWORD) == 401
    assert (await running.events("security.login_failed"))[-1]["reason"] == "locked"
    running.clock.advance(590)
    assert await client.login("appr-one", PASSWORD) == 401  # still within the period
    running.clock.advance(11)
    assert await client.login("appr-one", PASSWORD) == 200


async def test_an_admin_unlocks_a_locked_login(running: Running, staff: Staff) -> None:
    await staff.create("approver")
    client = staff.anonymous()
    for _ in range(3):
        await client.login("appr-one", "wrong-password-1")
    admin = await staff.client("admin")
    status, users = await admin.api("GET", "/api/v1/users")
    assert [u["locked"] for u in users if u["login"] == "appr-one"] == [True]
    status, _ = await admin.api("PATCH", "/api/v1/users/appr-one", {"unlock": True})
    assert status == 200
    assert await client.login("appr-one", PASSWORD) == 200
    assert [e["actor"] for e in await running.events("staff.user_unlocked")] == ["staff:adm-one"]


async def test_a_session_ends_after_the_idle_timeout(running: Running, staff: Staff) -> None:
    client = await staff.client("approver")
    assert (await client.api("GET", "/api/v1/held"))[0] == 200
    running.clock.advance(590)
    assert (await client.api("GET", "/api/v1/held"))[0] == 200  # and idle from now again
    running.clock.advance(601)
    status, headers, _ = await client.request("GET", "/api/v1/held")
    assert (status, headers.get("X-Access-Denied")) == (401, "login")
    status, headers, _ = await client.request("GET", "/staff/queue")
    assert status == 303 and headers["Location"] == "/staff/login"


async def test_activity_keeps_a_session_until_its_absolute_end(
    running: Running, staff: Staff
) -> None:
    client = await staff.client("approver")
    for _ in range(5):  # 1450 s of activity, each request within the 600 s idle timeout
        assert (await client.api("GET", "/api/v1/held"))[0] == 200
        running.clock.advance(290)
    assert (await client.api("GET", "/api/v1/held"))[0] == 200
    running.clock.advance(60)  # past 1500 s since login, 60 s after the last request
    assert (await client.api("GET", "/api/v1/held"))[0] == 401


async def test_logout_ends_the_session_on_the_server(running: Running, staff: Staff) -> None:
    client = await staff.client("approver")
    sid = client.http.cookie_jar.filter_cookies(_url(running))["hogo_session"].value
    status, body = await client.submit("/staff/logout", {})
    assert status == 200 and 'action="/staff/login"' in body
    # the old cookie, replayed, opens nothing
    replay = staff.anonymous()
    replay.http.cookie_jar.update_cookies({"hogo_session": sid}, response_url=_url(running))
    assert (await replay.api("GET", "/api/v1/held"))[0] == 401
    assert len(await running.events("staff.logout")) == 1


async def test_disabling_a_user_or_setting_a_password_ends_their_sessions(
    running: Running, staff: Staff
) -> None:
    appr = await staff.client("approver")
    other = await staff.client("approver2")
    users = staff.console.users
    await accounts.set_disabled(users, "appr-one", True, "staff:adm-one")
    assert (await appr.api("GET", "/api/v1/held"))[0] == 401
    assert await appr.login("appr-one") == 401
    await accounts.set_password(users, "appr-two", "another-pass-0002", "staff:adm-one")
    assert (await other.api("GET", "/api/v1/held"))[0] == 401
    assert await other.login("appr-two", "another-pass-0002") == 200


async def test_a_new_role_applies_to_the_next_request(running: Running, staff: Staff) -> None:
    client = await staff.client("approver")
    assert (await client.api("GET", "/api/v1/held"))[0] == 200
    await accounts.change_role(staff.console.users, "appr-one", "auditor", "情報政策課", "test")
    assert (await client.api("GET", "/api/v1/held"))[0] == 403
    assert (await client.api("GET", "/api/v1/events"))[0] == 200


async def test_login_page_redirects_a_logged_in_user_home(running: Running, staff: Staff) -> None:
    for name in ("registrar", "approver", "auditor", "admin"):
        client = await staff.client(name)
        status, headers, _ = await client.request("GET", "/staff/", follow=False)
        home = {
            "registrar": "/staff/flags",
            "approver": "/staff/queue",
            "auditor": "/staff/audit",
            "admin": "/staff/admin/users",
        }[ACCOUNTS[name][1]]
        assert (status, headers["Location"]) == (303, home)
        status, headers, _ = await client.request("GET", "/staff/login")
        assert (status, headers["Location"]) == (303, "/staff/")


def _url(running: Running):
    from yarl import URL

    return URL(running.url)


async def _all_values(running: Running) -> str:
    """Every key and value in the store, as one string (to search for what must not be there)."""
    r = running.gw.redis.client
    out = []
    async for key in r.scan_iter(count=1000):
        kind = await r.type(key)
        out.append(key)
        if kind == "string":
            out.append(str(await r.get(key)))
        elif kind == "hash":
            out.append(str(await r.hgetall(key)))
        elif kind == "list":
            out.append(str(await r.lrange(key, 0, -1)))
        elif kind == "zset":
            out.append(str(await r.zrange(key, 0, -1)))
        elif kind == "set":
            out.append(str(await r.smembers(key)))
        elif kind == "stream":
            out.append(str(await r.xrange(key)))
    return "\n".join(out)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1, made here (no fixture files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_over_tls_the_session_cookie_is_secure(
    running: Running, staff: Staff, tmp_path: Path
) -> None:
    import ssl

    import aiohttp

    from gateway.app import build_app
    from tests.support import serve_app

    await staff.create("approver")
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    served = await serve_app(
        build_app(running.gw.settings, "redis://unused", gateway=running.gw), ssl_context=ctx
    )
    port = served.port
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(ssl=trust)
        ) as http:
            base = f"https://127.0.0.1:{port}"
            async with http.get(base + "/api/v1/session") as resp:
                assert "Secure" in resp.headers["Set-Cookie"]  # the pre-session cookie too
                pre = (await resp.json())["csrf"]
            async with http.post(
                base + "/api/v1/session",
                json={"login": "appr-one", "password": PASSWORD},
                headers={"X-CSRF-Token": pre},
            ) as resp:
                assert resp.status == 200
                cookie = resp.headers["Set-Cookie"]
            assert "hogo_session=" in cookie
            for attribute in ("Secure", "HttpOnly", "SameSite=Strict"):
                assert attribute in cookie
    finally:
        await served.cleanup()
