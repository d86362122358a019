"""A department's read of a person's flag, recorded atomically with it (lua/flag_read.lua):
what the annexes let each department learn, and the refusal the holding departments are told of."""

from __future__ import annotations

from gateway import metrics
from gateway.flag_rules import ReadMode
from gateway.store.flags.base import FlagStoreBase, name_context
from gateway.store.replies import FlagReadReply

READ_MODES = tuple(m.value for m in ReadMode)  # see lua/flag_read.lua, gateway/flag_rules.py


class DepartmentReads(FlagStoreBase):
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
