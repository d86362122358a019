"""Flags (自動応答不可フラグ / 不開示該当フラグ) as records with history.

A flag record belongs to one person (their atena person key). Every change appends an entry to
the person's history and is announced on the invalidation channel inside the same atomic step,
before it is acknowledged. Nothing releases a flag by itself, not even the end of the support
measure: only `release`, called by a person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gateway.crypto import Keyring
from gateway.model import FlagState
from gateway.store.redis import Redis

FLAG_NAMES = ("auto_response_disabled", "non_disclosure")
BASES = ("application", "ex-officio")


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


def _name_context(person_key: str) -> str:
    return f"flag:{person_key}:name"


def _atena_context(person_key: str) -> str:
    return f"flag:{person_key}:atena"


def _note_context(person_key: str) -> str:
    return f"flag:{person_key}:note"


class FlagStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def _person_key(self, atena_number: str) -> str:
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

    async def change(
        self,
        atena_number: str,
        *,
        action: str,
        actor: str,
        auto_response_disabled: bool | None,
        non_disclosure: bool | None,
        entry: dict[str, object],
        record_fields: dict[str, str],
    ) -> FlagRecord:
        """Apply one change (set or release) atomically with its history entry and its event."""
        pk = await self._person_key(atena_number)
        fields = dict(record_fields)
        fields["atena"] = self.keyring.seal(atena_number, _atena_context(pk))
        if "name" in fields:
            fields["name"] = self.keyring.seal(fields["name"], _name_context(pk))
        if entry.get("note"):
            entry = {**entry, "note": self.keyring.seal(str(entry["note"]), _note_context(pk))}
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, v]

        def tri(v: bool | None) -> str:
            return "-" if v is None else ("1" if v else "0")

        await self.r.script(
            "flag_change",
            [self.k.flag(pk), self.k.flag_history(pk), self.k.flag_index, self.k.flag_epoch],
            [
                pk,
                action,
                tri(auto_response_disabled),
                tri(non_disclosure),
                actor,
                json.dumps(entry, ensure_ascii=False),
                *flat,
            ],
        )
        record = await self.get(atena_number, unseal=True)
        assert record is not None
        return record

    async def get(self, atena_number: str, *, unseal: bool = False) -> FlagRecord | None:
        pk = await self._person_key(atena_number)
        return await self.get_by_key(pk, unseal=unseal)

    async def get_by_key(self, person_key: str, *, unseal: bool = False) -> FlagRecord | None:
        pipe = self.r.client.pipeline(transaction=False)
        pipe.hgetall(self.k.flag(person_key))
        pipe.lrange(self.k.flag_history(person_key), 0, -1)
        raw, history = await self.r.call(pipe.execute())
        if not raw:
            return None
        record = FlagRecord(
            person_key=person_key,
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
                record.name = self.keyring.unseal_text(raw["name"], _name_context(person_key))
            if raw.get("atena"):
                record.atena_number = self.keyring.unseal_text(
                    raw["atena"], _atena_context(person_key)
                )
        return record

    async def state_of_person(self, person_key: str) -> FlagState:
        ard, nd = await self.r.call(self.r.client.hmget(self.k.flag(person_key), "ard", "nd"))
        return FlagState(ard == "1", nd == "1")

    async def all_keys(self) -> list[str]:
        return list(await self.r.call(self.r.client.zrange(self.k.flag_index, 0, -1)))


def _public_entry(entry: dict[str, object]) -> dict[str, object]:
    """A history entry as shown: the sealed note stays sealed (it is read only where entitled)."""
    out = dict(entry)
    if out.get("note"):
        out["note"] = "(sealed)"
    return out
