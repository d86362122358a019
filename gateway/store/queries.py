"""Queries in the store: admission, hold, the automatic relay, the manual queue, the results.

Each state change is one Lua script that checks the current state first (see gateway.lifecycle
for the moves), so that every change happens exactly once however many processes try it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from gateway import metrics
from gateway.crypto import Keyring
from gateway.decision import ResultAccess
from gateway.errors import FactsChanged as FactsChanged
from gateway.errors import QueryBusy as QueryBusy
from gateway.lifecycle import IllegalTransition, requester_status
from gateway.model import (
    Field,
    HeldQuery,
    QueryResult,
    QueryState,
    SubmitQuery,
    UpstreamAnswer,
)
from gateway.store.paging import index_page
from gateway.store.redis import Redis
from gateway.store.replies import (
    AdmitReply,
    RelayReply,
    ReleaseBeginReply,
    ResultReply,
    StepReply,
    SweepReply,
    state_of,
)


def new_query_id() -> str:
    return secrets.token_hex(10)  # 80 random bits, 20 hex digits as before; cheaper than uuid4


def _request_context(query_id: str) -> str:
    return f"query:{query_id}:request"


def _answer_context(query_id: str) -> str:
    return f"query:{query_id}:answer"


def _notice_context(query_id: str) -> str:
    return f"query:{query_id}:notice"


def _refusal_context(query_id: str) -> str:
    return f"query:{query_id}:refusal"


# What `admit` decided (and on which facts), and `complete`: see gateway/store/replies/.
Admission = AdmitReply
Relay = RelayReply


@dataclass(frozen=True, slots=True)
class HeldPage:
    """One page of held queries: `start` of them come before it, `total` in all; `next` is the
    cursor of the following page, None on the last."""

    items: list[HeldQuery]
    total: int
    start: int
    next: str | None


class QueryStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    # -- the automatic path ----------------------------------------------------------------
    async def admit(self, q: SubmitQuery, subject_keys: list[str]) -> Admission:
        query_id = new_query_id()
        sealed = self.keyring.seal(json.dumps(q.personal_fields()), _request_context(query_id))
        res = await self.r.script(
            "admit",
            [
                self.k.requester(q.requester_org_code),
                self.k.requester_rights(q.requester_org_code),
                self.k.idempotency(q.requester_org_code, q.processing_number),
                self.k.query(query_id),
                *(self.k.directory(s) for s in subject_keys),
            ],
            [
                query_id,
                q.requester_org_code,
                q.processing_number,
                q.affair_code,
                q.procedure_code,
                q.item_code,
                q.requested_at,
                "1" if q.requester_non_disclosure else "0",
                sealed,
                *subject_keys,  # the first is stored on the query; every one is checked for review
            ],
            acknowledged=False,  # a reservation: the hold or the relay that follows waits
        )
        return AdmitReply.from_reply(res)

    async def hold(self, query_id: str, reason: str) -> None:
        res = await self.r.script("hold", [self.k.query(query_id)], [query_id, reason])
        step = StepReply.from_reply(res)
        if step.outcome != "held":
            raise IllegalTransition(step.state_before, QueryState.HELD)

    async def complete(
        self, query_id: str, subject_keys: list[str], subject_key: str, answer: UpstreamAnswer
    ) -> Relay:
        """Relay the upstream's answer only if the subject's flag is still clear, atomically."""
        sealed = self.keyring.seal(_encode_answer(answer), _answer_context(query_id))
        res = await self.r.script(
            "complete",
            [
                self.k.query(query_id),
                self.k.answer(query_id),
                self.k.records(subject_key),
                *(self.k.directory(s) for s in subject_keys),
            ],
            [
                query_id,
                sealed,
                self.r.settings.answer_retention_seconds,
                "provided" if answer.has_data else "no_data",
                *subject_keys,
            ],
        )
        return RelayReply.from_reply(res)

    async def abandon(self, q: SubmitQuery, query_id: str, why: str) -> None:
        await self.r.script(
            "abandon",
            [self.k.query(query_id), self.k.idempotency(q.requester_org_code, q.processing_number)],
            [query_id, why],
            acknowledged=False,  # the requester is told of a fault, not of this
        )

    async def sweep_interrupted(self, older_than_ms: int, batch: int = 500) -> int:
        """Hold every query left RECEIVED since before `older_than_ms` (an interrupted process):
        all of them, `batch` to a step, however many there are; how many were held."""
        held = 0
        while True:
            reply = SweepReply.from_reply(
                await self.r.script(
                    "sweep", [self.k.inflight], [older_than_ms, batch], acknowledged=False
                )
            )
            held += reply.number("held")
            if reply.number("left") == 0:
                return held

    # -- what the requester sees -----------------------------------------------------------
    async def result(
        self, org_code: str, processing_number: str, operation: str = "SubmitQuery"
    ) -> QueryResult:
        """The current state of (requester, processing number): for the same query sent again."""
        result, _ = await self.result_and_refusal(org_code, processing_number, operation)
        return result

    async def result_and_refusal(
        self, org_code: str, processing_number: str, operation: str = "GetQueryResult"
    ) -> tuple[QueryResult, str | None]:
        """The result, and why the requester was refused (the security event's kind) if it was.

        A stored answer is checked again against the flag and the directory as they are now, in
        the same step that reads it (lua/result.lua, gateway/recheck.py): one whose person was
        flagged since, or whose subject resolves elsewhere now, is withheld and held for staff.
        Acknowledged, since that may be a change the requester is told of (PENDING)."""
        res = await self.r.script(
            "result",
            [
                self.k.requester(org_code),
                self.k.idempotency(org_code, processing_number),
                self.k.requester_rights(org_code),
            ],
            [org_code, processing_number, operation],
        )
        reply = ResultReply.from_reply(res)
        if reply.access is ResultAccess.REFUSED:
            return QueryResult.refused(processing_number, "NOT_AUTHORIZED"), "unknown_requester"
        if reply.access is ResultAccess.NOT_PERMITTED:
            return (
                QueryResult.refused(processing_number, "NOT_AUTHORIZED"),
                "requester_not_permitted",
            )
        if reply.withheld:
            metrics.HOLDS.labels(reply.withheld).inc()  # the script held it; counted once, here
        return self._result(processing_number, reply), None

    def _result(self, processing_number: str, reply: ResultReply) -> QueryResult:
        if reply.access is ResultAccess.UNKNOWN:
            return QueryResult.refused(processing_number, "NO_DATA")
        state = reply.state
        status = requester_status(state) if state is not None else "PENDING"
        if status == "PENDING":
            return QueryResult.pending(processing_number)
        if status == "REFUSED":
            return QueryResult.refused(processing_number, "REFUSED_BY_STAFF")
        notice = (
            self.keyring.unseal_text(reply.sealed_notice, _notice_context(reply.query_id))
            if state is QueryState.RELEASED and reply.sealed_notice
            else None
        )
        if reply.outcome == "no_data" or not reply.sealed_answer:
            # No data upstream, or the answer's retention has passed: only metadata remains.
            return QueryResult(
                processing_number, "REFUSED", handling_notice=notice, refusal_code="NO_DATA"
            )
        answer = _decode_answer(
            self.keyring.unseal(reply.sealed_answer, _answer_context(reply.query_id))
        )
        return QueryResult(
            processing_number, "PROVIDED", fields=answer.fields, handling_notice=notice
        )

    # -- the manual queue ------------------------------------------------------------------
    async def get(self, query_id: str) -> HeldQuery | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.query(query_id)))
        if not raw or raw.get("state") not in {s.value for s in QueryState}:
            return None
        lock = await self.r.call(self.r.client.exists(self.k.release_lock(query_id)))
        return _held_query(raw, releasing=bool(lock))

    async def held_page(
        self, *, only_waiting: bool = False, after: str = "", limit: int = 100
    ) -> HeldPage:
        """One page of held queries, oldest first: those waiting (`only_waiting`) or every one
        ever held; after the cursor `after` (a page's `next`), with the total and the position."""
        index = self.k.held if only_waiting else self.k.holds
        found = await index_page(self.r, index, self.k.query, after, limit)
        return HeldPage(
            [_held_query(row) for row in found.rows], found.total, found.start, found.next
        )

    async def iter_held(
        self, *, only_waiting: bool = False, batch: int = 500
    ) -> AsyncIterator[HeldQuery]:
        """Every held query, oldest first, a page at a time (for lists of any length)."""
        after = ""
        while True:
            page = await self.held_page(only_waiting=only_waiting, after=after, limit=batch)
            for held in page.items:
                yield held
            if page.next is None:
                return
            after = page.next

    async def list_held(self, *, only_waiting: bool = False) -> list[HeldQuery]:
        """Every held query, oldest first: those waiting (`only_waiting`) or every one ever held."""
        return [h async for h in self.iter_held(only_waiting=only_waiting)]

    async def persons_now(self, subject_keys: Sequence[str]) -> list[str]:
        """Whom each subject key resolves to in the directory now ('' for no one)."""
        if not subject_keys:
            return []
        keys = [self.k.directory(sk) if sk else self.k.directory("-") for sk in subject_keys]
        found = await self.r.call(self.r.client.mget(keys))
        # (a value is the person key, then '|' and its MAC: gateway/store/directory.py)
        return [
            p.partition("|")[0] if sk and p else ""
            for sk, p in zip(subject_keys, found, strict=True)
        ]

    async def count_waiting(self) -> int:
        return int(await self.r.call(self.r.client.zcard(self.k.held)))

    async def begin_release(
        self, query_id: str, lock_ms: int, seen: str = ""
    ) -> tuple[str, SubmitQuery, str, str]:
        """Take the release lock if the subject is still as `seen` (a token of gateway.recheck;
        '' takes the facts as they are now); returns (lock token, the original request, subject
        key, the seen token the release is judged on)."""
        token = secrets.token_hex(16)
        res = await self.r.script(
            "release_begin",
            [self.k.query(query_id), self.k.release_lock(query_id)],
            [token, lock_ms, seen],
            acknowledged=False,  # a lock; the release itself waits in release_finish
        )
        begun = ReleaseBeginReply.from_reply(res)
        if begun.outcome == "busy":
            raise QueryBusy(query_id)
        if begun.outcome == "facts_changed":
            raise FactsChanged(query_id)
        if begun.outcome != "ok":
            raise IllegalTransition(state_of(begun.state), QueryState.RELEASED)
        fields = json.loads(self.keyring.unseal(begun.sealed, _request_context(query_id)))
        meta = await self.r.call(self.r.client.hgetall(self.k.query(query_id)))
        request = SubmitQuery(
            processing_number=meta["pn"],
            requester_org_code=meta["org"],
            affair_code=meta["affair"],
            procedure_code=meta["procedure"],
            item_code=meta["item"],
            requested_at=meta["requested_at"],
            requester_non_disclosure=meta.get("req_nd") == "1",
            **fields,
        )
        return token, request, begun.subject_key, begun.seen

    async def finish_release(
        self,
        query_id: str,
        token: str,
        subject_key: str,
        answer: UpstreamAnswer,
        notice: str,
        actor: str,
        seen: str,
    ) -> None:
        """HELD -> RELEASED, if the subject is still as `seen` (else FactsChanged, lock given back)."""
        res = await self.r.script(
            "release_finish",
            [
                self.k.query(query_id),
                self.k.release_lock(query_id),
                self.k.answer(query_id),
                self.k.records(subject_key),
            ],
            [
                query_id,
                token,
                self.keyring.seal(_encode_answer(answer), _answer_context(query_id)),
                self.r.settings.answer_retention_seconds,
                self.keyring.seal(notice, _notice_context(query_id)),
                actor,
                "provided" if answer.has_data else "no_data",
                "0",
                seen,
            ],
        )
        step = StepReply.from_reply(res)
        if step.outcome == "lock_lost":
            raise QueryBusy(query_id)
        if step.outcome == "facts_changed":
            raise FactsChanged(query_id)
        if step.outcome != "released":
            raise IllegalTransition(step.state_before, QueryState.RELEASED)

    async def abort_release(self, query_id: str, token: str) -> None:
        await self.r.script(
            "release_abort", [self.k.release_lock(query_id)], [token], acknowledged=False
        )

    async def refuse(self, query_id: str, actor: str, reason: str) -> None:
        res = await self.r.script(
            "refuse",
            [self.k.query(query_id), self.k.release_lock(query_id)],
            [query_id, actor, self.keyring.seal(reason, _refusal_context(query_id))],
        )
        step = StepReply.from_reply(res)
        if step.outcome == "busy":
            raise QueryBusy(query_id)
        if step.outcome != "refused":
            raise IllegalTransition(step.state_before, QueryState.REFUSED)

    def unseal_request(self, query_id: str, sealed: str) -> dict[str, str]:
        return json.loads(self.keyring.unseal(sealed, _request_context(query_id)))


# what json.dumps(..., ensure_ascii=False) builds on every call, made once: the same text
_ANSWER_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _encode_answer(answer: UpstreamAnswer) -> str:
    return _ANSWER_JSON(
        {"has_data": answer.has_data, "fields": [[f.name, f.value] for f in answer.fields]}
    )


def _decode_answer(raw: bytes) -> UpstreamAnswer:
    data = json.loads(raw)
    return UpstreamAnswer(bool(data["has_data"]), tuple(Field(n, v) for n, v in data["fields"]))


def _held_query(raw: dict[str, str], releasing: bool = False) -> HeldQuery:
    return HeldQuery(
        id=raw["id"],
        state=QueryState(raw["state"]),
        requester_org_code=raw.get("org", ""),
        processing_number=raw.get("pn", ""),
        affair_code=raw.get("affair", ""),
        procedure_code=raw.get("procedure", ""),
        item_code=raw.get("item", ""),
        requested_at=raw.get("requested_at", ""),
        received_at=raw.get("received_at", ""),
        held_at=raw.get("held_at", ""),
        reason=raw.get("reason", ""),
        subject_key=raw.get("subject_key", ""),
        person_key=raw.get("person_key", ""),
        requester_non_disclosure=raw.get("req_nd") == "1",
        decided_at=raw.get("decided_at", ""),
        decided_by=raw.get("decided_by", ""),
        claimed_by=raw.get("claimed_by", ""),
        extra={"releasing": "1"} if releasing else {},
    )
