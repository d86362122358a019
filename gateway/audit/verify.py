"""Verifying the trail: signatures, the hash chain and the sequence, and naming what is wrong.

Pure and offline: lines in, a report out. The same walk serves the live trail (archive files,
then the store), archive files and exports; it needs only the public keys. It stops at the first
broken event and names it by sequence number with one of:

    changed        the line's bytes or content no longer match what was signed
    bad signature  the content matches its hash but the signature does not verify
    unknown key    signed with a key version that is not among the public keys given
    deleted        events are missing (a gap in the sequence), or an export lost its last events
    reordered      an event stands later than its place in the sequence
    inserted       a line that is not part of the chain (a copy, a forgery, a foreign event)
    chain broken   an event's `prev` is not the previous event's hash
    truncated      the file ends mid-line or without its end record, or the trail ends before
                   its head
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.record import (
    GENESIS,
    RecordError,
    check_event,
    check_signed,
    parse_line,
)


@dataclass(frozen=True, slots=True)
class Line:
    text: str | None  # None when the bytes are not UTF-8
    where: str  # for the report: "FILE line N" or "trail entry N-0"
    complete: bool = True  # False for a file's last line cut off before its newline


@dataclass(frozen=True, slots=True)
class Problem:
    what: str
    seq: int | None  # the first broken event's sequence number
    where: str
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"what": self.what, "seq": self.seq, "where": self.where, "detail": self.detail}


@dataclass
class Report:
    problem: Problem | None = None
    events: int = 0  # events verified whole, in order
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    keys: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    unsealed: int | None = None  # live trail only: raw events not yet sealed

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "ok": self.ok,
            "events": self.events,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "keys": sorted(self.keys),
            "problem": self.problem.as_json() if self.problem else None,
            "notes": self.notes,
        }
        if self.unsealed is not None:
            out["unsealed"] = self.unsealed
        return out

    def text(self) -> str:
        span = f"seq {self.first_seq}..{self.last_seq}" if self.events else "no events"
        if self.problem is None:
            keys = ", ".join(str(k) for k in sorted(self.keys)) or "-"
            lines = [f"audit trail whole: {self.events} events ({span}), key versions {keys}"]
        else:
            p = self.problem
            at = f"event seq {p.seq}" if p.seq is not None else "the start"
            lines = [
                f"audit trail BROKEN at {at} ({p.where}): {p.what} - {p.detail}",
                f"  {self.events} events before it verified whole ({span})",
            ]
        if self.unsealed:
            lines.append(f"  {self.unsealed} events appended but not sealed yet")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _seq_of(line: Line) -> int | None:
    try:
        obj = json.loads(line.text or "")
    except ValueError:
        return None
    seq = obj.get("seq") if isinstance(obj, dict) else None
    return seq if isinstance(seq, int) else None


class Chain:
    """Fed lines one at a time (so that sources may be async), in the order they are stored.

    `seq`/`prev` are what the first line must be; None takes the first line as given (an archive
    file on its own: its link to what came before cannot be checked, and the report says so).
    """

    def __init__(
        self,
        pubkeys: dict[int, Ed25519PublicKey],
        report: Report,
        seq: int | None = 1,
        prev: str | None = GENESIS,
    ) -> None:
        self.pubkeys = pubkeys
        self.report = report
        self.expect = seq
        self.prev = prev
        # decided by the next line: a bad line (inserted, or broken itself?), or a gap
        self._pending: tuple[Line, Problem] | None = None
        self._looking_for: tuple[int, int, Line] | None = None  # (missing seq, seq seen, where)

    @property
    def done(self) -> bool:
        return self.report.problem is not None

    def _check(self, line: Line) -> tuple[dict[str, Any] | None, RecordError | None]:
        if line.text is None:
            return None, RecordError("changed", "the line is not UTF-8")
        obj = None
        try:
            obj = parse_line(line.text)
            check_event(obj)
            check_signed(obj, self.pubkeys)
        except RecordError as err:
            return obj, err
        return obj, None

    def _fits(self, line: Line) -> bool:
        """The line is the event the chain expects next, whole and linked."""
        obj, err = self._check(line)
        return (
            err is None
            and obj is not None
            and obj["seq"] == self.expect
            and (self.prev is None or obj["prev"] == self.prev)
        )

    def fail(self, what: str, seq: int | None, where: str, detail: str) -> bool:
        self.report.problem = Problem(what, seq, where, detail)
        return False

    def feed(self, line: Line) -> bool:
        """Take the next line; False once a problem is found (feed no more)."""
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
            if self._fits(line):
                return self.fail(
                    "inserted",
                    self.expect,
                    bad.where,
                    f"a line that is not part of the chain stands before event {self.expect} "
                    f"({problem.what}: {problem.detail})",
                )
            self._settle(problem)
            return False
        if not line.complete:
            return self.fail(
                "truncated", self.expect, line.where, "the last line is cut off before its end"
            )
        obj, err = self._check(line)
        if err is not None:
            seq = obj.get("seq") if isinstance(obj, dict) else None
            seq = seq if isinstance(seq, int) else self.expect
            self._pending = (line, Problem(err.what, seq, line.where, err.detail))
            return True
        assert obj is not None
        seq = obj["seq"]
        if self.expect is None:
            self.expect = seq
        if self.prev is None:
            if seq == 1:
                self.prev = GENESIS
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
                line,
                Problem(
                    "chain broken",
                    seq,
                    line.where,
                    f"its prev is not the hash of event {seq - 1}",
                ),
            )
            return True
        self.report.events += 1
        if self.report.first_seq is None:
            self.report.first_seq = seq
        self.report.last_seq = seq
        self.report.last_hash = obj["hash"]
        self.report.keys.add(obj["key"])
        self.expect = seq + 1
        self.prev = obj["hash"]
        return True

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

    def finish(self) -> None:
        """No more lines: settle what was waiting for the next one."""
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
