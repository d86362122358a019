"""Reading flag records: a person's whole record (every department's hold, for the operator,
approvers and auditors), one department's own hold (its registrars), the aggregate, all of them;
a record still in the single-record model is turned into holds first."""

from __future__ import annotations

import json
from collections.abc import Sequence

from gateway.model import FlagState
from gateway.store.flags.base import atena_context, name_context, note_context
from gateway.store.flags.upgrade import UPGRADE_ACTOR, FlagUpgrade, is_legacy
from gateway.store.holds import FlagHold, FlagRecord, hold_order


class FlagRecords(FlagUpgrade):
    # -- the whole record (the operator, approvers, auditors) ----------------------------------
    async def get(self, atena_number: str, *, unseal: bool = False) -> FlagRecord | None:
        pk = await self.person_key(atena_number)
        return await self.get_by_key(pk, unseal=unseal)

    async def get_by_key(self, person_key: str, *, unseal: bool = False) -> FlagRecord | None:
        return (await self.get_many([person_key], unseal=unseal))[0]

    async def get_many(
        self, person_keys: Sequence[str], *, unseal: bool = False, history: bool = True
    ) -> list[FlagRecord | None]:
        """The records of many persons (None where there is none), in two round trips (one more
        for a record still in the single-record model, which is turned into holds first)."""
        if not person_keys:
            return []
        rows = await self._read(person_keys, history)
        legacy = [
            pk for pk, row in zip(person_keys, rows, strict=True) if is_legacy(row[0], row[3])
        ]
        if legacy:
            await self.upgrade_keys(legacy, UPGRADE_ACTOR)
            again = dict(zip(legacy, await self._read(legacy, history), strict=True))
            rows = [again.get(pk, row) for pk, row in zip(person_keys, rows, strict=True)]
        histories: dict[tuple[str, str], list[str]] = {}
        if history:
            pipe = self.r.client.pipeline(transaction=False)
            wanted = [
                (pk, d)
                for pk, (_, holds, _, _) in zip(person_keys, rows, strict=True)
                for d in holds
            ]
            for pk, d in wanted:
                pipe.lrange(self.k.flag_hold_history(pk, d), 0, -1)
            if wanted:
                found = await self.r.call(pipe.execute(), timeout=max(5.0, self.r.timeout))
                histories = dict(zip(wanted, found, strict=True))
        out: list[FlagRecord | None] = []
        for pk, (raw, holds, earlier, _) in zip(person_keys, rows, strict=True):
            out.append(self._record(pk, raw, holds, earlier, histories, unseal) if raw else None)
        return out

    async def _read(
        self, person_keys: Sequence[str], history: bool
    ) -> list[tuple[dict[str, str], dict[str, str], list[str], int]]:
        """Per person: the record, its holds, the history from before holds (if asked) and how
        long that is (see `is_legacy`)."""
        pipe = self.r.client.pipeline(transaction=False)
        for pk in person_keys:
            pipe.hgetall(self.k.flag(pk))
            pipe.hgetall(self.k.flag_holds(pk))
            pipe.llen(self.k.flag_history(pk))
            if history:
                pipe.lrange(self.k.flag_history(pk), 0, -1)
        rows = await self.r.call(pipe.execute(), timeout=max(5.0, self.r.timeout))
        step = 4 if history else 3
        return [
            (rows[i], rows[i + 1], rows[i + 3] if history else [], int(rows[i + 2]))
            for i in range(0, len(rows), step)
        ]

    def _record(
        self,
        pk: str,
        raw: dict[str, str],
        holds: dict[str, str],
        earlier: list[str],
        histories: dict[tuple[str, str], list[str]],
        unseal: bool,
    ) -> FlagRecord:
        record = FlagRecord(
            person_key=pk,
            state=FlagState(raw.get("ard") == "1", raw.get("nd") == "1"),
            version=int(raw.get("version", "0")),
            updated_at=raw.get("updated_at", ""),
            earlier_history=[_public_entry(json.loads(h)) for h in earlier],
        )
        for department, blob in holds.items():
            record.holds.append(
                self._hold(pk, department, blob, histories.get((pk, department), []), unseal)
            )
        record.holds.sort(key=hold_order)
        if unseal and raw.get("atena"):
            record.atena_number = self.keyring.unseal_text(raw["atena"], atena_context(pk))
        return record

    def _hold(
        self, pk: str, department: str, blob: str, history: list[str], unseal: bool
    ) -> FlagHold:
        raw = json.loads(blob)
        hold = FlagHold.from_store(department, raw)
        hold.history = [_public_entry(json.loads(h)) for h in history]
        if unseal and raw.get("name"):
            hold.name = self.keyring.unseal_text(raw["name"], name_context(pk))
        return hold

    # -- one department's hold (its registrars) -------------------------------------------------
    async def hold(
        self, atena_number: str, department: str, *, unseal: bool = False
    ) -> FlagHold | None:
        return await self.hold_by_key(
            await self.person_key(atena_number), department, unseal=unseal
        )

    async def hold_by_key(
        self, person_key: str, department: str, *, unseal: bool = False
    ) -> FlagHold | None:
        """The department's own hold and history, read from its own keys only: the same store
        work whatever other departments hold on the person."""
        raw, legacy_len, blob, history = await self._read_hold(person_key, department)
        if is_legacy(raw, legacy_len):
            await self.upgrade_keys([person_key], UPGRADE_ACTOR)
            _, _, blob, history = await self._read_hold(person_key, department)
        if blob is None:
            return None
        return self._hold(person_key, department, blob, history, unseal)

    async def _read_hold(
        self, person_key: str, department: str
    ) -> tuple[dict[str, str], int, str | None, list[str]]:
        pipe = self.r.client.pipeline(transaction=False)
        pipe.hmget(self.k.flag(person_key), "model", "version", "legacy_seen")
        pipe.llen(self.k.flag_history(person_key))
        pipe.hget(self.k.flag_holds(person_key), department)
        pipe.lrange(self.k.flag_hold_history(person_key, department), 0, -1)
        (model, version, seen), legacy_len, blob, history = await self.r.call(pipe.execute())
        raw = {} if version is None else {"model": model or "", "legacy_seen": seen or "0"}
        return raw, int(legacy_len), blob, history

    async def state_of_person(self, person_key: str) -> FlagState:
        ard, nd = await self.r.call(self.r.client.hmget(self.k.flag(person_key), "ard", "nd"))
        return FlagState(ard == "1", nd == "1")

    async def all_records(
        self, *, unseal: bool = False, history: bool = True, batch: int = 500
    ) -> list[FlagRecord]:
        keys = await self.all_keys()
        out: list[FlagRecord] = []
        for i in range(0, len(keys), batch):
            found = await self.get_many(keys[i : i + batch], unseal=unseal, history=history)
            out += [r for r in found if r]
        return out

    def unseal_note(self, person_key: str, sealed: str) -> str:
        return self.keyring.unseal_text(sealed, note_context(person_key))


def _public_entry(entry: dict[str, object]) -> dict[str, object]:
    """A history entry as shown: the sealed note stays sealed (it is read only where entitled)."""
    out = dict(entry)
    if out.get("note"):
        out["note"] = "(sealed)"
    return out
