"""The console's entry: home (each role to its own page), login, logout, the language switch and
the style sheet."""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from gateway.services import accounts
from gateway.services.console import console
from gateway.staff.access import (
    PRE_COOKIE,
    clear_session_cookie,
    current_session,
    peer,
    pre_token,
    session_of,
    set_session_cookie,
)
from gateway.staff.i18n import LANG_COOKIE, LANGS
from gateway.staff.render import HOME, page

STATIC = {"console.css": "text/css"}


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def home(request: web.Request) -> web.Response:
    return see_other(HOME.get(session_of(request).role, "/staff/login"))


async def login_form(request: web.Request) -> web.Response:
    if await current_session(request) is not None:
        return see_other("/staff/")
    resp = web.Response(content_type="text/html", charset="utf-8")
    token = pre_token(request, resp)
    resp.text = page(request, "login.html", "title.login", pre_csrf=token).text
    return resp


async def login_submit(request: web.Request) -> web.Response:
    c = console(request)
    form = await request.post()
    login = str(form.get("login", ""))[:64].strip()
    password = str(form.get("password", ""))[:512]
    result = await accounts.log_in(
        c.users, c.sessions, c.gw.settings, login, password, peer(request)
    )
    if not result.ok:
        return page(
            request,
            "login.html",
            "title.login",
            status=401,
            error=("err.login_failed", {}),
            pre_csrf=request.cookies.get(PRE_COOKIE, ""),
        )
    resp = see_other("/staff/")
    set_session_cookie(request, resp, result.session_id)
    return resp


async def logout(request: web.Request) -> web.Response:
    c = console(request)
    await c.sessions.close(session_of(request).digest)
    resp = see_other("/staff/login")
    clear_session_cookie(resp)
    return resp


async def switch_language(request: web.Request) -> web.Response:
    lang = request.match_info["lang"]
    target = request.query.get("next", "/staff/")
    # Only a path of this console: never an open redirect.
    if not target.startswith("/staff/") or "//" in target or "\\" in target:
        target = "/staff/"
    resp = see_other(target)
    if lang in LANGS:
        resp.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
        )
    return resp


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = files("gateway.staff").joinpath("static", name).read_bytes()
    return web.Response(
        body=body, content_type=STATIC[name], headers={"Cache-Control": "max-age=3600"}
    )
