"""The approvers' API for subjects and persons held for review (the page's twin, same rules):
`GET /api/v1/reviews` (the open ones, oldest first), `POST /api/v1/reviews/{id}/confirm`
`{"note"}`."""

from __future__ import annotations

from aiohttp import web

from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.api import bad_input, json_body, json_error
from gateway.staff.pages_reviews import confirm_review


async def reviews_list(request: web.Request) -> web.Response:
    reviews = await console(request).quarantines.open_reviews()
    return web.json_response({"reviews": [r.as_json() for r in reviews]})


async def review_confirm(request: web.Request) -> web.Response:
    c = console(request)
    data = await json_body(request)
    note = data.get("note", "")
    if not isinstance(note, str):
        raise await bad_input(request, "bad_field", field="note")
    done = await confirm_review(
        c.quarantines, request.match_info["id"], session_of(request).actor, note
    )
    if isinstance(done, tuple):
        key, status = done
        return json_error(key.removeprefix("err."), status)
    return web.json_response(done.as_json())
