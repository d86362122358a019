"""The replies of the store's other steps (staff, requesters, flags, claims, the directory, the
trail, the check), decoded by name: one decoder per script, the only place that knows the shape
of what it returns. Every such script answers name/value pairs with an `outcome` first (see each
lua/*.lua header); an outcome the decoder does not know, or a value missing for it, is a
ReplyError and is never acted on. `REPLIES` says which decoder reads each script's reply
(tests/test_replies.py holds every script under lua/ to it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, TypeVar

from gateway.store import replies as r
from gateway.store.replies import ReplyError, named

V = TypeVar("V")


def frozen(d: dict[str, V]) -> Mapping[str, V]:
    """A decoder's table, read only (shared by every reply it makes)."""
    return MappingProxyType(d)


@dataclass(frozen=True, slots=True)
class Named:
    """A script's outcome and the values it named with it. A decoder says, per outcome it knows,
    the names that outcome carries (`OUTCOMES`); `DETAIL` names, per outcome, the one value a
    refusal is told by (whom, which state), for callers that pass it on."""

    SCRIPTS: ClassVar[tuple[str, ...]] = ()
    OUTCOMES: ClassVar[Mapping[str, tuple[str, ...]]] = frozen({})
    DETAIL: ClassVar[Mapping[str, str]] = frozen({})

    outcome: str
    values: Mapping[str, object]

    @classmethod
    def from_reply(cls, res: object) -> Named:
        if not isinstance(res, list):
            raise ReplyError(f"{cls.__name__}: not a list of name/value pairs: {type(res)}")
        r = named(res)
        outcome = str(r.pop("outcome", ""))
        if outcome not in cls.OUTCOMES:
            raise ReplyError(f"{'/'.join(cls.SCRIPTS)} answered {outcome!r}")
        missing = [name for name in cls.OUTCOMES[outcome] if name not in r]
        extra = [name for name in r if name not in cls.OUTCOMES[outcome]]
        if missing or extra:
            raise ReplyError(
                f"{'/'.join(cls.SCRIPTS)} {outcome}: missing {missing}, unknown {extra}"
            )
        return cls(outcome, r)

    def text(self, name: str) -> str:
        return str(self.values[name])

    def number(self, name: str) -> int:
        return int(str(self.values[name]))

    def rows(self, name: str) -> list[object]:
        """A value that is a list (an empty Lua table comes back as an empty list)."""
        v = self.values[name]
        if not isinstance(v, list):
            raise ReplyError(f"{'/'.join(self.SCRIPTS)}: {name} is not a list")
        return v

    @property
    def detail(self) -> str:
        """What a refusal is told by ('' for an outcome that carries nothing)."""
        name = self.DETAIL.get(self.outcome)
        return self.text(name) if name else ""


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


# -- flags (flags.py, release_requests.py) --------------------------------------------------
@dataclass(frozen=True, slots=True)
class FlagChangeReply(Named):
    SCRIPTS = ("flag_change",)
    OUTCOMES = frozen(
        {
            "ok": ("versions",),
            "stale": ("index", "version"),
            "request": ("index", "reason"),
            "refused": ("index", "reason"),
        }
    )
    DETAIL = frozen({"request": "reason", "refused": "reason"})


@dataclass(frozen=True, slots=True)
class UpgradeReply(Named):
    SCRIPTS = ("flag_upgrade",)
    OUTCOMES = frozen({"ok": ("upgraded", "orphans")})


@dataclass(frozen=True, slots=True)
class RepairReply(Named):
    SCRIPTS = ("flag_repair",)
    OUTCOMES = frozen(
        {
            "repaired": ("was_ard", "was_nd", "ard", "nd"),
            "none": (),
            "old_model": (),
            "unreadable": ("department",),
        }
    )


@dataclass(frozen=True, slots=True)
class CancelReply(Named):
    SCRIPTS = ("flag_release_cancel",)
    OUTCOMES = frozen({"cancelled": (), "unknown": (), "decided": ("state",)})


# -- the keys (keycheck.py) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyringReply(Named):
    SCRIPTS = ("keyring_check",)
    OUTCOMES = frozen({"ok": (), "differs": ("name",), "missing": ("name",)})


# -- the trail (trail.py) ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SealReply(Named):
    SCRIPTS = ("audit_seal",)
    OUTCOMES = frozen(
        {
            "sealed": ("seq",),
            "lease_lost": (),
            "head_moved": ("seq",),
            "trail_ahead": ("entry",),
        }
    )


@dataclass(frozen=True, slots=True)
class TrimReply(Named):
    SCRIPTS = ("audit_trim",)
    OUTCOMES = frozen({"trimmed": ("removed",), "lease_lost": (), "beyond_head": ("seq",)})


# -- the directory (directory.py) -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LockReply(Named):
    SCRIPTS = ("directory_lock",)
    OUTCOMES = frozen({"ok": (), "busy": ("import", "actor", "started_at")})


@dataclass(frozen=True, slots=True)
class UnlockReply(Named):
    SCRIPTS = ("directory_unlock",)
    OUTCOMES = frozen({"ok": ()})


@dataclass(frozen=True, slots=True)
class CheckReply(Named):
    SCRIPTS = ("directory_check",)
    OUTCOMES = frozen({"ok": ("statuses", "remaps"), "lock_lost": ()})


