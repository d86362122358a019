"""Queries in the store: admission, hold, the automatic relay and the results (the manual queue:
held.py).

Each state change is one Lua script that checks the current state first (see gateway.lifecycle
for the moves), so that every change happens exactly once however many processes try it.
"""

from __future__ import annotations

import json

from gateway import metrics
from gateway.crypto import Keyring
from gateway.decision import ResultAccess
from gateway.errors import FactsChanged as FactsChanged
from gateway.errors import QueryBusy as QueryBusy
from gateway.lifecycle import IllegalTransition, requester_status
from gateway.model import (
    QueryResult,
    QueryState,
    SubmitQuery,
    UpstreamAnswer,
)
from gateway.store.held import HeldPage as HeldPage
from gateway.store.held import HeldQueries
from gateway.store.query_parts import (
    _answer_context,
    _decode_answer,
    _encode_answer,
    _notice_context,
    _request_context,
    new_query_id,
)
from gateway.store.redis import Redis
from gateway.store.replies import (
    AdmitReply,
    RelayReply,
    ResultReply,
    StepReply,
    SweepReply,
)

# What `admit` decided (and on which facts), and `complete`: see gateway/store/replies/.
Admission = AdmitReply
Relay = RelayReply


class QueryStore(HeldQueries):
    """Queries in the store: the automatic path and the requester's results here, the manual
    queue in HeldQueries (held.py)."""

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
