"""The replies of the steps people take (staff users and sessions, auditors' reviews, requesters
and their rights, claims and the four-eyes release, attempts acknowledged), decoded by name."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.replies.base import Named, ReplyError, frozen


# -- the attempts (gateway/store/attempts.py) --------------------------------------------------
@dataclass(frozen=True, slots=True)
class FoldReply(Named):
    SCRIPTS = ("attempts_fold",)
    OUTCOMES = frozen({"moved": ("cursor",), "ok": ("attempts", "fired")})

    @property
    def fired(self) -> list[tuple[str, str]]:
        """(rule, person or requester) of each rule fired, in order."""
        flat = self.rows("fired")  # rule, key, rule, key, ... (a rule may fire for several)
        if len(flat) % 2:
            raise ReplyError("attempts_fold: fired is not rule/key pairs")
        return [(str(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]


@dataclass(frozen=True, slots=True)
class AckReply(Named):
    SCRIPTS = ("attempt_ack",)
    OUTCOMES = frozen({"acknowledged": (), "unknown": (), "already": ("by", "at")})


# -- staff users and sessions (users.py, sessions.py) -------------------------------------------
@dataclass(frozen=True, slots=True)
class UserAddReply(Named):
    SCRIPTS = ("staff_user_add",)
    OUTCOMES = frozen({"ok": (), "exists": ()})


@dataclass(frozen=True, slots=True)
class UserChangeReply(Named):
    SCRIPTS = ("staff_user_change",)
    OUTCOMES = frozen({"ok": (), "missing": ()})


@dataclass(frozen=True, slots=True)
class LoginFailedReply(Named):
    SCRIPTS = ("staff_login_failed",)
    OUTCOMES = frozen({"recorded": (), "counted": (), "locked": ()})


@dataclass(frozen=True, slots=True)
class LoginReply(Named):
    SCRIPTS = ("staff_login_ok",)
    OUTCOMES = frozen({"ok": (), "refused": ("reason",)})
    DETAIL = frozen({"refused": "reason"})


@dataclass(frozen=True, slots=True)
class SessionReply(Named):
    SCRIPTS = ("staff_session",)
    OUTCOMES = frozen({"ok": ("login", "role", "department", "csrf", "flash"), "none": ()})


@dataclass(frozen=True, slots=True)
class LogoutReply(Named):
    SCRIPTS = ("staff_logout",)
    OUTCOMES = frozen({"ok": (), "none": ()})


@dataclass(frozen=True, slots=True)
class ReviewReply(Named):
    SCRIPTS = ("staff_review",)
    OUTCOMES = frozen({"ok": ("reviews",)})


# -- requesters (requesters.py) -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequesterAddReply(Named):
    SCRIPTS = ("requester_add",)
    OUTCOMES = frozen({"ok": ()})


@dataclass(frozen=True, slots=True)
class RequesterRemoveReply(Named):
    SCRIPTS = ("requester_remove",)
    OUTCOMES = frozen({"removed": (), "unknown": ()})


@dataclass(frozen=True, slots=True)
class RightsReply(Named):
    SCRIPTS = ("requester_rights",)
    OUTCOMES = frozen({"ok": ("changed",), "unknown": (), "whole_affair": ()})


# -- claims and four-eyes proposals (claims.py) ----------------------------------------------
@dataclass(frozen=True, slots=True)
class ClaimStep(Named):
    """A step of claims.py: 'ok', or a refusal told by whom or which state (`detail`)."""

    DETAIL = frozen(
        {
            "taken": "holder",
            "not_held": "state",
            "not_yours": "holder",
            "not_claimed": "holder",
            "proposed": "by",
            "confirming": "confirmer",
        }
    )


@dataclass(frozen=True, slots=True)
class ClaimReply(ClaimStep):
    SCRIPTS = ("staff_claim",)
    OUTCOMES = frozen({"ok": (), "taken": ("holder", "left"), "not_held": ("state",)})


@dataclass(frozen=True, slots=True)
class UnclaimReply(ClaimStep):
    SCRIPTS = ("staff_unclaim",)
    OUTCOMES = frozen({"ok": (), "not_yours": ("holder",)})


@dataclass(frozen=True, slots=True)
class ProposeReply(ClaimStep):
    SCRIPTS = ("staff_propose",)
    OUTCOMES = frozen(
        {"ok": (), "not_held": ("state",), "not_claimed": ("holder",), "proposed": ("by",)}
    )


@dataclass(frozen=True, slots=True)
class ConfirmReply(ClaimStep):
    SCRIPTS = ("staff_confirm",)
    OUTCOMES = frozen(
        {
            "ok": ("proposer", "notice", "seen"),
            "not_held": ("state",),
            "none": (),
            "same_person": (),
            "taken": ("holder",),
            "confirming": ("confirmer",),
        }
    )


@dataclass(frozen=True, slots=True)
class WithdrawReply(ClaimStep):
    SCRIPTS = ("staff_withdraw",)
    OUTCOMES = frozen(
        {"ok": (), "none": (), "not_yours": ("holder",), "confirming": ("confirmer",)}
    )
