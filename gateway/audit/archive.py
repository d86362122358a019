"""Archive files: old sealed events moved out of the store to DATA_DIR/audit/, still verifiable.

Files are `trail-<first seq, 12 digits>-<UTC time it was started>.jsonl`, each line exactly the
sealed line the store held, so a file is a stretch of the chain and the next file (or the live
trail) carries on from its last event. The archiver (archiver.py) appends and fsyncs here before
it trims the store. The files live on the archiving host; the event log reads old events from
them (`between`), and `audit verify` / `audit export` read them before the store.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.report import Line
from gateway.settings import Settings

log = logging.getLogger("hogo.audit")
FILE_NAME = re.compile(r"^trail-(\d{12})-(\d{8}T\d{6}Z)\.jsonl$")
_SEQ = re.compile(r'"seq":(\d+)[,}]')
EventId = tuple[int, int]


class ArchiveCorrupt(Exception):
    """The archive files cannot be read back; the archiver stops until an operator looks."""


@dataclass(frozen=True, slots=True)
class Mark:
    seq: int
    hash: str
    id: str
    file: Path


def line_seq(text: str) -> int | None:
    m = _SEQ.search(text)
    return int(m.group(1)) if m else None


def id_key(event_id: str) -> EventId:
    """An event id ("ms-n") as a sortable pair."""
    ms, _, n = event_id.partition("-")
    return int(ms), int(n or 0)


def signed(line: str) -> bool:
    """Does the sealed line close a block (carry a signature)?"""
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and "sig" in obj


def _blocks(lines: list[str]) -> list[bytes]:
    """The lines as encoded blocks, each up to and including a signed line (a last group
    without one, which the archiver never passes, stays a group of its own)."""
    out: list[bytes] = []
    group: list[bytes] = []
    for line in lines:
        group.append((line + "\n").encode())
        if signed(line):
            out.append(b"".join(group))
            group = []
    if group:
        out.append(b"".join(group))
    return out


def iso_time(ts: float) -> str:
    """A moment in the events' own format (UTC, milliseconds, Z), so that strings compare."""
    iso = datetime.fromtimestamp(int(ts * 1000) / 1000, UTC).isoformat(timespec="milliseconds")
    return iso.replace("+00:00", "Z")


class Archive:
    """The archive files under one directory, in sequence order."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._bounds_cache: dict[Path, tuple[int, tuple[EventId, EventId] | None]] = {}

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
                    return Mark(int(obj["seq"]), str(obj["hash"]), str(obj["id"]), path)
                except (ValueError, KeyError, TypeError):
                    raise ArchiveCorrupt(f"{path.name}: the last line is unreadable") from None
        return None

    def append(self, lines: list[str], settings: Settings) -> Path:
        """Write sealed lines (whole blocks) durably, starting a new file whenever the current one
        is full by size or age, and only between blocks, so that each file ends with a signature
        and verifies on its own (blocking: call it in a thread); returns the last file written."""
        self.dir.mkdir(parents=True, exist_ok=True)
        files = self.files()
        current = files[-1] if files else None
        size = current.stat().st_size if current is not None else 0
        rest = _blocks(lines)
        while rest:
            if current is None or self._full(current, size, settings):
                first = line_seq(rest[0].decode()) or 0
                started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                current, size = self.dir / f"trail-{first:012d}-{started}.jsonl", 0
            take = 1  # at least one block per file, however small the limit
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

    def _bounds(self, path: Path) -> tuple[EventId, EventId] | None:
        """The first and last event id in a file (cached while the file does not change)."""
        size = path.stat().st_size
        cached = self._bounds_cache.get(path)
        if cached is not None and cached[0] == size:
            return cached[1]
        with path.open("rb") as fh:
            first = fh.readline()
            fh.seek(max(0, size - 1024 * 1024))
            tail = [x for x in fh.read().split(b"\n") if x.strip()]
        try:
            found = (id_key(json.loads(first)["id"]), id_key(json.loads(tail[-1])["id"]))
        except (ValueError, KeyError, TypeError, IndexError):
            found = None  # unreadable: scanned line by line, like any file it may overlap
        self._bounds_cache[path] = (size, found)
        return found

    def between(
        self, lo: EventId, lo_open: bool, hi: EventId, hi_open: bool, limit: int
    ) -> Iterator[str]:
        """Archived lines whose event id is within the bounds, oldest first, at most `limit`
        (blocking: the files are read from disk)."""
        count = 0
        for path in self.files():
            bounds = self._bounds(path)
            if bounds is not None and (bounds[1] < lo or bounds[0] > hi):
                continue
            with path.open("rb") as fh:
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break
                    text = raw[:-1].decode("utf-8", errors="replace")
                    try:
                        key = id_key(json.loads(text)["id"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    if key < lo or (lo_open and key == lo):
                        continue
                    if key > hi or (hi_open and key == hi):
                        return
                    yield text
                    count += 1
                    if count >= limit:
                        return


class ArchiveReader:
    """Reads the archive's lines once each, and what was appended since when asked again."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._file: Path | None = None
        self._offset = 0
        self._line_no = 0
        self.last_seq = 0
        self.last_id: str | None = None

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
                    self._note(text)
                    yield Line(text, f"{path.name} line {self._line_no}")

    def _note(self, text: str | None) -> None:
        """Where the archive ends so far (seq and id of the last readable line)."""
        try:
            obj = json.loads(text or "")
            self.last_seq, self.last_id = int(obj["seq"]), str(obj["id"])
        except (ValueError, KeyError, TypeError):
            pass  # a broken line: the verifier names it; reading goes on after it
