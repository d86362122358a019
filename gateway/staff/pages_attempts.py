"""The registrars' attempts pages (試行): their department's attempts, newest first, one attempt's
screen with the person's name (recorded), and its acknowledgement. What a registrar may see and
do is gateway.services.attempts' (shared with the JSON API); this module reads the forms and shows
the answers. Attempt ids are opaque; no personal data in a URL, a title or a flash message.
"""

from __future__ import annotations

from aiohttp import web

from gateway.model import ACK_OUTCOMES
from gateway.services.attempts import PAGE_SIZE, AttemptRefused
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.i18n import Translator, lang_of
from gateway.staff.render import page, refused_page


def labeller(request: web.Request):  # type: ignore[no-untyped-def]
    """`label(family, value)`: the catalog's words for a value, or the value as it is."""
    t = Translator(lang_of(request))

    def label(family: str, value: str) -> str:
        key = f"{family}.{value}"
        return t(key) if t.has(key) else value

    return label


async def attempts_page(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    open_only = request.query.get("open") == "1"
    try:
        found = await c.attempts.page(
            viewer, open_only=open_only, after=request.query.get("after", ""), limit=PAGE_SIZE
        )
    except AttemptRefused as exc:
        return refused_page(request, exc)
    return page(
        request,
        "attempts.html",
        "title.attempts",
        found=found,
        open_only=open_only,
        label=labeller(request),
    )


async def attempt_page(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    try:
        view = await c.attempts.one(viewer, request.match_info["id"], show_name=True)
    except AttemptRefused as exc:
        return refused_page(request, exc)
    return page(
        request,
        "attempt.html",
        "title.attempt",
        a=view,
        outcomes=ACK_OUTCOMES,
        label=labeller(request),
    )


async def acknowledge(request: web.Request) -> web.Response:
    c, viewer = console(request), session_of(request)
    attempt_id = request.match_info["id"]
    form = await request.post()
    outcome, note = form.get("outcome", ""), form.get("note", "")
    try:
        await c.attempts.acknowledge(
            viewer,
            attempt_id,
            outcome if isinstance(outcome, str) else "",
            note if isinstance(note, str) else "",
        )
    except AttemptRefused as exc:
        return refused_page(request, exc)
    await c.sessions.flash(viewer.digest, "ok", "ok.attempt_acknowledged", {})
    return web.Response(status=303, headers={"Location": f"/staff/attempts/{attempt_id}"})
