"""Verifying the trail: block signatures, the hash chain and the sequence, and naming what is
wrong.

Pure and offline: lines in, a report out. The same walk serves the live trail (archive files,
then the store), archive files and exports; it needs only the public keys. It stops at the first
broken event and names it by sequence number with one of:

    changed        the line's bytes or content no longer match what was signed (its own hash,
                   or the hash its block's signature vouches for through the chain)
    bad signature  a block's last event matches its hash but the signature does not verify
    unknown key    signed with a key version that is not among the public keys given
    deleted        events are missing (a gap in the sequence), or an export lost its last events
    reordered      an event stands later than its place in the sequence
    inserted       a line that is not part of the chain (a copy, a forgery, a foreign event)
    chain broken   an event's `prev` is not the previous event's hash
    bad block      a block's signed claim (its first seq) disagrees with the blocks around it:
                   it claims events the block before it already covers, or leaves some unclaimed
    unsigned       events no signature covers: the trail or the files end inside a block
    truncated      the file ends mid-line or without its end record, or the trail ends before
                   its head

A signature closes a block (format 2: the block's last event; format 1: every event), and
vouches for the events before it back to the previous signature through their `prev` hashes. So
the walk judges a block's events once its signature has been read: an event whose hash is not
the one the signed chain names is `changed` (altered and re-hashed), even in mid-block; only
events a good signature (or an export's signed end record) covers are counted as verified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.fastread import read_plain
from gateway.audit.record import (
    GENESIS,
    MAX_BLOCK_EVENTS,
    RecordError,
    check_event,
    check_hash,
    check_signature,
    parse_line,
)
from gateway.audit.report import Line, Problem, Report

__all__ = ["Anchor", "Chain", "Line", "Problem", "Report"]


def _seq_of(line: Line) -> int | None:
    try:
        obj = json.loads(line.text or "")
    except ValueError:
        return None
    seq = obj.get("seq") if isinstance(obj, dict) else None
    return seq if isinstance(seq, int) else None


@dataclass(slots=True)
class _Read:
    """One line as read, before its block is judged: the event, or what is wrong with it alone."""

    line: Line
    obj: dict[str, Any] | None
    error: RecordError | None
    signed: bool = False  # it closes a block (its signature is checked when the block closes)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed statement about the last event of a stretch that has no block signature of its
    own at the end: an export's end record (`last_seq`, `last_hash`)."""

    seq: int
    hash: str
    where: str


