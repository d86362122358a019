"""Staff accounts: roles, what a login and a password must look like, argon2id hashing, and the
login itself with its lock-out. Shared by the console, its API and `hogo-gateway users`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway import annex
from gateway.settings import Settings
from gateway.store.sessions import SessionStore, session_digest
from gateway.store.users import NoSuchUser, StaffUser, UserExists, UserStore

# registrar: the holding departments' staff who set flags (保有課); approver: answers held
# queries (取扱注意); auditor: the security team; admin: accounts and requesters.
ROLES = ("registrar", "approver", "auditor", "admin")
LOGIN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256
MAX_DEPARTMENT = 40
T = TypeVar("T")

# argon2id with the library's defaults (RFC 9106's second recommended profile: t=3, 64 MiB, p=4).
_hasher = PasswordHasher()
# Hashing runs on its own two threads: a flood of login attempts queues here, and can take
# neither the event loop nor more than two cores' worth of time from the gateway's real work.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


async def _in_hashing_pool(fn: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, fn, *args)


class AccountError(ValueError):
    """A refused account change; `code` is a message key of the console's catalog."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def check_login(login: str) -> None:
    if not LOGIN.match(login):
        raise AccountError("err.login_format")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError("err.role")


def check_department(department: str) -> None:
    if not department.strip() or len(department) > MAX_DEPARTMENT:
        raise AccountError("err.department")


def account_department(role: str, department: str) -> str:
    """The department as the account records it. A registrar's must be a holding department of
    annex 1, recorded in the annex's spelling: the flag rules let no other department set flags or
    ask for releases, so a registrar anywhere else could do nothing. Other roles' as typed."""
    check_department(department)
    if role != "registrar":
        return department.strip()
    registrations = annex.holding().businesses(department)
    if not registrations:
        raise AccountError("err.registrar_department", department=department.strip())
    return registrations[0].department


def check_password(password: str) -> None:
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD) or password.strip() != password:
        raise AccountError("err.password_policy", min=str(MIN_PASSWORD))


async def hash_password(password: str) -> str:
    return await _in_hashing_pool(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify_nobody(password: str) -> bool:
    """Verify against a hash of nobody's, so that timing does not tell that there is no user."""
    _verify(_dummy_hash(), password)
    return False


async def add_user(
    users: UserStore, login: str, role: str, department: str, password: str, actor: str
) -> None:
    check_login(login)
    check_role(role)
    department = account_department(role, department)
    check_password(password)
    try:
        await users.add(login, role, department, await hash_password(password), actor)
    except UserExists:
        raise AccountError("err.login_taken") from None


async def _change(
    users: UserStore, login: str, actor: str, kind: str, fields: dict[str, str], end: bool
) -> None:
    try:
        await users.change(login, actor, kind, fields, end_sessions=end)
    except NoSuchUser:
        raise AccountError("err.no_user") from None


async def set_password(users: UserStore, login: str, password: str, actor: str) -> None:
    """A new password; the user's sessions end and a lock-out is lifted."""
    check_password(password)
    fields = {"pw": await hash_password(password), "failed": "0", "locked_until": "0"}
    await _change(users, login, actor, "staff.password_set", fields, True)


async def set_disabled(users: UserStore, login: str, disabled: bool, actor: str) -> None:
    kind = "staff.user_disabled" if disabled else "staff.user_enabled"
    await _change(users, login, actor, kind, {"disabled": "1" if disabled else "0"}, disabled)


async def unlock(users: UserStore, login: str, actor: str) -> None:
    await _change(
        users, login, actor, "staff.user_unlocked", {"failed": "0", "locked_until": "0"}, False
    )


async def change_role(users: UserStore, login: str, role: str, department: str, actor: str) -> None:
    """A new role or department takes effect on the user's next request (sessions read it)."""
    check_role(role)
    fields = {"role": role, "department": account_department(role, department)}
    await _change(users, login, actor, "staff.user_changed", fields, False)


@dataclass(frozen=True, slots=True)
class LoginResult:
    ok: bool
    session_id: str = ""
    csrf: str = ""
    user: StaffUser | None = None


async def log_in(
    users: UserStore,
    sessions: SessionStore,
    settings: Settings,
    login: str,
    password: str,
    peer: str,
) -> LoginResult:
    """Check a password and open a session; every failure is a security event.

    Unknown, disabled and locked logins cost the same hashing time as a wrong password, and give
    the same answer, so that the login form tells nobody which logins exist.
    """
    user = await users.get(login) if LOGIN.match(login) else None
    ms = users.r.clock.now_ms()
    if user is None:
        await _in_hashing_pool(_verify_nobody, password)
        reason = "unknown_login"
    elif user.disabled or user.locked(ms):
        await _in_hashing_pool(_verify_nobody, password)
        reason = "disabled" if user.disabled else "locked"
    elif await _in_hashing_pool(_verify, user.password_hash, password):
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        refused = await sessions.open(
            session_digest(session_id),
            user.login,
            user.password_hash,
            csrf,
            settings.staff_session_idle_seconds * 1000,
            settings.staff_session_absolute_seconds * 1000,
            peer,
        )
        if refused is None:
            return LoginResult(True, session_id, csrf, user)
        reason = refused
    else:
        reason = "password"
    await users.login_failed(
        user.login if user else "",
        user.login if user else "(unknown)",
        peer,
        reason,
        settings.staff_lockout_attempts,
        settings.staff_lockout_seconds * 1000,
    )
    return LoginResult(False)
