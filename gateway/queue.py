"""The manual queue's two staff actions: release with a handling notice (取扱注意), or refuse;
and what staff are shown of a held query's subject before they decide.

Shared by the operator's command line and the staff console, so both go the same way: the release
takes a lock (only one release at a time), asks the upstream at that moment with the query's id as
idempotency key, and only then makes the one atomic move HELD → RELEASED. If the upstream cannot
answer, the lock is given back and nothing changes.

A held query is judged on what its subject resolves to now (a query held as "subject unknown"
may since have become a flagged person): `subject_now` re-resolves it through the directory, and a
release carries the token of what was shown (`seen`); the store refuses it if that changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from gateway import metrics
from gateway.errors import FactsChanged, QueryBusy
from gateway.lifecycle import IllegalTransition
from gateway.model import HeldQuery
from gateway.recheck import SubjectNow
from gateway.soap.faults import SoapFault
from gateway.store.flags import FlagRecord, FlagStore
from gateway.store.queries import QueryStore
from gateway.upstream import Upstream


class QueueRefusal(ValueError):
    """The manual queue refused a release or a refusal, and nothing changed. `code` says why, for
    each front end to tell in its own words (the command line's and the console's messages).
    A ValueError: a step asked of a query that cannot take it, as callers that catch bad input
    already expect.

    not_held         the query is no longer held (`detail`: what it is now)
    busy             someone else is releasing it right now
    facts_changed    its subject (the person, or the flag) changed since it was read
    upstream         the upstream could not answer (`detail`: what it said)
    notice_required  a release needs a handling notice (取扱注意)
    reason_required  a refusal needs a reason
    """

    CODES = frozenset(
        {"not_held", "busy", "facts_changed", "upstream", "notice_required", "reason_required"}
    )

    def __init__(self, code: str, query_id: str, detail: str = "") -> None:
        assert code in self.CODES, code
        super().__init__(f"{code}: query {query_id}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.query_id = query_id
        self.detail = detail


@asynccontextmanager
async def _refusals(query_id: str) -> AsyncIterator[None]:
    """What the store and the upstream refuse, as the queue's one refusal."""
    try:
        yield
    except IllegalTransition as exc:
        raise QueueRefusal("not_held", query_id, str(exc)) from None
    except QueryBusy:
        raise QueueRefusal("busy", query_id) from None
    except FactsChanged:
        raise QueueRefusal("facts_changed", query_id) from None
    except SoapFault as exc:
        raise QueueRefusal("upstream", query_id, str(exc)) from None


def holding_departments(record: FlagRecord) -> tuple[str, ...]:
    """The holding departments (保有課) that hold this person's flag, as staff are shown them:
    every department whose own hold has a flag on now (the earliest first)."""
    return tuple(record.departments)


class ManualQueue:
    def __init__(
        self,
        queries: QueryStore,
        flags: FlagStore,
        upstream: Upstream | None,
        lock_seconds: float,
    ) -> None:
        self.queries = queries
        self.flags = flags
        self.upstream = upstream
        self.lock_ms = int(lock_seconds * 1000)

    async def subjects_now(self, held: Sequence[HeldQuery]) -> list[SubjectNow]:
        """Each query's subject as the directory and the flags say now."""
        persons = await self.queries.persons_now([h.subject_key for h in held])
        known = [p for p in persons if p]
        records = dict(zip(known, await self.flags.get_many(known), strict=True))
        out = []
        for person in persons:
            record = records.get(person) if person else None
            if record is None:
                out.append(SubjectNow(person, None))
                continue
            last = record.last_changed
            out.append(
                SubjectNow(
                    person,
                    record.state,
                    record.version,
                    holding_departments(record),
                    last.department if last else "",
                    last.business if last else "",
                )
            )
        return out

    async def subject_now(self, held: HeldQuery) -> SubjectNow:
        [now] = await self.subjects_now([held])
        return now

    async def release(
        self, query_id: str, notice: str, actor: str, seen: str | None = None
    ) -> HeldQuery:
        """Release with the notice. `seen`: the token (SubjectNow.seen) of the subject's facts the
        approver was shown; None on the operator's command, which judges on the facts as they are
        when the release begins. Either way, if they change before the release is made (a flag set
        while the upstream answers), nothing is released (QueueRefusal facts_changed)."""
        if not notice.strip():
            raise QueueRefusal("notice_required", query_id)
        if self.upstream is None:
            raise QueueRefusal("upstream", query_id, "no upstream URL is configured")
        async with _refusals(query_id):
            token, request, subject_key, judged_on = await self.queries.begin_release(
                query_id, self.lock_ms, seen or ""
            )
            try:
                answer = await self.upstream.submit(request, idempotency_key=query_id)
            except BaseException:
                await self.queries.abort_release(query_id, token)
                raise
            await self.queries.finish_release(
                query_id, token, subject_key, answer, notice, actor, judged_on
            )
        metrics.STAFF_ACTIONS.labels("release").inc()
        held = await self.queries.get(query_id)
        assert held is not None
        return held

    async def refuse(self, query_id: str, reason: str, actor: str) -> HeldQuery:
        if not reason.strip():
            raise QueueRefusal("reason_required", query_id)
        async with _refusals(query_id):
            await self.queries.refuse(query_id, actor, reason)
        metrics.STAFF_ACTIONS.labels("refuse").inc()
        held = await self.queries.get(query_id)
        assert held is not None
        return held