class Chain:
    """Fed lines one at a time (so that sources may be async), in the order they are stored.

    `seq`/`prev` are what the first line must be; None takes the first line as given (an archive
    file or export on its own: its link to what came before cannot be checked, and the report
    says so). The lines of a block wait until its signature has been read; then they are walked
    in stored order, each judged against what the signed chain says of its seq.

    `fast` reads the common line (unsigned, canonical, hash matching) from its text
    (gateway/audit/fastread.py) and every other line as before; the reports are the same
    (tests/test_audit_fastread.py). `fast=False` is the full path alone, kept to prove that.
    """

    def __init__(
        self,
        pubkeys: dict[int, Ed25519PublicKey],
        report: Report,
        seq: int | None = 1,
        prev: str | None = GENESIS,
        *,
        fast: bool = True,
    ) -> None:
        self.pubkeys = pubkeys
        self.report = report
        self.fast = fast
        self.expect = seq  # the seq the walk takes next
        self.prev = prev  # the hash that event must name as its prev
        self.walked = 0  # events the walk took in order (verified or waiting for a signature)
        # where the next block must start: after the last signed event the walk took; None
        # until then for a stretch that may begin inside a block
        self.block_start = seq
        self._open: list[_Read] = []  # read since the last signature, not walked yet
        self._authentic: dict[int, str] = {}  # seq -> hash, as the current block's signature says
        self._signer = ""  # where that signature is, for the report
        # walked but not covered by a signature yet: (seq, hash, where)
        self._unsigned: list[tuple[int, str, str]] = []
        # decided by the next line: a bad line (inserted, or broken itself?), or a gap
        self._pending: tuple[_Read, Problem] | None = None
        self._looking_for: tuple[int, int, Line] | None = None  # (missing seq, seq seen, where)

    @property
    def done(self) -> bool:
        return self.report.problem is not None

    @property
    def unsigned(self) -> tuple[int, int, str] | None:
        """The events the walk took that no signature covers yet: (first seq, last seq, where)."""
        if not self._unsigned:
            return None
        return self._unsigned[0][0], self._unsigned[-1][0], self._unsigned[0][2]

    def fail(self, what: str, seq: int | None, where: str, detail: str) -> bool:
        self.report.problem = Problem(what, seq, where, detail)
        return False

    # -- reading ----------------------------------------------------------------------------
    def feed(self, line: Line) -> bool:
        """Take the next line; False once a problem is found (feed no more)."""
        if self.done:
            return False
        read = self._read(line)
        self._open.append(read)
        if read.signed:
            self._close(None)
        elif len(self._open) > MAX_BLOCK_EVENTS:
            return self.fail(
                "unsigned",
                _seq_of(self._open[0].line),
                self._open[0].line.where,
                f"more than {MAX_BLOCK_EVENTS} lines without a signature (no block is that long)",
            )
        return not self.done

    def walk_open(self) -> None:
        """Walk the lines read since the last signature now, before their signature is read (a
        file that ends inside a block, followed by an export whose start must be checked against
        where the walk stands). A signature read later still covers them through the chain; only
        a line altered and re-hashed among them is then named less precisely."""
        if self._open and not self.done:
            self._close(None)

    def _read(self, line: Line) -> _Read:
        """What can be said of a line alone: canonical, the format's fields, its own hash."""
        if line.text is None:
            return _Read(line, None, RecordError("changed", "the line is not UTF-8"))
        if self.fast:
            plain = read_plain(line.text)
            if plain is not None:
                # all the walk reads of an unsigned event: the full path would read the same
                seq, prev, digest = plain
                return _Read(line, {"seq": seq, "prev": prev, "hash": digest}, None)
        obj = None
        try:
            obj = parse_line(line.text)
            signed = check_event(obj)
            check_hash(obj)
        except RecordError as err:
            return _Read(line, obj, err)
        return _Read(line, obj, None, signed)

    def _close(self, anchor: Anchor | None) -> None:
        """The block's signature (or the export's end record) has been read: learn what it
        vouches for, then walk the block's lines."""
        reads, self._open = self._open, []
        last = reads[-1] if reads else None
        start: str | None = None
        self._signer = ""
        if anchor is not None:
            start, self._signer = anchor.hash, anchor.where
        elif last is not None and last.signed and last.obj is not None:
            try:
                check_signature(last.obj, self.pubkeys)
                start, self._signer = last.obj["hash"], last.line.where
            except RecordError as err:
                last.error = err
        # back from the signed hash through each prev: the hash the signature vouches for, seq
        # by seq, down to the first event that is not here (whose hash it still names)
        by_hash = {r.obj["hash"]: r.obj for r in reads if r.error is None and r.obj is not None}
        self._authentic = {}
        seq = anchor.seq if anchor is not None else None
        while start is not None:
            obj = by_hash.pop(start, None)
            if obj is None:
                if seq is not None and seq >= 1:
                    self._authentic[seq] = start
                break
            self._authentic[obj["seq"]] = start
            seq, start = obj["seq"] - 1, obj["prev"]
        for read in reads:
            if not self._step(read):
                return

    def _judge(self, read: _Read) -> RecordError | None:
        if read.error is not None or read.obj is None:
            return read.error
        seq = read.obj["seq"]
        vouched = self._authentic.get(seq)
        if vouched is not None and vouched != read.obj["hash"]:
            return RecordError(
                "changed",
                f"not the event {seq} the signature at {self._signer} vouches for (altered and "
                "re-hashed, or from elsewhere)",
            )
        return None

    def _fits(self, read: _Read) -> bool:
        """The line is the event the chain expects next, whole and linked."""
        return (
            self._judge(read) is None
            and read.obj is not None
            and read.obj["seq"] == self.expect
            and (self.prev is None or read.obj["prev"] == self.prev)
        )

    # -- walking ----------------------------------------------------------------------------
    def _step(self, read: _Read) -> bool:
        line = read.line
        if self.done:
            return False
        if self._looking_for is not None:
            missing, seen, at = self._looking_for
            if _seq_of(line) == missing:
                return self.fail(
                    "reordered",
                    missing,
                    line.where,
                    f"event {missing} stands after event {seen} ({at.where})",
                )
            return True
        if self._pending is not None:
            bad, problem = self._pending
            self._pending = None
            if self._fits(read):
                return self.fail(
                    "inserted",
                    self.expect,
                    bad.line.where,
                    f"a line that is not part of the chain stands before event {self.expect} "
                    f"({problem.what}: {problem.detail})",
                )
            self._settle(problem)
            return False
        if not line.complete:
            return self.fail(
                "truncated", self.expect, line.where, "the last line is cut off before its end"
            )
        err = self._judge(read)
        obj = read.obj
        if err is not None:
            seq = obj.get("seq") if isinstance(obj, dict) else None
            seq = seq if isinstance(seq, int) else self.expect
            self._pending = (read, Problem(err.what, seq, line.where, err.detail))
            return True
        assert obj is not None
        seq = obj["seq"]
        if self.expect is None:
            self.expect = seq
        if self.prev is None:
            if seq == 1:
                self.prev, self.block_start = GENESIS, 1
            else:
                self.report.notes.append(
                    f"starts at seq {seq}: its link to event {seq - 1} is not checked here"
                )
                self.prev = obj["prev"]
        if seq > self.expect:
            self._looking_for = (self.expect, seq, line)
            return True
        if seq < self.expect:
            return self.fail(
                "inserted",
                self.expect,
                line.where,
                f"a second event {seq} stands after event {self.expect - 1}",
            )
        if obj["prev"] != self.prev:
            self._pending = (
                read,
                Problem(
                    "chain broken",
                    seq,
                    line.where,
                    f"its prev is not the hash of event {seq - 1}",
                ),
            )
            return True
        self.walked += 1
        self.expect = seq + 1
        self.prev = obj["hash"]
        self._unsigned.append((seq, obj["hash"], line.where))
        if read.signed:
            return self._signed(obj, line)
        return True

    def _signed(self, obj: dict[str, Any], line: Line) -> bool:
        """A good signature closes the block the walk has taken: its claim must fit."""
        seq = obj["seq"]
        first = obj.get("block", seq)  # a format-1 event is a block of one
        taken = self._unsigned[0][0]
        if (self.block_start is not None and first != self.block_start) or (
            self.block_start is None and first > taken
        ):
            start = self.block_start if self.block_start is not None else taken
            claim = "fewer" if first > start else "more"
            return self.fail(
                "bad block",
                seq,
                line.where,
                f"its signature claims events {first}..{seq} but the block after event "
                f"{start - 1} covers {start}..{seq} (it claims {claim} events than it covers)",
            )
        self._commit(obj["key"])
        self.block_start = seq + 1
        return True

    def _commit(self, key: int | None) -> None:
        first = self._unsigned[0][0]
        seq, digest, _ = self._unsigned[-1]
        self.report.events += len(self._unsigned)
        if self.report.first_seq is None:
            self.report.first_seq = first
        self.report.last_seq, self.report.last_hash = seq, digest
        if key is not None:
            self.report.keys.add(key)
        self._unsigned = []

    def _settle(self, problem: Problem) -> None:
        """A bad line the chain does not carry on after: it is broken itself, unless it claims a
        place an earlier event already took (then it was put there: inserted)."""
        if problem.seq is not None and self.expect is not None and problem.seq < self.expect:
            self.fail(
                "inserted",
                self.expect,
                problem.where,
                f"a line claiming to be event {problem.seq} stands after event {self.expect - 1} "
                f"({problem.what}: {problem.detail})",
            )
        else:
            self.report.problem = problem

    def finish(self, anchor: Anchor | None = None) -> None:
        """No more lines: walk what waits, vouched for by `anchor` if given (an export's end
        record), and settle what was waiting for the next line. Events no signature covers are
        left in `unsigned` for the caller to judge (it knows whether the trail ends there)."""
        if self.done:
            return
        if self._open or anchor is not None:
            self._close(anchor)
        if self.done:
            return
        if self._pending is not None:
            self._settle(self._pending[1])
            self._pending = None
        elif self._looking_for is not None:
            missing, seen, at = self._looking_for
            span = (
                f"event {missing} is"
                if seen == missing + 1
                else f"events {missing}..{seen - 1} are"
            )
            self.fail("deleted", missing, at.where, f"{span} missing before event {seen}")
        elif (
            anchor is not None
            and self._unsigned
            and (self._unsigned[-1][0], self._unsigned[-1][1]) == (anchor.seq, anchor.hash)
        ):
            first, last = self._unsigned[0][0], self._unsigned[-1][0]
            self.report.notes.append(
                f"events {first}..{last} rest on {anchor.where}: the signature of their block "
                "lies after the range"
            )
            self._commit(None)

    def fail_unsigned(self) -> None:
        """The walk ended with events no signature covers: the trail or the files stop inside a
        block, whose signed last event is missing."""
        span = self.unsigned
        if span is None or self.done:
            return
        first, last, where = span
        self.fail(
            "unsigned",
            first,
            where,
            f"events {first}..{last} are covered by no signature: the block they belong to "
            "ends after them, and its signed last event is not here",
        )
