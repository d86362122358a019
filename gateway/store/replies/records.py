"""The replies of the store's own steps (flags, the keys, the trail, the directory, the check,
pages, the outbox, counters, the sweep), decoded by name."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.replies.base import Named, frozen, named


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
    OUTCOMES = frozen(
        {"cancelled": (), "unknown": (), "other_department": (), "decided": ("state",)}
    )


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
    OUTCOMES = frozen({"ok": ("reads",), "refused": ("reads",), "refused_recorded": ("reads",)})


@dataclass(frozen=True, slots=True)
class SweepReply(Named):
    SCRIPTS = ("sweep",)
    OUTCOMES = frozen({"ok": ("held", "left")})
