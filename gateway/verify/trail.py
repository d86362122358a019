"""The sealed trail from a position on, verified as it is read: the archive files of this host
where the store no longer has the events, then the store. Only whole blocks whose signature
verifies (gateway/audit/verify.py, the same walk as `audit verify`) are handed on to be folded.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.archive import FILE_NAME, Archive, line_seq
from gateway.audit.record import GENESIS
from gateway.audit.verify import Chain, Line, Problem, Report
from gateway.store.trail import TrailStore
from gateway.verify.fold import KINDS

PAGE = 1000
# The kinds the fold takes, as they stand in a canonical line (members sorted, no spaces): only
# those lines are decoded a second time (the walk decodes every line once).
_ALTERNATIVES = "|".join(re.escape(k) for k in sorted(KINDS))
_FOLDED = re.compile(f'"kind":"({_ALTERNATIVES})"')


class TrailGap(Exception):
    """The events after the position are neither in the store nor in this host's archive."""


@dataclass(frozen=True, slots=True)
class Verified:
    """One signed block, verified: the events of the kinds the fold takes (decoded), and the
    block's last event (seq, hash, id): where the fold stands after it."""

    events: list[dict[str, Any]]
    seq: int
    hash: str
    id: str


def _archive_lines(archive: Archive, after_seq: int) -> Iterator[Line]:
    """Archived lines of events after `after_seq`, from the file that holds the next one."""
    files = archive.files()
    start = 0
    for n, path in enumerate(files):
        m = FILE_NAME.match(path.name)
        if m and int(m.group(1)) <= after_seq + 1:
            start = n
    for path in files[start:]:
        with path.open("rb") as fh:
            for no, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    break  # being written, or cut by a crash: not part of the archive yet
                try:
                    text: str | None = raw[:-1].decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                seq = line_seq(text or "")
                if seq is not None and seq <= after_seq:
                    continue
                yield Line(text, f"{path.name} line {no}")


async def _lines(
    archive: Archive, trail: TrailStore, seq: int, entry_id: str, upto_seq: int, archived: int
) -> AsyncIterator[Line]:
    """Sealed lines after event `seq` (store entry `entry_id`, '' for none), up to `upto_seq`:
    from the store, and from this host's archive files for what the store no longer holds. (A
    line without a seq is handed on as it is: the walk names it.)"""
    last, cursor = seq, entry_id or None
    while last < upto_seq:
        rows = await trail.sealed(cursor, PAGE)
        first = line_seq(rows[0][1]) if rows else upto_seq + 1
        if first is not None and first > last + 1:
            before = last
            for line in _archive_lines(archive, last):
                got = line_seq(line.text or "")
                if got is not None and got > upto_seq:
                    return
                yield line
                if got is not None:
                    last = got
            if last == before and last < archived:
                # archived, but not on this host
                raise TrailGap(f"events from seq {last + 1} are neither in the store nor here")
            if last > before:
                cursor = None  # the store again from its start, after what the files held
                continue
            if not rows:
                return  # gone from the end: the walk says so
            # gone from the middle of the store: handed on as they are, the walk names the gap
        for entry, text in rows:
            cursor = entry
            got = line_seq(text)
            if got is not None and got <= last:
                continue
            if got is not None and got > upto_seq:
                return
            yield Line(text, f"trail entry {entry}")
            if got is not None:
                last = got


class Blocks:
    """Sans-I/O: sealed lines in, in stored order (after event `seq` with hash `hash`); each
    block out once its signature verified (the events of the kinds the fold takes, decoded, and
    where the fold stands after it), then the walk's Problem, if any. `fast` as for Chain."""

    def __init__(
        self, pubkeys: dict[int, Ed25519PublicKey], *, seq: int, hash: str, fast: bool = True
    ) -> None:
        self.report = Report()
        self.chain = Chain(pubkeys, self.report, seq=seq + 1, prev=hash or GENESIS, fast=fast)
        self.committed = seq
        # decoded lines of the open block: (seq, event, of a kind the fold takes)
        self._waiting: list[tuple[int, dict[str, Any], bool]] = []

    def feed(self, line: Line) -> tuple[Verified | Problem | None, bool]:
        """Take the next line: (the block it closed, or a Problem that ends the walk, or None;
        whether to feed more)."""
        ok = self.chain.feed(line)
        text = line.text or ""
        folded = bool(_FOLDED.search(text))
        if ok and (folded or '"sig":' in text):
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("seq"), int):
                self._waiting.append((obj["seq"], obj, folded))
        if not ok:
            return None, False
        done = self.report.last_seq or self.committed
        if done <= self.committed:
            return None, True
        # a block's signature verified: its events are what the trail says they are
        events = [obj for s, obj, f in self._waiting if s <= done and f]
        last = next((obj for s, obj, _ in self._waiting if s == done), None)
        self._waiting = [w for w in self._waiting if w[0] > done]
        self.committed = done
        if last is None:  # (the signed line decoded by the walk but not here: cannot be)
            problem = Problem("changed", done, line.where, "the block's last event is unreadable")
            return problem, False
        return Verified(events, done, str(last["hash"]), str(last["id"])), True

    def finish(self, upto_seq: int) -> Problem | None:
        """No more lines: what the walk found wrong, or that the trail ends before `upto_seq`."""
        self.chain.finish()
        if self.report.problem is not None:
            return self.report.problem
        if self.committed < upto_seq:
            return Problem(
                "truncated",
                self.committed + 1,
                "the end of the trail",
                f"the trail ends at seq {self.committed} but its sealed head is seq {upto_seq}",
            )
        return None


async def verified_blocks(
    archive: Archive,
    trail: TrailStore,
    pubkeys: dict[int, Ed25519PublicKey],
    *,
    seq: int,
    hash: str,
    entry_id: str,
    upto_seq: int,
) -> AsyncIterator[Verified | Problem]:
    """Each verified block after (seq, hash, entry_id) up to `upto_seq` (the sealed head, always
    a block's end), then, if the walk found something wrong, the Problem (and nothing after it).
    TrailGap if the events after the position cannot be read here at all."""
    blocks = Blocks(pubkeys, seq=seq, hash=hash)
    archived = (await trail.head()).archived_seq
    async for line in _lines(archive, trail, seq, entry_id, upto_seq, archived):
        item, more = blocks.feed(line)
        if item is not None:
            yield item
        if isinstance(item, Problem):
            return
        if not more:
            break
    problem = blocks.finish(upto_seq)
    if problem is not None:
        yield problem
