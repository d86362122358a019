"""The decision, pure: given what the store knows about a query, answer, hold or refuse, and why.

No I/O here. The store gathers the facts (`AdmissionFacts`, `RelayFacts`) in one atomic step;
this module says what to do with them, and the store's Lua scripts act on tables generated from
these very functions (gateway/store/rules_lua.py), so the rule you read is the rule that runs. Every branch that is not plainly safe ends in HOLD: an automatic answer needs
a registered requester, a known subject and an established flag state without 自動応答不可.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.model import FlagState, HoldReason


class Action(StrEnum):
    FORWARD = "forward"  # ask the upstream; relay only if the flag is still clear afterwards
    HOLD = "hold"  # keep for staff (manual queue)
    REFUSE = "refuse"  # not authorized: nothing is stored
    EXISTING = "existing"  # (requester, processing number) already known: answer its state


class RefuseReason(StrEnum):
    NOT_AUTHORIZED = "NOT_AUTHORIZED"


# The reasons a review (quarantine, gateway/store/quarantine.py) is opened with: what an open
# review holds a query for. The store's tables know these and no other (a review of any other
# reason stops the step that meets it: gateway/store/rules_lua.py).
REVIEW_REASONS = (
    HoldReason.SUBJECT_REMAPPED,
    HoldReason.FLAG_STATE_MISMATCH,
    HoldReason.DIRECTORY_MISMATCH,
)


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """What the store read, atomically, when the query arrived.

    `flags` is None when the subject code is not in the directory: the person is unknown, so
    their flag state cannot be established. `under_review` is the reason of an open review
    (quarantine, gateway/store/quarantine.py) of the subject or its person: until staff confirm
    it, whose flags apply is not established either.
    """

    requester_registered: bool
    requester_permitted: bool
    existing_query: bool
    subject_known: bool
    flags: FlagState | None
    under_review: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action | PortalOutcome
    reason: str

    @property
    def automatic(self) -> bool:
        return self.action is Action.FORWARD


def decide(facts: AdmissionFacts) -> Decision:
    """Auto-answer, hold or refuse one query (照会依頼), and why."""
    if not facts.requester_registered or not facts.requester_permitted:
        return Decision(Action.REFUSE, RefuseReason.NOT_AUTHORIZED)
    if facts.existing_query:
        return Decision(Action.EXISTING, "idempotent_resubmission")
    if not facts.subject_known or facts.flags is None:
        return Decision(Action.HOLD, HoldReason.SUBJECT_UNKNOWN)
    if facts.flags.auto_response_disabled:
        return Decision(Action.HOLD, HoldReason.AUTO_RESPONSE_DISABLED)
    if facts.under_review:
        return Decision(Action.HOLD, facts.under_review)
    return Decision(Action.FORWARD, "clear")


def requester_certified(claimed_org: str, certified_org: str | None) -> bool:
    """Whether a query's requesterOrgCode is the requester its client certificate names.

    `certified_org` is None where no client certificates are asked for (plain HTTP on loopback,
    or --insecure-http: said at start), "" for a certificate that names no single requester.
    """
    return certified_org is None or certified_org == claimed_org


@dataclass(frozen=True, slots=True)
class RelayFacts:
    """What the store reads at the automatic path's last moment, after the upstream answered
    (lua/complete.lua, in the step that writes the answer): whether the subject still resolves,
    its person's 自動応答不可 now, whether it resolves to another person than at admission
    (`moved`), and the reason of an open review of the subject or its person (or None)."""

    subject_known: bool
    auto_response_disabled: bool
    moved: bool
    under_review: str | None = None


def relay(facts: RelayFacts) -> Decision:
    """Relay the upstream's answer (FORWARD) only if the subject is still known, still without
    自動応答不可, still the same person and under no review; otherwise hold it, and why."""
    if not facts.subject_known:
        return Decision(Action.HOLD, HoldReason.SUBJECT_UNKNOWN)
    if facts.auto_response_disabled:
        return Decision(Action.HOLD, HoldReason.FLAG_SET_IN_FLIGHT)
    if facts.under_review:
        return Decision(Action.HOLD, facts.under_review)
    if facts.moved:
        # a directory import moved the subject to another person while the upstream answered:
        # whose flags apply is not established until staff confirm the move
        return Decision(Action.HOLD, HoldReason.SUBJECT_REMAPPED)
    return Decision(Action.FORWARD, "clear")


def record_is_non_disclosable(
    person_nd_now: bool, person_nd_at_arrival: bool, requester_non_disclosure: bool
) -> bool:
    """An automatic answer's provision record is marked 不開示 when the person has 不開示該当 now
    or had it when the query arrived (released since, it still hides this record), or the
    requester asked."""
    return person_nd_now or person_nd_at_arrival or requester_non_disclosure


class ResultAccess(StrEnum):
    """What a requester asking for a query's result (GetQueryResult, or the same query sent
    again) is let to learn."""

    REFUSED = "refused"  # not a registered requester
    UNKNOWN = "unknown"  # no such query of this requester
    NOT_PERMITTED = "not_permitted"  # no longer holds the right to the query's affair/procedure
    FOUND = "found"


def result_access(registered: bool, query_found: bool, permitted: bool) -> ResultAccess:
    """A revoked right stops the answer too; an unknown processing number says only that."""
    if not registered:
        return ResultAccess.REFUSED
    if not query_found:
        return ResultAccess.UNKNOWN
    if not permitted:
        return ResultAccess.NOT_PERMITTED
    return ResultAccess.FOUND


class PortalOutcome(StrEnum):
    """What a citizen-portal view (自己情報表示 / 情報提供等記録表示) may show; every outcome but
    SHOWN answers byte for byte as "no data" (gateway/portal.py)."""

    UNKNOWN_SUBJECT = "unknown_subject"
    BLOCKED = "blocked"  # GetSelfInformation of a person with 自動応答不可, or under review
    FILTERED = "filtered"  # GetProvisionRecords with records hidden
    NO_DATA = "no_data"
    SHOWN = "shown"


def self_information_view(
    known: bool, ard: bool, flag_changed_in_view: bool, under_review: str | None, has_data: bool
) -> Decision:
    """A GetSelfInformation view, decided after the upstream answered (lua/portal_self.lua):
    the outcome and why. `flag_changed_in_view`: the person's flag record changed after the view
    began (most likely the flag was set in flight)."""
    if not known:
        return Decision(PortalOutcome.UNKNOWN_SUBJECT, HoldReason.SUBJECT_UNKNOWN)
    if ard:
        why = (
            HoldReason.FLAG_SET_IN_FLIGHT
            if flag_changed_in_view
            else HoldReason.AUTO_RESPONSE_DISABLED
        )
        return Decision(PortalOutcome.BLOCKED, why)
    if under_review:
        return Decision(PortalOutcome.BLOCKED, under_review)
    if not has_data:
        return Decision(PortalOutcome.NO_DATA, "")
    return Decision(PortalOutcome.SHOWN, "")


def record_shown(known: bool, nd: bool, under_review: str | None, record_nd: bool) -> bool:
    """Whether one provision record is shown on the portal (GetProvisionRecords): never while the
    person has 不開示該当 or is under review, never one marked non-disclosable when it was made,
    and nothing of a subject whose flag state cannot be established (unknown)."""
    return known and not nd and not under_review and not record_nd


def provision_records_view(
    known: bool, nd: bool, under_review: str | None, any_hidden: bool
) -> Decision:
    """A GetProvisionRecords view's outcome and why (lua/portal_records.lua), once each record
    was judged by `record_shown`."""
    if not known:
        return Decision(PortalOutcome.UNKNOWN_SUBJECT, HoldReason.SUBJECT_UNKNOWN)
    if nd:
        return Decision(PortalOutcome.FILTERED, "non_disclosure")
    if under_review:
        return Decision(PortalOutcome.FILTERED, under_review)
    if any_hidden:
        return Decision(PortalOutcome.FILTERED, "record_marked")
    return Decision(PortalOutcome.SHOWN, "")
