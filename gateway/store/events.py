"""The event log: every decision, staff action, flag change and security event, in order.

Actions append their event inside the same Lua script that makes the change (lua/prelude.lua,
`emit`), so an action and its event happen together or not at all; this module appends the
events that have no script of their own, and reads the log back. An event is named by the id it
was appended under, for good: the sealer (gateway/audit) moves it from the raw stream
(`keys.events`) into the signed trail (`keys.trail`) under the same id, and the archiver later to
files under DATA_DIR/audit, which this log still reads (more slowly). No event holds plaintext
personal data: persons appear as person keys only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway import metrics
from gateway.audit.archive import Archive, EventId, id_key
from gateway.audit.spool import Spool
from gateway.clock import Clock
from gateway.store.redis import Redis, StoreUnavailable
from gateway.store.trail import TrailStore

log = logging.getLogger("hogo.events")

# Field names that must never appear in an event: the trail holds person keys only.
FORBIDDEN_FIELDS = frozenset(
    {"name", "atena_number", "subject_code", "subjectCode", "answer", "fields", "notice"}
)
_INFINITY = 2**64


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # the id it was appended under: its name and its place in the log
    kind: str
    at: str
    actor: str
    fields: dict[str, str]
    seq: int | None = None  # its place in the signed chain, once sealed

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
    return _event_of(entry_id, json.loads(line))


def _event_of(entry_id: str, obj: dict[str, Any]) -> Event:
    fields = {k: obj[k] for k in ("subject", "decision", "reason") if obj.get(k)}
    return Event(
        entry_id, obj["kind"], obj["at"], obj["actor"], {**fields, **obj["fields"]}, obj["seq"]
    )


def event_fields(kind: str, actor: str, fields: dict[str, object], clock: Clock) -> dict[str, str]:
    """The stream entry of one event, stamped now; refuses a personal data field by name."""
    bad = FORBIDDEN_FIELDS & fields.keys()
    if bad:
        raise ValueError(f"an event may not hold {sorted(bad)}: use person keys")
    iso, _ = clock.stamp()
    return {"kind": kind, "at": iso, "actor": actor, **{k: str(v) for k, v in fields.items()}}


async def append(redis: Redis, kind: str, actor: str, **fields: object) -> str:
    """Append one event with no other change attached; its id ('' with the audit off)."""
    if not redis.settings.audit_enabled:
        return ""
    entry = event_fields(kind, actor, fields, redis.clock)
    return await redis.call(redis.client.xadd(redis.keys.events, entry))


def _bound(spec: str, end: bool) -> tuple[EventId, bool]:
    """An XRANGE bound ("-", "+", "ms", "ms-n", "(ms-n") as (id, open)."""
    open_ = spec.startswith("(")
    spec = spec.removeprefix("(")
    if spec == "-":
        return (0, 0), open_
    if spec == "+":
        return (_INFINITY, _INFINITY), open_
    if "-" not in spec:
        return (int(spec), _INFINITY if end else 0), open_
    return id_key(spec), open_


class EventLog:
    def __init__(self, redis: Redis, spool: Spool | None = None, archive: Archive | None = None):
        self.r = redis
        self.key = redis.keys.events
        self.spool = spool
        self.archive = archive
        self.trail = TrailStore(redis)

    async def append(self, kind: str, actor: str, **fields: object) -> str:
        return await append(self.r, kind, actor, **fields)

    async def security(self, kind: str, actor: str, **fields: object) -> None:
        """Record a security event; when the store is down it goes to the local spool, to be
        appended once the store answers again (never dropped).

        It is counted here (`hogo_security_events_total{kind}`), once, whoever records it and
        whether it reaches the store, the spool or neither: callers never count their own. The
        events a Lua script emits are counted by the script's Python caller, from its result.
        """
        metrics.SECURITY_EVENTS.labels(kind).inc()
        if not self.r.settings.audit_enabled:
            return
        entry = event_fields(f"security.{kind}", actor, fields, self.r.clock)
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

    async def read(self, start: str = "-", end: str = "+", count: int = 1000) -> list[Event]:
        """Events with ids from `start` to `end` (XRANGE bounds: "-", "+", "ms", "ms-n", and
        "(" for an open start), oldest first, at most `count`: archived ones (from this host's
        archive files), then sealed ones, then those not sealed yet."""
        sealed, raw, first_sealed, first_raw = await self.trail.window(start, end, count)
        events: list[Event] = []
        first_stored = first_sealed or first_raw
        lo, lo_open = _bound(start, end=False)
        if self.archive is not None and (not first_stored or lo < id_key(first_stored)):
            hi, hi_open = _bound(end, end=True)
            if first_stored and id_key(first_stored) <= hi:
                hi, hi_open = id_key(first_stored), True  # the store has the rest
            lines = await asyncio.to_thread(
                lambda: list(self.archive.between(lo, lo_open, hi, hi_open, count))  # type: ignore[union-attr]
            )
            events += [_event_of(obj["id"], obj) for obj in map(json.loads, lines)]
        # decode only what is returned: a batch the archive filled needs nothing from the store
        events += [_sealed_event(i, line) for i, line in sealed[: max(0, count - len(events))]]
        events += [_raw_event(i, f) for i, f in raw[: max(0, count - len(events))]]
        return events

    async def iterate(self, start: str = "-", batch: int = 1000) -> AsyncIterator[Event]:
        cursor = start
        while True:
            events = await self.read(cursor, "+", batch)
            if not events:
                return
            for ev in events:
                yield ev
            cursor = f"({events[-1].id}"

    async def length(self) -> int:
        """How many events the log holds: every one sealed (archived or not) and those waiting."""
        status = await self.trail.status()
        return status.head.seq + status.unsealed

    async def unsealed(self) -> int:
        return int(await self.r.call(self.r.client.xlen(self.key)))
