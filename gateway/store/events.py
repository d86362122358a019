"""The event log: every decision, staff action, flag change and security event, in order.

Events are entries of one Redis stream. Actions append their event inside the same Lua script that
makes the change (see lua/prelude.lua, `emit`), so an action and its event happen together or not
at all; this module appends the events that have no other change attached (security events) and
reads the log back. No event holds plaintext personal data: persons appear as person keys.
The audit trail (signing, hash chain, export, archive) builds on this log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.store.redis import Redis, StoreUnavailable, now

log = logging.getLogger("hogo.events")


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # the stream id: order of the log
    kind: str
    at: str
    actor: str
    fields: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "at": self.at, "actor": self.actor, **self.fields}


def _event(entry_id: str, raw: dict[str, str]) -> Event:
    data = dict(raw)
    kind = data.pop("kind", "")
    at = data.pop("at", "")
    actor = data.pop("actor", "")
    return Event(entry_id, kind, at, actor, data)


class EventLog:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.key = redis.keys.events

    async def append(self, kind: str, actor: str, **fields: str) -> str:
        iso, _ = now()
        payload = {
            "kind": kind,
            "at": iso,
            "actor": actor,
            **{k: str(v) for k, v in fields.items()},
        }
        return await self.r.call(self.r.client.xadd(self.key, payload))

    async def security(self, kind: str, actor: str, **fields: str) -> None:
        """Record a security event; when the store is down, it still reaches the process log."""
        try:
            await self.append(f"security.{kind}", actor, **fields)
        except StoreUnavailable:
            log.warning(
                "security event not stored (store unavailable): %s %s %s", kind, actor, fields
            )

    async def read(self, start: str = "-", end: str = "+", count: int = 1000) -> list[Event]:
        rows = await self.r.call(self.r.client.xrange(self.key, start, end, count=count))
        return [_event(entry_id, raw) for entry_id, raw in rows]

    async def iterate(self, start: str = "-", batch: int = 1000) -> AsyncIterator[Event]:
        cursor = start
        exclusive = False
        while True:
            lo = f"({cursor}" if exclusive else cursor
            rows = await self.r.call(
                self.r.client.xrange(self.key, lo, "+", count=batch),
                timeout=max(5.0, self.r.timeout),
            )
            if not rows:
                return
            for entry_id, raw in rows:
                yield _event(entry_id, raw)
            cursor, exclusive = rows[-1][0], True

    async def length(self) -> int:
        return int(await self.r.call(self.r.client.xlen(self.key)))
