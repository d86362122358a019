"""The live trail (this data dir's archive files, then the store) read as one sequence: verified
in place, or exported as signed JSON Lines for the auditors.

An export is: a signed begin record, the sealed event lines exactly as stored, a signed end record.
The begin record names the first event's seq and its `prev` (the hash of the event before it), so a
range export verifies on its own and links to the export before it; the end record names the count
and the last event's seq and hash, and the begin record's hash, so a cut or shortened export shows.
A range may end inside a block: the end record then vouches for the events after the range's last
block signature, so the export verifies them first against the signature that closes their block
in the live trail, and writes nothing if they do not match.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.archive import Archive, ArchiveReader, iso_time, line_seq
from gateway.audit.record import FORMAT, canonical, sign
from gateway.audit.verify import Chain, Line, Problem, Report
from gateway.crypto import SigningKey
from gateway.store.trail import TrailStore


async def live_lines(archive: Archive, trail: TrailStore, upto_seq: int) -> AsyncIterator[Line]:
    """Archive files first, then the store's sealed entries after them, up to seq `upto_seq`.

    If the archiver trims the store while we read, the events it moved are in its files by then
    (it writes before it trims): the reader picks them up from there."""
    # (the files are read in this thread, line by line: an archive may be far larger than memory;
    # the readers of the live trail are the commands, not the serving gateway)
    reader = ArchiveReader(archive)
    for line in reader.read_new():
        yield line
    last = reader.last_seq  # the last seq yielded
    cursor = reader.last_id  # the store is read after this id
    while True:
        rows = await trail.sealed(cursor, 1000)
        if rows and (line_seq(rows[0][1]) or 0) > last + 1:
            grew = False
            for line in reader.read_new():
                seq = line_seq(line.text or "")
                if seq is not None and seq <= last:
                    continue  # already read from the store before it was archived
                yield line
                grew, last = True, seq or last
            if grew:
                cursor = reader.last_id
                continue
        if not rows:
            return
        for entry_id, text in rows:
            seq = line_seq(text)
            if seq is not None and seq > upto_seq:
                return
            yield Line(text, f"trail entry {entry_id}")
            cursor, last = entry_id, seq or last


async def verify_live(
    archive: Archive, trail: TrailStore, pubkeys: dict[int, Ed25519PublicKey]
) -> Report:
    """The whole trail from seq 1 to the sealed head: archive files here, then the store."""
    head = await trail.head()
    report = Report()
    chain = Chain(pubkeys, report)
    async for line in live_lines(archive, trail, head.seq):
        if not chain.feed(line):
            break
    chain.finish()
    last = (chain.expect or 1) - 1  # the last event the walk took in order
    if report.ok and last < head.seq:
        report.problem = Problem(
            "truncated",
            last + 1,
            "the end of the trail",
            f"the trail ends at seq {last} but its sealed head is seq {head.seq}",
        )
    elif report.ok and head.seq and chain.prev != head.hash:
        report.problem = Problem(
            "chain broken", head.seq, "the head", "the sealed head's hash is not the last event's"
        )
    # the sealer signs every block in the step that writes it: the live trail has no legitimate
    # stretch without a signature at its end
    chain.fail_unsigned()
    problem = report.problem
    if problem is not None and head.archived_seq and (problem.seq or 0) <= head.archived_seq:
        report.notes.append(
            f"the store says events up to seq {head.archived_seq} were archived (last file "
            f"{head.archived_file}); if that was on another host, copy its archive files into "
            "this DATA_DIR/audit and verify again"
        )
    report.unsealed = (await trail.status()).unsealed
    return report


# -- export -----------------------------------------------------------------------------------
def parse_time(text: str) -> str:
    """A --since/--until TIME (ISO 8601 date or date-time; without an offset it is this machine's
    local time) in the events' own format, so that it compares with their `at`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return iso_time(moment.astimezone(UTC).timestamp())


