"""The event log: every decision, staff action, flag change and security event, in order.

Events are appended to one Redis stream (`keys.events`). Actions append theirs inside the same Lua
script that makes the change (lua/prelude.lua, `emit`), so an action and its event happen together
or not at all; this module appends the events that have no Lua script of their own: inside the
caller's transaction (`append_in`), or alone (security events). The sealer (gateway/audit) then
numbers, chains and signs them into the trail. No event holds plaintext personal data: persons
appear as person keys only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from gateway import metrics
from gateway.audit.spool import Spool
from gateway.store.redis import Redis, StoreUnavailable, now

log = logging.getLogger("hogo.events")

# Field names that must never appear in an event: the trail holds person keys only.
FORBIDDEN_FIELDS = frozenset(
    {"name", "atena_number", "subject_code", "subjectCode", "answer", "fields", "notice"}
)


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # the stream entry id: "<seq>-0" once sealed
    kind: str
    at: str
    actor: str
    fields: dict[str, str]
    seq: int | None = None  # set once sealed

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "kind": self.kind, "at": self.at}
        out["actor"] = self.actor
        if self.seq is not None:
            out["seq"] = self.seq
        return {**out, **self.fields}


def _raw_event(entry_id: str, raw: dict[str, str]) -> Event:
    data = dict(raw)
    kind = data.pop("kind", "")
    at = data.pop("at", "")
    actor = data.pop("actor", "")
    return Event(entry_id, kind, at, actor, data)


def _sealed_event(entry_id: str, line: str) -> Event:
    obj: dict[str, Any] = json.loads(line)
    fields = {"subject": obj["subject"], "decision": obj["decision"], "reason": obj["reason"]}
    return Event(
        entry_id, obj["kind"], obj["at"], obj["actor"], {**fields, **obj["fields"]}, obj["seq"]
    )


def event_fields(kind: str, actor: str, fields: dict[str, object]) -> dict[str, str]:
    """The stream entry of one event, stamped now; refuses a personal data field by name."""
    bad = FORBIDDEN_FIELDS & fields.keys()
    if bad:
        raise ValueError(f"an event may not hold {sorted(bad)}: use person keys")
    iso, _ = now()
    return {"kind": kind, "at": iso, "actor": actor, **{k: str(v) for k, v in fields.items()}}


def append_in(pipe: Any, redis: Redis, kind: str, actor: str, **fields: object) -> None:
    """Add the event to the caller's transaction (MULTI pipeline), so both happen or neither."""
    if redis.settings.audit_enabled:
        pipe.xadd(redis.keys.events, event_fields(kind, actor, fields))


class EventLog:
    def __init__(self, redis: Redis, spool: Spool | None = None) -> None:
        self.r = redis
        self.key = redis.keys.events
        self.spool = spool

    async def append(self, kind: str, actor: str, **fields: object) -> None:
        if self.r.settings.audit_enabled:
            await self.r.call(self.r.client.xadd(self.key, event_fields(kind, actor, fields)))

    async def security(self, kind: str, actor: str, **fields: object) -> None:
        """Record a security event; when the store is down it goes to the local spool, to be
        appended once the store answers again (never dropped)."""
        if not self.r.settings.audit_enabled:
            return
        entry = event_fields(f"security.{kind}", actor, fields)
        try:
            await self.r.call(self.r.client.xadd(self.key, entry))
            return
        except StoreUnavailable:
            pass
        if self.spool is None:
            log.error("security event lost (store unavailable, no spool): %s", entry)
            return
        try:
            await asyncio.to_thread(self.spool.write, entry)
            metrics.AUDIT_SPOOLED.inc()
            log.warning("store unavailable: security event %s spooled to disk", entry["kind"])
        except OSError as exc:
            log.error("security event lost (store unavailable, spool failed: %s): %s", exc, entry)

    async def read(self, count: int = 1000) -> list[Event]:
        """The oldest events still in the store: sealed ones, then those not sealed yet (read in
        one transaction, so that none is missed or seen twice while the sealer works)."""
        pipe = self.r.client.pipeline(transaction=True)
        pipe.xrange(self.r.keys.trail, "-", "+", count=count)
        pipe.xrange(self.key, "-", "+", count=count)
        sealed, raw = await self.r.call(pipe.execute(), timeout=max(5.0, self.r.timeout))
        events = [_sealed_event(i, f.get("e", "")) for i, f in sealed]
        events += [_raw_event(i, f) for i, f in raw]
        return events[:count]

    async def unsealed(self) -> int:
        return int(await self.r.call(self.r.client.xlen(self.key)))
