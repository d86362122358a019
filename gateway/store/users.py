"""Staff users of the console: login, role, department, password hash (argon2id), lock-out state.

Only the store layer: validation, hashing and the lock-out policy live in gateway.services.accounts.
Every change is one Lua script that records its event in the same atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import metrics
from gateway.errors import NoSuchUser as NoSuchUser
from gateway.errors import UserExists as UserExists
from gateway.store.redis import Redis
from gateway.store.replies import LoginFailedReply, UserAddReply, UserChangeReply


@dataclass(frozen=True, slots=True)
class StaffUser:
    login: str
    role: str
    department: str
    password_hash: str
    disabled: bool
    failed: int
    locked_until_ms: int
    created_at: str
    created_by: str
    updated_at: str
    last_login_at: str

    @property
    def actor(self) -> str:
        return f"staff:{self.login}"

    def locked(self, now_ms: int) -> bool:
        return self.locked_until_ms > now_ms

    def as_json(self, now_ms: int) -> dict[str, object]:
        """As shown to admins: never the password hash."""
        return {
            "login": self.login,
            "role": self.role,
            "department": self.department,
            "disabled": self.disabled,
            "locked": self.locked(now_ms),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "last_login_at": self.last_login_at or None,
        }


def _user(raw: dict[str, str]) -> StaffUser:
    return StaffUser(
        login=raw["login"],
        role=raw.get("role", ""),
        department=raw.get("department", ""),
        password_hash=raw.get("pw", ""),
        disabled=raw.get("disabled") == "1",
        failed=int(raw.get("failed") or 0),
        locked_until_ms=int(raw.get("locked_until") or 0),
        created_at=raw.get("created_at", ""),
        created_by=raw.get("created_by", ""),
        updated_at=raw.get("updated_at", ""),
        last_login_at=raw.get("last_login_at", ""),
    )


class UserStore:
    def __init__(self, redis: Redis) -> None:
        self.r = redis
        self.k = redis.keys

    async def add(
        self, login: str, role: str, department: str, password_hash: str, actor: str
    ) -> None:
        res = await self.r.script(
            "staff_user_add",
            [self.k.staff_user(login), self.k.staff_users],
            [login, role, department, password_hash, actor],
        )
        if UserAddReply.from_reply(res).outcome == "exists":
            raise UserExists(login)

    async def get(self, login: str) -> StaffUser | None:
        raw = await self.r.call(self.r.client.hgetall(self.k.staff_user(login)))
        return _user(raw) if raw else None

    async def all(self) -> list[StaffUser]:
        logins = await self.r.call(self.r.client.zrange(self.k.staff_users, 0, -1))
        if not logins:
            return []
        pipe = self.r.client.pipeline(transaction=False)
        for login in logins:
            pipe.hgetall(self.k.staff_user(login))
        return [_user(raw) for raw in await self.r.call(pipe.execute()) if raw]

    async def change(
        self,
        login: str,
        actor: str,
        kind: str,
        fields: dict[str, str],
        *,
        end_sessions: bool = False,
    ) -> None:
        """Set `fields` on the user and record event `kind`; `end_sessions` logs them out."""
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, v]
        res = await self.r.script(
            "staff_user_change",
            [self.k.staff_user(login)],
            [login, actor, kind, "1" if end_sessions else "0", *flat],
        )
        if UserChangeReply.from_reply(res).outcome == "missing":
            raise NoSuchUser(login)

    async def login_failed(
        self, login: str, shown_as: str, peer: str, reason: str, attempts: int, lockout_ms: int
    ) -> bool:
        """Record a failed login; True when this failure locked the login."""
        res = await self.r.script(
            "staff_login_failed",
            [self.k.staff_user(login)],
            [shown_as, peer, reason, attempts, lockout_ms],
        )
        # the script recorded security.login_failed, and security.login_locked when it locked
        locked = LoginFailedReply.from_reply(res).outcome == "locked"
        metrics.SECURITY_EVENTS.labels("login_failed").inc()
        if locked:
            metrics.SECURITY_EVENTS.labels("login_locked").inc()
        return locked
