"""Provision records (情報提供等記録) as the portal may show them.

Records are written by the query scripts (complete, release_finish) in the same atomic step as the
answer they record; this module only reads them.
"""

from __future__ import annotations

import json

from gateway.model import ProvisionRecord
from gateway.store.redis import Redis


def parse_record(raw: str) -> ProvisionRecord:
    """One stored record (JSON, written by the query scripts)."""
    d = json.loads(raw)
    return ProvisionRecord(
        processing_number=d["pn"],
        requester_org_code=d["org"],
        affair_code=d["affair"],
        procedure_code=d["procedure"],
        item_code=d["item"],
        requested_at=d["requested_at"],
        provided_at=d["provided_at"],
        non_disclosure=int(d.get("nd", 0)) == 1,
        how=d.get("how", ""),
        outcome=d.get("outcome", "provided"),
    )


class RecordStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def of_subject(self, subject_keys: list[str]) -> list[ProvisionRecord]:
        """Every record kept for a subject (under each of its key versions), oldest first."""
        pipe = self.r.client.pipeline(transaction=False)
        for sk in subject_keys:
            pipe.lrange(self.k.records(sk), 0, -1)
        lists = await self.r.call(pipe.execute())
        records = [parse_record(raw) for rows in lists for raw in rows]
        return sorted(records, key=lambda r: (r.provided_at, r.processing_number))
