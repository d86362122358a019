"""The audit trail read from the event log: export and verification.

This first version checks that the live log is readable, ordered and free of plaintext personal
data fields; signing and the hash chain (tamper evidence) build on `export` and `verify` here.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from gateway.context import Gateway

# Field names that must never appear in an event: the trail holds person keys only.
FORBIDDEN_FIELDS = frozenset(
    {"name", "atena_number", "subject_code", "subjectCode", "answer", "fields"}
)


@dataclass
class VerifyReport:
    ok: bool
    events: int
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "events": self.events, "problems": self.problems}

    def text(self) -> str:
        if self.ok:
            return f"audit trail whole: {self.events} events"
        return f"audit trail BROKEN after {self.events} events: {self.problems[0]}"


async def verify(gw: Gateway, file: Path | None) -> VerifyReport:
    count = 0
    previous = (0, 0)
    if file is not None:
        lines = (await asyncio.to_thread(file.read_text)).splitlines()
        for n, line in enumerate(lines, 1):
            try:
                ev = json.loads(line)
            except ValueError:
                return VerifyReport(False, count, [f"line {n}: not JSON"])
            if FORBIDDEN_FIELDS & ev.keys():
                return VerifyReport(False, count, [f"line {n}: holds a personal data field"])
            count += 1
        return VerifyReport(True, count)
    async for ev in gw.events.iterate():
        ms, seq = (int(x) for x in ev.id.split("-"))
        if (ms, seq) <= previous:
            return VerifyReport(False, count, [f"event {ev.id}: out of order"])
        if FORBIDDEN_FIELDS & ev.fields.keys():
            return VerifyReport(False, count, [f"event {ev.id}: holds a personal data field"])
        previous = (ms, seq)
        count += 1
    return VerifyReport(True, count)


async def export(
    gw: Gateway, file: Path, since: str | None = None, until: str | None = None
) -> int:
    count = 0
    with file.open("w", encoding="utf-8") as fh:
        async for ev in gw.events.iterate():
            if since and ev.at < since:
                continue
            if until and ev.at > until:
                continue
            fh.write(json.dumps(ev.as_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
