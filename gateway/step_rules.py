"""Pure: the rules of the administrative steps: what a change of a requester's rights may do, when
failed logins lock a login, when a verified one opens a session and when a session is still
valid, who may take each step of a four-eyes release (claim, propose, confirm, withdraw), and who
may acknowledge an attempt. No I/O: the scripts that take these steps (lua/requester_rights.lua,
staff_login_failed.lua, staff_login_ok.lua, staff_session.lua, attempt_ack.lua, staff_claim.lua,
staff_unclaim.lua, staff_propose.lua, staff_confirm.lua, staff_withdraw.lua) decide by tables
generated from these functions (gateway/store/rules_lua.py), in the step that acts on them.

`Who` is whom a claim, a proposal or a confirmation belongs to, seen by the one taking the step:
no one, the actor themself, or another approver.
"""

from __future__ import annotations

from enum import StrEnum


class Who(StrEnum):
    NONE = "none"
    SELF = "self"
    OTHER = "other"


def rights_change(registered: bool, grant: bool, whole: bool, holds_affair: bool) -> str:
    """A grant or a revocation of an affair (`whole`) or of some of its procedures: 'ok', or
    'unknown' (no such requester: no right is kept for one), 'whole_affair' (some procedures
    revoked of an affair held whole: a procedure is not carved out of a whole-affair right;
    revoke the affair, then grant the procedures it keeps)."""
    if not registered:
        return "unknown"
    if not grant and not whole and holds_affair:
        return "whole_affair"
    return "ok"


def login_failure(wrong_password: bool, known: bool, reaches_limit: bool) -> str:
    """A failed login: 'locked' (this failure reaches the limit: the login is locked for the
    lock-out period and its count starts again), 'counted' (one more towards the limit), or
    'recorded' (only its security event: an unknown login, or one refused as disabled or locked,
    counts towards nothing, so that nobody locks another's login by naming it)."""
    if not (wrong_password and known):
        return "recorded"
    return "locked" if reaches_limit else "counted"


def session_opening(same_password: bool, disabled: bool, locked: bool) -> str:
    """A login whose password was verified: 'ok' (a session opens), or 'refused:WHY' when the
    user changed meanwhile: 'changed' (a new password), 'disabled', 'locked'."""
    if not same_password:
        return "refused:changed"
    if disabled:
        return "refused:disabled"
    if locked:
        return "refused:locked"
    return "ok"


def session_check(
    found: bool, past_end: bool, past_idle: bool, user: bool, disabled: bool, same_epoch: bool
) -> str:
    """A request on a console session: 'ok' (still valid: its idle end is renewed), 'ended' (it
    is over and is deleted: its absolute end or its idle end reached by the gateway's clock, its
    user gone or disabled, or given a new password since it opened: `same_epoch` false), or
    'none' (no such session)."""
    if not found:
        return "none"
    if past_end or past_idle or not user or disabled or not same_epoch:
        return "ended"
    return "ok"


def attempt_acknowledgement(found: bool, own_department: bool, open_: bool) -> str:
    """A registrar acknowledges an attempt (試行の確認): 'acknowledged', or 'unknown' (no such
    attempt, or another department's: it is as unknown, so that nobody learns of an attempt
    about a person their department does not hold), 'already' (acknowledged before)."""
    if not (found and own_department):
        return "unknown"
    return "acknowledged" if open_ else "already"


def claim(held: bool, claim: Who) -> str:
    """Claiming a held query (one approver works on it at a time): 'ok' (claimed, or renewed),
    'not_held', 'taken' (another approver holds it)."""
    if not held:
        return "not_held"
    return "taken" if claim is Who.OTHER else "ok"


def unclaim(claim: Who) -> str:
    """Giving a claim back: 'ok' only for one's own; 'not_yours'."""
    return "ok" if claim is Who.SELF else "not_yours"


def propose(held: bool, claim: Who, proposal: Who) -> str:
    """Four-eyes, step 1: 'ok' (proposed, or one's own proposal made again), 'not_held',
    'not_claimed' (only the approver holding the claim proposes), 'proposed' (another approver's
    proposal stands)."""
    if not held:
        return "not_held"
    if claim is not Who.SELF:
        return "not_claimed"
    return "proposed" if proposal is Who.OTHER else "ok"


def confirm(held: bool, proposal: Who, claim: Who, confirmer: Who) -> str:
    """Four-eyes, step 2: taking another's proposal to confirm it: 'ok', or 'not_held', 'none'
    (nothing proposed), 'same_person' (nobody confirms their own proposal), 'taken' (another
    approver holds the claim), 'confirming' (another approver is confirming it)."""
    if not held:
        return "not_held"
    if proposal is Who.NONE:
        return "none"
    if proposal is Who.SELF:
        return "same_person"
    if claim is Who.OTHER:
        return "taken"
    return "confirming" if confirmer is Who.OTHER else "ok"


def withdraw(proposal: Who, confirmer: Who) -> str:
    """The proposer withdraws a proposal: 'ok', or 'none', 'not_yours', 'confirming' (someone is
    confirming it: the release may be under way)."""
    if proposal is Who.NONE:
        return "none"
    if proposal is Who.OTHER:
        return "not_yours"
    return "ok" if confirmer is Who.NONE else "confirming"
