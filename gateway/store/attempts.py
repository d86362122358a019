"""Attempts (試行) in the store: the inbox each stop writes in its own step (lua/prelude.lua
`emit_stop`), the fold that turns it into each holding department's attempts, mails and rule
counts (lua/attempts_fold.lua), a department's pages of attempts, and acknowledgement.

An attempt belongs to one department: a stop whose person two departments hold a flag on is two
attempts, each seen, counted and acknowledged by its own department alone.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gateway import metrics
from gateway.crypto import Keyring
from gateway.errors import AckRefused as AckRefused
from gateway.model import ACK_OUTCOMES as ACK_OUTCOMES
from gateway.rules import Limits, Observation
from gateway.store.paging import index_page
from gateway.store.redis import Redis
from gateway.store.replies import AckReply, FoldReply
from gateway.store.sealing import part_context

ATTEMPT_ID = re.compile(r"^[0-9a-f]{20}$")


def new_attempt_id() -> str:
    return secrets.token_hex(10)  # opaque: it appears in console URLs


note_context = part_context("attempt", "note")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: str  # the entry's own id in the inbox
    fields: dict[str, str]  # the stop's event: event (its id), kind, at, ms, actor, and its fields


@dataclass(frozen=True, slots=True)
class NewAttempt:
    """One department's attempt, as the fold writes it (no personal data: person keys only)."""

    id: str
    department: str
    kind: str
    event: str
    at: str
    ms: int
    person: str
    org: str = ""
    query: str = ""
    operation: str = ""
    reason: str = ""
    stopped: str = ""  # what the gateway did at the time: held, blocked, withheld, refused, ...
    review: str = ""  # the review a remap opened
    reader: str = ""  # the department and business whose read was refused
    mail: str = ""  # a new mail's id where the department has a mailbox, else ''

    def as_json(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class AttemptRecord:
    """One department's attempt as stored: what was stopped, and its acknowledgement."""

    id: str
    department: str
    kind: str
    event: str
    at: str
    ms: int
    person: str
    org: str
    query: str
    operation: str
    reason: str
    stopped: str
    review: str
    reader: str
    state: str  # open | acknowledged
    ack_outcome: str = ""
    ack_by: str = ""
    ack_at: str = ""
    ack_note: str = ""  # sealed

    @property
    def open(self) -> bool:
        return self.state == "open"

    @classmethod
    def from_store(cls, raw: dict[str, str]) -> AttemptRecord:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        values = {k: raw.get(k, "") for k in names}
        values["ms"] = int(raw.get("ms") or 0)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AttemptPage:
    items: list[AttemptRecord]
    total: int
    start: int
    next: str | None


@dataclass(frozen=True, slots=True)
class FoldOutcome:
    applied: bool  # False: another process folded these meanwhile
    made: int
    fired: list[tuple[str, str]]  # (rule, person or requester)


class AttemptStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    # -- the fold ---------------------------------------------------------------------------
    async def inbox(self, count: int) -> tuple[str, list[InboxEntry]]:
        """The fold's cursor and the oldest `count` entries not folded yet."""
        pipe = self.r.client.pipeline(transaction=False)
        pipe.hget(self.k.attempts_fold, "cursor")
        pipe.xrange(self.k.attempts_inbox, "-", "+", count)
        cursor, rows = await self.r.call(pipe.execute())
        return cursor or "", [InboxEntry(i, dict(f)) for i, f in rows]

    async def fold(
        self,
        expected: str,
        cursor: str,
        ids: Sequence[str],
        attempts: Sequence[NewAttempt],
        observations: Sequence[Observation],
        limits: Limits,
    ) -> FoldOutcome:
        run = {
            "ids": list(ids),
            "attempts": [a.as_json() for a in attempts],
            "observations": [o.as_json() for o in observations],
            "limits": limits.as_json(),
        }
        res = await self.r.script(
            "attempts_fold",
            [self.k.attempts_fold, self.k.attempts_inbox],
            [expected, cursor, json.dumps(run, ensure_ascii=False)],
            timeout=max(10.0, self.r.timeout),
            # the inbox is dropped in the step that folds it: a replica missing the fold still
            # has the inbox, so nothing is lost in a failover
            acknowledged=False,
        )
        reply = FoldReply.from_reply(res)
        if reply.outcome == "moved":
            return FoldOutcome(False, 0, [])
        fired = reply.fired
        for rule, _ in fired:
            metrics.SECURITY_EVENTS.labels(f"pattern_{rule}").inc()  # the script recorded it
            metrics.RULES_FIRED.labels(rule).inc()
        return FoldOutcome(True, reply.number("attempts"), fired)

    async def waiting(self) -> int:
        """Stops in the inbox not yet folded."""
        return int(await self.r.call(self.r.client.xlen(self.k.attempts_inbox)))

    async def oldest_ms(self) -> int | None:
        """When the oldest stop still in the inbox was written (the store's clock), or None."""
        first = await self.r.call(self.r.client.xrange(self.k.attempts_inbox, "-", "+", 1))
        return int(first[0][0].partition("-")[0]) if first else None

    # -- a department's attempts ------------------------------------------------------------
    async def page(
        self, department: str, *, open_only: bool = False, after: str = "", limit: int = 50
    ) -> AttemptPage:
        """A page of the department's attempts (or those still open), newest first, after the
        cursor `after` (a page's `next`), with the total and the position."""
        index = self.k.attempts_open(department) if open_only else self.k.attempts_of(department)
        found = await index_page(self.r, index, self.k.attempt, after, limit, newest_first=True)
        items = [AttemptRecord.from_store(row) for row in found.rows]
        return AttemptPage(items, found.total, found.start, found.next)

    async def get(self, attempt_id: str) -> AttemptRecord | None:
        if not ATTEMPT_ID.match(attempt_id):
            return None
        raw = await self.r.call(self.r.client.hgetall(self.k.attempt(attempt_id)))
        return AttemptRecord.from_store(raw) if raw else None

    async def open_count(self, department: str) -> int:
        return int(await self.r.call(self.r.client.zcard(self.k.attempts_open(department))))

    async def acknowledge(
        self, attempt_id: str, department: str, outcome: str, note: str, actor: str
    ) -> None:
        """Acknowledge one open attempt of `department` (AckRefused otherwise)."""
        if outcome not in ACK_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(ACK_OUTCOMES)}")
        sealed = self.keyring.seal(note, note_context(attempt_id)) if note else ""
        res = await self.r.script(
            "attempt_ack",
            [self.k.attempt(attempt_id)],
            [attempt_id, department, outcome, sealed, actor],
        )
        reply = AckReply.from_reply(res)
        if reply.outcome == "unknown":
            raise AckRefused("unknown")
        if reply.outcome == "already":
            raise AckRefused("already", reply.text("by"), reply.text("at"))

    def unseal_note(self, record: AttemptRecord) -> str:
        return self.keyring.unseal_text(record.ack_note, note_context(record.id))
