"""The manual queue in the store: held queries read a page at a time, and the two ways out of
HELD (a release under its lock, a refusal), each one script that checks the state first."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.errors import FactsChanged, QueryBusy
from gateway.lifecycle import IllegalTransition
from gateway.model import HeldQuery, QueryState, SubmitQuery, UpstreamAnswer
from gateway.store.paging import index_page
from gateway.store.query_parts import (
    _answer_context,
    _encode_answer,
    _notice_context,
    _refusal_context,
    _request_context,
)
from gateway.store.redis import Redis
from gateway.store.replies import ReleaseBeginReply, StepReply, state_of


@dataclass(frozen=True, slots=True)
class HeldPage:
    """One page of held queries: `start` of them come before it, `total` in all; `next` is the
    cursor of the following page, None on the last."""

    items: list[HeldQuery]
    total: int
    start: int
    next: str | None


class HeldQueries:
    """The manual queue's side of QueryStore (which is one of these)."""

    r: Redis
    keyring: Keyring

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
