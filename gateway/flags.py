"""The rules for setting and releasing flags, shared by the command line, the console and the API.

Each holding department of annex 1 (保有課) holds its own flags on a person: setting adds or
updates that department's hold (one of its registered businesses, a basis 申出 application / 職権
ex-officio, the support measure's end `until` if known, the name as it registered it), and never
changes or shows another department's. A person is protected while any department's hold says so.
Releasing removes one department's hold only: on the person's application (申出), never
automatically, not when `until` passes either. In the console and the API a release takes two
people of the department (one asks, another confirms); the operator's command line on the server
is the one immediate, audited admin path, naming the department where several hold flags.
Releasing leaves held queries held. The renewal list (`due`) warns before a support measure ends,
each department of its own holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta, timezone

from gateway import annex
from gateway.context import Gateway
from gateway.model import FlagState
from gateway.store.flags import (
    BASES,
    FLAG_NAMES,
    ChangeRefused,
    FlagChange,
    FlagChanged,
    FlagHold,
    FlagRecord,
)
from gateway.store.release_requests import ReleaseRequestStore, RequestRefused, StoredRequest
from gateway.wareki import parse_ward_date

ATENA_NUMBER = re.compile(r"^[0-9]{15}$")
JST = timezone(timedelta(hours=9), "JST")  # the ward's calendar; Japan keeps no summer time
RENEWAL_WINDOW_DAYS = 30  # renewal of a support measure may be asked from a month before its end
MAX_WINDOW_DAYS = 366  # the widest renewal list anyone asks for: a year ahead
MAX_NAME = 100
MAX_NOTE = 2000


class FlagRuleError(ValueError):
    """A flag rule refused what was asked; nothing was changed. `reason` is a short code for
    those who show their own text for it (the console's catalog has `err.flag.<reason>`), with
    `params` for that text; the message says it plainly, in English (the command line)."""

    def __init__(self, reason: str, message: str, **params: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.params = params


class SamePersonError(FlagRuleError):
    """Nobody confirms their own release request (four eyes)."""

    def __init__(self) -> None:
        super().__init__("same_person", "nobody confirms their own release request")


class ReleaseRequestError(FlagRuleError):
    """A release request that cannot be made (`no_flag`, `not_on`, `not_holder`, `pending`), or
    one that is unknown, already decided or no longer matches the department's hold (`unknown`,
    `decided`, `superseded`)."""


def check_atena_number(value: str) -> None:
    if not ATENA_NUMBER.match(value):
        raise FlagRuleError("atena_number", "an atena number (団体内統合宛名番号) is 15 digits")


def parse_date(value: str, what: str = "--until") -> date:
    """The one parser of dates people type: as municipal systems write them (YYYY-MM-DD,
    YYYY/MM/DD) or in the Japanese era (令和8年12月3日); see gateway.wareki.parse_ward_date."""
    try:
        return parse_ward_date(value)
    except ValueError:
        raise FlagRuleError("date", f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def _check_name(value: str) -> str:
    text = value.strip()
    if not text:
        raise FlagRuleError("name_required", "a flag needs the person's name")
    if len(text) > MAX_NAME or any(ord(ch) < 32 for ch in text):
        raise FlagRuleError(
            "name_format",
            f"the person's name must be one line of at most {MAX_NAME} characters",
            max=str(MAX_NAME),
        )
    return text


def _holding_department(department: str) -> str:
    """A holding department of annex 1, in the annex's spelling (AnnexError otherwise)."""
    holding = annex.holding()
    if not holding.has_department(department):
        raise annex.AnnexError(
            "department", f"{department!r} is not a department of {holding.title}"
        )
    return holding.businesses(department)[0].department


def _which(auto_response_disabled: bool, non_disclosure: bool) -> list[str]:
    return [
        f for f, on in zip(FLAG_NAMES, (auto_response_disabled, non_disclosure), strict=True) if on
    ]


