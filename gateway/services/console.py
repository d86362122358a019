"""The console's resources, made once per application from the gateway's: its stores, its
services and its templates. Handlers reach them through `console(request)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.context import Gateway
from gateway.endpoints import GATEWAY
from gateway.quarantine import Quarantines
from gateway.services.approvals import Approvals
from gateway.services.attempts import RegistrarAttempts
from gateway.services.auditing import Auditing
from gateway.services.patterns import Patterns
from gateway.store.claims import ClaimStore
from gateway.store.reviews import ReviewStore
from gateway.store.sessions import Session, SessionStore
from gateway.store.users import UserStore


@dataclass
class Console:
    gw: Gateway
    users: UserStore
    sessions: SessionStore
    approvals: Approvals
    auditing: Auditing
    quarantines: Quarantines  # subjects and persons held for review
    patterns: Patterns  # the auditors' pictures: counts kept up to date from the event log
    attempts: RegistrarAttempts  # each holding department's attempts, for its registrars

    @classmethod
    def of(cls, gw: Gateway) -> Console:
        claims = ClaimStore(gw.redis, gw.keyring)
        return cls(
            gw=gw,
            users=UserStore(gw.redis),
            sessions=SessionStore(gw.redis),
            approvals=Approvals(gw, claims),
            auditing=Auditing(gw, ReviewStore(gw.redis, gw.keyring)),
            quarantines=Quarantines.of(gw),
            patterns=Patterns(gw),
            attempts=RegistrarAttempts(gw),
        )

    async def frame(self, session: Session) -> dict[str, object]:
        """What the page frame shows besides the page: a registrar's count of their department's
        attempts not acknowledged yet (the header)."""
        if session.role == "registrar":
            return {"attempts_open": await self.attempts.open_count(session)}
        return {}


CONSOLE = web.AppKey("staff_console", Console)


def console(request: web.Request) -> Console:
    return request.app[CONSOLE]


async def console_context(app: web.Application) -> AsyncIterator[None]:
    """Runs after the gateway's own cleanup_ctx entry, which has opened `app[GATEWAY]`."""
    app[CONSOLE] = Console.of(app[GATEWAY])
    yield
