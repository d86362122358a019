"""Flags (自動応答不可フラグ / 不開示該当フラグ) as each holding department's own hold, with history.

A person's record joins the holds of every department that flagged them (gateway/store/holds.py);
its aggregate (ard / nd on `flag:<pk>`, what every decision reads) is on while any hold has it
on. A change touches one department's hold and appends to that hold's history, updates the
aggregate and announces it on the invalidation channel inside the same atomic step, before it is
acknowledged (`lua/flag_change.lua`; a batch of changes is one step too). Nothing releases a flag
by itself, not even the end of the support measure: only a change made by people. Names and atena
numbers are kept sealed; the store sees person keys only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway import metrics
from gateway.crypto import Keyring
from gateway.flag_rules import ReadMode
from gateway.model import FlagState
from gateway.store.holds import FlagHold, FlagRecord, hold_order
from gateway.store.redis import Redis
from gateway.store.replies import FlagChangeReply, FlagReadReply, RepairReply, UpgradeReply

FLAG_NAMES = ("auto_response_disabled", "non_disclosure")
BASES = ("application", "ex-officio")
UPGRADE_ACTOR = "system:upgrade"  # the single-record model's records turned into holds on touch
READ_MODES = tuple(m.value for m in ReadMode)  # see lua/flag_read.lua, gateway/flag_rules.py


class FlagChanged(ValueError):
    """The department's hold is no longer at the version a guarded change expected."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"the flag changed since (it is now at version {version}); nothing was released"
        )
        self.version = version


class ChangeRefused(ValueError):
    """A guarded change the store refused, with its reason code (unknown, same_person, ...; for a
    change without its department's hold: no_hold, department, orphan)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class FlagChange:
    """One change to one department's hold: `ard` / `nd` True (set), False (release) or None
    (leave as is)."""

    atena_number: str
    department: str
    action: str  # set | release
    actor: str
    auto_response_disabled: bool | None
    non_disclosure: bool | None
    entry: dict[str, object]
    hold_fields: dict[str, str] = field(default_factory=dict)  # name, business, basis, until
    expect_version: int | None = None  # the hold's
    request_id: str | None = None


def new_change_id() -> str:
    return secrets.token_hex(10)


def change_mac_parts(
    person_key: str, department: str, action: str, want: str, basis: str, change_id: str
) -> tuple[str, ...]:
    """What a flag change's MAC vouches for (Keyring.tag, purpose `flag-change`): whose hold, which
    department, set or release, which flags (`want`: ard then nd, each '1' on, '0' off, '-' left
    as is), on what basis, and the change's own id (so that each change counts once). The hold
    after it follows from these and the changes before it: gateway/verify folds them so."""
    return ("flag", person_key, department, action, want, basis, change_id)


def repair_mac_parts(person_key: str, change_id: str) -> tuple[str, ...]:
    """What the MAC of `flags repair` vouches for: whose aggregate, and the change's own id."""
    return ("repair", person_key, change_id)


