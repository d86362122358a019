"""The approvers' pages: the queue of held queries and one item's screen with its actions.

Each action answers with a redirect and a flash message (message keys and ids only: a flash is
kept in the session record, which must hold no personal data).
"""

from __future__ import annotations

from aiohttp import web

from gateway.model import HoldReason
from gateway.services.approvals import ApprovalError
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.render import error_page, page, refused_page

REASONS = frozenset(r.value for r in HoldReason)


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def queue_page(request: web.Request) -> web.Response:
    c = console(request)
    try:
        found = await c.approvals.queue(after=request.query.get("after", ""))
    except ApprovalError as exc:
        return refused_page(request, exc)
    return page(
        request,
        "queue.html",
        "title.queue",
        items=found.items,
        found=found,
        reasons=REASONS,
        four_eyes=c.approvals.four_eyes,
        age_limit=c.gw.settings.held_age_warning_seconds,
    )


async def item_page(request: web.Request) -> web.Response:
    c = console(request)
    try:
        item = await c.approvals.item(request.match_info["id"], session_of(request), show_name=True)
    except ApprovalError as exc:
        return refused_page(request, exc)
    return page(
        request,
        "item.html",
        "title.item",
        it=item,
        reasons=REASONS,
        four_eyes=c.approvals.four_eyes,
        default_notice=c.gw.settings.default_handling_notice,
    )


async def _act(request: web.Request, action: str) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    qid = request.match_info["id"]
    form = await request.post()
    here = f"/staff/queue/{qid}"
    try:
        if action == "claim":
            await c.approvals.claim(qid, viewer)
            done, target = "ok.claimed", here
        elif action == "unclaim":
            await c.approvals.unclaim(qid, viewer)
            done, target = "ok.unclaimed", here
        elif action == "release":
            outcome = await c.approvals.release(
                qid, viewer, str(form.get("notice", "")), str(form.get("seen", ""))
            )
            done = "ok.released" if outcome == "released" else "ok.proposed"
            target = "/staff/queue"
        elif action == "confirm":
            await c.approvals.confirm(qid, viewer, str(form.get("seen", "")))
            done, target = "ok.released", "/staff/queue"
        elif action == "withdraw":
            await c.approvals.withdraw(qid, viewer)
            done, target = "ok.withdrawn", here
        else:  # refuse
            await c.approvals.refuse(qid, viewer, str(form.get("reason", "")))
            done, target = "ok.refused", "/staff/queue"
    except ApprovalError as exc:
        if exc.code == "not_found":
            return error_page(request, "err.not_found", 404)
        await c.sessions.flash(viewer.digest, "error", f"err.{exc.code}", exc.params)
        return _see(here)
    await c.sessions.flash(viewer.digest, "ok", done, {"id": qid})
    return _see(target)


async def claim(request: web.Request) -> web.Response:
    return await _act(request, "claim")


async def unclaim(request: web.Request) -> web.Response:
    return await _act(request, "unclaim")


async def release(request: web.Request) -> web.Response:
    return await _act(request, "release")


async def confirm(request: web.Request) -> web.Response:
    return await _act(request, "confirm")


async def withdraw(request: web.Request) -> web.Response:
    return await _act(request, "withdraw")


async def refuse(request: web.Request) -> web.Response:
    return await _act(request, "refuse")
