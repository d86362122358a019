"""The manual queue's two staff actions: release with a handling notice (取扱注意), or refuse.

Shared by the operator's command line and the staff console, so both go the same way: the release
takes a lock (only one release at a time), asks the upstream at that moment with the query's id as
idempotency key, and only then makes the one atomic move HELD → RELEASED. If the upstream cannot
answer, the lock is given back and nothing changes.
"""

from __future__ import annotations

from gateway import metrics
from gateway.model import HeldQuery
from gateway.store.queries import QueryStore
from gateway.upstream import Upstream, UpstreamUnavailable


class ManualQueue:
    def __init__(self, queries: QueryStore, upstream: Upstream | None, lock_seconds: float) -> None:
        self.queries = queries
        self.upstream = upstream
        self.lock_ms = int(lock_seconds * 1000)

    async def release(self, query_id: str, notice: str, actor: str) -> HeldQuery:
        if not notice.strip():
            raise ValueError("a release needs a handling notice (取扱注意)")
        if self.upstream is None:
            raise UpstreamUnavailable("no upstream URL is configured")
        token, request, subject_key = await self.queries.begin_release(query_id, self.lock_ms)
        try:
            answer = await self.upstream.submit(request, idempotency_key=query_id)
        except BaseException:
            await self.queries.abort_release(query_id, token)
            raise
        await self.queries.finish_release(query_id, token, subject_key, answer, notice, actor)
        metrics.STAFF_ACTIONS.labels("release").inc()
        held = await self.queries.get(query_id)
        assert held is not None
        return held

    async def refuse(self, query_id: str, reason: str, actor: str) -> HeldQuery:
        if not reason.strip():
            raise ValueError("a refusal needs a reason")
        await self.queries.refuse(query_id, actor, reason)
        metrics.STAFF_ACTIONS.labels("refuse").inc()
        held = await self.queries.get(query_id)
        assert held is not None
        return held