# -- setting ------------------------------------------------------------------------------------
def set_change(
    *,
    atena_number: str,
    name: str,
    department: str,
    business: str | None,
    basis: str,
    until: str | None,
    auto_response_disabled: bool,
    non_disclosure: bool,
    actor: str,
    clear_until: bool = False,
) -> FlagChange:
    """The change that sets flags in the department's own hold, after every rule has been checked
    (ValueError otherwise)."""
    check_atena_number(atena_number)
    if basis not in BASES:
        raise FlagRuleError("basis", f"basis must be one of {', '.join(BASES)}")
    name = _check_name(name)
    if not department.strip():
        raise FlagRuleError("department_required", "a flag needs the holding department")
    registration = annex.holding().find(department, business)
    if not (auto_response_disabled or non_disclosure):
        raise FlagRuleError("no_flag_chosen", "nothing to set: choose at least one flag")
    if until and clear_until:
        raise FlagRuleError("until_conflict", "--until and --no-until exclude each other")
    until_iso = parse_date(until).isoformat() if until else ""
    entry: dict[str, object] = {
        "basis": basis,
        "business": registration.business,
        "flags": _which(auto_response_disabled, non_disclosure),
    }
    fields = {"name": name, "business": registration.business, "basis": basis}
    # Left out, the support measure's end stays as the department's hold has it: a renewal of the
    # other flag must not drop the person from the department's renewal list by accident.
    if until_iso or clear_until:
        entry["until"] = until_iso
        fields["until"] = until_iso
    return FlagChange(
        atena_number=atena_number,
        department=registration.department,
        action="set",
        actor=actor,
        auto_response_disabled=True if auto_response_disabled else None,
        non_disclosure=True if non_disclosure else None,
        entry=entry,
        hold_fields=fields,
    )


async def set_flags(
    gw: Gateway,
    *,
    atena_number: str,
    name: str,
    department: str,
    business: str | None,
    basis: str,
    until: str | None,
    auto_response_disabled: bool,
    non_disclosure: bool,
    actor: str,
    clear_until: bool = False,
) -> FlagRecord:
    change = set_change(
        atena_number=atena_number,
        name=name,
        department=department,
        business=business,
        basis=basis,
        until=until,
        auto_response_disabled=auto_response_disabled,
        non_disclosure=non_disclosure,
        actor=actor,
        clear_until=clear_until,
    )
    return await gw.flags.change(change)


async def set_own_flags(gw: Gateway, change: FlagChange) -> FlagHold:
    """Apply a `set_change` for a holding department's registrar: answered with the department's
    own hold alone (read from its own keys), never the whole record."""
    await gw.flags.apply([change])
    hold = await gw.flags.hold(change.atena_number, change.department, unseal=True)
    assert hold is not None  # just written; holds are kept for good
    return hold


async def upgrade_records(gw: Gateway, *, actor: str) -> tuple[int, list[str]]:
    """Turn every record made before department holds into holds, the state unchanged (移行; each
    is also turned when first touched): how many were, and the person keys of those that cannot be
    (a flag on and no department anywhere: left as they are, protected)."""
    return await gw.flags.upgrade_all(actor)


async def repair_aggregate(
    gw: Gateway, *, atena_number: str, actor: str
) -> tuple[FlagState, FlagState]:
    """The operator's repair (the command line on the server) after the check found the flags
    every decision reads, or their counts, unlike the department holds: both made again from the
    holds, recorded (`flag.repaired`). No hold changes: holds are put right with set / release.
    (The flags before, after.)"""
    check_atena_number(atena_number)
    _check_actor(actor, "a repair")
    try:
        return await gw.flags.repair(atena_number, actor)
    except ChangeRefused as exc:
        raise FlagRuleError(
            f"repair_{exc.reason}",
            {
                "none": "this person has no flag record",
                "old_model": "the record is from before department holds: run flags upgrade",
                "unreadable": "a department's hold is unreadable: it was not written by the "
                "gateway (see deploy/RUNBOOK.md, HogoFlagStateMismatch)",
            }.get(exc.reason, exc.reason),
        ) from None


