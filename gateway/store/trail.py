"""The audit trail in the store: raw events waiting to be sealed, the sealed trail, its head, and
the leases that let exactly one process seal (and one archive) at a time.

Raw events (`keys.events`) are appended by the actions themselves (lua/prelude.lua `emit`). The
sealer turns a block of them into trail entries (`keys.trail`, under the same entry id, field
`e` = the sealed line, the last one signed) and moves the head (`keys.audit_head`: seq, hash) in
one step (lua/audit_seal.lua), so a crash at any moment leaves either the whole block sealed and
signed or none of it. An event keeps its id from append to archive: the id is the event's name in the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.redis import Redis
from gateway.store.replies import EventsReply, LeaseReply, SealReply, StatusReply, TrimReply

GENESIS = "0" * 64  # the `prev` of the first event


class LeaseLost(Exception):
    """This process no longer holds the role it acted in; it wrote nothing."""


class HeadMoved(Exception):
    """The head is not where the batch was built from (another sealer sealed meanwhile)."""


class TrailCorrupt(Exception):
    """The trail does not match its head; sealing stops until an operator looks."""


@dataclass(frozen=True, slots=True)
class Head:
    """The last sealed event, and how far the trail has been moved to archive files."""

    seq: int = 0
    hash: str = GENESIS
    key: int = 0
    sealed_at: str = ""
    archived_seq: int = 0
    archived_hash: str = ""
    archived_id: str = ""
    archived_file: str = ""


@dataclass(frozen=True, slots=True)
class TrailStatus:
    head: Head
    unsealed: int  # raw events not yet sealed
    oldest_unsealed_ms: int | None  # when the oldest of them was appended (store clock)
    stored: int  # sealed events still in the store (not yet archived)


def entry_ms(entry_id: str) -> int:
    """When the store appended the entry (its id's first part: milliseconds, store clock)."""
    return int(entry_id.split("-", 1)[0])


def pairs(flat: list[str]) -> dict[str, str]:
    """A Lua reply's field/value list as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _head(raw: dict[str, str]) -> Head:
    return Head(
        seq=int(raw.get("seq", 0)),
        hash=raw.get("hash", GENESIS),
        key=int(raw.get("key", 0)),
        sealed_at=raw.get("sealed_at", ""),
        archived_seq=int(raw.get("archived_seq", 0)),
        archived_hash=raw.get("archived_hash", ""),
        archived_id=raw.get("archived_id", ""),
        archived_file=raw.get("archived_file", ""),
    )


class TrailStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    # -- leases ----------------------------------------------------------------------------
    async def take_lease(self, role: str, holder: str, held: str, ttl_seconds: float) -> str | None:
        """Renew the lease we hold (`held`), or take it when free. The value we hold, or None."""
        res = await self.r.script(
            "audit_lease",
            [self.k.audit_lease(role), self.k.audit_epoch(role)],
            [holder, held, int(ttl_seconds * 1000)],
            acknowledged=False,  # the fencing is the head check: a lease lost in a failover is moot
        )
        reply = LeaseReply.from_reply(res)
        return reply.text("value") if reply.outcome == "held" else None

    async def drop_lease(self, role: str, held: str) -> None:
        await self.r.script(
            "audit_lease_drop", [self.k.audit_lease(role)], [held], acknowledged=False
        )

    # -- sealing ---------------------------------------------------------------------------
    async def head(self) -> Head:
        return _head(await self.r.call(self.r.client.hgetall(self.k.audit_head)))

    async def unsealed(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """The oldest raw events, in the order they were appended."""
        return await self.r.call(self.r.client.xrange(self.k.events, "-", "+", count=count))

    async def seal(
        self, lease: str, head: Head, key_version: int, batch: list[tuple[str, str, str]]
    ) -> int:
        """Write one signed block, (raw id, sealed line, hash) per event, after `head`; returns
        the new head seq.

        Acknowledged: with replicas, a sealed block is on them before anything (the archiver)
        builds on it, so a failover cannot take back what was sealed."""
        argv: list[object] = [lease, head.seq, head.hash, key_version, batch[-1][2]]
        for raw_id, line, _ in batch:
            argv += [raw_id, line]
        res = await self.r.script(
            "audit_seal",
            [self.k.audit_lease("sealer"), self.k.audit_head, self.k.events, self.k.trail],
            argv,
            timeout=max(5.0, self.r.timeout),
        )
        reply = SealReply.from_reply(res)
        if reply.outcome == "sealed":
            return reply.number("seq")
        if reply.outcome == "lease_lost":
            raise LeaseLost("sealer")
        if reply.outcome == "head_moved":
            raise HeadMoved(reply.text("seq"))
        raise TrailCorrupt(
            f"the trail holds entry {reply.text('entry')}, not older than the events to seal"
        )

    # -- reading the sealed trail ----------------------------------------------------------
    async def sealed(self, after_id: str | None, count: int = 1000) -> list[tuple[str, str]]:
        """Sealed entries (entry id, line) after `after_id` (from the first when None)."""
        start = f"({after_id}" if after_id else "-"
        rows = await self.r.call(
            self.r.client.xrange(self.k.trail, start, "+", count=count),
            timeout=max(5.0, self.r.timeout),
        )
        return [(entry_id, fields.get("e", "")) for entry_id, fields in rows]

    async def window(
        self, start: str, end: str, count: int
    ) -> tuple[list[tuple[str, str]], list[tuple[str, dict[str, str]]], str, str]:
        """Sealed (id, line) and raw (id, fields) entries between `start` and `end` (XRANGE
        bounds), read in one step; and the first id the trail and the raw stream hold."""
        res = await self.r.script(
            "events_read",
            [self.k.trail, self.k.events],
            [start, end, count],
            timeout=max(5.0, self.r.timeout),
            acknowledged=False,
        )
        reply = EventsReply.from_reply(res)
        return (
            [(i, pairs(f).get("e", "")) for i, f in reply.rows("sealed")],  # type: ignore[misc]
            [(i, pairs(f)) for i, f in reply.rows("raw")],  # type: ignore[misc]
            reply.text("first_sealed"),
            reply.text("first_raw"),
        )

    # -- archiving -------------------------------------------------------------------------
    async def trim(
        self, lease: str, upto_seq: int, upto_hash: str, upto_id: str, file_name: str
    ) -> int:
        """Drop sealed entries up to `upto_id` (seq `upto_seq`, already in an fsynced file)."""
        res = await self.r.script(
            "audit_trim",
            [self.k.audit_lease("archiver"), self.k.audit_head, self.k.trail],
            [lease, upto_seq, upto_hash, upto_id, file_name],
            timeout=max(5.0, self.r.timeout),
        )
        reply = TrimReply.from_reply(res)
        if reply.outcome == "lease_lost":
            raise LeaseLost("archiver")
        if reply.outcome == "beyond_head":
            raise TrailCorrupt(
                f"archive reaches seq {upto_seq} but the head is {reply.text('seq')}"
            )
        return reply.number("removed")

    # -- the spool (events written to disk while the store was down) -------------------------
    async def replay(self, spool_id: str, fields: dict[str, str], ttl_seconds: int) -> bool:
        flat: list[object] = [ttl_seconds]
        for name, value in fields.items():
            flat += [name, value]
        res = await self.r.script("audit_replay", [self.k.audit_replayed(spool_id)], flat)
        return int(res) == 1

    # -- watching --------------------------------------------------------------------------
    async def status(self) -> TrailStatus:
        res = await self.r.script(
            "audit_status",
            [self.k.audit_head, self.k.events, self.k.trail],
            [],
            acknowledged=False,
        )
        reply = StatusReply.from_reply(res)
        oldest = reply.text("oldest")
        return TrailStatus(
            head=_head(pairs(reply.rows("head"))),
            unsealed=reply.number("unsealed"),
            oldest_unsealed_ms=entry_ms(oldest) if oldest else None,
            stored=reply.number("stored"),
        )
