"""The store's side of the check (gateway/verify): one atomic look at the flag events not sealed
yet and the live state of some persons and directory entries (lua/verify_snapshot.lua), a sweep
over the store's keys (lua/verify_scan.lua), and the check's saved fold. Reads only, but for the
saved fold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.store.events import Event, _raw_event
from gateway.store.redis import Redis
from gateway.store.replies import ScanReply, SnapshotReply
from gateway.store.trail import pairs

Pair = tuple[bool, bool]


@dataclass(frozen=True, slots=True)
class LivePerson:
    """One person's flag state as the store holds it: the aggregate every decision reads, its
    counts, each department's hold, and each hold's history (raw entries, oldest first)."""

    exists: bool
    ard: bool
    nd: bool
    ard_holds: int
    nd_holds: int
    # kept as department holds, nothing of the single-record model left to fold in: only then
    # are holds and counts compared (an older record is compared by its aggregate)
    holds_model: bool
    holds: dict[str, Pair] = field(default_factory=dict)
    histories: dict[str, list[str]] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()  # departments whose hold is no hold the gateway writes


@dataclass(frozen=True, slots=True)
class Snapshot:
    head_seq: int  # the sealed trail's head: the events after it are `raw`
    raw: list[Event]  # events not sealed yet, of the kinds the check folds
    persons: dict[str, LivePerson]
    values: dict[str, str | None]  # subject key -> its directory value (None: no entry)


@dataclass(frozen=True, slots=True)
class Behind:
    """The sealer is far behind: too many events wait to be read in one step."""

    head_seq: int
    waiting: int


@dataclass(frozen=True, slots=True)
class ScanStep:
    cursor: str  # '0' when the sweep is done
    entries: list[tuple[str, str]]  # (subject key, value; '!' for a key that is no string)
    persons: list[str]  # person keys with a flag record, holds or a history


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return -1  # not a count: never equal to one


def _hold(blob: str) -> Pair | None:
    """A hold's flags, or None for a value the gateway never writes."""
    try:
        raw = json.loads(blob)
    except ValueError:
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("ard") not in ("0", "1")
        or raw.get("nd")
        not in (
            "0",
            "1",
        )
    ):
        return None
    return raw.get("ard") == "1", raw.get("nd") == "1"


def _person(row: list) -> tuple[str, LivePerson]:
    pk, record_flat, holds_flat, legacy_len, histories_flat = row
    record = pairs(record_flat)
    read = {d: _hold(b) for d, b in pairs(holds_flat).items()}
    holds = {d: h for d, h in read.items() if h is not None}
    unreadable = tuple(sorted(d for d, h in read.items() if h is None))
    histories = {
        histories_flat[i]: list(histories_flat[i + 1]) for i in range(0, len(histories_flat), 2)
    }
    exists = bool(record)
    holds_model = not exists or (
        record.get("model") == "2" and int(legacy_len) <= _int(record.get("legacy_seen"))
    )
    return pk, LivePerson(
        exists=exists,
        ard=record.get("ard") == "1",
        nd=record.get("nd") == "1",
        ard_holds=_int(record.get("ard_holds")),
        nd_holds=_int(record.get("nd_holds")),
        holds_model=holds_model,
        holds=holds,
        histories=histories,
        unreadable=unreadable,
    )


class VerifyStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def snapshot(
        self,
        persons: Sequence[tuple[str, Sequence[str]]],
        subjects: Sequence[str],
        max_raw: int,
    ) -> Snapshot | Behind:
        """`persons`: (person key, the departments the trail knows of for them)."""
        args: list[object] = [max_raw, len(persons)]
        for pk, depts in persons:
            args += [pk, len(depts), *depts]
        args += [len(subjects), *subjects]
        res = await self.r.script(
            "verify_snapshot",
            [self.k.events],
            args,
            timeout=max(10.0, self.r.timeout),
            acknowledged=False,
        )
        reply = SnapshotReply.from_reply(res)
        if reply.outcome == "behind":
            return Behind(reply.number("head"), reply.number("waiting"))
        raw, rows, values = (reply.rows(name) for name in ("raw", "persons", "values"))
        return Snapshot(
            head_seq=reply.number("head"),
            raw=[_raw_event(entry_id, pairs(flat)) for entry_id, flat in raw],
            persons=dict(_person(row) for row in rows),
            values={sk: (v or None) for sk, v in zip(subjects, values, strict=True)},
        )

    async def scan(self, cursor: str, count: int) -> ScanStep:
        res = await self.r.script(
            "verify_scan",
            [self.k.verify_state],
            [cursor, count],
            timeout=max(10.0, self.r.timeout),
            acknowledged=False,
        )
        reply = ScanReply.from_reply(res)
        flat = reply.rows("entries")
        entries = [(str(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]
        return ScanStep(reply.text("cursor"), entries, [str(pk) for pk in reply.rows("persons")])

    async def saved(self) -> str | None:
        return await self.r.call(self.r.client.get(self.k.verify_state), timeout=10.0)

    async def save(self, blob: str) -> None:
        await self.r.call(self.r.client.set(self.k.verify_state, blob), timeout=10.0)