# -- reading: a holding department's own hold ---------------------------------------------------
async def read_record(gw: Gateway, *, atena_number: str, department: str, actor: str) -> FlagHold:
    """The department's own hold on one person with its history (the console's registrars): only
    where the department holds, or has held, a flag of the person, the read recorded
    (`flag.read`) in the same atomic step as that check. Any other person, flagged by another
    department or by nobody, is refused alike and that is a security event
    (`security.flag_read_refused`), as on the departments' API. Nothing of another department's
    hold is read, let alone shown."""
    check_atena_number(atena_number)
    _check_actor(actor, "a read")
    canonical = _holding_department(department)
    if (
        await gw.flags.read_for_department(
            atena_number,
            department=canonical,
            business="",  # staff of the department, not one of its business systems
            mode="hold",
            actor=actor,
            operator="",
        )
        is None
    ):
        raise FlagRuleError(
            "not_flagged_here", f"{canonical} has not set a flag of this person: nothing is shown"
        )
    hold = await gw.flags.hold(atena_number, canonical, unseal=True)
    assert hold is not None  # the department's hold exists; holds are kept for good
    return hold


# -- releasing: the operator's immediate admin path ---------------------------------------------
def _check_release(
    basis: str, note: str, auto_response_disabled: bool, non_disclosure: bool
) -> str:
    if basis != "application":
        raise FlagRuleError(
            "application_only", "a flag is released only on the person's application (申出)"
        )
    if not note.strip():
        raise FlagRuleError("note_required", "a release needs a note")
    if len(note) > MAX_NOTE:
        raise FlagRuleError(
            "note_too_long", f"the note must be at most {MAX_NOTE} characters", max=str(MAX_NOTE)
        )
    if not (auto_response_disabled or non_disclosure):
        raise FlagRuleError("no_flag_chosen", "nothing to release: choose at least one flag")
    return note.strip()


def _check_actor(actor: str, what: str) -> None:
    if not actor.strip():
        raise FlagRuleError("actor_required", f"{what} needs the person who makes it")


async def release_flags(
    gw: Gateway,
    *,
    atena_number: str,
    basis: str,
    note: str,
    auto_response_disabled: bool,
    non_disclosure: bool,
    actor: str,
    department: str | None = None,
) -> FlagRecord:
    """Release one department's hold at once (the command line on the server): the department
    named, or, left out, the one department that holds a flag of the person now; where several do,
    which one must be said (`several_departments`): each department's protection is its own to
    end, so there is no releasing them all in one go. Checked against the hold as it is in the
    same atomic step as the release: if it changed after it was read, nothing is released."""
    check_atena_number(atena_number)
    note = _check_release(basis, note, auto_response_disabled, non_disclosure)
    current = await gw.flags.get(atena_number)
    if current is None or not current.state.any:
        raise FlagRuleError("no_flag", "this person has no flag set")
    if department is not None:
        canonical = _holding_department(department)
        hold = current.hold(canonical)
        if hold is None or not hold.state.any:
            raise FlagRuleError(
                "not_held", f"{canonical} holds no flag of this person now", department=canonical
            )
    elif len(current.current) > 1:
        names = ", ".join(current.departments)
        raise FlagRuleError(
            "several_departments",
            f"several departments hold flags of this person ({names}): name the one whose hold "
            "to release with --department",
            departments=names,
        )
    elif not current.current:
        # a record of the single-record model that names no department (see `upgrade_records`)
        raise FlagRuleError(
            "no_hold", "no department holds this person's flags: see hogo-gateway flags upgrade"
        )
    else:
        [hold] = current.current
    if not (
        (auto_response_disabled and hold.state.auto_response_disabled)
        or (non_disclosure and hold.state.non_disclosure)
    ):
        raise FlagRuleError(
            "not_on", f"none of the flags to release is set by {hold.department} for this person"
        )
    return await gw.flags.change(
        FlagChange(
            atena_number=atena_number,
            department=hold.department,
            action="release",
            actor=actor,
            auto_response_disabled=False if auto_response_disabled else None,
            non_disclosure=False if non_disclosure else None,
            entry={
                "basis": basis,
                "note": note,
                "flags": _which(auto_response_disabled, non_disclosure),
            },
            expect_version=hold.version,
        )
    )


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
    gw: Gateway,
    *,
    atena_number: str,
    basis: str,
    note: str,
    auto_response_disabled: bool,
    non_disclosure: bool,
    requested_by: str,
    department: str,
) -> ReleaseRequest:
    """Ask for the release of the department's own hold on the person's application. Nothing is
    released until someone else confirms (`confirm_release`), and then only that hold. A
    department that has not set a flag of this person learns nothing about it (not even whether
    anyone has), and the attempt is a security event."""
    check_atena_number(atena_number)
    note = _check_release(basis, note, auto_response_disabled, non_disclosure)
    _check_actor(requested_by, "a release request")
    canonical = _holding_department(department)
    person_key = await gw.flags.person_key(atena_number)
    store = _requests(gw)
    try:
        request_id = await store.create(
            person_key=person_key,
            atena_number=atena_number,
            auto_response_disabled=auto_response_disabled,
            non_disclosure=non_disclosure,
            requested_by=requested_by,
            department=canonical,
            basis=basis,
            note=note,
        )
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


