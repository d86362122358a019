"""The archiver: moves sealed events older than the configured age, or beyond the configured
count, from the store to the archive files (archive.py). Runs in every process where archiving is
allowed; only the holder of the 'archiver' lease works.

It appends and fsyncs first and trims the store only then, up to the last event written; the
trim is idempotent (by seq and id), so a crash between the two neither loses nor duplicates an
event: the next round finds those events in its file and just trims. It moves whole blocks only
(up to a signed event), so that every archive file ends with a signature and verifies on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from gateway import metrics
from gateway.audit.archive import Archive, ArchiveCorrupt, iso_time, line_seq, signed
from gateway.audit.lease import Lease
from gateway.settings import Settings
from gateway.store.redis import StoreUnavailable, cancel_requested
from gateway.store.trail import LeaseLost, TrailCorrupt, TrailStore

log = logging.getLogger("hogo.audit")
PAGE = 1000


class Archiver:
    def __init__(self, trail: TrailStore, settings: Settings) -> None:
        self.trail = trail
        self.settings = settings
        self.archive = Archive(settings.audit_dir)
        self.lease = Lease(trail, "archiver", settings.audit_lease_seconds)

    async def archive_once(self) -> int:
        """One round: returns the number of events moved to files."""
        if not await self.lease.hold():
            return 0
        local = await asyncio.to_thread(self.archive.last, repair=True)
        head = await self.trail.head()
        if local is not None and local.seq > head.seq:
            raise TrailCorrupt(
                f"the archive here reaches seq {local.seq} but the store's head is {head.seq}: "
                "the store lost sealed events (restored from an old backup?)"
            )
        if local is not None and local.seq > head.archived_seq:
            # a crash between writing the file and trimming: finish the trim
            await self._trim(local.seq, local.hash, local.id, local.file)
        status = await self.trail.status()
        rows = await self.trail.sealed(None, PAGE)
        if not rows:
            return 0
        first = line_seq(rows[0][1]) or 0
        if local is not None and first > local.seq + 1:
            log.warning(
                "audit archive here ends at seq %d but the store starts at %d: events %d..%d "
                "were archived elsewhere (another host?)",
                local.seq,
                first,
                local.seq + 1,
                first - 1,
            )
        elif local is None and first > 1:
            log.warning("audit archive here starts at seq %d (earlier ones are elsewhere)", first)
        excess = status.stored - self.settings.audit_keep_events
        # (the events' `at` is the store's clock: the age is counted on the same one)
        now_s = self.trail.r.clock.now_ms() / 1000
        cutoff = iso_time(now_s - self.settings.audit_archive_after_seconds)
        start = 0  # rows before it are already in the file (the trim above removes them)
        while local is not None and start < len(rows):
            if not 0 < (line_seq(rows[start][1]) or 0) <= local.seq:
                break
            start += 1
        end = start
        while end < len(rows):
            seq = line_seq(rows[end][1]) or 0
            if seq > head.seq:
                break
            if end - start >= excess and not _older_than(rows[end][1], cutoff):
                break
            end += 1
        # on to the end of the block the last chosen event belongs to (the head is one)
        while end > start and not signed(rows[end - 1][1]):
            if end == len(rows):
                more = await self.trail.sealed(rows[-1][0], PAGE)
                if not more:
                    break
                rows += more
            if (line_seq(rows[end][1]) or 0) > head.seq:
                break
            end += 1
        while end > start and not signed(rows[end - 1][1]):
            end -= 1  # the trail ends inside a block (it never should): archive up to the last
        chosen = rows[start:end]
        if not chosen:
            return 0
        path = await asyncio.to_thread(
            self.archive.append, [line for _, line in chosen], self.settings
        )
        last_id, last_line = chosen[-1]
        last = json.loads(last_line)
        await self._trim(int(last["seq"]), str(last["hash"]), last_id, path)
        return len(chosen)

    async def _trim(self, seq: int, digest: str, entry_id: str, path: Path) -> None:
        try:
            await self.trail.trim(self.lease.value, seq, digest, entry_id, path.name)
        except LeaseLost:
            self.lease.lost()
            raise

    async def run_forever(self) -> None:
        try:
            while not cancel_requested():
                moved = 0
                try:
                    moved = await self.archive_once()
                    metrics.AUDIT_ROLE.labels("archiver").set(1 if self.lease.value else 0)
                except (StoreUnavailable, LeaseLost):
                    pass
                except (TrailCorrupt, ArchiveCorrupt) as exc:
                    log.critical("audit archiving stopped: %s", exc)
                except Exception:
                    log.exception("audit archiving failed")
                if moved < PAGE and not cancel_requested():
                    await asyncio.sleep(self.settings.audit_archive_interval_seconds)
        finally:
            metrics.AUDIT_ROLE.labels("archiver").set(0)
            await self.lease.drop()


def _older_than(line: str, cutoff: str) -> bool:
    try:
        at = json.loads(line).get("at", "")
    except ValueError:
        return False
    return isinstance(at, str) and at < cutoff
