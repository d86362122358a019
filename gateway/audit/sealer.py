"""The sealer: turns raw events into the trail, numbered gap-free from 1, hash-chained, and
signed one block at a time.

One chain for all gateway processes: the raw stream's order is the single sequence, and exactly
one process at a time (the 'sealer' lease holder) seals. Each sealing step takes the oldest raw
events (at most `audit_block_events`), chains them here and signs the block once (Ed25519, the
newest signing key version, on the last event's hash), and hands the block to one atomic step
that checks the lease and the head it was built on, appends the sealed lines, removes the raw ones
and moves the head (lua/audit_seal.lua). A block is thus written whole and signed or not at all:
the trail never holds chained events that wait for a signature. A crash before that step leaves
the raw events for the next sealer, whose first block takes them; a crash after it leaves them
sealed; never half, never twice, never a fork. When nothing is left the sealer looks again after
`audit_block_seconds`, so a block closes at the latest about that long after its first event.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway import metrics
from gateway.audit.archive import Archive
from gateway.audit.lease import Lease
from gateway.audit.record import chain_events
from gateway.audit.spool import Spool
from gateway.crypto import Keyring, SigningKey
from gateway.settings import Settings
from gateway.store.redis import StoreUnavailable, cancel_requested
from gateway.store.trail import Head, HeadMoved, LeaseLost, TrailCorrupt, TrailStore

log = logging.getLogger("hogo.audit")


class Sealer:
    def __init__(self, trail: TrailStore, keyring: Keyring, settings: Settings) -> None:
        self.trail = trail
        self.keyring = keyring
        self.settings = settings
        self.batch = settings.audit_block_events
        self.lease = Lease(trail, "sealer", settings.audit_lease_seconds)
        self.spool = Spool(settings.audit_dir)
        self.archive = Archive(settings.audit_dir)
        self._checked_lease = ""

    async def seal_once(self) -> int:
        """Seal one block (up to `audit_block_events` raw events) if this process holds the lease;
        the number of events sealed."""
        if not await self.lease.hold():
            return 0
        raw = await self.trail.unsealed(self.batch)
        if not raw:
            return 0
        head = await self.trail.head()
        if self._checked_lease != self.lease.value:
            await self._check_archive(head)
            self._checked_lease = self.lease.value
        self.keyring.refresh()  # a rotated key is used from the next block on
        key = self.keyring.signing_key
        batch = await sign_batch(head, raw, key)
        try:
            await self.trail.seal(self.lease.value, head, key.version, batch)
        except LeaseLost:
            self.lease.lost()
            return 0
        except HeadMoved:
            return 0  # another sealer got there first; start again from the new head
        metrics.AUDIT_SEALED.inc(len(batch))
        return len(batch)

    async def _check_archive(self, head: Head) -> None:
        """Never start a second chain: if this host's archive goes beyond the store's head, the
        store lost sealed events (restored from an old backup, flushed) and sealing on from its
        head would fork the chain. Events then wait, unsealed but kept, for an operator."""
        local = await asyncio.to_thread(self.archive.last)
        if local is not None and (
            local.seq > head.seq or (local.seq == head.seq and local.hash != head.hash)
        ):
            raise TrailCorrupt(
                f"the archive here ends at seq {local.seq} ({local.file.name}) but the store's "
                f"head is seq {head.seq}: the store lost sealed events"
            )

    async def settle(self, timeout: float) -> int:
        """Seal until nothing waits (for commands that read the trail); the events still
        unsealed when `timeout` runs out (another process holds the lease and lags, say)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                await self.spool.drain(self.trail)
                if (await self.trail.status()).unsealed == 0:
                    return 0
                if time.monotonic() > deadline:
                    return (await self.trail.status()).unsealed
                if await self.seal_once() == 0:
                    await asyncio.sleep(0.05)
        finally:
            await self.lease.drop()

    async def run_forever(self) -> None:
        """Every gateway process runs this; the lease decides who seals. It also replays this
        host's spool once the store answers again."""
        idle = self.settings.audit_block_seconds
        next_drain = 0.0
        try:
            while not cancel_requested():
                # a process that does not hold the lease only checks now and then whether it
                # has become free (a crashed holder's lease runs out after its TTL)
                pause = idle if self.lease.value else min(1.0, self.lease.ttl / 3)
                try:
                    if time.monotonic() >= next_drain:
                        next_drain = time.monotonic() + 1.0
                        if self.spool.pending():
                            await self.spool.drain(self.trail)
                    if await self.seal_once() >= self.batch:
                        pause = 0  # a full block: more may be waiting, go on at once
                except StoreUnavailable:
                    pause = 0.5
                except TrailCorrupt as exc:
                    log.critical("audit sealing stopped: %s", exc)
                    pause = 5.0
                except Exception:
                    log.exception("audit sealing failed")
                    pause = 1.0
                metrics.AUDIT_ROLE.labels("sealer").set(1 if self.lease.value else 0)
                if not cancel_requested():
                    await asyncio.sleep(pause)
        finally:
            metrics.AUDIT_ROLE.labels("sealer").set(0)
            await self.lease.drop()


CHAIN_CHUNK = 64  # events chained between two chances for requests to run (well under 1 ms)


async def sign_batch(
    head: Head, raw: list[tuple[str, dict[str, str]]], key: SigningKey
) -> list[tuple[str, str, str]]:
    """(raw id, sealed line, hash) for each raw event: one block chained after `head`, signed
    once on its last event.

    Chaining runs on the event loop in short chunks: a worker thread would fight the loop for the
    GIL and cost more than the work (measured: bench/audit_overhead.py)."""
    out: list[tuple[str, str, str]] = []
    prev = head.hash
    for start in range(0, len(raw), CHAIN_CHUNK):
        if start:
            await asyncio.sleep(0)
        chunk = raw[start : start + CHAIN_CHUNK]
        last = start + CHAIN_CHUNK >= len(raw)
        close = (head.seq + 1, key.version, key.private) if last else None
        sealed = chain_events(head.seq + 1 + start, chunk, prev, close=close)
        out += [(raw_id, s.line, s.hash) for (raw_id, _), s in zip(chunk, sealed, strict=True)]
        prev = out[-1][2]
    return out
