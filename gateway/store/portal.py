"""The citizen portal's two views in the store: each one script (lua/portal_self.lua,
lua/portal_records.lua) that resolves the subject, reads its flags (and records) and records the
view, with the same store work for a flagged, an unflagged and an unknown person, so that neither
the answer nor the cost of making it tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import ProvisionRecord
from gateway.store.records import parse_record
from gateway.store.redis import Redis
from gateway.store.replies import PortalReply


@dataclass(frozen=True, slots=True)
class PortalView:
    """What the store decided a view may show: the outcome (for the counters), why, and for
    GetProvisionRecords the records that may be shown."""

    outcome: str  # unknown_subject | blocked | filtered | shown | no_data
    reason: str = ""
    hidden: int = 0
    records: tuple[ProvisionRecord, ...] = ()


class PortalStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def self_information(
        self, subject_keys: list[str], began_at: str, has_data: bool
    ) -> PortalView:
        """Record one GetSelfInformation view, read after the upstream answered (`began_at`: when
        the view began, to tell a flag set meanwhile); `blocked` when 自動応答不可."""
        res = await self.r.script(
            "portal_self",
            [self.k.directory(s) for s in subject_keys],
            [subject_keys[0], began_at, "1" if has_data else "0"],
            acknowledged=False,  # nobody is told of the event; the answer is "no data" anyway
        )
        reply = PortalReply.from_reply(res)
        return PortalView(reply.outcome, reply.reason)

    async def provision_records(self, subject_keys: list[str]) -> PortalView:
        """Record one GetProvisionRecords view with the records it may show, oldest first."""
        res = await self.r.script(
            "portal_records",
            [
                *(self.k.directory(s) for s in subject_keys),
                *(self.k.records(s) for s in subject_keys),
            ],
            [subject_keys[0], len(subject_keys)],
            acknowledged=False,
        )
        reply = PortalReply.from_reply(res)
        records = sorted(
            (parse_record(raw) for raw in reply.records),
            key=lambda r: (r.provided_at, r.processing_number),
        )
        return PortalView(reply.outcome, reply.reason, reply.hidden, tuple(records))
