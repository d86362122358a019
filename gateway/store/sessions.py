"""Server-side sessions of the staff console, with idle and absolute expiry.

The browser holds a random session id; the store keeps only its SHA-256 digest, so a copy of the
store opens no session. Both ends are fields checked against the gateway's clock on every request
(the idle one renewed by it); the key's expiry follows the nearer one, only to clear it away.
"""

from __future__ import annotations

import json

from gateway.model import Session as Session
from gateway.model import session_digest as session_digest
from gateway.store.redis import Redis
from gateway.store.replies import LoginReply, LogoutReply, SessionReply


class SessionStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def open(
        self,
        digest: str,
        login: str,
        password_hash: str,
        csrf: str,
        idle_ms: int,
        absolute_ms: int,
        peer: str,
    ) -> str | None:
        """Open a session for a verified login; the reason when it was refused after all."""
        res = await self.r.script(
            "staff_login_ok",
            [self.k.staff_user(login), self.k.staff_session(digest)],
            [login, password_hash, csrf, idle_ms, absolute_ms, peer],
        )
        reply = LoginReply.from_reply(res)
        return None if reply.outcome == "ok" else reply.detail

    async def touch(self, digest: str, idle_ms: int) -> Session | None:
        """The live session behind `digest`, kept alive; None if it ended or never was."""
        res = await self.r.script("staff_session", [self.k.staff_session(digest)], [idle_ms])
        reply = SessionReply.from_reply(res)
        if reply.outcome != "ok":
            return None
        login, role, department, csrf, flash = (
            reply.text(name) for name in ("login", "role", "department", "csrf", "flash")
        )
        shown = None
        if flash:
            level, key, params = json.loads(flash)
            shown = (level, key, params)
        return Session(digest, login, role, department, csrf, shown)

    async def flash(self, digest: str, level: str, key: str, params: dict[str, str]) -> None:
        """A message for the next page (after a redirect). Keys and codes only, no personal data."""
        await self.r.script(
            "staff_flash",
            [self.k.staff_session(digest)],
            [json.dumps([level, key, params], ensure_ascii=False)],
        )

    async def close(self, digest: str) -> bool:
        res = await self.r.script("staff_logout", [self.k.staff_session(digest)], [])
        return LogoutReply.from_reply(res).outcome == "ok"
