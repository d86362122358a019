"""Every script's reply, decoded by name: each script under lua/ answers name/value pairs (the
query path's begin with the action or the access they decided, every other with its `outcome`;
each lua/*.lua header says what it answers), and one decoder here reads it, the only place that
knows its shape. A reply the decoder does not know (an outcome, a value missing or extra, a
reply by position) is a ReplyError and is never acted on: a script of another version loaded.
`REPLIES` says which decoder reads each script (tests/test_replies.py holds every script to it).

base.py     ReplyError, reading pairs, `Named` (a reply that begins with its outcome)
query.py    the query path: admit, complete, result, the portal's views, release and refusal
people.py   staff users and sessions, reviews, requesters, claims and four-eyes, attempts
records.py  flags, the keys, the trail, the directory, the check, pages, outbox, counters, sweep
"""

from __future__ import annotations

from gateway.store.replies.base import (
    Named as Named,
)
from gateway.store.replies.base import (
    ReplyError as ReplyError,
)
from gateway.store.replies.base import (
    frozen as frozen,
)
from gateway.store.replies.base import (
    named as named,
)
from gateway.store.replies.base import (
    pairs as pairs,
)
from gateway.store.replies.base import (
    state_of as state_of,
)
from gateway.store.replies.people import (
    AckReply as AckReply,
)
from gateway.store.replies.people import (
    ClaimReply as ClaimReply,
)
from gateway.store.replies.people import (
    ClaimStep as ClaimStep,
)
from gateway.store.replies.people import (
    ConfirmReply as ConfirmReply,
)
from gateway.store.replies.people import (
    FoldReply as FoldReply,
)
from gateway.store.replies.people import (
    LoginFailedReply as LoginFailedReply,
)
from gateway.store.replies.people import (
    LoginReply as LoginReply,
)
from gateway.store.replies.people import (
    LogoutReply as LogoutReply,
)
from gateway.store.replies.people import (
    ProposeReply as ProposeReply,
)
from gateway.store.replies.people import (
    RequesterAddReply as RequesterAddReply,
)
from gateway.store.replies.people import (
    RequesterRemoveReply as RequesterRemoveReply,
)
from gateway.store.replies.people import (
    ReviewReply as ReviewReply,
)
from gateway.store.replies.people import (
    RightsReply as RightsReply,
)
from gateway.store.replies.people import (
    SessionReply as SessionReply,
)
from gateway.store.replies.people import (
    UnclaimReply as UnclaimReply,
)
from gateway.store.replies.people import (
    UserAddReply as UserAddReply,
)
from gateway.store.replies.people import (
    UserChangeReply as UserChangeReply,
)
from gateway.store.replies.people import (
    WithdrawReply as WithdrawReply,
)
from gateway.store.replies.query import (
    AdmitReply as AdmitReply,
)
from gateway.store.replies.query import (
    FlagReadReply as FlagReadReply,
)
from gateway.store.replies.query import (
    OutcomeReply as OutcomeReply,
)
from gateway.store.replies.query import (
    PortalReply as PortalReply,
)
from gateway.store.replies.query import (
    RelayReply as RelayReply,
)
from gateway.store.replies.query import (
    ReleaseBeginReply as ReleaseBeginReply,
)
from gateway.store.replies.query import (
    ResultReply as ResultReply,
)
from gateway.store.replies.query import (
    StepReply as StepReply,
)
from gateway.store.replies.records import (
    CancelReply as CancelReply,
)
from gateway.store.replies.records import (
    CheckReply as CheckReply,
)
from gateway.store.replies.records import (
    EventsReply as EventsReply,
)
from gateway.store.replies.records import (
    FlagChangeReply as FlagChangeReply,
)
from gateway.store.replies.records import (
    KeyringReply as KeyringReply,
)
from gateway.store.replies.records import (
    LeaseReply as LeaseReply,
)
from gateway.store.replies.records import (
    LockReply as LockReply,
)
from gateway.store.replies.records import (
    MailDoneReply as MailDoneReply,
)
from gateway.store.replies.records import (
    MailTakeReply as MailTakeReply,
)
from gateway.store.replies.records import (
    OpenedReply as OpenedReply,
)
from gateway.store.replies.records import (
    PageReply as PageReply,
)
from gateway.store.replies.records import (
    PatternsReply as PatternsReply,
)
from gateway.store.replies.records import (
    RateReply as RateReply,
)
from gateway.store.replies.records import (
    RefusedReply as RefusedReply,
)
from gateway.store.replies.records import (
    RepairReply as RepairReply,
)
from gateway.store.replies.records import (
    ScanReply as ScanReply,
)
from gateway.store.replies.records import (
    SealReply as SealReply,
)
from gateway.store.replies.records import (
    SnapshotReply as SnapshotReply,
)
from gateway.store.replies.records import (
    StatusReply as StatusReply,
)
from gateway.store.replies.records import (
    SweepReply as SweepReply,
)
from gateway.store.replies.records import (
    TrimReply as TrimReply,
)
from gateway.store.replies.records import (
    UnlockReply as UnlockReply,
)
from gateway.store.replies.records import (
    UpgradeReply as UpgradeReply,
)
from gateway.store.replies.records import (
    WriteReply as WriteReply,
)

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
    """Which decoder reads each script's reply."""
    out: dict[str, type] = {
        "admit": AdmitReply,
        "complete": RelayReply,
        "result": ResultReply,
        "portal_self": PortalReply,
        "portal_records": PortalReply,
        "release_begin": ReleaseBeginReply,
        "flag_read": FlagReadReply,
    }
    for name in ("hold", "refuse", "abandon", "release_finish"):
        out[name] = StepReply
    for name in ("flag_release_request", "quarantine_confirm"):
        out[name] = OutcomeReply
    for cls in NAMED:
        for name in cls.SCRIPTS:
            if name in out:
                raise RuntimeError(f"two decoders of {name}")
            out[name] = cls
    return out


REPLIES: dict[str, type] = decoders()
