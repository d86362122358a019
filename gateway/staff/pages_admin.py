"""The admins' pages: staff users and roles, and the requesters (情報照会者) allowed to query."""

from __future__ import annotations

from aiohttp import web

from gateway import annex
from gateway.services import accounts
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.render import error_page, page


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def users_page(request: web.Request) -> web.Response:
    c = console(request)
    ms = c.gw.clock.now_ms()
    return page(
        request,
        "users.html",
        "title.users",
        users=await c.users.all(),
        roles=accounts.ROLES,
        holding_departments=annex.holding().departments(),
        now_ms=ms,
        min_password=accounts.MIN_PASSWORD,
    )


async def _user_action(request: web.Request, action: str) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    form = await request.post()
    login = request.match_info.get("login", "")
    try:
        if login == viewer.login and action in ("disable", "role"):
            # An admin cannot lock themselves out, nor be the last to drop the admin role.
            raise accounts.AccountError("err.self")
        if action == "add":
            login = str(form.get("login", "")).strip()
            await accounts.add_user(
                c.users,
                login,
                str(form.get("role", "")),
                str(form.get("department", "")),
                str(form.get("password", "")),
                viewer.actor,
            )
        elif action == "disable":
            await accounts.set_disabled(c.users, login, True, viewer.actor)
        elif action == "enable":
            await accounts.set_disabled(c.users, login, False, viewer.actor)
        elif action == "unlock":
            await accounts.unlock(c.users, login, viewer.actor)
        elif action == "password":
            await accounts.set_password(c.users, login, str(form.get("password", "")), viewer.actor)
        else:  # role
            await accounts.change_role(
                c.users,
                login,
                str(form.get("role", "")),
                str(form.get("department", "")),
                viewer.actor,
            )
    except accounts.AccountError as exc:
        await c.sessions.flash(viewer.digest, "error", exc.code, exc.params)
        return _see("/staff/admin/users")
    await c.sessions.flash(viewer.digest, "ok", f"ok.user_{action}", {"login": login})
    return _see("/staff/admin/users")


async def add_user(request: web.Request) -> web.Response:
    return await _user_action(request, "add")


async def disable_user(request: web.Request) -> web.Response:
    return await _user_action(request, "disable")


async def enable_user(request: web.Request) -> web.Response:
    return await _user_action(request, "enable")


async def unlock_user(request: web.Request) -> web.Response:
    return await _user_action(request, "unlock")


async def set_password(request: web.Request) -> web.Response:
    return await _user_action(request, "password")


async def change_role(request: web.Request) -> web.Response:
    return await _user_action(request, "role")


async def requesters_page(request: web.Request) -> web.Response:
    c = console(request)
    return page(
        request, "requesters.html", "title.requesters", requesters=await c.gw.requesters.all()
    )


async def add_requester(request: web.Request) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    form = await request.post()
    org = str(form.get("org_code", "")).strip()
    try:
        await c.gw.requesters.add(org, str(form.get("name", "")).strip()[:100], viewer.actor)
    except ValueError:
        await c.sessions.flash(viewer.digest, "error", "err.requester", {})
        return _see("/staff/admin/requesters")
    await c.sessions.flash(viewer.digest, "ok", "ok.requester_added", {"org": org})
    return _see("/staff/admin/requesters")


async def remove_requester(request: web.Request) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    org = request.match_info["org_code"]
    if not org.isdigit() or await c.gw.requesters.get(org) is None:
        return error_page(request, "err.not_found", 404)
    await c.gw.requesters.remove(org, viewer.actor)
    await c.sessions.flash(viewer.digest, "ok", "ok.requester_removed", {"org": org})
    return _see("/staff/admin/requesters")
