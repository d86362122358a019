"""The counts behind the auditors' pictures, kept in the store: per day, folded from the event
log by whichever gateway process shows the pictures, with the id of the last event folded in. One
hash (`keys.audit_patterns`), so every process and host shares the work and a restart does not
count again; a fold is one script that applies only where the last one ended, so two processes
never count the same events twice. Derived data: if the hash is lost, the next view counts again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.store.redis import Redis
from gateway.store.replies import PatternsReply


@dataclass(frozen=True)
class Folded:
    cursor: str  # the last event id folded in; "" before the first fold
    definition: int  # of an attempt (gateway.attempts.DEFINITION) the counts were made by
    days: dict[str, dict[str, int]]  # YYYY-MM-DD -> counter -> count


class PatternCounts:
    def __init__(self, redis: Redis) -> None:
        self.r = redis

    async def load(self) -> Folded:
        raw: dict[str, str] = await self.r.call(self.r.client.hgetall(self.r.keys.audit_patterns))
        days: dict[str, dict[str, int]] = {}
        for name, value in raw.items():
            if name.startswith("d|"):
                _, day, counter = name.split("|", 2)
                days.setdefault(day, {})[counter] = int(value)
        # (counts from before the definition was numbered carry none: 1)
        return Folded(raw.get("cursor", ""), int(raw.get("definition") or 1), days)

    async def fold(
        self,
        expected: str,
        cursor: str,
        definition: int,
        counts: Mapping[tuple[str, str], int],
        drop_before: str,
    ) -> bool:
        """Add `counts` ((day, counter) -> n) for the events after `expected` up to `cursor`;
        False (nothing changed) when another fold moved the cursor meanwhile."""
        args: list[object] = [expected, cursor, definition, drop_before]
        for (day, counter), n in counts.items():
            args += [f"d|{day}|{counter}", n]
        res = await self.r.script(
            "patterns_fold", [self.r.keys.audit_patterns], args, acknowledged=False
        )
        return PatternsReply.from_reply(res).outcome == "ok"

    async def forget(self) -> None:
        """Drop every count: the next view counts the window again."""
        await self.r.call(self.r.client.delete(self.r.keys.audit_patterns))
