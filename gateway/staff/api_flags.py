"""The registrars' part of the console's JSON API: the flag pages' actions, as JSON.

    POST /api/v1/flag-records                       register flags    {atena_number, name, ...}
    POST /api/v1/flag-records/lookup                the department's own hold on one person
    GET  /api/v1/release-requests                   the department's pending release requests
    POST /api/v1/release-requests                   ask for a release {atena_number, basis, note}
    POST /api/v1/release-requests/{id}/confirm      a second registrar confirms
    POST /api/v1/release-requests/{id}/cancel
    GET  /api/v1/renewals?within=N                  the department's renewal list

Same sessions, roles and CSRF header as the rest of the API, and the very functions the pages
call (gateway.services.registrars): the same department rule, refusals and events. Atena numbers and
names travel only in JSON bodies, never in a URL; request ids are opaque. `/api/v1/flags...` is
not here: it is the departments' token API (gateway.flag_api).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from gateway import flags
from gateway.orders import FlagOrder, ReleaseOrder
from gateway.services import registrars
from gateway.services.console import console
from gateway.services.registrars import Refused
from gateway.staff.access import session_of
from gateway.staff.api import bad_input, json_body, json_error, text_field


def _refused(r: Refused) -> web.Response:
    return json_error(r.code, r.status, **r.params)


async def _choice(request: web.Request, data: dict[str, Any], name: str) -> bool:
    """Which flags: a JSON boolean, both unless told otherwise (as on the command line)."""
    value = data.get(name, True)
    if not isinstance(value, bool):
        raise await bad_input(request, "bad_field", field=name)
    return value


async def register(request: web.Request) -> web.Response:
    """Set flags in the registrar's own department's hold; that hold after the change, alone."""
    gw, viewer = console(request).gw, session_of(request)
    data = await json_body(request)
    atena_number = text_field(data, "atena_number").strip()
    order = FlagOrder(
        atena_number=atena_number,
        name=text_field(data, "name").strip(),
        department=viewer.department,
        business=text_field(data, "business").strip() or None,
        basis=text_field(data, "basis").strip(),
        until=text_field(data, "until").strip() or None,
        auto_response_disabled=await _choice(request, data, "auto_response_disabled"),
        non_disclosure=await _choice(request, data, "non_disclosure"),
        actor=viewer.actor,
    )
    return await _own_hold(atena_number, registrars.register(gw, viewer, order))


async def lookup(request: web.Request) -> web.Response:
    """The department's own hold on one person with its history, if it flagged them."""
    gw, viewer = console(request).gw, session_of(request)
    data = await json_body(request)
    atena_number = text_field(data, "atena_number").strip()
    return await _own_hold(atena_number, registrars.show_record(gw, viewer, atena_number))


async def _own_hold(atena_number: str, step: Awaitable[Any]) -> web.Response:
    """The department's own hold on the person as `step` leaves it, or the step's refusal."""
    try:
        hold = await step
    except Refused as r:
        return _refused(r)
    return web.json_response(hold.department_view(atena_number))


async def pending(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    out = []
    for req in await registrars.pending(gw, viewer):
        item = req.as_json()
        # what the page offers: nobody confirms their own request, nor one the flag has outgrown
        item["may_confirm"] = not req.stale and req.requested_by != viewer.actor
        out.append(item)
    return web.json_response(out)


async def request_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    data = await json_body(request)
    try:
        order = ReleaseOrder(
            atena_number=text_field(data, "atena_number").strip(),
            basis=text_field(data, "basis").strip(),
            note=text_field(data, "note", flags.MAX_NOTE + 1).strip(),
            auto_response_disabled=await _choice(request, data, "auto_response_disabled"),
            non_disclosure=await _choice(request, data, "non_disclosure"),
            actor=viewer.actor,
            department=viewer.department,
        )
        req = await registrars.request_release(gw, viewer, order)
    except Refused as r:
        return _refused(r)
    return web.json_response(req.as_json(), status=201)


async def confirm_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    request_id = request.match_info["id"]
    try:
        hold = await registrars.confirm_release(gw, viewer, request_id)
    except Refused as r:
        return _refused(r)
    req = await registrars.release_request(gw, request_id)
    return web.json_response(
        {
            "outcome": "released",
            "request": req.as_json() if req else None,
            "record": hold.department_view(req.atena_number if req else None),
        }
    )


async def cancel_release(request: web.Request) -> web.Response:
    gw, viewer = console(request).gw, session_of(request)
    try:
        req = await registrars.cancel_release(gw, viewer, request.match_info["id"])
    except Refused as r:
        return _refused(r)
    return web.json_response({"outcome": "cancelled", "request": req.as_json()})


async def renewals(request: web.Request) -> web.Response:
    """The department's renewal list; `within` days (default 30), overdue ones included."""
    gw, viewer = console(request).gw, session_of(request)
    try:
        within = registrars.renewal_window(request.query.get("within"))
    except Refused as r:
        return _refused(r)
    items = await registrars.renewals(gw, viewer, within)
    return web.json_response(
        {
            "department": viewer.department,
            "within_days": within,
            "today": gw.clock.today().isoformat(),
            "items": [i.as_json() for i in items],
        }
    )
