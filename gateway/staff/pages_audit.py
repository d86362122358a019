"""The auditors' page: blocked attempts and security events, filtered, reviewed, exported."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from gateway.services.auditing import JST, EventFilter, FilterError, is_blocked_or_security
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.i18n import MESSAGES, Translator, lang_of
from gateway.staff.render import error_page, page


def kind_labeller(request: web.Request):
    t = Translator(lang_of(request))

    def label(kind: str) -> str:
        key = f"kind.{kind}"
        return t(key) if t.has(key) else kind

    return label


def known_kinds() -> set[str]:
    """Every event kind the console has a label for: the filter's choices."""
    return {k.removeprefix("kind.") for k in MESSAGES if k.startswith("kind.")}


async def audit_page(request: web.Request) -> web.Response:
    c = console(request)
    try:
        flt = EventFilter.parse(request.query, c.gw.clock.today())
        found = await c.auditing.find(flt, before=request.query.get("before", ""))
    except FilterError as exc:
        return error_page(request, exc.code, 400)
    kinds = sorted(
        k
        for k in known_kinds() | {row.event.kind for row in found.rows} | {flt.kind} - {""}
        if flt.scope == "all" or is_blocked_or_security(k)
    )
    return page(
        request,
        "audit.html",
        "title.audit",
        flt=flt,
        rows=found.rows,
        found=found,
        kinds=kinds,
        kind_label=kind_labeller(request),
        requesters=await c.gw.requesters.all(),
        query=urlencode(flt.as_query()),
    )


async def review(request: web.Request) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    form = await request.post()
    today = c.gw.clock.today()
    try:
        back = EventFilter.parse(dict(parse_qsl(str(form.get("back", "")))), today)
    except FilterError:
        back = EventFilter.parse({}, today)
    target = "/staff/audit?" + urlencode(back.as_query())
    try:
        await c.auditing.review(
            request.match_info["event_id"], viewer, str(form.get("comment", ""))
        )
    except FilterError as exc:
        await c.sessions.flash(viewer.digest, "error", exc.code, {})
        return web.Response(status=303, headers={"Location": target})
    await c.sessions.flash(
        viewer.digest, "ok", "ok.reviewed", {"id": request.match_info["event_id"]}
    )
    return web.Response(status=303, headers={"Location": target})


async def export_csv(request: web.Request) -> web.Response:
    c = console(request)
    try:
        flt = EventFilter.parse(request.query, c.gw.clock.today())
    except FilterError as exc:
        return error_page(request, exc.code, 400)
    stamp = c.gw.clock.now().astimezone(JST).strftime("%Y%m%d-%H%M%S")
    # Streamed: every matching event, however many, without holding them all in memory.
    resp = web.StreamResponse(
        headers={"Content-Disposition": f'attachment; filename="hogo-events-{stamp}.csv"'}
    )
    resp.content_type = "text/csv"
    resp.charset = "utf-8"
    await resp.prepare(request)
    async for piece in c.auditing.export_csv(flt, session_of(request)):
        await resp.write(piece.encode("utf-8"))
    await resp.write_eof()
    return resp
