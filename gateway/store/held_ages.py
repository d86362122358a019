"""How long the queries waiting for staff have waited, counted by age from the index of held
queries (`keys.held`, scored by the moment each was held): one ZCOUNT a bucket, in one
transaction, whatever the length of the queue."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.redis import Redis


class HeldAges:
    def __init__(self, redis: Redis) -> None:
        self.r = redis

    async def count(self, edges_ms: Sequence[int], now_ms: int) -> list[int]:
        """Queries waiting now, by age: one count per [edges[i], edges[i+1]) (the last bucket
        open-ended), ages in milliseconds, the first edge 0."""
        pipe = self.r.client.pipeline(transaction=True)
        for i, lo in enumerate(edges_ms):
            # age in [lo, hi)  <=>  held at in (now - hi, now - lo]
            # (the first bucket open upwards too: a host whose clock is ahead held it "later")
            newest = str(now_ms - lo) if i else "+inf"
            oldest = f"({now_ms - edges_ms[i + 1]}" if i + 1 < len(edges_ms) else "-inf"
            pipe.zcount(self.r.keys.held, oldest, newest)
        return [int(n) for n in await self.r.call(pipe.execute())]
