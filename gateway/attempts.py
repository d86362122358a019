"""What counts as an attempt (試行): something asked for a protected person's data and the gateway
stopped it. The one definition, for the auditors' pictures, the council's report and the
per-department counts to come; pure, over events of the log (gateway.store.events.Event).

An attempt is:
- a query held because its person is flagged: `query.held` with a reason of ATTEMPT_HOLD_REASONS
  (自動応答不可 at arrival, a flag set while the upstream answered, a flag set after an automatic
  answer that was then asked for again). Holds for a subject the directory does not know, or
  for a remapped subject awaiting staff, or after an interruption, are the gateway being
  careful, not someone reaching a protected person: they are not attempts;
- a portal view blocked or filtered: `portal.view` with outcome `blocked` or `filtered`, or, from
  a gateway that does not write `portal.view`, `security.portal_blocked` /
  `security.portal_filtered`;
- a stored answer withheld because its person is flagged since: `query.answer_withheld`;
- a directory import refused because it would have moved a subject code: `directory.import_refused`
  or `security.remap_refused`.

Names of the kinds other changes add are listed here as those changes name them; an event of a
kind not listed is no attempt, so a name that does not match makes a count too low, never a
person visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gateway.model import HoldReason
from gateway.store.events import Event


class AttemptKind(StrEnum):
    QUERY_HELD = "query_held"  # a query about a flagged person, held for staff
    PORTAL_BLOCKED = "portal_blocked"  # a portal view blocked or filtered (マイナポータル)
    ANSWER_WITHHELD = "answer_withheld"  # a stored answer not handed out again
    REMAP_REFUSED = "remap_refused"  # a directory import that would have moved a subject code


ATTEMPT_HOLD_REASONS = frozenset(
    {
        HoldReason.AUTO_RESPONSE_DISABLED.value,
        HoldReason.FLAG_SET_IN_FLIGHT.value,
        "flagged_after_answer",
    }
)
PORTAL_VIEW = "portal.view"
PORTAL_BLOCKED_OUTCOMES = frozenset({"blocked", "filtered"})
LEGACY_PORTAL_KINDS = frozenset({"security.portal_blocked", "security.portal_filtered"})
WITHHELD_KINDS = frozenset({"query.answer_withheld"})
REMAP_REFUSED_KINDS = frozenset({"directory.import_refused", "security.remap_refused"})


def portal_outcome(ev: Event) -> str:
    """`blocked`, `filtered`, another outcome of a portal view, or "" for no portal view."""
    if ev.kind == PORTAL_VIEW:
        return ev.fields.get("outcome") or ev.fields.get("decision", "")
    if ev.kind in LEGACY_PORTAL_KINDS:
        return ev.kind.removeprefix("security.portal_")
    return ""


def attempt_kind(ev: Event, *, portal_views_logged: bool = False) -> AttemptKind | None:
    """The definition: which attempt an event records, or None.

    `portal_views_logged`: the log already holds `portal.view` events at this point, so the
    gateway writing it records every view that way, and a `security.portal_*` event beside one
    tells the same view again (not counted twice). `Attempts` keeps that flag while reading the
    log in order.
    """
    kind = ev.kind
    if kind == "query.held":
        return AttemptKind.QUERY_HELD if ev.fields.get("reason") in ATTEMPT_HOLD_REASONS else None
    if kind == PORTAL_VIEW:
        return AttemptKind.PORTAL_BLOCKED if portal_outcome(ev) in PORTAL_BLOCKED_OUTCOMES else None
    if kind in LEGACY_PORTAL_KINDS:
        return None if portal_views_logged else AttemptKind.PORTAL_BLOCKED
    if kind in WITHHELD_KINDS:
        return AttemptKind.ANSWER_WITHHELD
    if kind in REMAP_REFUSED_KINDS:
        return AttemptKind.REMAP_REFUSED
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
    subject: str  # the person key where the event names one: whose holding departments to tell
    event_id: str


class Attempts:
    """Reads events in the log's order and tells each attempt once."""

    def __init__(self) -> None:
        self.portal_views_logged = False

    def of(self, ev: Event) -> Attempt | None:
        if ev.kind == PORTAL_VIEW:
            self.portal_views_logged = True
        kind = attempt_kind(ev, portal_views_logged=self.portal_views_logged)
        at = event_time(ev) if kind is not None else None
        if kind is None or at is None:
            return None
        return Attempt(kind, at, ev.fields.get("org", ""), ev.fields.get("subject", ""), ev.id)

    def all(self, events: Iterable[Event]) -> Iterator[Attempt]:
        for ev in events:
            found = self.of(ev)
            if found is not None:
                yield found
