"""The decision, pure: given what the store knows about a query, answer, hold or refuse, and why.

No I/O here. The store gathers the facts (`AdmissionFacts`) in one atomic read; this module says
what to do with them. Every branch that is not plainly safe ends in HOLD: an automatic answer needs
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
    action: Action
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


def may_relay(flags_now: FlagState | None, under_review: str | None = None) -> bool:
    """After the upstream answered: relay only if the flag state is known and still clear, and
    neither the subject nor its person is under review (a subject moved to another person since
    admission counts as under review: subject_remapped).

    The store applies this same rule inside its atomic relay step (lua/complete.lua), so that no
    flag change can slip between this check and the write; tests hold the two to the same table.
    """
    return flags_now is not None and not flags_now.auto_response_disabled and not under_review


def record_is_non_disclosable(flags: FlagState | None, requester_non_disclosure: bool) -> bool:
    """A provision record is marked 不開示 when the person has non_disclosure or the requester asked."""
    return requester_non_disclosure or (flags is not None and flags.non_disclosure)
