"""Claims on held queries (one approver works on an item at a time) and four-eyes proposals.

A claim is a key holding the approver's login and its end by the gateway's clock (lua/claim.lua):
it lapses by itself when someone walks away (the key's expiry only clears it away). It coordinates people; the safety of a release (exactly once) is the release lock of
gateway.queue, not the claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.crypto import Keyring
from gateway.store.redis import Redis
from gateway.store.replies import (
    ClaimReply,
    ClaimStep,
    ConfirmReply,
    ProposeReply,
    UnclaimReply,
    WithdrawReply,
)
from gateway.store.sealing import part_context

_proposal_context = part_context("proposal", "notice")


@dataclass(frozen=True, slots=True)
class Claim:
    holder: str
    ms_left: int


@dataclass(frozen=True, slots=True)
class Proposal:
    """A release proposed by one approver, waiting for a second one (four-eyes)."""

    by: str
    at: str
    notice: str
    confirmer: str = ""
    seen: str = ""  # the token of the subject's facts the proposer was shown (gateway.recheck)


class ClaimOutcome(Exception):
    """The store refused the step; `code` says why, `detail` whom or what state."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code} {detail}".strip())
        self.code = code
        self.detail = detail


def _refused(reply: ClaimStep) -> None:
    if reply.outcome != "ok":
        raise ClaimOutcome(reply.outcome, reply.detail)


class ClaimStore:
    def __init__(self, redis: Redis, keyring: Keyring) -> None:
        self.r = redis
        self.k = redis.keys
        self.keyring = keyring

    async def claim(self, query_id: str, login: str, ms: int) -> None:
        res = await self.r.script(
            "staff_claim",
            [self.k.query(query_id), self.k.staff_claim(query_id)],
            [query_id, login, ms],
        )
        _refused(ClaimReply.from_reply(res))

    async def unclaim(self, query_id: str, login: str) -> None:
        res = await self.r.script(
            "staff_unclaim", [self.k.staff_claim(query_id)], [query_id, login]
        )
        _refused(UnclaimReply.from_reply(res))

    async def holders(self, query_ids: list[str]) -> dict[str, Claim]:
        if not query_ids:
            return {}
        pipe = self.r.client.pipeline(transaction=False)
        for qid in query_ids:
            pipe.get(self.k.staff_claim(qid))
            pipe.pttl(self.k.staff_claim(qid))
        raw = await self.r.call(pipe.execute())
        now_ms = self.r.clock.now_ms()
        out = {}
        for i, qid in enumerate(query_ids):
            value, ms = raw[2 * i], int(raw[2 * i + 1])
            if not value:
                continue
            holder, sep, until = value.rpartition("|")
            if sep:  # (else written before claims carried their end: the key's expiry is it)
                ms = int(until) - now_ms
            if ms > 0:
                out[qid] = Claim(holder if sep else value, ms)
        return out

    async def done(self, query_id: str) -> None:
        """The item left the queue (released or refused): its claim and proposal go with it."""
        await self.r.call(
            self.r.client.delete(self.k.staff_claim(query_id), self.k.staff_proposal(query_id))
        )

    # -- four-eyes ---------------------------------------------------------------------------
    async def propose(self, query_id: str, login: str, notice: str, seen: str) -> None:
        res = await self.r.script(
            "staff_propose",
            [self.k.query(query_id), self.k.staff_claim(query_id), self.k.staff_proposal(query_id)],
            [query_id, login, self.keyring.seal(notice, _proposal_context(query_id)), seen],
        )
        _refused(ProposeReply.from_reply(res))

    async def proposals(self, query_ids: list[str]) -> dict[str, Proposal]:
        if not query_ids:
            return {}
        pipe = self.r.client.pipeline(transaction=False)
        for qid in query_ids:
            pipe.hgetall(self.k.staff_proposal(qid))
        out = {}
        for qid, raw in zip(query_ids, await self.r.call(pipe.execute()), strict=True):
            if raw.get("by"):
                notice = self.keyring.unseal_text(raw["notice"], _proposal_context(qid))
                out[qid] = Proposal(
                    raw["by"],
                    raw.get("at", ""),
                    notice,
                    raw.get("confirmer", ""),
                    raw.get("seen", ""),
                )
        return out

    async def take_for_confirmation(self, query_id: str, login: str, ms: int) -> Proposal:
        res = await self.r.script(
            "staff_confirm",
            [self.k.query(query_id), self.k.staff_claim(query_id), self.k.staff_proposal(query_id)],
            [query_id, login, ms],
        )
        reply = ConfirmReply.from_reply(res)
        _refused(reply)
        notice = self.keyring.unseal_text(reply.text("notice"), _proposal_context(query_id))
        return Proposal(reply.text("proposer"), "", notice, login, reply.text("seen"))

    async def confirmation_failed(self, query_id: str, login: str) -> None:
        """The release did not happen (the upstream failed): the proposal waits again."""
        key = self.k.staff_proposal(query_id)
        if await self.r.call(self.r.client.hget(key, "confirmer")) == login:
            await self.r.call(self.r.client.hdel(key, "confirmer"))

    async def withdraw(self, query_id: str, login: str) -> None:
        res = await self.r.script(
            "staff_withdraw", [self.k.staff_proposal(query_id)], [query_id, login]
        )
        _refused(WithdrawReply.from_reply(res))
