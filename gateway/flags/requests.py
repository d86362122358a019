"""Releasing flags by two people (解除申請), in the console and the API: one member of a
department asks, another confirms; only that department's hold is released, and a department
that holds no flag of the person learns nothing about it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gateway import annex
from gateway.context import Gateway
from gateway.flags.rules import (
    FlagRuleError,
    ReleaseRequestError,
    SamePersonError,
    _check_actor,
    _check_release,
    _holding_department,
    _which,
    check_atena_number,
    order_from,
)
from gateway.orders import ReleaseOrder
from gateway.store.flags import (
    ChangeRefused,
    FlagChange,
    FlagChanged,
    FlagHold,
)
from gateway.store.release_requests import ReleaseRequestStore, RequestRefused, StoredRequest


# -- releasing: two people (console and API) ----------------------------------------------------
@dataclass(slots=True)
class ReleaseRequest:
    """解除申請: one member of staff asks, another confirms. For entitled staff only (unsealed)."""

    id: str
    atena_number: str | None
    name: str | None
    auto_response_disabled: bool  # which flags the request releases
    non_disclosure: bool
    basis: str
    note: str | None
    requested_by: str
    department: str
    requested_at: str
    state: str  # pending | confirmed | cancelled | superseded
    flag_version: int
    stale: bool = False  # the department's hold changed since: confirming will fail
    decided_by: str | None = None
    decided_at: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "atena_number": self.atena_number,
            "name": self.name,
            "auto_response_disabled": self.auto_response_disabled,
            "non_disclosure": self.non_disclosure,
            "basis": self.basis,
            "note": self.note,
            "requested_by": self.requested_by,
            "department": self.department,
            "requested_at": self.requested_at,
            "state": self.state,
            "flag_version": self.flag_version,
            "stale": self.stale,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
        }


def _requests(gw: Gateway) -> ReleaseRequestStore:
    return ReleaseRequestStore(gw.redis, gw.keyring)


async def _as_release_request(gw: Gateway, s: StoredRequest) -> ReleaseRequest:
    """As the department that asked sees it: the name from its own hold, stale if that hold (and
    only that hold) changed since."""
    hold = await gw.flags.hold_by_key(s.person_key, s.department, unseal=True)
    return ReleaseRequest(
        id=s.id,
        atena_number=s.atena_number,
        name=hold.name if hold else None,
        auto_response_disabled=s.auto_response_disabled,
        non_disclosure=s.non_disclosure,
        basis=s.basis,
        note=s.note,
        requested_by=s.requested_by,
        department=s.department,
        requested_at=s.requested_at,
        state=s.state,
        flag_version=s.version,
        stale=s.state == "pending" and (hold is None or hold.version != s.version),
        decided_by=s.decided_by or None,
        decided_at=s.decided_at or None,
    )


async def request_release(
    gw: Gateway, order: ReleaseOrder | None = None, **fields: Any
) -> ReleaseRequest:
    """Ask for the release of the department's own hold on the person's application. Nothing is
    released until someone else confirms (`confirm_release`), and then only that hold. A
    department that has not set a flag of this person learns nothing about it (not even whether
    anyone has), and the attempt is a security event. (Given as fields, the asker is
    `requested_by`.)"""
    if "requested_by" in fields:
        fields["actor"] = fields.pop("requested_by")
    order = order_from(ReleaseOrder, order, fields)
    atena_number, basis, requested_by = order.atena_number, order.basis, order.actor
    auto_response_disabled, non_disclosure = order.auto_response_disabled, order.non_disclosure
    check_atena_number(atena_number)
    note = _check_release(basis, order.note, auto_response_disabled, non_disclosure)
    _check_actor(requested_by, "a release request")
    if order.department is None:
        raise FlagRuleError("department_required", "a release request needs the department")
    canonical = _holding_department(order.department)
    person_key = await gw.flags.person_key(atena_number)
    store = _requests(gw)
    try:
        request_id = await store.create(person_key, replace(order, department=canonical, note=note))
    except RequestRefused as exc:
        if exc.reason == "not_holder":
            await gw.events.security(
                "department_mismatch", requested_by, subject=person_key, department=canonical
            )
        raise ReleaseRequestError(exc.reason, str(exc)) from None
    stored = await store.get(request_id)
    assert stored is not None
    return await _as_release_request(gw, stored)


async def confirm_release(gw: Gateway, *, request_id: str, confirmed_by: str) -> FlagHold:
    """The second person confirms: the department's hold is released only if the request is still
    pending, the confirmer is not the requester, and the hold is still as it was when asked, all
    checked in the same atomic step as the release itself. Another department's hold is untouched:
    the person stays protected while any holds a flag. Confirming one's own request is a security
    event. The department's hold after it (all the confirmer is entitled to see)."""
    _check_actor(confirmed_by, "a confirmation")
    stored = await _requests(gw).get(request_id)
    if stored is None:
        raise _unknown(request_id)
    if stored.state != "pending":
        raise _decided(request_id, stored.state)
    if stored.requested_by == confirmed_by:
        raise await _same_person(gw, stored, confirmed_by)
    assert stored.atena_number is not None and stored.note is not None
    change = FlagChange(
        atena_number=stored.atena_number,
        department=stored.department,
        action="release",
        actor=confirmed_by,
        auto_response_disabled=False if stored.auto_response_disabled else None,
        non_disclosure=False if stored.non_disclosure else None,
        entry={
            "basis": stored.basis,
            "note": stored.note,
            "flags": _which(stored.auto_response_disabled, stored.non_disclosure),
        },
        expect_version=stored.version,
        request_id=request_id,
    )
    try:
        await gw.flags.apply([change])
    except ChangeRefused as exc:
        # decided (or changed hands) between the read above and the atomic step
        if exc.reason == "same_person":
            raise await _same_person(gw, stored, confirmed_by) from None
        if exc.reason in ("unknown", "mismatch", "no_hold"):
            raise _unknown(request_id) from None
        raise _decided(request_id, exc.reason) from None
    except FlagChanged as exc:
        # the store has closed the request as superseded, in the same step
        raise ReleaseRequestError(
            "superseded",
            f"the department's flag changed since release request {request_id} was made (version "
            f"{stored.version} -> {exc.version}); nothing was released and the request is closed: "
            "ask again",
        ) from None
    hold = await gw.flags.hold_by_key(stored.person_key, stored.department, unseal=True)
    assert hold is not None  # just released; holds are kept for good
    return hold


