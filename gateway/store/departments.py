"""API tokens of the departments' business systems: one per department and business.

A token is shown once when issued and kept only as its SHA-256 (a token is 256 random bits, so a
plain hash is enough to make a stolen store useless for calling the API). A token is revoked by
its id, which is printed with it and is not secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from gateway import metrics
from gateway.store.redis import Redis
from gateway.store.replies import RateReply

TOKEN_PREFIX = "hgd"
_TOKEN = re.compile(r"^hgd_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class DepartmentToken:
    id: str
    department: str
    business: str
    label: str
    issued_at: str
    issued_by: str
    revoked_at: str = ""
    revoked_by: str = ""

    @property
    def active(self) -> bool:
        return not self.revoked_at

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "department": self.department,
            "business": self.business,
            "label": self.label,
            "issued_at": self.issued_at,
            "issued_by": self.issued_by,
            "revoked_at": self.revoked_at or None,
            "revoked_by": self.revoked_by or None,
            "active": self.active,
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DepartmentTokenStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def issue(
        self, department: str, business: str, label: str, actor: str
    ) -> tuple[str, DepartmentToken]:
        """A new token (the only time it exists in clear) and its record."""
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        iso, ms = self.r.clock.stamp()
        pipe = self.r.client.pipeline(transaction=True)
        pipe.hset(
            self.k.department_token(token_id),
            mapping={
                "id": token_id,
                "department": department,
                "business": business,
                "label": label,
                "hash": token_hash(token),
                "issued_at": iso,
                "issued_by": actor,
            },
        )
        pipe.zadd(self.k.department_token_index, {token_id: ms})
        pipe.xadd(
            self.k.events,
            {
                "kind": "department.token_issued",
                "at": iso,
                "actor": actor,
                "token": token_id,
                "department": department,
                "business": business,
            },
        )
        await self.r.call(pipe.execute())
        return token, DepartmentToken(token_id, department, business, label, iso, actor)

    async def revoke(self, token_id: str, actor: str) -> DepartmentToken | None:
        """Revoke at once; None when there is no such token. Revoking twice changes nothing."""
        current = await self.get(token_id)
        if current is None or not current.active:
            return current
        iso, _ = self.r.clock.stamp()
        pipe = self.r.client.pipeline(transaction=True)
        pipe.hset(
            self.k.department_token(token_id), mapping={"revoked_at": iso, "revoked_by": actor}
        )
        pipe.xadd(
            self.k.events,
            {
                "kind": "department.token_revoked",
                "at": iso,
                "actor": actor,
                "token": token_id,
                "department": current.department,
                "business": current.business,
            },
        )
        await self.r.call(pipe.execute())
        return await self.get(token_id)

    async def get(self, token_id: str) -> DepartmentToken | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.department_token(token_id)))
        return _token(raw) if raw else None

    async def all(self) -> list[DepartmentToken]:
        ids = await self.r.call(self.r.client.zrange(self.k.department_token_index, 0, -1))
        out = []
        for token_id in ids:
            t = await self.get(token_id)
            if t:
                out.append(t)
        return out

    async def count_read(
        self, token: DepartmentToken, limit: int, window_s: int, **fields: str
    ) -> tuple[bool, bool]:
        """Count one read by `token`: (within the limit, recorded as a security event now).
        Fixed windows of `window_s` seconds, shared by every gateway process."""
        window = self.r.clock.now_ms() // (window_s * 1000)
        args: list[object] = [window_s * 1000, limit, f"dept-token:{token.id}"]
        for name, value in fields.items():
            args += [name, value]
        res = await self.r.script(
            "rate_count",
            [self.k.department_token_reads(token.id, window)],
            args,
            acknowledged=False,  # a counter: losing it in a failover only forgives a window
        )
        # decided by the script's table (gateway/rate_rules.py read_counted), not from the count
        outcome = RateReply.from_reply(res).outcome
        recorded = outcome == "refused_recorded"
        if recorded:
            metrics.SECURITY_EVENTS.labels("api_rate_limited").inc()
        return outcome == "ok", recorded

    async def authenticate(self, token: str) -> DepartmentToken | None:
        """The active token `token` is, or None (malformed, unknown, wrong secret, revoked)."""
        m = _TOKEN.match(token)
        if not m:
            return None
        raw = await self.r.call(self.r.client.hgetall(self.k.department_token(m.group(1))))
        if not raw or raw.get("revoked_at"):
            return None
        if not hmac.compare_digest(raw.get("hash", ""), token_hash(token)):
            return None
        return _token(raw)


def _token(raw: dict[str, str]) -> DepartmentToken:
    return DepartmentToken(
        id=raw["id"],
        department=raw.get("department", ""),
        business=raw.get("business", ""),
        label=raw.get("label", ""),
        issued_at=raw.get("issued_at", ""),
        issued_by=raw.get("issued_by", ""),
        revoked_at=raw.get("revoked_at", ""),
        revoked_by=raw.get("revoked_by", ""),
    )
