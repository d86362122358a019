"""What a walk of the trail reads and says: a line as stored, the first problem found (named by
sequence number, see gateway.audit.verify), and the report for the operator and programs."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    events: int = 0  # events verified whole, in order (covered by a good signature)
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
