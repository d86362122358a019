"""The security team's pattern rules (検知ルール): what in a run of stops makes a security event, a
metric and an alert. Pure: which observation each stop makes (`observations`) and the limits the
ward set (`Limits`, from settings.AttemptSettings); when a count fires its rule is
gateway/pattern_rules.py's; the counting is lua/attempts_fold.lua's, in the same atomic step
that records the attempts (deciding by tables made from pattern_rules), so that it is exact
however many gateway processes fold and each rule fires once per window per person or requester.

- requesters: one flagged person asked about (a hold or a withheld answer) by `requesters` or
  more requesters within `requesters_days` days (rolling);
- requester_rate: one requester's holds of flagged people today (Japan's day) above its usual:
  more than mean + k·σ of its holds a day over the `rate_days` days before today (days without
  any count as 0), and at least `rate_floor`. A new requester's usual is 0: the floor decides;
- portal_views: `portal_views` or more blocked portal views of one person within 24 hours;
- probing: `probing` or more holds of unknown subjects ("subject unknown") from one requester
  within 24 hours: someone trying subject codes.

Each fires once per window: requesters once in `requesters_days` days per person, requester_rate
once a day per requester, the other two once in 24 hours per person or requester.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.attempts import Attempt, AttemptKind
from gateway.model import HoldReason
from gateway.settings import AttemptSettings
from gateway.store.events import Event

DAY_MS = 86_400_000


class Rule(StrEnum):
    REQUESTERS = "requesters"
    REQUESTER_RATE = "requester_rate"
    PORTAL_VIEWS = "portal_views"
    PROBING = "probing"

    @property
    def event_kind(self) -> str:
        """The security event it raises (without `security.`)."""
        return f"pattern_{self.value}"


def rule_of_event(kind: str) -> Rule | None:
    """The rule a security event's kind says fired, or None."""
    name = kind.removeprefix("security.pattern_")
    if name == kind:
        return None
    try:
        return Rule(name)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Observation:
    """One stop as a rule counts it: `key` the person or requester, `member` what is counted
    (a requester for `requesters`, else the stop's own event), `ms` when it happened."""

    rule: Rule
    key: str
    member: str
    ms: int

    def as_json(self) -> dict[str, object]:
        return {"rule": self.rule.value, "key": self.key, "member": self.member, "ms": self.ms}


@dataclass(frozen=True, slots=True)
class Limits:
    requesters: int
    requesters_days: int
    rate_days: int
    rate_k: float
    rate_floor: int
    portal_views: int
    probing: int

    @classmethod
    def of(cls, s: AttemptSettings) -> Limits:
        return cls(
            s.rule_requesters_per_person,
            s.rule_requesters_days,
            s.rule_rate_days,
            s.rule_rate_k,
            s.rule_rate_floor,
            s.rule_portal_views,
            s.rule_probing,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "requesters": self.requesters,
            "requesters_ms": self.requesters_days * DAY_MS,
            "requesters_days": self.requesters_days,
            "rate_days": self.rate_days,
            "rate_k": self.rate_k,
            "rate_floor": self.rate_floor,
            "portal_views": self.portal_views,
            "probing": self.probing,
            "day_ms": DAY_MS,
        }


def observations(ev: Event, attempt: Attempt | None, ms: int) -> list[Observation]:
    """What the rules count of one stop (its event, the attempt it is, when it happened)."""
    org = ev.fields.get("org", "")
    if attempt is None:
        reason = ev.fields.get("reason")
        if ev.kind == "query.held" and reason == HoldReason.SUBJECT_UNKNOWN.value and org:
            return [Observation(Rule.PROBING, org, ev.id, ms)]
        return []
    out: list[Observation] = []
    persons = sorted(set(attempt.holders.values())) or (
        [attempt.subject] if attempt.subject else []
    )
    if attempt.kind in (AttemptKind.QUERY_HELD, AttemptKind.ANSWER_WITHHELD) and org:
        out += [Observation(Rule.REQUESTERS, p, org, ms) for p in persons]
    if attempt.kind is AttemptKind.QUERY_HELD and org:
        out.append(Observation(Rule.REQUESTER_RATE, org, ev.id, ms))
    if attempt.kind is AttemptKind.PORTAL_BLOCKED:
        out += [Observation(Rule.PORTAL_VIEWS, p, ev.id, ms) for p in persons]
    return out
