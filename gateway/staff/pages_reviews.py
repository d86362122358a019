"""The approvers' page of subjects and persons held for review (quarantine): the directory's
remaps, and the persons and subjects the check found unlike the trail (gateway/verify), each
holding every query about its subject or person until someone confirms it. Approvers judge what
may be answered; a remap is confirmed once checked with the addressee system, a mismatch once the
state has been put right (the check runs again and refuses the confirmation otherwise).
"""

from __future__ import annotations

from aiohttp import web

from gateway.quarantine import Quarantine, Quarantines, ReviewRefused
from gateway.services.console import console
from gateway.staff.access import session_of
from gateway.staff.i18n import MESSAGES
from gateway.staff.render import page

# The message of each refusal (the store's code -> the console's key).
REFUSALS = {
    "unknown": "err.review_unknown",
    "not_open": "err.review_not_open",
    "same_person": "err.review_same_person",
    "still_differs": "err.review_still_differs",
}
STATUS = {"unknown": 404, "not_open": 409, "same_person": 403, "still_differs": 409}


async def confirm_review(
    service: Quarantines, review_id: str, actor: str, note: str
) -> Quarantine | tuple[str, int]:
    """Confirm, for the page and the API alike: the review, or (the message key, its status)."""
    try:
        return await service.confirm(review_id, actor, note)
    except ReviewRefused as exc:
        return REFUSALS[exc.code], STATUS[exc.code]
    except ValueError:
        return "err.review_note", 400


async def reviews_page(request: web.Request) -> web.Response:
    c = console(request)
    return page(
        request,
        "reviews.html",
        "title.reviews",
        reviews=await c.quarantines.open_reviews(),
        known=MESSAGES.keys(),
    )


async def confirm(request: web.Request) -> web.Response:
    c = console(request)
    viewer = session_of(request)
    review_id = request.match_info["id"]
    form = await request.post()
    done = await confirm_review(c.quarantines, review_id, viewer.actor, str(form.get("note", "")))
    if isinstance(done, tuple):
        await c.sessions.flash(viewer.digest, "error", done[0], {})
    else:
        await c.sessions.flash(viewer.digest, "ok", "ok.review_confirmed", {"id": review_id})
    return web.Response(status=303, headers={"Location": "/staff/reviews"})