@dataclass(frozen=True, slots=True)
class WriteReply(Named):
    SCRIPTS = ("directory_write",)
    OUTCOMES = frozen(
        {
            "ok": ("new", "unchanged", "remapped", "protected", "sealed"),
            "lock_lost": (),
            "changed": ("line",),
            "remap_refused": ("line",),
        }
    )


@dataclass(frozen=True, slots=True)
class RefusedReply(Named):
    SCRIPTS = ("directory_refused",)
    OUTCOMES = frozen({"recorded": ("stops",)})


# -- the check (verify.py) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SnapshotReply(Named):
    SCRIPTS = ("verify_snapshot",)
    OUTCOMES = frozen(
        {
            "ok": ("head", "raw", "persons", "values"),
            "behind": ("head", "waiting"),
        }
    )


@dataclass(frozen=True, slots=True)
class ScanReply(Named):
    SCRIPTS = ("verify_scan",)
    OUTCOMES = frozen({"ok": ("cursor", "entries", "persons")})


# -- the trail's leases and reads, pages, the outbox, counters, the sweep -------------------------
@dataclass(frozen=True, slots=True)
class LeaseReply(Named):
    SCRIPTS = ("audit_lease",)
    OUTCOMES = frozen({"held": ("value",), "taken": ("value",)})


@dataclass(frozen=True, slots=True)
class StatusReply(Named):
    SCRIPTS = ("audit_status",)
    OUTCOMES = frozen({"ok": ("head", "unsealed", "oldest", "stored")})


@dataclass(frozen=True, slots=True)
class EventsReply(Named):
    SCRIPTS = ("events_read",)
    OUTCOMES = frozen({"ok": ("sealed", "raw", "first_sealed", "first_raw")})


@dataclass(frozen=True, slots=True)
class PageReply(Named):
    SCRIPTS = ("index_page",)
    OUTCOMES = frozen({"ok": ("total", "start", "rows")})


@dataclass(frozen=True, slots=True)
class MailTakeReply(Named):
    SCRIPTS = ("mail_take",)
    OUTCOMES = frozen({"ok": ("mails",)})

    @property
    def mails(self) -> list[dict[str, str]]:
        """Each mail taken, by name (id, department, count, first, last, tries)."""
        return [
            {name: str(v) for name, v in named(m if isinstance(m, list) else [m]).items()}
            for m in self.rows("mails")
        ]


@dataclass(frozen=True, slots=True)
class MailDoneReply(Named):
    SCRIPTS = ("mail_done",)
    OUTCOMES = frozen({"done": (), "unknown": ()})


@dataclass(frozen=True, slots=True)
class PatternsReply(Named):
    SCRIPTS = ("patterns_fold",)
    OUTCOMES = frozen({"ok": (), "moved": ("cursor",)})


@dataclass(frozen=True, slots=True)
class OpenedReply(Named):
    SCRIPTS = ("quarantine_open",)
    OUTCOMES = frozen({"opened": ()})


@dataclass(frozen=True, slots=True)
class RateReply(Named):
    SCRIPTS = ("rate_count",)
    OUTCOMES = frozen({"ok": ("reads", "recorded")})


@dataclass(frozen=True, slots=True)
class SweepReply(Named):
    SCRIPTS = ("sweep",)
    OUTCOMES = frozen({"ok": ("held", "left")})


NAMED: tuple[type[Named], ...] = (
    FoldReply,
    AckReply,
    UserAddReply,
    UserChangeReply,
    LoginFailedReply,
    LoginReply,
    SessionReply,
    LogoutReply,
    ReviewReply,
    RequesterAddReply,
    RequesterRemoveReply,
    RightsReply,
    ClaimReply,
    UnclaimReply,
    ProposeReply,
    ConfirmReply,
    WithdrawReply,
    FlagChangeReply,
    UpgradeReply,
    RepairReply,
    CancelReply,
    KeyringReply,
    SealReply,
    TrimReply,
    LockReply,
    UnlockReply,
    CheckReply,
    WriteReply,
    RefusedReply,
    SnapshotReply,
    ScanReply,
    LeaseReply,
    StatusReply,
    EventsReply,
    PageReply,
    MailTakeReply,
    MailDoneReply,
    PatternsReply,
    OpenedReply,
    RateReply,
    SweepReply,
)


def decoders() -> dict[str, type]:
    """Which decoder reads each script's reply: these, and those of gateway/store/replies.py."""
    out: dict[str, type] = {
        "admit": r.AdmitReply,
        "complete": r.RelayReply,
        "result": r.ResultReply,
        "portal_self": r.PortalReply,
        "portal_records": r.PortalReply,
        "release_begin": r.ReleaseBeginReply,
        "flag_read": r.FlagReadReply,
    }
    for name in ("hold", "refuse", "abandon", "release_finish"):
        out[name] = r.StepReply
    for name in ("flag_release_request", "quarantine_confirm"):
        out[name] = r.OutcomeReply
    for cls in NAMED:
        for name in cls.SCRIPTS:
            if name in out:
                raise RuntimeError(f"two decoders of {name}")
            out[name] = cls
    return out


REPLIES: dict[str, type] = decoders()