class ExportRefused(Exception):
    """The range to export does not verify: no export signs what the trail's signatures do not."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"audit trail broken at seq {problem.seq}: {problem.what}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Exported:
    count: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int


def _marker(obj: dict[str, Any], key: SigningKey) -> str:
    return canonical(sign(obj, key.version, key.private)).decode()


async def export(
    archive: Archive,
    trail: TrailStore,
    key: SigningKey,
    path: Path,
    *,
    pubkeys: dict[int, Ed25519PublicKey],
    since: str | None,
    until: str | None,
    exported_by: str,
) -> Exported:
    """Write the events with `since` <= at < `until` (ISO, as from parse_time) to `path`, signed
    with `key`; `pubkeys` verify the trail (every key version that may have signed a block).

    The range is contiguous in sequence: from the first event at or after `since` to the last
    one before `until`, with every event between them (clocks of several processes are not
    perfectly in step, so `at` is not strictly ordered). Written to a temporary file, fsynced,
    then renamed: a half-written export never carries the final name.

    The range is verified as it is read, on to the signature that closes its last block, before
    the end record (which vouches for the events after the range's last signature) is signed:
    ExportRefused, and nothing written, if it does not verify."""
    head = await trail.head()
    verified = Report()
    chain = Chain(pubkeys, verified, seq=None, prev=None)
    tmp = path.with_name(path.name + ".part")
    begin: dict[str, Any] | None = None
    count = kept_count = 0
    kept_at = 0  # file offset after the last event inside the range
    first_seq: int | None = None
    last_seq = last_hash = None
    exported_at = iso_time(datetime.now(UTC).timestamp())

    def header(first: int | None, prev: str | None) -> dict[str, Any]:
        return {
            "audit_export": "begin",
            "v": FORMAT,
            "first_seq": first,
            "prev": prev,
            "since": since,
            "until": until,
            "head_seq": head.seq,
            "exported_at": exported_at,
            "exported_by": exported_by,
        }

    fh = await asyncio.to_thread(tmp.open, "wb")
    try:
        async for line in live_lines(archive, trail, head.seq):
            text = line.text or ""
            try:
                obj = json.loads(text)
                at = obj.get("at", "") if isinstance(obj, dict) else ""
            except ValueError:
                obj, at = {}, ""
            if begin is None:
                if since is not None and (not isinstance(at, str) or at < since):
                    continue
                if until is not None and isinstance(at, str) and at >= until:
                    continue
                first_seq = obj.get("seq")
                begin = header(first_seq, obj.get("prev"))
                fh.write((_marker(begin, key) + "\n").encode())
            if not chain.done:
                chain.feed(line)  # (after a problem beyond the range's last block, no more)
            fh.write((text + "\n").encode())
            count += 1
            if until is None or (isinstance(at, str) and at < until):
                kept_at, kept_count = fh.tell(), count
                last_seq, last_hash = obj.get("seq"), obj.get("hash")
        if begin is None:
            begin = header(None, None)
            fh.write((_marker(begin, key) + "\n").encode())
            kept_at = fh.tell()
        chain.finish()
        covered = verified.last_seq or 0
        if kept_count and (not isinstance(last_seq, int) or covered < last_seq):
            problem = verified.problem or Problem(
                "unsigned",
                covered + 1,
                "the end of the trail",
                f"events up to seq {last_seq} are not covered by a block signature",
            )
            raise ExportRefused(problem)
        fh.truncate(kept_at)
        fh.seek(kept_at)
        end = {
            "audit_export": "end",
            "v": FORMAT,
            "begin": sign(begin, key.version, key.private)["hash"],
            "count": kept_count,
            "first_seq": first_seq if kept_count else None,
            "last_seq": last_seq if kept_count else None,
            "last_hash": last_hash if kept_count else None,
        }
        fh.write((_marker(end, key) + "\n").encode())
        fh.flush()
        await asyncio.to_thread(os.fsync, fh.fileno())
    except BaseException:
        fh.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        fh.close()
    await asyncio.to_thread(tmp.replace, path)
    return Exported(kept_count, first_seq if kept_count else None, last_seq, head.seq)
