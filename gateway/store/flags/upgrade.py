"""Records of the single-record model (before each department held its own) turned into holds
when they are touched (lua/flag_holds.lua)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.flags.base import FlagStoreBase
from gateway.store.replies import UpgradeReply

UPGRADE_ACTOR = "system:upgrade"  # the single-record model's records turned into holds on touch


class FlagUpgrade(FlagStoreBase):
    async def upgrade_keys(self, person_keys: Sequence[str], actor: str) -> tuple[int, list[str]]:
        """Turn records of the single-record model into holds (lua/flag_holds.lua): how many were,
        and the person keys of those that cannot be (a flag on and no department anywhere; they
        stay as they are, protected)."""
        res = await self.r.script("flag_upgrade", [self.k.flag_index], [actor, *person_keys])
        reply = UpgradeReply.from_reply(res)
        return reply.number("upgraded"), [str(pk) for pk in reply.rows("orphans")]

    async def upgrade_all(self, actor: str, batch: int = 200) -> tuple[int, list[str]]:
        keys = await self.all_keys()
        upgraded, orphans = 0, []
        for i in range(0, len(keys), batch):
            n, left = await self.upgrade_keys(keys[i : i + batch], actor)
            upgraded += n
            orphans += left
        return upgraded, orphans


def is_legacy(raw: dict[str, str], legacy_len: int) -> bool:
    """A record of the single-record model (before departments held their own), or one an older
    gateway has written to since it became holds (lua/flag_holds.lua folds both in)."""
    return bool(raw) and (raw.get("model") != "2" or legacy_len > int(raw.get("legacy_seen") or 0))
