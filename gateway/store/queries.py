"""Queries in the store: admission, hold, the automatic relay, the manual queue, the results.

Each state change is one Lua script that checks the current state first (see gateway.lifecycle
for the moves), so that every change happens exactly once however many processes try it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.decision import AdmissionFacts
from gateway.lifecycle import IllegalTransition
from gateway.model import (
    Field,
    FlagState,
    HeldQuery,
    QueryResult,
    QueryState,
    SubmitQuery,
    UpstreamAnswer,
)
from gateway.store.redis import Redis


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


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` found: the facts for the decision, and the query's id."""

    facts: AdmissionFacts
    query_id: str | None
    existing_state: str | None = None


@dataclass(frozen=True, slots=True)
class Relay:
    """The outcome of the automatic path's last moment: relayed, or turned into a hold."""

    provided: bool
    reason: str = ""
    state: str = ""


class QueryBusy(Exception):
    """Someone else is releasing this query right now."""


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
        kind = res[0]
        if kind == "refused":
            registered, permitted = int(res[1]) == 1, int(res[2]) == 1
            return Admission(AdmissionFacts(registered, permitted, False, False, None), None)
        if kind == "existing":
            return Admission(AdmissionFacts(True, True, True, False, None), res[1], res[2])
        known = int(res[2]) == 1
        flags = FlagState(int(res[3]) == 1, int(res[4]) == 1) if known else None
        review = res[6] or None  # an open review (quarantine) of the subject or its person
        return Admission(AdmissionFacts(True, True, False, known, flags, review), res[1])

    async def hold(self, query_id: str, reason: str) -> None:
        res = await self.r.script("hold", [self.k.query(query_id)], [query_id, reason])
        if res[0] != "held":
            raise IllegalTransition(_state(res[1]), QueryState.HELD)

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
        if res[0] == "provided":
            return Relay(True)
        if res[0] == "held":
            return Relay(False, reason=res[1], state="held")
        return Relay(False, state=res[1])

    async def abandon(self, q: SubmitQuery, query_id: str, why: str) -> None:
        await self.r.script(
            "abandon",
            [self.k.query(query_id), self.k.idempotency(q.requester_org_code, q.processing_number)],
            [query_id, why],
            acknowledged=False,  # the requester is told of a fault, not of this
        )

    async def sweep_interrupted(self, older_than_ms: int) -> int:
        """Hold every query left RECEIVED since before `older_than_ms` (an interrupted process)."""
        return int(
            await self.r.script("sweep", [self.k.inflight], [older_than_ms], acknowledged=False)
        )

    # -- what the requester sees -----------------------------------------------------------
    async def result(self, org_code: str, processing_number: str) -> QueryResult:
        """GetQueryResult: the current state of (requester, processing number)."""
        result, _ = await self.result_and_refusal(org_code, processing_number)
        return result

    async def result_and_refusal(
        self, org_code: str, processing_number: str
    ) -> tuple[QueryResult, str | None]:
        """The result, and why the requester was refused (the security event's kind) if it was."""
        res = await self.r.script(
            "result",
            [
                self.k.requester(org_code),
                self.k.idempotency(org_code, processing_number),
                self.k.requester_rights(org_code),
            ],
            [org_code, processing_number],
            acknowledged=False,
        )
        if res[0] == "refused":
            return QueryResult.refused(processing_number, "NOT_AUTHORIZED"), "unknown_requester"
        if res[0] == "not_permitted":
            return (
                QueryResult.refused(processing_number, "NOT_AUTHORIZED"),
                "requester_not_permitted",
            )
        return self._result(processing_number, res), None

    def _result(self, processing_number: str, res: list[str]) -> QueryResult:
        if res[0] == "unknown":
            return QueryResult.refused(processing_number, "NO_DATA")
        _, query_id, state_raw, outcome, sealed_answer, sealed_notice = res
        state = _state(state_raw)
        if state in (QueryState.RECEIVED, QueryState.HELD, None):
            return QueryResult.pending(processing_number)
        if state is QueryState.REFUSED:
            return QueryResult.refused(processing_number, "REFUSED_BY_STAFF")
        notice = (
            self.keyring.unseal_text(sealed_notice, _notice_context(query_id))
            if state is QueryState.RELEASED and sealed_notice
            else None
        )
        if outcome == "no_data" or not sealed_answer:
            # No data upstream, or the answer's retention has passed: only metadata remains.
            return QueryResult(
                processing_number, "REFUSED", handling_notice=notice, refusal_code="NO_DATA"
            )
        answer = _decode_answer(self.keyring.unseal(sealed_answer, _answer_context(query_id)))
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

    async def list_held(self, *, only_waiting: bool = False, limit: int = 1000) -> list[HeldQuery]:
        """Held queries, oldest first: those waiting (`only_waiting`) or every one ever held."""
        index = self.k.held if only_waiting else self.k.holds
        ids = await self.r.call(self.r.client.zrange(index, 0, limit - 1))
        if not ids:
            return []
        pipe = self.r.client.pipeline(transaction=False)
        for query_id in ids:
            pipe.hgetall(self.k.query(query_id))
        rows = await self.r.call(pipe.execute())
        return [_held_query(row) for row in rows if row]

    async def count_waiting(self) -> int:
        return int(await self.r.call(self.r.client.zcard(self.k.held)))

    async def begin_release(self, query_id: str, lock_ms: int) -> tuple[str, SubmitQuery, str]:
        """Take the release lock; returns (token, the original request, subject key)."""
        token = secrets.token_hex(16)
        res = await self.r.script(
            "release_begin",
            [self.k.query(query_id), self.k.release_lock(query_id)],
            [token, lock_ms],
            acknowledged=False,  # a lock; the release itself waits in release_finish
        )
        if res[0] == "busy":
            raise QueryBusy(query_id)
        if res[0] != "ok":
            raise IllegalTransition(_state(res[1]), QueryState.RELEASED)
        fields = json.loads(self.keyring.unseal(res[1], _request_context(query_id)))
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
        return token, request, res[2]

    async def finish_release(
        self,
        query_id: str,
        token: str,
        subject_key: str,
        answer: UpstreamAnswer,
        notice: str,
        actor: str,
    ) -> None:
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
            ],
        )
        if res[0] == "lock_lost":
            raise QueryBusy(query_id)
        if res[0] != "released":
            raise IllegalTransition(_state(res[1]), QueryState.RELEASED)

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
        if res[0] == "busy":
            raise QueryBusy(query_id)
        if res[0] != "refused":
            raise IllegalTransition(_state(res[1]), QueryState.REFUSED)

    def unseal_request(self, query_id: str, sealed: str) -> dict[str, str]:
        return json.loads(self.keyring.unseal(sealed, _request_context(query_id)))


def _state(raw: str | None) -> QueryState | None:
    try:
        return QueryState(raw) if raw else None
    except ValueError:
        return None


def _encode_answer(answer: UpstreamAnswer) -> str:
    return json.dumps(
        {"has_data": answer.has_data, "fields": [[f.name, f.value] for f in answer.fields]},
        ensure_ascii=False,
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
