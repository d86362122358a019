"""Pure: who may read a person's flag state and what they learn, when a holding department may ask
for the release of its hold, and when a review may be confirmed. No I/O: lua/flag_read.lua,
lua/flag_release_request.lua and lua/quarantine_confirm.lua decide by tables generated from these
functions (gateway/store/rules_lua.py), in the step that records what they decided.
"""

from __future__ import annotations

from enum import StrEnum


class ReadMode(StrEnum):
    """How a department reads a flag state (gateway/departments.py says which mode it has)."""

    ANY = "any"  # a using department (annex 2): whether any department holds a flag
    HELD = "held"  # a holding department not also a using one: only while its own hold is on
    HOLD = "hold"  # a holding department's registrar: its own hold, on or released
    OUTSIDE = "outside"  # outside both annexes: refused before anything is read


def department_read(mode: ReadMode, own_hold: bool, own_hold_on: bool, any_flag: bool) -> str:
    """'denied:REASON', or 'ok:1' / 'ok:0' (the person is a victim to this reader, or not).

    A department reading by its own hold learns nothing of any other department's: it is
    refused, or answered, from its own hold alone."""
    if mode is ReadMode.OUTSIDE:
        return "denied:outside_annexes"
    if mode is ReadMode.ANY:
        return f"ok:{int(any_flag)}"
    if not own_hold or (mode is ReadMode.HELD and not own_hold_on):
        return "denied:not_held_by_this_department"
    return f"ok:{int(own_hold_on)}"


def release_request(holder: bool, on: bool, asked_on: bool, pending: bool) -> str:
    """A holding department asks for the release of its own hold (two-person release, step 1):
    'ok', or why not: 'not_holder' (it holds nothing on the person, whatever others hold),
    'no_flag' (its hold is off), 'not_on' (what it asks to release is not on), 'pending' (its
    own request is already waiting; another department's does not stand in the way)."""
    if not holder:
        return "not_holder"
    if not on:
        return "no_flag"
    if not asked_on:
        return "not_on"
    return "pending" if pending else "ok"


def change_guard(
    release: bool,
    held: bool,
    request: bool,
    found: bool,
    pending: bool,
    matches: bool,
    same_person: bool,
    version_same: bool,
) -> str:
    """Whether one change to a department's hold may happen (lua/flag_change.lua, checked for
    every change of a batch before any is written): 'ok', or why not: 'no_hold' (a release of a
    hold the department does not have); for the confirmation of a two-person release request
    (`request`), 'unknown' (no such request), 'decided' (it is no longer pending), 'mismatch'
    (it is of another person or department than the change), 'same_person' (nobody confirms
    their own request: a security event); 'stale' (the hold is no longer at the version the change
    expected: a request it confirms is closed as superseded). Without a request, the request's
    facts are false and tell nothing."""
    if release and not held:
        return "no_hold"
    if request:
        if not found:
            return "unknown"
        if not pending:
            return "decided"
        if not matches:
            return "mismatch"
        if same_person:
            return "same_person"
    return "ok" if version_same else "stale"


def release_cancel(found: bool, pending: bool, own_department: bool) -> str:
    """Withdrawing a two-person release request (解除申請の取消): 'cancelled', or why not:
    'unknown' (no such request), 'other_department' (the request is another department's: one
    department's act never undoes another's, and it learns nothing of the request, not even
    whether it is still pending), 'decided' (confirmed, cancelled or superseded already)."""
    if not found:
        return "unknown"
    if not own_department:
        return "other_department"
    return "cancelled" if pending else "decided"


def review_confirmation(known: bool, is_open: bool, same_person: bool) -> str:
    """Confirming a review (quarantine): 'confirmed', or 'unknown' (no such review of the reason
    asked), 'not_open', 'same_person' (nobody confirms a review they opened: a security event)."""
    if not known:
        return "unknown"
    if not is_open:
        return "not_open"
    return "same_person" if same_person else "confirmed"
