"""Requesters (情報照会者): the institutions allowed to query. Unknown ones are refused."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.store.events import append_in
from gateway.store.redis import Redis, now

ORG_CODE = re.compile(r"^[0-9]{16}$")


@dataclass(frozen=True, slots=True)
class Requester:
    org_code: str
    name: str
    added_at: str
    added_by: str

    def as_json(self) -> dict[str, str]:
        return {
            "org_code": self.org_code,
            "name": self.name,
            "added_at": self.added_at,
            "added_by": self.added_by,
        }


class RequesterStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def add(self, org_code: str, name: str, actor: str) -> Requester:
        if not ORG_CODE.match(org_code):
            raise ValueError("a requester's org code is 16 digits")
        if not name.strip():
            raise ValueError("a requester needs a name")
        iso, ms = now()
        pipe = self.r.client.pipeline(transaction=True)
        pipe.hset(
            self.k.requester(org_code), mapping={"name": name, "added_at": iso, "added_by": actor}
        )
        pipe.zadd(self.k.requester_index, {org_code: ms})
        append_in(pipe, self.r, "requester.added", actor, org=org_code)
        await self.r.call(pipe.execute())
        return Requester(org_code, name, iso, actor)

    async def remove(self, org_code: str, actor: str) -> bool:
        pipe = self.r.client.pipeline(transaction=True)
        pipe.delete(self.k.requester(org_code))
        pipe.zrem(self.k.requester_index, org_code)
        append_in(pipe, self.r, "requester.removed", actor, org=org_code)
        deleted, *_ = await self.r.call(pipe.execute())
        return bool(deleted)

    async def get(self, org_code: str) -> Requester | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.requester(org_code)))
        if not raw:
            return None
        return Requester(
            org_code, raw.get("name", ""), raw.get("added_at", ""), raw.get("added_by", "")
        )

    async def all(self) -> list[Requester]:
        codes = await self.r.call(self.r.client.zrange(self.k.requester_index, 0, -1))
        out = []
        for code in codes:
            req = await self.get(code)
            if req:
                out.append(req)
        return out