def name_context(person_key: str) -> str:
    # one context for every department's sealing of the person's name: the name is the person's
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
        hold = dict(c.hold_fields)
        if "name" in hold:
            hold["name"] = self.keyring.seal(hold["name"], name_context(pk))
        entry = dict(c.entry)
        if entry.get("note"):
            entry["note"] = self.keyring.seal(str(entry["note"]), note_context(pk))
        # A fresh id on every call: a change sent again after a failure is another change, never a
        # second copy of one (which the check would take for a replay).
        change_id = new_change_id()
        want = _tri(c.auto_response_disabled) + _tri(c.non_disclosure)
        mac = self.keyring.tag(
            "flag-change",
            *change_mac_parts(
                pk, c.department, c.action, want, str(entry.get("basis") or ""), change_id
            ),
        )
        wire: dict[str, object] = {
            "pk": pk,
            "department": c.department,
            "action": c.action,
            "ard": _tri(c.auto_response_disabled),
            "nd": _tri(c.non_disclosure),
            "actor": c.actor,
            "atena": self.keyring.seal(c.atena_number, atena_context(pk)),
            "entry": entry,
            "hold": hold,
            "change": change_id,
            "mac": mac,
        }
        # absent rather than null: cjson's null is truthy in Lua
        if c.expect_version is not None:
            wire["expect_version"] = c.expect_version
        if c.request_id is not None:
            wire["request"] = c.request_id
        return wire

    async def apply(self, changes: Sequence[FlagChange], timeout: float | None = None) -> list[int]:
        """Apply every change in one atomic step (all or none); the holds' new versions, in
        order."""
        wire = [await self._wire(c) for c in changes]
        res = await self.r.script(
            "flag_change",
            [self.k.flag_index, self.k.flag_epoch],
            [json.dumps(wire, ensure_ascii=False)],
            timeout=timeout,
        )
        reply = FlagChangeReply.from_reply(res)
        if reply.outcome == "stale":
            raise FlagChanged(reply.number("version"))
        if reply.outcome != "ok":
            raise ChangeRefused(reply.detail)
        return [int(v) for v in reply.rows("versions")]

    async def change(self, c: FlagChange) -> FlagRecord:
        """Apply one change atomically with its history entry and its event; the whole record
        after it (for the entitled: every department's hold)."""
        await self.apply([c])
        record = await self.get(c.atena_number, unseal=True)
        assert record is not None
        return record

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
        legacy = [pk for pk, row in zip(person_keys, rows, strict=True) if _legacy(row[0], row[3])]
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
        long that is (see `_legacy`)."""
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
        if _legacy(raw, legacy_len):
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

    async def all_keys(self) -> list[str]:
        """Every person with a flag record, flagged now or ever (the index is never trimmed)."""
        return list(await self.r.call(self.r.client.zrange(self.k.flag_index, 0, -1)))

    async def all_records(
        self, *, unseal: bool = False, history: bool = True, batch: int = 500
    ) -> list[FlagRecord]:
        keys = await self.all_keys()
        out: list[FlagRecord] = []
        for i in range(0, len(keys), batch):
            found = await self.get_many(keys[i : i + batch], unseal=unseal, history=history)
            out += [r for r in found if r]
        return out

    async def upgrade_keys(self, person_keys: Sequence[str], actor: str) -> tuple[int, list[str]]:
        """Turn records of the single-record model into holds (lua/flag_holds.lua): how many were,
        and the person keys of those that cannot be (a flag on and no department anywhere; they
        stay as they are, protected)."""
        res = await self.r.script("flag_upgrade", [self.k.flag_index], [actor, *person_keys])
        reply = UpgradeReply.from_reply(res)
        return reply.number("upgraded"), [str(pk) for pk in reply.rows("orphans")]

    async def repair(self, atena_number: str, actor: str) -> tuple[FlagState, FlagState]:
        """The aggregate and its counts made again from the holds (lua/flag_repair.lua): (the
        flags before, after). ChangeRefused: none (no record), old_model, unreadable (a hold)."""
        pk = await self.person_key(atena_number)
        change_id = new_change_id()
        mac = self.keyring.tag("flag-change", *repair_mac_parts(pk, change_id))
        res = await self.r.script("flag_repair", [self.k.flag_index], [pk, actor, change_id, mac])
        reply = RepairReply.from_reply(res)
        if reply.outcome != "repaired":
            raise ChangeRefused(reply.outcome)
        on = {name: reply.text(name) == "1" for name in ("was_ard", "was_nd", "ard", "nd")}
        return FlagState(on["was_ard"], on["was_nd"]), FlagState(on["ard"], on["nd"])

    async def upgrade_all(self, actor: str, batch: int = 200) -> tuple[int, list[str]]:
        keys = await self.all_keys()
        upgraded, orphans = 0, []
        for i in range(0, len(keys), batch):
            n, left = await self.upgrade_keys(keys[i : i + batch], actor)
            upgraded += n
            orphans += left
        return upgraded, orphans

    async def read_for_department(
        self,
        atena_number: str,
        *,
        department: str,
        business: str,
        mode: str,
        actor: str,
        operator: str,
    ) -> tuple[bool, str | None] | None:
        """A department's read, recorded atomically with it: (victim, name) or None when refused.
        `mode` (lua/flag_read.lua): `any` a using department, anyone's aggregate; `held` only
        while the department's own hold is on; `hold` the department's own hold, on or not;
        `outside` a department outside both annexes, refused (the person's holding departments
        are told of it, gateway/attempts.py)."""
        if mode not in READ_MODES:
            raise ValueError(f"unknown read mode {mode!r}")
        pk = await self.person_key(atena_number)
        res = await self.r.script(
            "flag_read",
            [self.k.flag_holds(pk)],
            [pk, mode, department, business, actor, operator],
        )
        read = FlagReadReply.from_reply(res)
        if read.denied:
            metrics.SECURITY_EVENTS.labels("flag_read_refused").inc()  # the script recorded it
            return None
        sealed = read.sealed_name
        name = (
            self.keyring.unseal_text(sealed, name_context(pk)) if read.victim and sealed else None
        )
        return read.victim, name

    def unseal_note(self, person_key: str, sealed: str) -> str:
        return self.keyring.unseal_text(sealed, note_context(person_key))


def _legacy(raw: dict[str, str], legacy_len: int) -> bool:
    """A record of the single-record model (before departments held their own), or one an older
    gateway has written to since it became holds (lua/flag_holds.lua folds both in)."""
    return bool(raw) and (raw.get("model") != "2" or legacy_len > int(raw.get("legacy_seen") or 0))


def _public_entry(entry: dict[str, object]) -> dict[str, object]:
    """A history entry as shown: the sealed note stays sealed (it is read only where entitled)."""
    out = dict(entry)
    if out.get("note"):
        out["note"] = "(sealed)"
    return out
