"""The registrars' pages: register flags, request and confirm a release, the renewal list.

What a registrar may do, and every refusal, is gateway.services.registrars' (shared with the JSON
API); this module reads the forms and shows the answers. A person's atena number and name travel
only in POST bodies and page bodies, never in a URL or a flash message; a refused action is shown
on the page it answers, with what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from gateway import flags
from gateway.context import Gateway
from gateway.model import Session
from gateway.orders import FlagOrder, ReleaseOrder
from gateway.services import registrars
from gateway.services.console import console
from gateway.services.registrars import Refused
from gateway.staff.access import session_of
from gateway.staff.render import page

FIELDS = ("atena_number", "name", "business", "basis", "until", "note")
CHECKS = ("auto_response_disabled", "non_disclosure")


class Form:
    """The posted fields, as typed (only surrounding spaces removed: nothing cut short)."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self.data = data

    def text(self, name: str) -> str:
        value = self.data.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def checked(self, name: str) -> bool:
        return self.data.get(name) == "1"

    def values(self, action: str) -> dict[str, str]:
        """What to fill the refused form with again."""
        out = {name: self.text(name) for name in FIELDS}
        out.update({name: "1" if self.checked(name) else "" for name in CHECKS})
        out["action"] = action
        return out


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def _flags_page(
    request: web.Request,
    *,
    status: int = 200,
    error: tuple[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    registrations = registrars.businesses(viewer)
    return page(
        request,
        "flags.html",
        "title.flags",
        status=status,
        error=error,
        department=registrations[0].department if registrations else viewer.department,
        businesses=[r.business for r in registrations],
        pending=await registrars.pending(c.gw, viewer),
        values=values or {},
    )


async def flags_page(request: web.Request) -> web.Response:
    return await _flags_page(request)


async def _refused(request: web.Request, r: Refused, form: Form, action: str) -> web.Response:
    return await _flags_page(
        request, status=r.status, error=(r.key, r.params), values=form.values(action)
    )


async def _done(request: web.Request, key: str) -> web.Response:
    viewer = session_of(request)
    await console(request).sessions.flash(viewer.digest, "ok", key, {})
    return _see("/staff/flags")


async def register(request: web.Request) -> web.Response:
    """Set flags for the registrar's own department, whatever the form says of departments."""
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    try:
        order = FlagOrder(
            atena_number=form.text("atena_number"),
            name=form.text("name"),
            department=viewer.department,
            business=form.text("business") or None,
            basis=form.text("basis"),
            until=form.text("until") or None,
            auto_response_disabled=form.checked("auto_response_disabled"),
            non_disclosure=form.checked("non_disclosure"),
            actor=viewer.actor,
        )
        await registrars.register(gw, viewer, order)
    except Refused as r:
        return await _refused(request, r, form, "register")
    return await _done(request, "ok.flags_registered")


async def request_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    try:
        order = ReleaseOrder(
            atena_number=form.text("atena_number"),
            basis=form.text("basis"),
            note=form.text("note"),
            auto_response_disabled=form.checked("auto_response_disabled"),
            non_disclosure=form.checked("non_disclosure"),
            actor=viewer.actor,
            department=viewer.department,
        )
        await registrars.request_release(gw, viewer, order)
    except Refused as r:
        return await _refused(request, r, form, "request")
    return await _done(request, "ok.release_requested")


async def confirm_release(request: web.Request) -> web.Response:
    return await _decide(request, registrars.confirm_release, "confirm", "ok.release_confirmed")


async def cancel_release(request: web.Request) -> web.Response:
    return await _decide(request, registrars.cancel_release, "cancel", "ok.release_cancelled")


async def _decide(
    request: web.Request,
    decision: Callable[[Gateway, Session, str], Awaitable[object]],
    action: str,
    done: str,
) -> web.Response:
    """A decision on the release request the form names (confirm or cancel), as the viewer."""
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    try:
        await decision(gw, viewer, form.text("request_id"))
    except Refused as r:
        return await _refused(request, r, form, action)
    return await _done(request, done)


async def due_page(request: web.Request) -> web.Response:
    """The renewal list of the registrar's department (every person it has flagged), recorded
    like every showing of the list. A window that is not one shows the default one."""
    viewer = session_of(request)
    try:
        days = registrars.renewal_window(request.query.get("days"))
    except Refused:
        days = flags.RENEWAL_WINDOW_DAYS
    items = await registrars.renewals(console(request).gw, viewer, days)
    return page(
        request, "due.html", "title.due", items=items, days=days, max_days=flags.MAX_WINDOW_DAYS
    )
