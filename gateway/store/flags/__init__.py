"""Flags (自動応答不可フラグ / 不開示該当フラグ) as each holding department's own hold, with history.

A person's record joins the holds of every department that flagged them (gateway/store/holds.py);
its aggregate (ard / nd on `flag:<pk>`, what every decision reads) is on while any hold has it
on. A change touches one department's hold and appends to that hold's history, updates the
aggregate and announces it on the invalidation channel inside the same atomic step, before it is
acknowledged (`lua/flag_change.lua`; a batch of changes is one step too). Nothing releases a flag
by itself, not even the end of the support measure: only a change made by people. Names and atena
numbers are kept sealed; the store sees person keys only.

The store is one FlagStore, one concern a module: base.py (names, sealing contexts, a person's
key), changes.py (a change, its MAC, the atomic step), records.py (reading), upgrade.py (the
single-record model turned into holds), department_read.py (a department's recorded read).
"""

from __future__ import annotations

from gateway.store.flags.base import (
    BASES,
    FLAG_NAMES,
    atena_context,
    name_context,
    note_context,
)
from gateway.store.flags.changes import (
    ChangeRefused,
    FlagChange,
    FlagChanged,
    FlagChanges,
    change_mac_parts,
    new_change_id,
    repair_mac_parts,
)
from gateway.store.flags.department_read import READ_MODES, DepartmentReads
from gateway.store.flags.records import FlagRecords
from gateway.store.flags.upgrade import UPGRADE_ACTOR
from gateway.store.holds import FlagHold, FlagRecord

__all__ = [
    "BASES",
    "FLAG_NAMES",
    "READ_MODES",
    "UPGRADE_ACTOR",
    "ChangeRefused",
    "FlagChange",
    "FlagChanged",
    "FlagHold",
    "FlagRecord",
    "FlagStore",
    "atena_context",
    "change_mac_parts",
    "name_context",
    "new_change_id",
    "note_context",
    "repair_mac_parts",
]


class FlagStore(FlagChanges, FlagRecords, DepartmentReads):
    """The flags of every person, each department's hold with its history: one object made of
    the parts above (gw.flags), so that every caller keeps calling one store."""

    async def change(self, c: FlagChange) -> FlagRecord:
        """Apply one change atomically with its history entry and its event; the whole record
        after it (for the entitled: every department's hold)."""
        await self.apply([c])
        record = await self.get(c.atena_number, unseal=True)
        assert record is not None
        return record
