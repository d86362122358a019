"""Two-person release requests (解除申請): asked by one member of staff, confirmed by another.

A request records which flags of its department's own hold to release, on what basis, by whom,
and the hold's version when it was made. The confirmation itself is a guarded flag change
(`FlagStore.apply` with the request's id and version), so that it re-reads the hold and the
request in the same atomic step as the release. One pending request per person and department:
one department's request never stands in another's way, nor tells it anything.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.orders import ReleaseOrder
from gateway.store.redis import Redis
from gateway.store.replies import CancelReply, OutcomeReply
from gateway.store.sealing import part_context


class RequestRefused(ValueError):
    """The store would not record the request; `reason` is a code, the message says it plainly;
    `state` is a decided request's state."""

    def __init__(self, reason: str, message: str, state: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.state = state


@dataclass(slots=True)
class StoredRequest:
    id: str
    person_key: str
    auto_response_disabled: bool
    non_disclosure: bool
    requested_by: str
    department: str
    basis: str
    requested_at: str
    version: int
    state: str  # pending | confirmed | cancelled | superseded
    decided_by: str = ""
    decided_at: str = ""
    note: str | None = None  # unsealed
    atena_number: str | None = None  # unsealed


_note_context = part_context("relreq", "note")


_atena_context = part_context("relreq", "atena")


class ReleaseRequestStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def create(self, person_key: str, order: ReleaseOrder) -> str:
        """Record the request `order` (checked: its department the holding one, by annex 1's
        spelling) unless the department holds none of its flags now; its id."""
        department = order.department or ""
        # time-ordered (microseconds, then random): requests made in the same millisecond still
        # list oldest first, as the pending index breaks ties of its score by id
        request_id = f"{time.time_ns() // 1000:013x}{secrets.token_hex(3)}"
        res = await self.r.script(
            "flag_release_request",
            [
                self.k.flag_holds(person_key),
                self.k.release_request(request_id),
                self.k.release_requests_pending,
                self.k.release_request_of(person_key, department),
            ],
            [
                request_id,
                person_key,
                "1" if order.auto_response_disabled else "0",
                "1" if order.non_disclosure else "0",
                order.actor,
                department,
                order.basis,
                self.keyring.seal(order.note, _note_context(request_id)),
                self.keyring.seal(order.atena_number, _atena_context(request_id)),
            ],
        )
        reply = OutcomeReply.from_reply(res)
        kind = reply.outcome
        if kind == "ok":
            return request_id
        if kind == "no_flag":
            raise RequestRefused("no_flag", f"{department} holds no flag of this person now")
        if kind == "not_on":
            raise RequestRefused(
                "not_on", f"none of the flags to release is set by {department} for this person"
            )
        if kind == "not_holder":
            raise RequestRefused(
                "not_holder",
                f"{department} has not set a flag of this person; it cannot ask to release it",
            )
        raise RequestRefused(
            "pending",
            f"a release request of {department} for this person is already pending ({reply.value('pending')})",
        )

    async def get(self, request_id: str) -> StoredRequest | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.release_request(request_id)))
        return self._request(raw) if raw else None

    async def pending(self) -> list[StoredRequest]:
        ids = await self.r.call(self.r.client.zrange(self.k.release_requests_pending, 0, -1))
        if not ids:
            return []
        pipe = self.r.client.pipeline(transaction=False)
        for request_id in ids:
            pipe.hgetall(self.k.release_request(request_id))
        rows = await self.r.call(pipe.execute())
        return [self._request(raw) for raw in rows if raw]

    async def cancel(self, request_id: str, cancelled_by: str, department: str) -> None:
        """Withdraw the pending request `request_id` for `department` (annex 1's spelling): the
        script refuses another department's request (`other_department`) as the core says
        (gateway/flag_rules.py release_cancel)."""
        res = await self.r.script(
            "flag_release_cancel",
            [self.k.release_request(request_id), self.k.release_requests_pending],
            [request_id, cancelled_by, department],
        )
        reply = CancelReply.from_reply(res)
        if reply.outcome == "unknown":
            raise RequestRefused("unknown", f"no release request {request_id}")
        if reply.outcome == "other_department":
            raise RequestRefused(
                "other_department", f"release request {request_id} is not one of {department}"
            )
        if reply.outcome == "decided":
            state = reply.text("state")
            raise RequestRefused(
                "decided", f"release request {request_id} is already {state}", state=state
            )

    def _request(self, raw: dict[str, str]) -> StoredRequest:
        rid = raw["id"]
        return StoredRequest(
            id=rid,
            person_key=raw.get("person", ""),
            auto_response_disabled=raw.get("ard") == "1",
            non_disclosure=raw.get("nd") == "1",
            requested_by=raw.get("requested_by", ""),
            department=raw.get("department", ""),
            basis=raw.get("basis", ""),
            requested_at=raw.get("requested_at", ""),
            version=int(raw.get("version", "0")),
            state=raw.get("state", ""),
            decided_by=raw.get("decided_by", ""),
            decided_at=raw.get("decided_at", ""),
            note=self.keyring.unseal_text(raw["note"], _note_context(rid))
            if raw.get("note")
            else None,
            atena_number=self.keyring.unseal_text(raw["atena"], _atena_context(rid))
            if raw.get("atena")
            else None,
        )
