"""The directory (宛名): which person (団体内統合宛名番号) a subject code (機関別符号) stands for.

Both sides are stored only as person keys. A subject code missing here means the person is
unknown, and an unknown person is never answered automatically.

Each entry's value is the person key, '|', and the gateway's MAC over the subject key and the
person key (`entry_value`); decisions read the person key alone (lua/prelude.lua person_of), and
the check (gateway/verify) finds an entry that was written past the gateway: Redis holds no key to
make a MAC. A remap's event carries a MAC of its own (`remap_mac_parts`), so that the check knows
which person a remapped subject must resolve to now, and an old entry written back is found too.

A subject code belongs to one person: the import (gateway/directory_import.py) never moves one
silently. Its steps are here: a lock (one import at a time), a first pass that reads what each
batch of rows would do, and a second that writes a batch only if the store is still as the first
pass found it, opening a review (gateway/store/quarantine.py) for every remap it was allowed.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.directory_rules import FlagStatus, remap_protected, remap_told
from gateway.errors import ImportBusy as ImportBusy
from gateway.store.redis import Redis
from gateway.store.replies import (
    CheckReply,
    LockReply,
    RefusedReply,
    UnlockReply,
    WriteReply,
    named,
)

ATENA_NUMBER = re.compile(r"^[0-9]{15}$")
SUBJECT_CODE = re.compile(r"^[A-Za-z0-9]{1,64}$")
LOCK_LEASE_MS = 120_000  # renewed by every batch; a stalled import loses it and stops
BATCH_TIMEOUT = 30.0  # a batch of thousands of rows runs alone, with this deadline


class LockLost(Exception):
    """The import's lock lapsed (the import stalled) or was taken over: stop at once."""


class BatchChanged(Exception):
    """A row of a batch no longer finds the store as the first pass did: nothing of it written."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"line {line}: {why}")
        self.line = line
        self.why = why


@dataclass(frozen=True, slots=True)
class Remap:
    """A row that would move its subject code from `old_person` to another person; flag status of
    each (now | before | never) as the first pass found it."""

    old_person: str
    old_flag: str
    new_flag: str
    new_person: str = ""

    @property
    def protected(self) -> bool:
        """Either person has a flag, or had one: the move of a protected person's code."""
        return remap_protected(FlagStatus(self.old_flag), FlagStatus(self.new_flag))

    @property
    def flagged_now(self) -> bool:
        """Either person has a flag on now: their holding departments are told of a refusal."""
        return remap_told(FlagStatus(self.old_flag), FlagStatus(self.new_flag))


@dataclass(frozen=True, slots=True)
class Checked:
    """What one batch would do: per row n (new), u (unchanged) or r (remap); the remaps in order."""

    statuses: str
    remaps: list[Remap]


@dataclass(frozen=True, slots=True)
class WriteRow:
    subject_key: str
    person_key: str
    expected: str  # '' new, '=' unchanged, else the old person it must still be mapped to
    line: int
    review_id: str = ""


@dataclass(frozen=True, slots=True)
class Written:
    new: int
    unchanged: int
    remapped: int
    protected: int
    sealed: int  # unchanged entries that had no MAC (or a wrong one) and were given theirs


def entry_mac_parts(subject_key: str, person_key: str) -> tuple[str, str, str]:
    """What a directory entry's MAC vouches for (Keyring.tag, purpose `directory-entry`)."""
    return ("dir", subject_key, person_key)


def remap_mac_parts(
    subject_key: str, old_person: str, new_person: str, review_id: str
) -> tuple[str, ...]:
    """What a remap's MAC vouches for (purpose `directory-change`): the subject moved from one
    person to another, opened as that review (a unique id: each remap counts once)."""
    return ("remap", subject_key, old_person, new_person, review_id)


def split_value(value: str) -> tuple[str, str]:
    """A directory value as (person key, MAC); the MAC is '' for an entry written without one."""
    person, _, mac = value.partition("|")
    return person, mac


class DirectoryStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    def keys_of(self, atena_number: str, subject_code: str) -> tuple[str, str]:
        """(subject key, atena person key) of one row, under the current HMAC version (the
        keyring holds exactly one: see crypto.Keyring)."""
        return (
            self.keyring.person_key("subject", subject_code),
            self.keyring.person_key("atena", atena_number),
        )

    # -- the import's steps -----------------------------------------------------------------
    async def lock(self, import_id: str, actor: str, rows: int) -> str:
        """Take the import lock; its token. ImportBusy while another import holds it."""
        token = secrets.token_hex(16)
        res = await self.r.script(
            "directory_lock",
            [self.k.directory_import],
            [token, import_id, actor, rows, LOCK_LEASE_MS],
            acknowledged=False,  # a lock: what the import writes waits for its own batches
        )
        reply = LockReply.from_reply(res)
        if reply.outcome == "busy":
            raise ImportBusy(reply.text("import"), reply.text("actor"), reply.text("started_at"))
        return token

    async def unlock(self, token: str) -> None:
        res = await self.r.script(
            "directory_unlock", [self.k.directory_import], [token], acknowledged=False
        )
        UnlockReply.from_reply(res)

    async def check(self, token: str, pairs: Sequence[tuple[str, str]]) -> Checked:
        """First pass, one batch of (subject key, person key): what each would do; writes nothing."""
        args: list[object] = [token, LOCK_LEASE_MS]
        for sk, ak in pairs:
            args += [sk, ak]
        res = await self.r.script(
            "directory_check",
            [self.k.directory_import],
            args,
            timeout=max(BATCH_TIMEOUT, self.r.timeout),
            acknowledged=False,
        )
        reply = CheckReply.from_reply(res)
        if reply.outcome == "lock_lost":
            raise LockLost()
        statuses = reply.text("statuses")
        moved = iter(ak for (_, ak), status in zip(pairs, statuses, strict=True) if status == "r")
        remaps = []
        for row in reply.rows("remaps"):
            r = named(row) if isinstance(row, list) else {}
            remaps.append(
                Remap(str(r["old_person"]), str(r["old_flag"]), str(r["new_flag"]), next(moved))
            )
        return Checked(statuses, remaps)

    async def refused(
        self, actor: str, fields: dict[str, object], flagged: Sequence[tuple[int, Remap]]
    ) -> None:
        """Record an import refused whole (`directory.import_refused` with `fields`) and, in the
        same step, each refused remap of a person flagged now (`directory.remap_refused`, line and
        persons), which that person's holding departments are told of (lua/directory_refused.lua)."""
        args: list[object] = [actor, json.dumps({k: str(v) for k, v in fields.items()})]
        for line, remap in flagged:
            args += [line, remap.old_person, remap.new_person]
        RefusedReply.from_reply(await self.r.script("directory_refused", [], args))

    async def write(
        self,
        token: str,
        import_id: str,
        actor: str,
        allow_remap: bool,
        rows: Sequence[WriteRow],
    ) -> Written:
        """Second pass, one batch: written whole, or (BatchChanged, LockLost) not at all."""
        args: list[object] = [token, LOCK_LEASE_MS, import_id, actor, "1" if allow_remap else "0"]
        entry_mac = self.keyring.tag_checker("directory-entry").make
        for row in rows:
            remap_mac = ""
            if row.review_id:
                remap_mac = self.keyring.tag(
                    "directory-change",
                    *remap_mac_parts(row.subject_key, row.expected, row.person_key, row.review_id),
                )
            args += [
                row.subject_key,
                row.person_key,
                row.expected,
                row.line,
                row.review_id,
                entry_mac(*entry_mac_parts(row.subject_key, row.person_key)),
                remap_mac,
            ]
        res = await self.r.script(
            "directory_write",
            [self.k.directory_import],
            args,
            timeout=max(BATCH_TIMEOUT, self.r.timeout),
        )
        reply = WriteReply.from_reply(res)
        if reply.outcome == "lock_lost":
            raise LockLost()
        if reply.outcome == "changed":
            raise BatchChanged(reply.number("line"), "the directory changed since the check")
        if reply.outcome == "remap_refused":
            raise BatchChanged(reply.number("line"), "a remap, and remaps were not allowed")
        return Written(
            *(reply.number(n) for n in ("new", "unchanged", "remapped", "protected", "sealed"))
        )


def validate_pair(atena: str, subject: str) -> str | None:
    """Why a directory row is unusable, or None when it is fine."""
    if not ATENA_NUMBER.match(atena):
        return "atena_number must be 15 digits"
    if not SUBJECT_CODE.match(subject):
        return "subject_code must be 1-64 letters or digits"
    return None
