"""What a registrar does, for the console's pages and its JSON API alike: register flags, read one
person's record, ask for, confirm and cancel a release, and the renewal list.

The flag rules, and the security events for breaking them, are gateway.flags'; this module adds
only the console's own rule, that a registrar acts for their own department (its registered
businesses, its own hold on each person and that hold's history, its release requests, its
renewals) and sees nothing of another department's hold, not even whether there is one; and turns
every refusal into a
`Refused` (HTTP status, catalog key, parameters): the pages show it in the catalog's words, the API
returns the key as its error code. Both front ends call these functions and nothing else of
gateway.flags, so that the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import replace

from gateway import annex, flags
from gateway.context import Gateway
from gateway.flags import DueItem, ReleaseRequest
from gateway.orders import FlagOrder, ReleaseOrder
from gateway.staff.i18n import MESSAGES
from gateway.store.holds import FlagHold
from gateway.store.sessions import Session

REQUEST_ID = re.compile(r"^[0-9a-f]{1,32}$")

# Refusals that are not about what was typed: who may act (403), or a request or flag that has
# moved on meanwhile (404/409). Every other refusal of the rules is 400.
_STATUS = {
    "same_person": 403,
    "not_holder": 403,
    "not_flagged_here": 403,
    "department": 403,
    "other_department": 403,
    "unknown": 404,
    "decided": 409,
    "superseded": 409,
    "pending": 409,
    "no_flag": 409,
    "not_on": 409,
}


class Refused(Exception):
    """A registrar's action refused; nothing was changed. `key` is the catalog's message key."""

    def __init__(self, status: int, key: str, params: dict[str, str] | None = None) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.params = params or {}

    @property
    def code(self) -> str:
        """The API's error code: the key without its `err.` prefix (e.g. `flag.same_person`)."""
        return self.key.removeprefix("err.")


def refusal(exc: ValueError, viewer: Session) -> Refused:
    """A refusal of gateway.flags (or of annex 1, which it applies) as the console answers it."""
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
        return Refused(400, "err.flag_rule", {"detail": str(exc)})
    return Refused(_STATUS.get(reason, 400), key, params)


def businesses(viewer: Session) -> list[annex.Registration]:
    """The registered businesses of the registrar's department in annex 1 (none: not holding)."""
    return annex.holding().businesses(viewer.department)


def renewal_window(raw: str | None) -> int:
    """The renewal list's window in days: the default when not asked, else 0 to the widest."""
    if raw is None or raw == "":
        return flags.RENEWAL_WINDOW_DAYS
    if not raw.isdigit() or int(raw) > flags.MAX_WINDOW_DAYS:
        raise Refused(400, "err.renewal_window", {"max": str(flags.MAX_WINDOW_DAYS)})
    return int(raw)


async def register(gw: Gateway, viewer: Session, order: FlagOrder) -> FlagHold:
    """Set flags in the registrar's own department's hold, whatever else was sent of departments
    (the order's department and actor are the viewer's, here again); the answer is that hold
    alone."""
    order = replace(
        order,
        department=viewer.department,
        actor=viewer.actor,
        business=order.business or None,
        until=order.until or None,
    )
    try:
        return await flags.set_own_flags(gw, flags.set_change(order))
    except ValueError as exc:
        raise refusal(exc, viewer) from None


async def show_record(gw: Gateway, viewer: Session, atena_number: str) -> FlagHold:
    """The department's own hold on one person, if it has flagged them (the read recorded)."""
    try:
        return await flags.read_record(
            gw, atena_number=atena_number, department=viewer.department, actor=viewer.actor
        )
    except ValueError as exc:
        raise refusal(exc, viewer) from None


async def pending(gw: Gateway, viewer: Session) -> list[ReleaseRequest]:
    """The department's release requests waiting for a second registrar, oldest first."""
    return await flags.pending_releases(gw, department=viewer.department)


async def request_release(gw: Gateway, viewer: Session, order: ReleaseOrder) -> ReleaseRequest:
    """Ask for the release of the registrar's own department's hold (the order's department and
    actor are the viewer's, here again)."""
    order = replace(order, department=viewer.department, actor=viewer.actor)
    try:
        return await flags.request_release(gw, order)
    except ValueError as exc:
        raise refusal(exc, viewer) from None


async def _ours(gw: Gateway, viewer: Session, request_id: str) -> None:
    """The console's rule: a registrar confirms or cancels only their own department's requests;
    another department's is refused without saying more, and is a security event."""
    req = None
    if REQUEST_ID.match(request_id):
        req = await flags.release_request(gw, request_id=request_id)
    if req is None:
        raise Refused(_STATUS["unknown"], "err.flag.unknown")
    if annex.fold(req.department) != annex.fold(viewer.department):
        await gw.events.security(
            "department_mismatch", viewer.actor, request=request_id, department=viewer.department
        )
        raise Refused(403, "err.no_release_request")


async def confirm_release(gw: Gateway, viewer: Session, request_id: str) -> FlagHold:
    """The second registrar confirms: the department's hold released now (gateway.flags refuses
    the requester); the answer is that hold alone."""
    await _ours(gw, viewer, request_id)
    try:
        return await flags.confirm_release(gw, request_id=request_id, confirmed_by=viewer.actor)
    except ValueError as exc:
        raise refusal(exc, viewer) from None


async def cancel_release(gw: Gateway, viewer: Session, request_id: str) -> ReleaseRequest:
    await _ours(gw, viewer, request_id)
    try:
        return await flags.cancel_release(
            gw, request_id=request_id, cancelled_by=viewer.actor, department=viewer.department
        )
    except ValueError as exc:
        raise refusal(exc, viewer) from None


async def release_request(gw: Gateway, request_id: str) -> ReleaseRequest | None:
    return await flags.release_request(gw, request_id=request_id)


async def renewals(gw: Gateway, viewer: Session, within_days: int) -> list[DueItem]:
    """The department's renewal list (its own holds in force, with their own ends), recorded like
    every showing of the list (`flag.due_read`)."""
    return await flags.read_due(
        gw, actor=viewer.actor, within_days=within_days, department=viewer.department
    )
