"""The query path's replies (lua/admit.lua, complete.lua, result.lua, the portal's views, the
release and refusal steps, flag_read.lua), decoded by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.decision import Action, AdmissionFacts, Decision, PortalOutcome, ResultAccess
from gateway.model import FlagState, QueryState
from gateway.store.replies.base import ReplyError, named, pairs, state_of
from gateway.store.replies.base import bit as _bit


@dataclass(frozen=True, slots=True)
class AdmitReply:
    """lua/admit.lua: the decision it acted on, the facts it was made on, and the query."""

    decision: Decision
    facts: AdmissionFacts
    query_id: str | None
    state: str

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> AdmitReply:
        r = pairs(res)
        known = _bit(r["known"])
        facts = AdmissionFacts(
            requester_registered=_bit(r["registered"]),
            requester_permitted=_bit(r["permitted"]),
            existing_query=_bit(r["existing"]),
            subject_known=known,
            flags=FlagState(_bit(r["ard"]), _bit(r["nd"])) if known else None,
            under_review=r["review"] or None,
        )
        decision = Decision(Action(r["action"]), r["reason"])
        return cls(decision, facts, r["id"] or None, r["state"])


@dataclass(frozen=True, slots=True)
class RelayReply:
    """lua/complete.lua: relayed (FORWARD), held (and why), or nothing done (`state`: the query
    was not RECEIVED: swept as interrupted, or gone)."""

    action: str  # forward | hold | none
    reason: str
    state: str
    record_nd: bool

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> RelayReply:
        r = pairs(res)
        if r["action"] not in (Action.FORWARD, Action.HOLD, "none"):
            raise ReplyError(f"complete answered {r['action']!r}")
        return cls(r["action"], r["reason"], r["state"], _bit(r["record_nd"]))

    @property
    def provided(self) -> bool:
        return self.action == Action.FORWARD


@dataclass(frozen=True, slots=True)
class ResultReply:
    """lua/result.lua: what the requester may learn, and of a found query its state, its sealed
    answer and notice, and the reason it was withheld just now ('' if it was not)."""

    access: ResultAccess
    query_id: str = ""
    state: QueryState | None = None
    outcome: str = ""
    sealed_answer: str = ""
    sealed_notice: str = ""
    withheld: str = ""

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> ResultReply:
        r = pairs(res)
        return cls(
            ResultAccess(r["access"]),
            r.get("id", ""),
            state_of(r.get("state")),
            r.get("outcome", ""),
            r.get("answer", ""),
            r.get("notice", ""),
            r.get("withheld", ""),
        )


@dataclass(frozen=True, slots=True)
class PortalReply:
    """lua/portal_self.lua and lua/portal_records.lua: the view's outcome, why, how many records
    were hidden and the raw records shown (GetProvisionRecords)."""

    outcome: PortalOutcome
    reason: str
    hidden: int = 0
    records: tuple[str, ...] = ()

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> PortalReply:
        r = named(res)
        rows = r.get("records") or []
        if not isinstance(rows, list):  # an empty Lua table comes back as an empty list
            raise ReplyError("records is not a list")
        return cls(
            PortalOutcome(str(r["outcome"])),
            str(r["reason"]),
            int(str(r.get("hidden", "0"))),
            tuple(str(x) for x in rows),
        )


@dataclass(frozen=True, slots=True)
class StepReply:
    """A step that moves a query (lua/hold.lua, refuse.lua, abandon.lua, release_finish.lua):
    its outcome, and the state the query was in ('unknown' for no query)."""

    outcome: str
    state: str

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> StepReply:
        r = pairs(res)
        return cls(r["outcome"], r["state"])

    @property
    def state_before(self) -> QueryState | None:
        return state_of(self.state)


@dataclass(frozen=True, slots=True)
class ReleaseBeginReply:
    """lua/release_begin.lua: the outcome, and for 'ok' the sealed request, the subject key and
    the seen token the release is judged on."""

    outcome: str
    state: str
    sealed: str = ""
    subject_key: str = ""
    seen: str = ""

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> ReleaseBeginReply:
        r = pairs(res)
        return cls(
            r["outcome"], r["state"], r.get("sealed", ""), r.get("subject", ""), r.get("seen", "")
        )


@dataclass(frozen=True, slots=True)
class OutcomeReply:
    """A deciding script that answers an outcome and a few named values (flag_release_request,
    quarantine_confirm): `value(name)` reads one ('' when the outcome carries none)."""

    outcome: str
    values: dict[str, str]

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> OutcomeReply:
        r = pairs(res)
        return cls(r.pop("outcome"), r)

    def value(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True, slots=True)
class FlagReadReply:
    """lua/flag_read.lua: refused (None), or whether the person is a victim to this reader and
    the sealed name it may see ('' for none)."""

    denied: bool
    victim: bool = False
    sealed_name: str = ""

    @classmethod
    def from_reply(cls, res: Sequence[object]) -> FlagReadReply:
        r = pairs(res)
        if r["outcome"] == "denied":
            return cls(True)
        if r["outcome"] != "ok":
            raise ReplyError(f"flag_read answered {r['outcome']!r}")
        return cls(False, r["victim"] == "1", r["name"])
