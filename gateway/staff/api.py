"""The console's JSON API under /api/v1/ (the registrars' part is in api_flags.py; /api/v1/flags
belongs to the departments' token API). Same sessions, roles and services as the pages; every
state-changing call carries the session's CSRF token in the X-CSRF-Token header.

The held-query API never returns a person's name: that is shown only on the item's page.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.model import MAX_PAGE
from gateway.services import accounts
from gateway.services.approvals import PAGE_SIZE, ApprovalError
from gateway.services.auditing import EventFilter, FilterError
from gateway.services.console import console
from gateway.staff.access import (
    PRE_COOKIE,
    clear_session_cookie,
    current_session,
    peer,
    pre_token,
    route_of,
    session_of,
    set_session_cookie,
)


def json_error(code: str, status: int, **params: str) -> web.Response:
    return web.json_response({"error": code, **params}, status=status)


def page_json(found: Any, next_url: str | None, **extra: object) -> web.Response:
    """One page of a list, as every list of the API answers: `total`, `start` (how many come
    before), `count`, `items`, `next` (the following page's URL, null on the last), `extra`."""
    return web.json_response(
        {
            "total": found.total,
            "start": found.start,
            "count": len(found.items),
            "items": [it.as_json() for it in found.items],
            "next": next_url,
            **extra,
        }
    )


async def bad_input(request: web.Request, reason: str, **fields: str) -> web.HTTPException:
    """A body the console's own pages never send (not JSON, not an object, a field of the wrong
    type): recorded as a security event, as hostile SOAP input is, and answered 400 (415 for a
    body that is not JSON at all). Rule refusals of well-formed input (a bad date, an unknown
    department) are answered by their handlers and are not security events."""
    session = await current_session(request)
    await console(request).gw.events.security(
        "api_bad_input",
        session.actor if session else f"peer:{peer(request)}",
        operation="staff",
        method=request.method,
        route=route_of(request),
        reason=reason,
        **fields,
    )
    cls = web.HTTPUnsupportedMediaType if reason == "json_required" else web.HTTPBadRequest
    return cls(text=json.dumps({"error": reason, **fields}), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise await bad_input(request, "json_required")
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise await bad_input(request, "bad_json") from None
    if not isinstance(data, dict):
        raise await bad_input(request, "bad_json")
    return data


def text_field(data: dict[str, Any], name: str, limit: int = 2000) -> str:
    value = data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


# -- session ----------------------------------------------------------------------------------
async def session_get(request: web.Request) -> web.Response:
    """Who is logged in, with the CSRF token for state-changing calls; or, before login, the
    token the login call must carry."""
    session = await current_session(request)
    if session is not None:
        return web.json_response(
            {
                "authenticated": True,
                "login": session.login,
                "role": session.role,
                "department": session.department,
                "csrf": session.csrf,
            }
        )
    resp = web.json_response({"authenticated": False})
    token = pre_token(request, resp)
    resp.text = json.dumps({"authenticated": False, "csrf": token})
    return resp


async def session_create(request: web.Request) -> web.Response:
    c = console(request)
    data = await json_body(request)
    result = await accounts.log_in(
        c.users,
        c.sessions,
        c.gw.settings,
        text_field(data, "login", 64).strip(),
        text_field(data, "password", 512),
        peer(request),
    )
    if not result.ok or result.user is None:
        return json_error("login_failed", 401)
    resp = web.json_response(
        {
            "authenticated": True,
            "login": result.user.login,
            "role": result.user.role,
            "department": result.user.department,
            "csrf": result.csrf,
        }
    )
    set_session_cookie(request, resp, result.session_id)
    return resp


async def session_delete(request: web.Request) -> web.Response:
    await console(request).sessions.close(session_of(request).digest)
    resp = web.json_response({"authenticated": False})
    clear_session_cookie(resp)
    resp.del_cookie(PRE_COOKIE, path="/")
    return resp


# -- held queries (approvers) -----------------------------------------------------------------
async def held_list(request: web.Request) -> web.Response:
    """The queue a page at a time: `total`, `start` (how many come before), `items`, and `next`,
    the URL of the following page (null on the last). ?limit=1..1000 (default 100)."""
    raw_limit = request.query.get("limit", str(PAGE_SIZE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        return json_error("bad_page", 400)
    limit = int(raw_limit)
    try:
        found = await console(request).approvals.queue(request.query.get("after", ""), limit)
    except ApprovalError as exc:
        return json_error(exc.code, exc.status)
    nxt = f"/api/v1/held?{urlencode({'after': found.next, 'limit': limit})}" if found.next else None
    return page_json(found, nxt)


async def held_get(request: web.Request) -> web.Response:
    c = console(request)
    try:
        # The JSON view of an item carries no name: judged with the name on the item's page only.
        item = await c.approvals.item(
            request.match_info["id"], session_of(request), show_name=False
        )
    except ApprovalError as exc:
        return json_error(exc.code, exc.status, **exc.params)
    out = item.as_json()
    out["person_known"] = item.person_known
    out["seen"] = item.subject.seen  # what a release or confirmation of this view carries
    out["flags_now"] = (
        {
            "auto_response_disabled": item.flags_now.auto_response_disabled,
            "non_disclosure": item.flags_now.non_disclosure,
        }
        if item.flags_now
        else None
    )
    return web.json_response(out)


async def _held_action(request: web.Request, action: str) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    qid = request.match_info["id"]
    data = await json_body(request) if request.can_read_body else {}
    try:
        if action == "claim":
            await c.approvals.claim(qid, viewer)
            outcome = "claimed"
        elif action == "unclaim":
            await c.approvals.unclaim(qid, viewer)
            outcome = "unclaimed"
        elif action == "release":
            outcome = await c.approvals.release(
                qid, viewer, text_field(data, "notice"), text_field(data, "seen", 64)
            )
        elif action == "confirm":
            await c.approvals.confirm(qid, viewer, text_field(data, "seen", 64))
            outcome = "released"
        elif action == "withdraw":
            await c.approvals.withdraw(qid, viewer)
            outcome = "withdrawn"
        else:
            await c.approvals.refuse(qid, viewer, text_field(data, "reason"))
            outcome = "refused"
    except ApprovalError as exc:
        return json_error(exc.code, exc.status, **exc.params)
    held = await c.gw.queries.get(qid)
    return web.json_response(
        {"outcome": outcome, "id": qid, "state": held.state.value if held else None}
    )


async def held_claim(request: web.Request) -> web.Response:
    return await _held_action(request, "claim")


async def held_unclaim(request: web.Request) -> web.Response:
    return await _held_action(request, "unclaim")


async def held_release(request: web.Request) -> web.Response:
    return await _held_action(request, "release")


async def held_confirm(request: web.Request) -> web.Response:
    return await _held_action(request, "confirm")


async def held_withdraw(request: web.Request) -> web.Response:
    return await _held_action(request, "withdraw")


async def held_refuse(request: web.Request) -> web.Response:
    return await _held_action(request, "refuse")


# -- events (auditors) ------------------------------------------------------------------------
async def events_list(request: web.Request) -> web.Response:
    """A page of events, newest first: `total` match the filter, `start` newer ones come before
    this page; `next` is the URL of the following (older) page, null on the last."""
    try:
        flt = EventFilter.parse(request.query, console(request).gw.clock.today())
        found = await console(request).auditing.find(flt, before=request.query.get("before", ""))
    except FilterError as exc:
        return json_error(exc.code.removeprefix("err."), 400)
    nxt = (
        f"/api/v1/events?{urlencode({**flt.as_query(), 'before': found.next})}"
        if found.next
        else None
    )
    return web.json_response(
        {
            "filter": flt.as_query(),
            "total": found.total,
            "start": found.start,
            "count": len(found.rows),
            "truncated": found.truncated,
            "next": nxt,
            "events": [r.as_json() for r in found.rows],
        }
    )


async def event_review(request: web.Request) -> web.Response:
    c = console(request)
    data = await json_body(request)
    try:
        n = await c.auditing.review(
            request.match_info["event_id"], session_of(request), text_field(data, "comment")
        )
    except FilterError as exc:
        status = 404 if exc.code == "err.no_event" else 400
        return json_error(exc.code.removeprefix("err."), status)
    return web.json_response({"event": request.match_info["event_id"], "reviews": n})


# -- users and requesters (admins) ------------------------------------------------------------
async def users_list(request: web.Request) -> web.Response:
    ms = console(request).gw.clock.now_ms()
    return web.json_response([u.as_json(ms) for u in await console(request).users.all()])


async def user_create(request: web.Request) -> web.Response:
    c = console(request)
    data = await json_body(request)
    try:
        await accounts.add_user(
            c.users,
            text_field(data, "login", 64),
            text_field(data, "role", 20),
            text_field(data, "department", 100),
            text_field(data, "password", 512),
            session_of(request).actor,
        )
    except accounts.AccountError as exc:
        status = 409 if exc.code == "err.login_taken" else 400
        return json_error(exc.code.removeprefix("err."), status, **exc.params)
    user = await c.users.get(text_field(data, "login", 64))
    ms = console(request).gw.clock.now_ms()
    return web.json_response(user.as_json(ms) if user else {}, status=201)


async def user_update(request: web.Request) -> web.Response:
    """Change a user: any of role+department, disabled, unlock, password."""
    c = console(request)
    viewer = session_of(request)
    login = request.match_info["login"]
    data = await json_body(request)
    try:
        if login == viewer.login and ("role" in data or data.get("disabled") is True):
            raise accounts.AccountError("err.self")
        if await c.users.get(login) is None:
            raise accounts.AccountError("err.no_user")
        if "role" in data or "department" in data:
            await accounts.change_role(
                c.users,
                login,
                text_field(data, "role", 20),
                text_field(data, "department", 100),
                viewer.actor,
            )
        if isinstance(data.get("disabled"), bool):
            await accounts.set_disabled(c.users, login, data["disabled"], viewer.actor)
        if data.get("unlock") is True:
            await accounts.unlock(c.users, login, viewer.actor)
        if "password" in data:
            await accounts.set_password(
                c.users, login, text_field(data, "password", 512), viewer.actor
            )
    except accounts.AccountError as exc:
        status = 404 if exc.code == "err.no_user" else 400
        return json_error(exc.code.removeprefix("err."), status, **exc.params)
    user = await c.users.get(login)
    ms = console(request).gw.clock.now_ms()
    return web.json_response(user.as_json(ms) if user else {})


async def requesters_list(request: web.Request) -> web.Response:
    return web.json_response([r.as_json() for r in await console(request).gw.requesters.all()])


async def requester_create(request: web.Request) -> web.Response:
    c = console(request)
    data = await json_body(request)
    try:
        req = await c.gw.requesters.add(
            text_field(data, "org_code", 20),
            text_field(data, "name", 100).strip(),
            session_of(request).actor,
        )
    except ValueError:
        return json_error("requester", 400)
    return web.json_response(req.as_json(), status=201)


async def requester_delete(request: web.Request) -> web.Response:
    c = console(request)
    org = request.match_info["org_code"]
    # looked up first: the store records a removal event even for a code it does not hold
    if not org.isdigit() or await c.gw.requesters.get(org) is None:
        return json_error("not_found", 404)
    await c.gw.requesters.remove(org, session_of(request).actor)
    return web.json_response({"removed": org})
