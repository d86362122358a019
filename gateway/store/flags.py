"""Flags (自動応答不可フラグ / 不開示該当フラグ) as records with history.

A flag record belongs to one person (their atena person key). Every change appends an entry to
the person's history and is announced on the invalidation channel inside the same atomic step,
before it is acknowledged (`lua/flag_change.lua`; a batch of changes is one step too). Nothing
releases a flag by itself, not even the end of the support measure: only a change made by people.
The person's name and atena number are kept sealed on the record; the store sees person keys only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway import metrics
from gateway.crypto import Keyring
from gateway.model import FlagState
from gateway.store.redis import Redis

FLAG_NAMES = ("auto_response_disabled", "non_disclosure")
BASES = ("application", "ex-officio")


class FlagChanged(ValueError):
    """The flag record is no longer at the version a guarded change expected."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"the flag changed since (it is now at version {version}); nothing was released"
        )
        self.version = version


class ChangeRefused(ValueError):
    """A guarded change the store refused, with its reason code (unknown, same_person, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class FlagRecord:
    person_key: str
    state: FlagState
    department: str = ""
    business: str = ""
    basis: str = ""
    until: str = ""
    updated_at: str = ""
    updated_by: str = ""
    version: int = 0
    name: str | None = None  # unsealed only for callers entitled to it
    atena_number: str | None = None
    history: list[dict[str, object]] = field(default_factory=list)

    @property
    def set_by_departments(self) -> list[str]:
        """Every holding department that has set a flag of this person, in order of first set."""
        seen: dict[str, None] = {}
        for h in self.history:
            if h.get("action") == "set" and h.get("department"):
                seen.setdefault(str(h["department"]), None)
        return list(seen)

    def as_json(self) -> dict[str, object]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "auto_response_disabled": self.state.auto_response_disabled,
            "non_disclosure": self.state.non_disclosure,
            "department": self.department,
            "business": self.business,
            "basis": self.basis,
            "until": self.until or None,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "version": self.version,
            "history": self.history,
        }


@dataclass(slots=True)
class FlagChange:
    """One change to apply: `ard` / `nd` True (set), False (release) or None (leave as is)."""

    atena_number: str
    action: str  # set | release
    actor: str
    auto_response_disabled: bool | None
    non_disclosure: bool | None
    entry: dict[str, object]
    record_fields: dict[str, str] = field(default_factory=dict)
    expect_version: int | None = None
    request_id: str | None = None


def name_context(person_key: str) -> str:
    return f"flag:{person_key}:name"


def atena_context(person_key: str) -> str:
    return f"flag:{person_key}:atena"


def note_context(person_key: str) -> str:
    return f"flag:{person_key}:note"


def _tri(v: bool | None) -> str:
    return "-" if v is None else ("1" if v else "0")


class FlagStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def person_key(self, atena_number: str) -> str:
        """The key this person's record is stored under (an older key version if it was made so)."""
        candidates = self.keyring.person_keys("atena", atena_number)
        if len(candidates) > 1:
            pipe = self.r.client.pipeline(transaction=False)
            for pk in candidates:
                pipe.exists(self.k.flag(pk))
            found = await self.r.call(pipe.execute())
            for pk, hit in zip(candidates, found, strict=True):
                if hit:
                    return pk
        return candidates[0]

    async def _wire(self, c: FlagChange) -> dict[str, object]:
        pk = await self.person_key(c.atena_number)
        fields = dict(c.record_fields)
        fields["atena"] = self.keyring.seal(c.atena_number, atena_context(pk))
        if "name" in fields:
            fields["name"] = self.keyring.seal(fields["name"], name_context(pk))
        entry = dict(c.entry)
        if entry.get("note"):
            entry["note"] = self.keyring.seal(str(entry["note"]), note_context(pk))
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, v]
        wire: dict[str, object] = {
            "pk": pk,
            "action": c.action,
            "ard": _tri(c.auto_response_disabled),
            "nd": _tri(c.non_disclosure),
            "actor": c.actor,
            "entry": entry,
            "fields": flat,
        }
        # absent rather than null: cjson's null is truthy in Lua
        if c.expect_version is not None:
            wire["expect_version"] = c.expect_version
        if c.request_id is not None:
            wire["request"] = c.request_id
        return wire

    async def apply(self, changes: Sequence[FlagChange], timeout: float | None = None) -> list[int]:
        """Apply every change in one atomic step (all or none); the new versions, in order."""
        wire = [await self._wire(c) for c in changes]
        res = await self.r.script(
            "flag_change",
            [self.k.flag_index, self.k.flag_epoch],
            [json.dumps(wire, ensure_ascii=False)],
            timeout=timeout,
        )
        if res[0] == "stale":
            raise FlagChanged(int(res[2]))
        if res[0] == "request":
            raise ChangeRefused(str(res[2]))
        return [int(v) for v in res[1:]]

    async def change(self, c: FlagChange) -> FlagRecord:
        """Apply one change atomically with its history entry and its event; the record after it."""
        await self.apply([c])
        record = await self.get(c.atena_number, unseal=True)
        assert record is not None
        return record

    async def get(self, atena_number: str, *, unseal: bool = False) -> FlagRecord | None:
        pk = await self.person_key(atena_number)
        return await self.get_by_key(pk, unseal=unseal)

    async def get_by_key(self, person_key: str, *, unseal: bool = False) -> FlagRecord | None:
        return (await self.get_many([person_key], unseal=unseal))[0]

    async def get_many(
        self, person_keys: Sequence[str], *, unseal: bool = False
    ) -> list[FlagRecord | None]:
        """The records of many persons in one round trip (None where there is none)."""
        if not person_keys:
            return []
        pipe = self.r.client.pipeline(transaction=False)
        for pk in person_keys:
            pipe.hgetall(self.k.flag(pk))
            pipe.lrange(self.k.flag_history(pk), 0, -1)
        rows = await self.r.call(pipe.execute(), timeout=max(5.0, self.r.timeout))
        out: list[FlagRecord | None] = []
        for i, pk in enumerate(person_keys):
            raw, history = rows[2 * i], rows[2 * i + 1]
            out.append(self._record(pk, raw, history, unseal) if raw else None)
        return out

    def _record(self, pk: str, raw: dict[str, str], history: list[str], unseal: bool) -> FlagRecord:
        record = FlagRecord(
            person_key=pk,
            state=FlagState(raw.get("ard") == "1", raw.get("nd") == "1"),
            department=raw.get("department", ""),
            business=raw.get("business", ""),
            basis=raw.get("basis", ""),
            until=raw.get("until", ""),
            updated_at=raw.get("updated_at", ""),
            updated_by=raw.get("updated_by", ""),
            version=int(raw.get("version", "0")),
            history=[_public_entry(json.loads(h)) for h in history],
        )
        if unseal:
            if raw.get("name"):
                record.name = self.keyring.unseal_text(raw["name"], name_context(pk))
            if raw.get("atena"):
                record.atena_number = self.keyring.unseal_text(raw["atena"], atena_context(pk))
        return record

    async def state_of_person(self, person_key: str) -> FlagState:
        ard, nd = await self.r.call(self.r.client.hmget(self.k.flag(person_key), "ard", "nd"))
        return FlagState(ard == "1", nd == "1")

    async def all_keys(self) -> list[str]:
        """Every person with a flag record, flagged now or ever (the index is never trimmed)."""
        return list(await self.r.call(self.r.client.zrange(self.k.flag_index, 0, -1)))

    async def all_records(self, *, unseal: bool = False, batch: int = 500) -> list[FlagRecord]:
        keys = await self.all_keys()
        out: list[FlagRecord] = []
        for i in range(0, len(keys), batch):
            out += [r for r in await self.get_many(keys[i : i + batch], unseal=unseal) if r]
        return out

    async def read_for_department(
        self,
        atena_number: str,
        *,
        department: str,
        business: str,
        own_only: bool,
        actor: str,
        operator: str,
    ) -> tuple[bool, str | None] | None:
        """A department's read, recorded atomically with it: (victim, name) or None when refused
        (`own_only`: the department may read only persons whose flag it set)."""
        pk = await self.person_key(atena_number)
        res = await self.r.script(
            "flag_read",
            [self.k.flag(pk), self.k.flag_departments(pk)],
            [pk, "own" if own_only else "any", department, business, actor, operator],
        )
        if res[0] == "denied":
            metrics.SECURITY_EVENTS.labels("flag_read_refused").inc()  # the script recorded it
            return None
        victim = int(res[1]) == 1
        name = self.keyring.unseal_text(res[2], name_context(pk)) if victim and res[2] else None
        return victim, name

    def unseal_note(self, person_key: str, sealed: str) -> str:
        return self.keyring.unseal_text(sealed, note_context(person_key))


def _public_entry(entry: dict[str, object]) -> dict[str, object]:
    """A history entry as shown: the sealed note stays sealed (it is read only where entitled)."""
    out = dict(entry)
    if out.get("note"):
        out["note"] = "(sealed)"
    return out