async def cancel_release(gw: Gateway, *, request_id: str, cancelled_by: str) -> ReleaseRequest:
    _check_actor(cancelled_by, "a cancellation")
    store = _requests(gw)
    try:
        await store.cancel(request_id, cancelled_by)
    except RequestRefused as exc:
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


# -- renewal --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueItem:
    """A department's hold whose support measure ends within the window, or has ended (overdue):
    ask the person about renewal. The flag stays on either way. For entitled staff only
    (unsealed)."""

    atena_number: str | None
    name: str | None
    department: str
    business: str
    basis: str
    until: str
    days_left: int  # negative once overdue
    overdue: bool
    auto_response_disabled: bool
    non_disclosure: bool

    def as_json(self) -> dict[str, object]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "department": self.department,
            "business": self.business,
            "basis": self.basis,
            "until": self.until,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "auto_response_disabled": self.auto_response_disabled,
            "non_disclosure": self.non_disclosure,
        }


async def due(
    gw: Gateway,
    *,
    within_days: int = RENEWAL_WINDOW_DAYS,
    today: date | None = None,
    department: str | None = None,
) -> list[DueItem]:
    """Holds in force whose `until` is at most `within_days` away (overdue ones included),
    soonest first: one item per department's hold, each with that hold's own name, business,
    basis, end and flags; with `department`, only that department's holds."""
    if within_days < 0:
        raise FlagRuleError("window", "the window is a number of days, 0 or more")
    today = today or gw.clock.today()
    wanted = annex.fold(department) if department else None
    items = []
    for r in await gw.flags.all_records(unseal=True, history=False):
        for h in r.current:
            if not h.until or (wanted is not None and annex.fold(h.department) != wanted):
                continue
            days_left = (date.fromisoformat(h.until) - today).days
            if days_left > within_days:
                continue
            items.append(
                DueItem(
                    atena_number=r.atena_number,
                    name=h.name,
                    department=h.department,
                    business=h.business,
                    basis=h.basis,
                    until=h.until,
                    days_left=days_left,
                    overdue=days_left < 0,
                    auto_response_disabled=h.state.auto_response_disabled,
                    non_disclosure=h.state.non_disclosure,
                )
            )
    return sorted(items, key=lambda i: (i.until, i.atena_number or "", i.department))


async def read_due(
    gw: Gateway,
    *,
    actor: str,
    within_days: int = RENEWAL_WINDOW_DAYS,
    department: str | None = None,
    **who: str,
) -> list[DueItem]:
    """The renewal list as shown to someone (the command line, the departments' API, the console):
    it holds names and atena numbers, so it is recorded (`flag.due_read`: who, for which
    department, how many; `who` adds the business and operator of an API caller) before it is
    returned. If the record cannot be written, nothing is shown."""
    items = await due(gw, within_days=within_days, department=department)
    await gw.events.append(
        "flag.due_read",
        actor,
        department=department or "",
        **who,
        within=str(within_days),
        count=str(len(items)),
    )
    return items
