"""Changing a department's hold: the change as a value, the MAC that vouches for it, and the one
atomic step that applies changes (lua/flag_change.lua), or makes the aggregate again from the
holds (lua/flag_repair.lua)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.model import FlagState
from gateway.store.flags.base import FlagStoreBase, atena_context, name_context, note_context
from gateway.store.replies import FlagChangeReply, RepairReply


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


def _tri(v: bool | None) -> str:
    return "-" if v is None else ("1" if v else "0")


class FlagChanges(FlagStoreBase):
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
