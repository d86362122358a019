"""Auditors' reviews of events: who looked at a blocked attempt or security event, when, and what
they concluded. The comment is sealed (a reviewer may write anything); a review is itself an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.store.redis import Redis
from gateway.store.replies import ReviewReply
from gateway.store.sealing import part_context

_comment_context = part_context("review", "comment")


@dataclass(frozen=True, slots=True)
class Review:
    event_id: str
    by: str
    at: str
    comment: str


class ReviewStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def add(self, event_id: str, event_kind: str, actor: str, comment: str) -> int:
        """Append a review of an existing event (the caller has read it); the number of reviews."""
        entry = {"by": actor, "comment": self.keyring.seal(comment, _comment_context(event_id))}
        res = await self.r.script(
            "staff_review",
            [self.k.staff_reviews(event_id), self.k.staff_reviewed],
            [event_id, actor, json.dumps(entry), event_kind],
        )
        return ReviewReply.from_reply(res).number("reviews")

    async def of(self, event_ids: list[str]) -> dict[str, list[Review]]:
        """The reviews of each event that has any, oldest first."""
        if not event_ids:
            return {}
        pipe = self.r.client.pipeline(transaction=False)
        for eid in event_ids:
            pipe.lrange(self.k.staff_reviews(eid), 0, -1)
        out: dict[str, list[Review]] = {}
        for eid, rows in zip(event_ids, await self.r.call(pipe.execute()), strict=True):
            if rows:
                out[eid] = [self._review(eid, json.loads(r)) for r in rows]
        return out

    async def reviewed_ids(self) -> set[str]:
        """Every event id that has at least one review."""
        return set(await self.r.call(self.r.client.zrange(self.k.staff_reviewed, 0, -1)))

    def _review(self, event_id: str, raw: dict[str, str]) -> Review:
        comment = self.keyring.unseal_text(raw["comment"], _comment_context(event_id))
        return Review(event_id, raw.get("by", ""), raw.get("at", ""), comment)
