"""The registrars' attempts in the console's JSON API (gateway.services.attempts serves both):

    GET  /api/v1/attempts?open=1&limit=N&after=C     a page, newest first: total, start, count,
                                                      items, next (a URL or null), open
    GET  /api/v1/attempts/{id}                       one attempt of the department (never a name)
    POST /api/v1/attempts/{id}/acknowledge            {"outcome": "told"|"expected", "note"}

Same sessions, roles and CSRF header as the rest of the API; another department's attempt is
answered 404 like one that does not exist.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.model import MAX_PAGE
from gateway.services.attempts import MAX_NOTE, PAGE_SIZE, AttemptRefused
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.api import bad_input, json_body, json_error, page_json, text_field


def _refused(exc: AttemptRefused) -> web.Response:
    return json_error(exc.code, exc.status, **exc.params)


async def attempts_list(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    raw = request.query.get("limit", str(PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        return json_error("bad_page", 400)
    open_only = request.query.get("open") == "1"
    try:
        found = await c.attempts.page(
            viewer, open_only=open_only, after=request.query.get("after", ""), limit=int(raw)
        )
    except AttemptRefused as exc:
        return _refused(exc)
    nxt = None
    if found.next:
        query = {"limit": raw, "after": found.next, **({"open": "1"} if open_only else {})}
        nxt = f"/api/v1/attempts?{urlencode(query)}"
    return page_json(found, nxt, open=found.open)


async def attempt_get(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    try:
        view = await c.attempts.one(viewer, request.match_info["id"], show_name=False)
    except AttemptRefused as exc:
        return _refused(exc)
    return web.json_response(view.as_json())


async def attempt_acknowledge(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    data = await json_body(request)
    outcome, note = data.get("outcome"), data.get("note", "")
    if not isinstance(outcome, str) or not isinstance(note, str):
        raise await bad_input(
            request, "bad_field", field="outcome" if not isinstance(outcome, str) else "note"
        )
    try:
        view = await c.attempts.acknowledge(
            viewer, request.match_info["id"], outcome, text_field(data, "note", MAX_NOTE + 1)
        )
    except AttemptRefused as exc:
        return _refused(exc)
    return web.json_response(view.as_json())
