"""The rules for setting flags, and the checks every flag step shares: a holding department of
annex 1 (保有課) sets flags in its own hold (one of its registered businesses, a basis 申出
application / 職権 ex-officio, the support measure's end `until` if known, the name as it
registered it), and never changes or shows another department's."""

from __future__ import annotations

import re
from datetime import date, timedelta, timezone
from typing import Any, TypeVar

from gateway import annex
from gateway.context import Gateway
from gateway.model import FlagState
from gateway.orders import FlagOrder, ReleaseOrder
from gateway.store.flags import (
    BASES,
    FLAG_NAMES,
    ChangeRefused,
    FlagChange,
    FlagHold,
    FlagRecord,
)
from gateway.wareki import parse_ward_date

Order = TypeVar("Order", FlagOrder, ReleaseOrder)
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


def _which(auto_response_disabled: bool, non_disclosure: bool) -> list[str]:
    return [
        f for f, on in zip(FLAG_NAMES, (auto_response_disabled, non_disclosure), strict=True) if on
    ]


# -- setting ------------------------------------------------------------------------------------
def order_from(kind: type[Order], order: Order | None, fields: dict[str, Any]) -> Order:
    """The order a front end built, or (for tests and scripts) one built here from its fields."""
    if order is None:
        return kind(**fields)
    if fields:
        raise TypeError("an order, or the fields of one, not both")
    return order


def set_change(order: FlagOrder) -> FlagChange:
    """The change that sets flags in the department's own hold, after every rule has been checked
    (ValueError otherwise)."""
    atena_number, name, department = order.atena_number, order.name, order.department
    basis, until, clear_until = order.basis, order.until, order.clear_until
    auto_response_disabled, non_disclosure = order.auto_response_disabled, order.non_disclosure
    check_atena_number(atena_number)
    if basis not in BASES:
        raise FlagRuleError("basis", f"basis must be one of {', '.join(BASES)}")
    name = _check_name(name)
    if not department.strip():
        raise FlagRuleError("department_required", "a flag needs the holding department")
    registration = annex.holding().find(department, order.business)
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
        actor=order.actor,
        auto_response_disabled=True if auto_response_disabled else None,
        non_disclosure=True if non_disclosure else None,
        entry=entry,
        hold_fields=fields,
    )


async def set_flags(gw: Gateway, order: FlagOrder | None = None, **fields: Any) -> FlagRecord:
    """Set the order's flags (the operator's path: answered with the whole record)."""
    return await gw.flags.change(set_change(order_from(FlagOrder, order, fields)))


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
