"""Archive files: old sealed events moved out of the store to DATA_DIR/audit/, still verifiable.

Files are `trail-<first seq, 12 digits>-<UTC time it was started>.jsonl`, each line exactly the
sealed line the store held, so a file is a stretch of the chain and the next file (or the live
trail) carries on from its last event. The archiver (one process at a time: it holds the
'archiver' lease) appends, fsyncs, and only then trims the store up to the last seq written; the
trim is idempotent by seq, so a crash between the two neither loses nor duplicates an event (the
next round finds those events in its file and just trims). The files live on the archiving host.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway import metrics
from gateway.audit.lease import Lease
from gateway.audit.verify import Line
from gateway.settings import Settings
from gateway.store.redis import StoreUnavailable, cancel_requested
from gateway.store.trail import LeaseLost, TrailCorrupt, TrailStore, entry_seq

log = logging.getLogger("hogo.audit")
FILE_NAME = re.compile(r"^trail-(\d{12})-(\d{8}T\d{6}Z)\.jsonl$")
_SEQ = re.compile(r'"seq":(\d+)[,}]')
PAGE = 1000


class ArchiveCorrupt(Exception):
    """The archive files cannot be read back; the archiver stops until an operator looks."""


@dataclass(frozen=True, slots=True)
class Mark:
    seq: int
    hash: str
    file: Path


def line_seq(text: str) -> int | None:
    m = _SEQ.search(text)
    return int(m.group(1)) if m else None


class Archive:
    """The archive files under one directory, in sequence order."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if FILE_NAME.match(p.name))

    def last(self, *, repair: bool = False) -> Mark | None:
        """The last archived event. With `repair` (archiver only), a last line cut off by a crash
        mid-write is cut away: it was never trimmed from the store, so it is written again."""
        for path in reversed(self.files()):
            with path.open("rb+" if repair else "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size == 0:
                    continue
                start = max(0, size - 1024 * 1024)
                fh.seek(start)
                tail = fh.read()
                if not tail.endswith(b"\n"):
                    cut = tail.rfind(b"\n") + 1
                    if not repair:
                        tail = tail[:cut]
                    else:
                        log.warning("archive %s: cutting off a partly written last line", path.name)
                        fh.truncate(start + cut)
                        fh.flush()
                        os.fsync(fh.fileno())
                        tail = tail[:cut]
                lines = tail.splitlines()
                if not lines:
                    continue
                try:
                    obj = json.loads(lines[-1])
                    return Mark(int(obj["seq"]), str(obj["hash"]), path)
                except (ValueError, KeyError, TypeError):
                    raise ArchiveCorrupt(f"{path.name}: the last line is unreadable") from None
        return None

    def append(self, lines: list[str], settings: Settings) -> Path:
        """Write sealed lines durably, starting a new file whenever the current one is full by
        size or age (blocking: call it in a thread); returns the last file written."""
        self.dir.mkdir(parents=True, exist_ok=True)
        files = self.files()
        current = files[-1] if files else None
        size = current.stat().st_size if current is not None else 0
        rest = [(line + "\n").encode() for line in lines]
        while rest:
            if current is None or self._full(current, size, settings):
                first = line_seq(rest[0].decode()) or 0
                started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                current, size = self.dir / f"trail-{first:012d}-{started}.jsonl", 0
            take = 1  # at least one line per file, however small the limit
            room = settings.audit_archive_file_bytes - size - len(rest[0])
            while take < len(rest) and room - len(rest[take]) >= 0:
                room -= len(rest[take])
                take += 1
            chunk, rest = b"".join(rest[:take]), rest[take:]
            self._write(current, chunk)
            size += len(chunk)
        assert current is not None
        return current

    def _write(self, path: Path, data: bytes) -> None:
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:  # the file's name must survive a crash too
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    @staticmethod
    def _full(path: Path, size: int, settings: Settings) -> bool:
        if size >= settings.audit_archive_file_bytes:
            return True
        m = FILE_NAME.match(path.name)
        assert m is not None
        started = datetime.strptime(m.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return time.time() - started.timestamp() >= settings.audit_archive_file_seconds


class ArchiveReader:
    """Reads the archive's lines once each, and what was appended since when asked again."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._file: Path | None = None
        self._offset = 0
        self._line_no = 0
        self.last_seq = 0

    def read_new(self) -> Iterator[Line]:
        for path in self.archive.files():
            if self._file is not None and path < self._file:
                continue
            if path != self._file:
                self._file, self._offset, self._line_no = path, 0, 0
            with path.open("rb") as fh:
                fh.seek(self._offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # being written (or cut by a crash): not part of the archive yet
                    self._offset += len(raw)
                    self._line_no += 1
                    try:
                        text: str | None = raw[:-1].decode("utf-8")
                    except UnicodeDecodeError:
                        text = None
                    self.last_seq = line_seq(text or "") or self.last_seq
                    yield Line(text, f"{path.name} line {self._line_no}")


class Archiver:
    """Moves sealed events older than the configured age, or beyond the configured count, from
    the store to the archive files. Runs in every process; only the lease holder works."""

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
            await self._trim(local.seq, local.hash, local.file)
        status = await self.trail.status()
        first = await self.trail.first_stored_seq()
        if first is None:
            return 0
        start = first
        if local is not None:
            start = max(first, local.seq + 1)
            if first > local.seq + 1:
                log.warning(
                    "audit archive here ends at seq %d but the store starts at %d: events "
                    "%d..%d were archived elsewhere (another host?)",
                    local.seq,
                    first,
                    local.seq + 1,
                    first - 1,
                )
        elif first > 1:
            log.warning("audit archive here starts at seq %d (earlier ones are elsewhere)", first)
        rows = await self.trail.sealed(start, PAGE)
        excess = status.stored - self.settings.audit_keep_events
        cutoff = iso_time(time.time() - self.settings.audit_archive_after_seconds)
        chosen: list[tuple[int, str]] = []
        for entry_id, line in rows:
            seq = entry_seq(entry_id)
            if seq > head.seq:
                break
            if len(chosen) >= excess and not _older_than(line, cutoff):
                break
            chosen.append((seq, line))
        if not chosen:
            return 0
        path = await asyncio.to_thread(
            self.archive.append, [line for _, line in chosen], self.settings
        )
        last_seq, last_line = chosen[-1]
        await self._trim(last_seq, json.loads(last_line).get("hash", ""), path)
        return len(chosen)

    async def _trim(self, seq: int, digest: str, path: Path) -> None:
        try:
            await self.trail.trim(self.lease.value, seq, digest, path.name)
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


def iso_time(ts: float) -> str:
    """A moment in the events' own format (UTC, milliseconds, Z), so that strings compare."""
    iso = datetime.fromtimestamp(int(ts * 1000) / 1000, UTC).isoformat(timespec="milliseconds")
    return iso.replace("+00:00", "Z")


def _older_than(line: str, cutoff: str) -> bool:
    try:
        at = json.loads(line).get("at", "")
    except ValueError:
        return False
    return isinstance(at, str) and at < cutoff