def _unknown(request_id: str) -> ReleaseRequestError:
    return ReleaseRequestError("unknown", f"no release request {request_id}")


def _decided(request_id: str, state: str) -> ReleaseRequestError:
    message = f"release request {request_id} is already {state}"
    if state == "superseded":
        # closed by the store because the flag changed: to be asked again, not just left
        return ReleaseRequestError("superseded", message)
    return ReleaseRequestError("decided", message)


async def _same_person(gw: Gateway, stored: StoredRequest, actor: str) -> SamePersonError:
    """Recorded here, where the rule is, so that every front end records it once."""
    await gw.events.security(
        "self_approval",
        actor,
        subject=stored.person_key,
        request=stored.id,
        department=stored.department,
    )
    return SamePersonError()


async def cancel_release(
    gw: Gateway, *, request_id: str, cancelled_by: str, department: str
) -> ReleaseRequest:
    """Withdraw a pending request: only a member of the request's own department may, checked in
    the atomic step that writes (gateway/flag_rules.py release_cancel). Another department's
    attempt is refused as if there were no such request, and is a security event."""
    _check_actor(cancelled_by, "a cancellation")
    canonical = _holding_department(department)
    store = _requests(gw)
    try:
        await store.cancel(request_id, cancelled_by, canonical)
    except RequestRefused as exc:
        if exc.reason == "other_department":
            await gw.events.security(
                "department_mismatch", cancelled_by, request=request_id, department=canonical
            )
            raise ReleaseRequestError(
                "other_department", f"no release request {request_id}"
            ) from None
        if exc.reason == "unknown":
            raise _unknown(request_id) from None
        raise _decided(request_id, exc.state) from None
    stored = await store.get(request_id)
    assert stored is not None
    return await _as_release_request(gw, stored)


async def pending_releases(gw: Gateway, *, department: str | None = None) -> list[ReleaseRequest]:
    """Pending requests, oldest first; only one department's when `department` is given."""
    wanted = annex.fold(department) if department else None
    out = []
    for s in await _requests(gw).pending():
        if wanted is None or annex.fold(s.department) == wanted:
            out.append(await _as_release_request(gw, s))
    return out


async def release_request(gw: Gateway, *, request_id: str) -> ReleaseRequest | None:
    stored = await _requests(gw).get(request_id)
    return await _as_release_request(gw, stored) if stored else None
