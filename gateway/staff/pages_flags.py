"""The registrars' pages: register flags, request and confirm a release, the renewal list.

The flag rules, and the security events for breaking them, are gateway.flags'; this module adds
only the console's own rule, that a registrar acts for their own department (its registered
businesses, its release requests, its renewals), and answers each refusal with its message in the
catalog. A person's atena number and name travel only in POST bodies and page bodies, never in a
URL or a flash message; a refused action is shown on the page it answers, with what was typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

from gateway import annex, flags
from gateway.context import Gateway
from gateway.staff.access import session_of
from gateway.staff.console import console
from gateway.staff.i18n import MESSAGES
from gateway.staff.render import page
from gateway.store.sessions import Session

REQUEST_ID = re.compile(r"^[0-9a-f]{1,32}$")
FIELDS = ("atena_number", "name", "business", "basis", "until", "note")
CHECKS = ("auto_response_disabled", "non_disclosure")

# Refusals that are not about what was typed: who may act (403), or a request or flag that has
# moved on meanwhile (404/409). Every other refusal of the rules is 400.
_STATUS = {
    "same_person": 403,
    "not_holder": 403,
    "department": 403,
    "unknown": 404,
    "decided": 409,
    "superseded": 409,
    "pending": 409,
    "no_flag": 409,
    "not_on": 409,
}

Refusal = tuple[int, str, dict[str, str]]  # status, catalog key, its parameters


def refusal(exc: ValueError, viewer: Session) -> Refusal:
    """A refusal of gateway.flags (or of annex 1, which it applies) as the console shows it."""
    if isinstance(exc, annex.AnnexError):
        reason, key, params = (
            exc.reason,
            f"err.annex.{exc.reason}",
            {"department": viewer.department},
        )
    elif isinstance(exc, flags.FlagRuleError):
        reason, key, params = exc.reason, f"err.flag.{exc.reason}", dict(exc.params)
    else:
        reason, key, params = "", "", {}
    if key not in MESSAGES:
        # a rule the catalog has no text for yet: say it as the rules do, rather than nothing
        return 400, "err.flag_rule", {"detail": str(exc)}
    return _STATUS.get(reason, 400), key, params


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
    registrations = annex.holding().businesses(viewer.department)
    return page(
        request,
        "flags.html",
        "title.flags",
        status=status,
        error=error,
        department=registrations[0].department if registrations else viewer.department,
        businesses=[r.business for r in registrations],
        pending=await flags.pending_releases(c.gw, department=viewer.department),
        values=values or {},
    )


async def flags_page(request: web.Request) -> web.Response:
    return await _flags_page(request)


async def _refused(request: web.Request, r: Refusal, form: Form, action: str) -> web.Response:
    status, key, params = r
    return await _flags_page(
        request, status=status, error=(key, params), values=form.values(action)
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
        await flags.set_flags(
            gw,
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
    except ValueError as exc:
        return await _refused(request, refusal(exc, viewer), form, "register")
    return await _done(request, "ok.flags_registered")


async def request_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    try:
        await flags.request_release(
            gw,
            atena_number=form.text("atena_number"),
            basis=form.text("basis"),
            note=form.text("note"),
            auto_response_disabled=form.checked("auto_response_disabled"),
            non_disclosure=form.checked("non_disclosure"),
            requested_by=viewer.actor,
            department=viewer.department,
        )
    except ValueError as exc:
        return await _refused(request, refusal(exc, viewer), form, "request")
    return await _done(request, "ok.release_requested")


async def _not_ours(gw: Gateway, viewer: Session, request_id: str) -> Refusal | None:
    """The console's rule: a registrar confirms or cancels only their own department's requests;
    another department's is refused without saying more, and is a security event."""
    req = None
    if REQUEST_ID.match(request_id):
        req = await flags.release_request(gw, request_id=request_id)
    if req is None:
        return _STATUS["unknown"], "err.flag.unknown", {}
    if annex.fold(req.department) != annex.fold(viewer.department):
        await gw.events.security(
            "department_mismatch", viewer.actor, request=request_id, department=viewer.department
        )
        return 403, "err.no_release_request", {}
    return None


async def confirm_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    request_id = form.text("request_id")
    refused = await _not_ours(gw, viewer, request_id)
    if refused is None:
        try:
            await flags.confirm_release(gw, request_id=request_id, confirmed_by=viewer.actor)
        except ValueError as exc:
            refused = refusal(exc, viewer)
    if refused is not None:
        return await _refused(request, refused, form, "confirm")
    return await _done(request, "ok.release_confirmed")


async def cancel_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    form = Form(await request.post())
    request_id = form.text("request_id")
    refused = await _not_ours(gw, viewer, request_id)
    if refused is None:
        try:
            await flags.cancel_release(gw, request_id=request_id, cancelled_by=viewer.actor)
        except ValueError as exc:
            refused = refusal(exc, viewer)
    if refused is not None:
        return await _refused(request, refused, form, "cancel")
    return await _done(request, "ok.release_cancelled")


async def due_page(request: web.Request) -> web.Response:
    """The renewal list of the registrar's department (every person it has flagged), recorded
    like every showing of the list."""
    viewer = session_of(request)
    raw = request.query.get("days", "")
    days = (
        int(raw)
        if raw.isdigit() and int(raw) <= flags.MAX_WINDOW_DAYS
        else flags.RENEWAL_WINDOW_DAYS
    )
    items = await flags.read_due(
        console(request).gw, actor=viewer.actor, within_days=days, department=viewer.department
    )
    return page(
        request, "due.html", "title.due", items=items, days=days, max_days=flags.MAX_WINDOW_DAYS
    )
