"""Domain values shared by every layer: queries, flag state, held queries, provision records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

# The most a page of any list holds (held queries, attempts, events): a list is all of it, or
# says how much is left, in pages of at most this.
MAX_PAGE = 1000


class QueryState(StrEnum):
    """Where a query is in its life; the allowed moves live in `gateway.lifecycle`."""

    RECEIVED = "received"  # admitted, the upstream is being asked (automatic path)
    PROVIDED = "provided"  # answered automatically (held again if the person is flagged since)
    HELD = "held"  # waiting for staff (自動応答不可)
    RELEASED = "released"  # answered by staff with a handling notice (取扱注意); held again
    # if the flag changed since
    REFUSED = "refused"  # refused by staff


class HoldReason(StrEnum):
    """Why a query was not answered automatically; shown to staff, recorded in the trail."""

    AUTO_RESPONSE_DISABLED = "auto_response_disabled"
    SUBJECT_UNKNOWN = "subject_unknown"
    FLAG_SET_IN_FLIGHT = "flag_set_in_flight"
    INTERRUPTED = "interrupted"
    # held for review (quarantine) until staff confirm: a directory import moved the subject code
    # to another person (while the query waited for the upstream, too)
    SUBJECT_REMAPPED = "subject_remapped"
    # an answer given (automatically, or by staff) is asked for again after the person was
    # flagged, or after the subject came to resolve to another person or no one (gateway.recheck)
    FLAGGED_AFTER_ANSWER = "flagged_after_answer"
    SUBJECT_CHANGED_AFTER_ANSWER = "subject_changed_after_answer"
    # held for review until staff confirm: the check (gateway/verify) found the person's flag
    # state in the store unlike what the signed trail and the flag history say, or the subject's
    # directory entry written past the gateway
    FLAG_STATE_MISMATCH = "flag_state_mismatch"
    DIRECTORY_MISMATCH = "directory_mismatch"


@dataclass(frozen=True, slots=True)
class FlagState:
    """The two flags of one person at one moment (自動応答不可フラグ / 不開示該当フラグ)."""

    auto_response_disabled: bool = False
    non_disclosure: bool = False

    @property
    def any(self) -> bool:
        return self.auto_response_disabled or self.non_disclosure


@dataclass(frozen=True, slots=True)
class SubmitQuery:
    """One 照会依頼 as validated at the edge, built once (soap.messages.read_submit_query): the
    decision, the idempotency key, the stored request, the provision record and the request the
    upstream receives are all made from this one value."""

    processing_number: str
    requester_org_code: str
    affair_code: str
    procedure_code: str
    item_code: str
    subject_code: str
    requested_at: str
    requester_dept_code: str = ""
    requester_user_id: str = ""
    requester_non_disclosure: bool = False
    period_from: str = ""
    period_to: str = ""

    def personal_fields(self) -> dict[str, str]:
        """What must be sealed at rest: the person's code and the requester's user."""
        return {
            "subject_code": self.subject_code,
            "requester_user_id": self.requester_user_id,
            "requester_dept_code": self.requester_dept_code,
            "period_from": self.period_from,
            "period_to": self.period_to,
        }


@dataclass(frozen=True, slots=True)
class PortalRequest:
    """One citizen-portal view (自己情報表示 / 情報提供等記録表示) as validated: whose, and which
    item (GetSelfInformation only; "" for every item)."""

    subject_code: str
    item_code: str = ""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """What the information-provision endpoint said: fields, or that it holds no data.

    `canonical`: (the processing number it named, its bytes) when those bytes were exactly the
    canonical SubmitQueryResponse for these values (gateway/soap/canonical.py), else None. Not
    part of the value: two answers with the same content are equal however they were written.
    """

    has_data: bool
    fields: tuple[Field, ...] = ()
    canonical: tuple[str, bytes] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What a requester is told about a query (SubmitQueryResponse / GetQueryResultResponse)."""

    processing_number: str
    status: str  # PROVIDED | PENDING | REFUSED
    fields: tuple[Field, ...] | None = None
    handling_notice: str | None = None
    refusal_code: str | None = None
    # The SubmitQueryResponse for exactly this result, when the upstream wrote it so: relayed as
    # it is instead of written again (issue 14). Set only by ProvisionService.submit, from an
    # UpstreamAnswer.canonical for this very processing number; not part of the value.
    relayed: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def pending(cls, pn: str) -> QueryResult:
        return cls(pn, "PENDING")

    @classmethod
    def refused(cls, pn: str, code: str) -> QueryResult:
        return cls(pn, "REFUSED", refusal_code=code)


@dataclass(slots=True)
class HeldQuery:
    """A query waiting for staff, with what they need to judge it. No plaintext personal data."""

    id: str
    state: QueryState
    requester_org_code: str
    processing_number: str
    affair_code: str
    procedure_code: str
    item_code: str
    requested_at: str
    received_at: str
    held_at: str
    reason: str
    requester_name: str = ""
    subject_key: str = ""
    person_key: str = ""
    requester_non_disclosure: bool = False
    decided_at: str = ""
    decided_by: str = ""
    claimed_by: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state.value,
            "requester_org_code": self.requester_org_code,
            "requester_name": self.requester_name,
            "processing_number": self.processing_number,
            "affair_code": self.affair_code,
            "procedure_code": self.procedure_code,
            "item_code": self.item_code,
            "requested_at": self.requested_at,
            "received_at": self.received_at,
            "held_at": self.held_at,
            "reason": self.reason,
            "decided_at": self.decided_at or None,
            "decided_by": self.decided_by or None,
            "claimed_by": self.claimed_by or None,
        }


@dataclass(frozen=True, slots=True)
class ProvisionRecord:
    """情報提供等記録: one answer that left the ward, kept for the person's portal view."""

    processing_number: str
    requester_org_code: str
    affair_code: str
    procedure_code: str
    item_code: str
    requested_at: str
    provided_at: str
    non_disclosure: bool
    how: str  # "automatic" | "released"
    outcome: str = "provided"  # "provided" | "no_data"


# -- the staff console's ------------------------------------------------------------------------
def session_digest(session_id: str) -> str:
    """What the store keeps of a session id (never the id: a copy of the store opens no session)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    digest: str
    login: str
    role: str
    department: str
    csrf: str
    flash: tuple[str, str, dict[str, str]] | None = None  # (level, message key, params)

    @property
    def actor(self) -> str:
        return f"staff:{self.login}"


# How a holding department acknowledges an attempt it was told of: 本人に伝えた / 把握済み・想定内
ACK_OUTCOMES = ("told", "expected")
