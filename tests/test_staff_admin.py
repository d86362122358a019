"""Admins keep the staff accounts and the requesters; the operator has `hogo-gateway users`."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from gateway.staff.i18n import Translator
from tests.conftest import Running
from tests.staffkit import PASSWORD, Staff, flash_of
from tests.support import Cli, cli_runner


async def test_admin_adds_a_user_who_can_then_log_in(running: Running, staff: Staff) -> None:
    admin = await staff.client("admin")
    form = {"login": "new-approver", "role": "approver", "department": "企画政策課"}
    status, html = await admin.submit("/staff/admin/users", {**form, "password": "short"})
    assert status == 200 and "12文字以上" in flash_of(html)
    status, html = await admin.submit("/staff/admin/users", {**form, "password": PASSWORD})
    assert "new-approver" in flash_of(html) and 'data-login="new-approver"' in html
    status, html = await admin.submit("/staff/admin/users", {**form, "password": PASSWORD})
    assert "使われています" in flash_of(html)
    newcomer = staff.anonymous()
    assert await newcomer.login("new-approver") == 200
    assert (await newcomer.api("GET", "/api/v1/held"))[0] == 200
    [added] = [e for e in await running.events("staff.user_added") if e["actor"] != "test"]
    assert added["actor"] == "staff:adm-one" and added["role"] == "approver"
    assert PASSWORD not in json.dumps(await running.events())


async def test_admin_disables_unlocks_resets_and_changes_roles(
    running: Running, staff: Staff
) -> None:
    admin = await staff.client("admin")
    appr = await staff.client("approver")
    _status, html = await admin.submit("/staff/admin/users/appr-one/disable", {})
    assert "停止しました" in flash_of(html)
    assert (await appr.api("GET", "/api/v1/held"))[0] == 401
    await admin.submit("/staff/admin/users/appr-one/enable", {})
    await admin.submit("/staff/admin/users/appr-one/password", {"password": "renewed-pass-0003"})
    assert await appr.login("appr-one", PASSWORD) == 401
    assert await appr.login("appr-one", "renewed-pass-0003") == 200
    await admin.submit(
        "/staff/admin/users/appr-one/role", {"role": "auditor", "department": "情報政策課"}
    )
    assert (await appr.api("GET", "/api/v1/events"))[0] == 200
    kinds = [e["kind"] for e in await running.events("staff.user_")]
    assert kinds == [
        "staff.user_added",  # adm-one (made by the test)
        "staff.user_added",  # appr-one
        "staff.user_disabled",
        "staff.user_enabled",
        "staff.user_changed",
    ]
    assert len(await running.events("staff.password_set")) == 1


async def test_an_admin_cannot_disable_or_demote_themselves(running: Running, staff: Staff) -> None:
    admin = await staff.client("admin")
    status, html = await admin.submit("/staff/admin/users/adm-one/disable", {})
    assert "自分自身" in flash_of(html)
    status, out = await admin.api("PATCH", "/api/v1/users/adm-one", {"role": "approver"})
    assert (status, out["error"]) == (400, "self")
    assert (await staff.console.users.get("adm-one")).role == "admin"


async def test_admin_api_for_users(running: Running, staff: Staff) -> None:
    admin = await staff.client("admin")
    body = {"login": "aud-two", "role": "auditor", "department": "情報政策課", "password": PASSWORD}
    status, user = await admin.api("POST", "/api/v1/users", body)
    assert status == 201 and user["role"] == "auditor" and "password_hash" not in user
    assert (await admin.api("POST", "/api/v1/users", body))[0] == 409
    assert (await admin.api("POST", "/api/v1/users", {**body, "login": "Bad Login"}))[0] == 400
    assert (await admin.api("POST", "/api/v1/users", {**body, "login": "x2", "role": "root"}))[
        0
    ] == 400
    status, user = await admin.api("PATCH", "/api/v1/users/aud-two", {"disabled": True})
    assert user["disabled"] is True
    assert (await admin.api("PATCH", "/api/v1/users/nobody", {"unlock": True}))[0] == 404
    status, users = await admin.api("GET", "/api/v1/users")
    assert {u["login"] for u in users} == {"adm-one", "aud-two"}
    assert all("pw" not in u and "password_hash" not in u for u in users)


async def test_admin_keeps_the_requesters(running: Running, staff: Staff) -> None:
    admin = await staff.client("admin")
    status, html = await admin.submit(
        "/staff/admin/requesters", {"org_code": "1340000000000004", "name": "模擬市 保険年金課"}
    )
    assert "1340000000000004" in flash_of(html) and "模擬市 保険年金課" in html
    status, html = await admin.submit("/staff/admin/requesters", {"org_code": "12", "name": "x"})
    assert "16桁" in flash_of(html)
    status, out = await admin.api(
        "POST", "/api/v1/requesters", {"org_code": "1350000000000005", "name": "例示村 税務課"}
    )
    assert status == 201 and out["added_by"] == "staff:adm-one"
    status, out = await admin.api("GET", "/api/v1/requesters")
    assert {"1340000000000004", "1350000000000005"} <= {r["org_code"] for r in out}
    assert (await admin.api("DELETE", "/api/v1/requesters/1350000000000005"))[0] == 200
    assert (await admin.api("DELETE", "/api/v1/requesters/1350000000000005"))[0] == 404
    status, html = await admin.submit("/staff/admin/requesters/1340000000000004/remove", {})
    assert await running.gw.requesters.get("1340000000000004") is None
    removed = [e["actor"] for e in await running.events("requester.removed")]
    assert removed == ["staff:adm-one", "staff:adm-one"]


@pytest.fixture
def hogo(tmp_path: Path, redis_url: str) -> Cli:
    return cli_runner(tmp_path / "data", redis_url)


def test_users_cli_takes_the_password_on_standard_input(hogo) -> None:
    res = hogo(
        "users",
        "add",
        "cli-approver",
        "--role",
        "approver",
        "--department",
        "企画政策課",
        stdin=PASSWORD + "\n",
    )
    assert res.returncode == 0, res.stderr
    assert PASSWORD not in res.stdout + res.stderr
    listed = json.loads(hogo("users", "list", "--json").stdout)
    assert [(u["login"], u["role"], u["department"]) for u in listed] == [
        ("cli-approver", "approver", "企画政策課")
    ]
    # a bad role is a bad argument (2); a short password or a taken login fails (1), one line
    assert (
        hogo("users", "add", "x1", "--role", "root", "--department", "d", stdin="p").returncode == 2
    )
    for args, stdin in (
        (("users", "add", "cli-two", "--role", "auditor", "--department", "情報政策課"), "short\n"),
        (("users", "add", "cli-approver", "--role", "auditor", "--department", "x"), PASSWORD),
        (("users", "disable", "nobody"), None),
    ):
        res = hogo(*args, stdin=stdin)
        assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert res.stderr.startswith("hogo-gateway: error:")
    done = hogo("users", "disable", "cli-approver")
    assert done.returncode == 0 and done.stdout.strip() == "user cli-approver: disabled"
    assert json.loads(hogo("users", "list", "--json").stdout)[0]["disabled"] is True
    assert hogo("users", "enable", "cli-approver").stdout.strip() == "user cli-approver: enabled"
    unlocked = hogo("users", "unlock", "cli-approver")
    assert unlocked.returncode == 0 and unlocked.stdout.strip() == "user cli-approver: unlocked"
    assert hogo("users", "passwd", "cli-approver", stdin="another-pass-0004\n").returncode == 0


async def test_an_account_made_on_the_command_line_logs_in(
    running: Running, staff: Staff, hogo
) -> None:
    import asyncio

    res = await asyncio.to_thread(
        hogo,
        "users",
        "add",
        "cli-auditor",
        "--role",
        "auditor",
        "--department",
        "情報政策課",
        stdin=PASSWORD + "\n",
    )
    assert res.returncode == 0, res.stderr
    client = staff.anonymous()
    assert await client.login("cli-auditor") == 200
    [added] = await running.events("staff.user_added")
    assert added["actor"].startswith("os:")


async def test_a_registrar_belongs_to_a_holding_department_of_annex_1(
    running: Running, staff: Staff
) -> None:
    """Only holding departments of annex 1 set flags or ask for releases: a registrar anywhere
    else could do nothing, so such an account is refused, made or changed, page or API."""
    admin = await staff.client("admin")
    said = Translator("ja")("err.registrar_department", department="戸籍住民課")
    form = {"login": "reg-new", "role": "registrar", "department": "戸籍住民課"}
    _, page = await admin.submit("/staff/admin/users", {**form, "password": PASSWORD})
    assert html.unescape(flash_of(page)) == said
    body = {**form, "password": PASSWORD}
    status, out = await admin.api("POST", "/api/v1/users", body)
    assert (status, out["error"], out["department"]) == (400, "registrar_department", "戸籍住民課")
    assert await staff.console.users.get("reg-new") is None
    # any other role may belong anywhere
    status, out = await admin.api("POST", "/api/v1/users", {**body, "role": "approver"})
    assert status == 201 and out["department"] == "戸籍住民課"
    # nor may an account become a registrar outside annex 1
    _, page = await admin.submit(
        "/staff/admin/users/reg-new/role", {"role": "registrar", "department": "戸籍住民課"}
    )
    assert html.unescape(flash_of(page)) == said
    status, out = await admin.api(
        "PATCH", "/api/v1/users/reg-new", {"role": "registrar", "department": "企画政策課"}
    )
    assert (status, out["error"]) == (400, "registrar_department")
    assert (await staff.console.users.get("reg-new")).role == "approver"
    # inside annex 1 it may, recorded in the annex's spelling (a full-width space typed)
    status, out = await admin.api(
        "PATCH",
        "/api/v1/users/reg-new",
        {"role": "registrar", "department": "生活福祉課　保護担当課"},
    )
    assert (status, out["role"], out["department"]) == (200, "registrar", "生活福祉課 保護担当課")
    assert [e["login"] for e in await running.events("staff.user_added")] == ["adm-one", "reg-new"]
    # the form offers the holding departments of annex 1
    _, page = await admin.page("/staff/admin/users")
    assert '<datalist id="holding-departments">' in page and '<option value="子ども家庭課">' in page


def test_users_cli_refuses_a_registrar_outside_annex_1(hogo) -> None:
    res = hogo(
        "users",
        "add",
        "cli-reg",
        "--role",
        "registrar",
        "--department",
        "戸籍住民課",
        stdin=PASSWORD + "\n",
    )
    assert res.returncode == 1 and res.stdout == "", res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("hogo-gateway: error: 戸籍住民課 is not a holding department of annex 1")
    assert json.loads(hogo("users", "list", "--json").stdout) == []
    res = hogo(
        "users",
        "add",
        "cli-reg",
        "--role",
        "registrar",
        "--department",
        "子ども家庭課",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["department"] == "子ども家庭課"
