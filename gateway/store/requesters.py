"""Requesters (情報照会者): the institutions allowed to query, and what each may ask about.

Deny by default: an unregistered requester is refused, and so is a registered one asking about an
affair (事務) or procedure (事務手続) it holds no right to. Rights are granted per affair (every
procedure of it) or per procedure; `lua/admit.lua` reads them in the same atomic step as the rest
of the admission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import UnknownRequester as UnknownRequester
from gateway.store.redis import Redis
from gateway.store.replies import RequesterAddReply, RequesterRemoveReply, RightsReply

ORG_CODE = re.compile(r"^[0-9]{16}$")
AFFAIR_CODE = re.compile(r"^JM[0-9]{14}$")
PROCEDURE_CODE = re.compile(r"^JT[0-9]{14}$")


@dataclass(frozen=True, slots=True)
class Right:
    """Permission to ask about one affair: all its procedures (`procedure` None) or one."""

    affair: str
    procedure: str | None = None

    @classmethod
    def parse(cls, member: str) -> Right:
        affair, _, procedure = member.partition(":")
        return cls(affair, procedure or None)

    def as_json(self) -> dict[str, str | None]:
        return {"affair": self.affair, "procedure": self.procedure}

    def __str__(self) -> str:
        return f"{self.affair} {self.procedure or '(every procedure)'}"


@dataclass(frozen=True, slots=True)
class Requester:
    org_code: str
    name: str
    added_at: str
    added_by: str
    rights: tuple[Right, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "org_code": self.org_code,
            "name": self.name,
            "added_at": self.added_at,
            "added_by": self.added_by,
            "rights": [r.as_json() for r in self.rights],
        }


def check_org_code(org_code: str) -> None:
    if not ORG_CODE.match(org_code):
        raise ValueError("a requester's org code is 16 digits")


def check_right(affair: str, procedures: list[str]) -> None:
    if not AFFAIR_CODE.match(affair):
        raise ValueError("an affair code (事務コード) is JM and 14 digits")
    for p in procedures:
        if not PROCEDURE_CODE.match(p):
            raise ValueError("a procedure code (事務手続コード) is JT and 14 digits")


class RequesterStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def add(self, org_code: str, name: str, actor: str) -> Requester:
        """Register (or rename) a requester. It may ask about nothing until granted rights."""
        check_org_code(org_code)
        if not name.strip():
            raise ValueError("a requester needs a name")
        res = await self.r.script(
            "requester_add",
            [self.k.requester(org_code), self.k.requester_index],
            [org_code, name, actor],
        )
        RequesterAddReply.from_reply(res)
        requester = await self.get(org_code)
        assert requester is not None
        return requester

    async def remove(self, org_code: str, actor: str) -> bool:
        res = await self.r.script(
            "requester_remove",
            [
                self.k.requester(org_code),
                self.k.requester_index,
                self.k.requester_rights(org_code),
            ],
            [org_code, actor],
        )
        return RequesterRemoveReply.from_reply(res).outcome == "removed"

    async def grant(
        self, org_code: str, affair: str, procedures: list[str], actor: str
    ) -> Requester:
        """Permit an affair (no `procedures`: every procedure of it) or some of its procedures."""
        return await self._rights("grant", org_code, affair, procedures, actor)

    async def revoke(
        self, org_code: str, affair: str, procedures: list[str], actor: str
    ) -> Requester:
        """Withdraw an affair (with every procedure right under it) or some procedure rights."""
        return await self._rights("revoke", org_code, affair, procedures, actor)

    async def _rights(
        self, action: str, org_code: str, affair: str, procedures: list[str], actor: str
    ) -> Requester:
        check_org_code(org_code)
        check_right(affair, procedures)
        res = await self.r.script(
            "requester_rights",
            [self.k.requester(org_code), self.k.requester_rights(org_code)],
            [org_code, action, actor, affair, *procedures],
        )
        reply = RightsReply.from_reply(res)
        if reply.outcome == "unknown":
            raise UnknownRequester(f"requester {org_code} is not registered")
        if reply.outcome == "whole_affair":
            raise ValueError(
                f"{org_code} holds every procedure of {affair}: revoke the affair, then grant "
                "the procedures it keeps"
            )
        requester = await self.get(org_code)
        assert requester is not None
        return requester

    async def get(self, org_code: str) -> Requester | None:
        pipe = self.r.client.pipeline(transaction=False)
        pipe.hgetall(self.k.requester(org_code))
        pipe.smembers(self.k.requester_rights(org_code))
        raw, rights = await self.r.call(pipe.execute())
        if not raw:
            return None
        return Requester(
            org_code,
            raw.get("name", ""),
            raw.get("added_at", ""),
            raw.get("added_by", ""),
            tuple(
                sorted(
                    (Right.parse(m) for m in rights), key=lambda r: (r.affair, r.procedure or "")
                )
            ),
        )

    async def all(self) -> list[Requester]:
        codes = await self.r.call(self.r.client.zrange(self.k.requester_index, 0, -1))
        out = []
        for code in codes:
            req = await self.get(code)
            if req:
                out.append(req)
        return out
