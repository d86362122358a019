"""What counts as an attempt (試行): something asked for a protected person's data, or reached for
it, and the gateway stopped it. The one definition, for the auditors' pictures, the council's
report and the holding departments that are told (gateway/notices.py); pure, over events of the
log (gateway.store.events.Event).

An attempt is:
- a query held about a person flagged at that moment: `query.held` naming holding departments in
  its `holders` (whatever the hold's reason), or, from a gateway that did not name them, held with
  a reason of ATTEMPT_HOLD_REASONS (自動応答不可 at arrival, a flag set while the upstream
  answered). Holds for a subject the directory does not know, for a remapped subject of nobody
  flagged, or after an interruption are the gateway being careful, not someone reaching a
  protected person: they are not attempts. A hold that follows a withheld answer is not one of
  its own: the `query.answer_withheld` of the same step is;
- a portal view blocked or filtered: `security.portal_blocked` / `security.portal_filtered` (how
  this gateway records them, instead of `portal.view`), or a `portal.view` whose outcome says so;
- a stored answer withheld because its person is flagged since, or its subject moved:
  `query.answer_withheld`;
- a directory import that would have moved a protected person's subject code: refused
  (`directory.remap_refused`, one per person flagged then; from a gateway that did not write
  those, `directory.import_refused` with remaps) or applied and held until staff confirm
  (`directory.remapped` naming holding departments);
- a department's read of a flag refused (outside the annexes, or a person it does not hold):
  `security.flag_read_refused`.

Whom it is told to: the holding departments (保有課) in the event's `holders`, each department
whose own hold on the person had a flag on at that moment, read in the same atomic step that
stopped it (lua/prelude.lua `holders_of`). An event of a kind not listed here is no attempt, so a
name that does not match makes a count too low, never a person visible.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from gateway.model import HoldReason
from gateway.store.events import Event

# Counts kept from an earlier definition are counted again (gateway.services.patterns).
DEFINITION = 2


class AttemptKind(StrEnum):
    QUERY_HELD = "query_held"  # a query about a flagged person, held for staff
    PORTAL_BLOCKED = "portal_blocked"  # a portal view blocked or filtered (マイナポータル)
    ANSWER_WITHHELD = "answer_withheld"  # a stored answer not handed out again
    REMAP_REFUSED = "remap_refused"  # a protected person's subject code moved: refused or held
    READ_REFUSED = "read_refused"  # a department's read of a flag refused


ATTEMPT_HOLD_REASONS = frozenset(
    {HoldReason.AUTO_RESPONSE_DISABLED.value, HoldReason.FLAG_SET_IN_FLIGHT.value}
)
# the holds that follow a withheld answer, in the same step as its `query.answer_withheld`
WITHHELD_HOLD_REASONS = frozenset(
    {HoldReason.FLAGGED_AFTER_ANSWER.value, HoldReason.SUBJECT_CHANGED_AFTER_ANSWER.value}
)
PORTAL_VIEW = "portal.view"
PORTAL_BLOCKED_OUTCOMES = frozenset({"blocked", "filtered"})
PORTAL_SECURITY_KINDS = frozenset({"security.portal_blocked", "security.portal_filtered"})
WITHHELD_KINDS = frozenset({"query.answer_withheld"})
REMAP_REFUSED_KINDS = frozenset({"directory.remap_refused", "security.remap_refused"})
READ_REFUSED_KINDS = frozenset({"security.flag_read_refused"})
HOLDERS = "holders"  # the field naming the departments to tell, JSON {department: person key}


def portal_outcome(ev: Event) -> str:
    """`blocked`, `filtered`, another outcome of a portal view, or "" for no portal view."""
    if ev.kind == PORTAL_VIEW:
        return ev.fields.get("outcome") or ev.fields.get("decision", "")
    if ev.kind in PORTAL_SECURITY_KINDS:
        return ev.kind.removeprefix("security.portal_")
    return ""


def holders(ev: Event) -> dict[str, str]:
    """The departments told of this stop, each with the person it holds a flag on; {} for none
    (or an event from before departments were told)."""
    raw = ev.fields.get(HOLDERS, "")
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(d): str(p) for d, p in found.items() if isinstance(d, str) and d}


def attempt_kind(ev: Event) -> AttemptKind | None:
    """The definition: which attempt an event records, or None."""
    kind = ev.kind
    if kind == "query.held":
        reason = ev.fields.get("reason")
        if reason in WITHHELD_HOLD_REASONS:
            return None  # its query.answer_withheld is the attempt
        if reason in ATTEMPT_HOLD_REASONS or holders(ev):
            return AttemptKind.QUERY_HELD
        return None
    if kind == PORTAL_VIEW or kind in PORTAL_SECURITY_KINDS:
        return AttemptKind.PORTAL_BLOCKED if portal_outcome(ev) in PORTAL_BLOCKED_OUTCOMES else None
    if kind in WITHHELD_KINDS:
        return AttemptKind.ANSWER_WITHHELD
    if kind in REMAP_REFUSED_KINDS:
        return AttemptKind.REMAP_REFUSED
    if kind == "directory.import_refused":
        # told per person (directory.remap_refused) where this gateway wrote them; an import
        # refused for malformed rows alone reached no one
        if "remap_events" in ev.fields or ev.fields.get("remaps", "1") == "0":
            return None
        return AttemptKind.REMAP_REFUSED
    if kind == "directory.remapped":
        return AttemptKind.REMAP_REFUSED if holders(ev) else None
    if kind in READ_REFUSED_KINDS:
        return AttemptKind.READ_REFUSED
    return None


def event_time(ev: Event) -> datetime | None:
    """When the event happened (its own `at`, UTC), or None for an event without a time."""
    if not ev.at:
        return None
    try:
        at = datetime.fromisoformat(ev.at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    kind: AttemptKind
    at: datetime  # when it happened (UTC)
    org: str  # the requester (requesterOrgCode) where a query was stopped, else ""
    subject: str  # the person key where the event names one
    event_id: str
    holders: dict[str, str] = field(default_factory=dict)  # department -> person: whom to tell


def attempt_of(ev: Event) -> Attempt | None:
    kind = attempt_kind(ev)
    at = event_time(ev) if kind is not None else None
    if kind is None or at is None:
        return None
    return Attempt(
        kind, at, ev.fields.get("org", ""), ev.fields.get("subject", ""), ev.id, holders(ev)
    )


class Attempts:
    """Tells each attempt of a run of events once (the definition needs no other event)."""

    def of(self, ev: Event) -> Attempt | None:
        return attempt_of(ev)

    def all(self, events: Iterable[Event]) -> Iterator[Attempt]:
        for ev in events:
            found = attempt_of(ev)
            if found is not None:
                yield found
