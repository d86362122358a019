"""The registrars' pages: register flags, request and confirm a release, the renewal list; each
for the registrar's own department, through gateway.staff.flagviews.

A person's atena number and name travel only in POST bodies and page bodies, never in a URL or a
flash message; a refused action is shown on the page it answers, not kept for the next one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.staff import flagviews
from gateway.staff.access import session_of
from gateway.staff.console import console
from gateway.staff.flagviews import FeatureUnavailable, FlagActionError
from gateway.staff.render import page


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def _flags_page(
    request: web.Request, *, status: int = 200, error: tuple[str, dict[str, str]] | None = None
) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    release = flagviews.available("release")
    pending: list[dict[str, Any]] = await flagviews.pending(c.gw, viewer) if release else []
    return page(
        request,
        "flags.html",
        "title.flags",
        status=status,
        error=error,
        release_available=release,
        pending=pending,
        request_id_of=flagviews.request_id_of,
    )


async def flags_page(request: web.Request) -> web.Response:
    return await _flags_page(request)


def _checked(form: Any, name: str) -> bool:
    return form.get(name) == "1"


async def _run(request: web.Request, action: str) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    form = await request.post()

    def text(name: str, limit: int = 2000) -> str:
        value = form.get(name, "")
        return value.strip()[:limit] if isinstance(value, str) else ""

    try:
        if action == "register":
            await flagviews.register(
                c.gw,
                viewer,
                atena_number=text("atena_number", 15),
                name=text("name", 100),
                business=text("business", 100),
                basis=text("basis", 20),
                until=text("until", 10),
                auto_response_disabled=_checked(form, "auto_response_disabled"),
                non_disclosure=_checked(form, "non_disclosure"),
            )
            done = "ok.flags_registered"
        elif action == "request":
            await flagviews.request_release(
                c.gw,
                viewer,
                atena_number=text("atena_number", 15),
                basis=text("basis", 20),
                note=text("note"),
                auto_response_disabled=_checked(form, "auto_response_disabled"),
                non_disclosure=_checked(form, "non_disclosure"),
            )
            done = "ok.release_requested"
        elif action == "confirm":
            await flagviews.confirm_release(c.gw, viewer, text("request_id", 100))
            done = "ok.release_confirmed"
        else:  # cancel
            await flagviews.cancel_release(c.gw, viewer, text("request_id", 100))
            done = "ok.release_cancelled"
    except FeatureUnavailable:
        return await _flags_page(request, status=501, error=("flags.release_unavailable", {}))
    except FlagActionError as exc:
        return await _flags_page(request, status=400, error=(exc.code, exc.params))
    await c.sessions.flash(viewer.digest, "ok", done, {})
    return _see("/staff/flags")


async def register(request: web.Request) -> web.Response:
    return await _run(request, "register")


async def request_release(request: web.Request) -> web.Response:
    return await _run(request, "request")


async def confirm_release(request: web.Request) -> web.Response:
    return await _run(request, "confirm")


async def cancel_release(request: web.Request) -> web.Response:
    return await _run(request, "cancel")


async def due_page(request: web.Request) -> web.Response:
    c = console(request)
    raw = request.query.get("days", "30")
    days = int(raw) if raw.isdigit() and 1 <= int(raw) <= 366 else 30
    available = flagviews.available("due")
    items = await flagviews.due(c.gw, session_of(request), days) if available else []
    return page(
        request,
        "due.html",
        "title.due",
        status=200 if available else 501,
        available=available,
        items=items,
        days=days,
    )
