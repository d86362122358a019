"""Who may do what in the console: every route is registered with a rule (the roles allowed,
or public), and its handler is wrapped so that the rule is checked before anything else runs:
the session (cookie → server-side record), the role, and for every state-changing request the
CSRF token. The wrapper also sets the security headers of every console response.

A route under /staff/ or /api/v1/ that was not added through `add_route` has no rule; the tests
walk the router and fail on such a route.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.errors import StoreUnavailable
from gateway.model import Session, session_digest
from gateway.services.console import console
from gateway.staff.render import FRAME_KEY, SESSION_KEY, error_page

SESSION_COOKIE = "hogo_session"
# Before login there is no session to hold a CSRF token: the login form carries the value of this
# cookie (double submit); SameSite=Strict keeps other sites from sending it.
PRE_COOKIE = "hogo_pre"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
DENIED_HEADER = "X-Access-Denied"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form
    # posts, and the Origin check below would have to trust "null" (sandboxed frames send it).
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    """`roles` empty: public (anyone, logged in or not); otherwise a logged-in user of one of them."""

    roles: frozenset[str]
    api: bool

    @property
    def public(self) -> bool:
        return not self.roles


def peer(request: web.Request) -> str:
    return request.remote or "unknown"


def route_of(request: web.Request) -> str:
    """The route a request matched, as registered (`/api/v1/held/{id}`): never its values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource else ""


async def current_session(request: web.Request) -> Session | None:
    """The live session of this request (looked up once), or None."""
    if SESSION_KEY in request:
        return request[SESSION_KEY]  # type: ignore[return-value]
    session = None
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and len(sid) < 200:
        c = console(request)
        session = await c.sessions.touch(
            session_digest(sid), c.gw.settings.staff_session_idle_seconds * 1000
        )
    request[SESSION_KEY] = session
    return session


def session_of(request: web.Request) -> Session:
    """The session of a request that passed a non-public rule."""
    session = request.get(SESSION_KEY)
    assert isinstance(session, Session)
    return session


def set_session_cookie(request: web.Request, resp: web.StreamResponse, session_id: str) -> None:
    resp.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    resp.del_cookie(PRE_COOKIE, path="/")


def clear_session_cookie(resp: web.StreamResponse) -> None:
    resp.del_cookie(SESSION_COOKIE, path="/")


def pre_token(request: web.Request, resp: web.StreamResponse) -> str:
    """The login form's CSRF token: the pre-session cookie's value, set on `resp` if missing."""
    token = request.cookies.get(PRE_COOKIE, "")
    if not (20 <= len(token) <= 100):
        token = secrets.token_urlsafe(32)
        resp.set_cookie(
            PRE_COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
    return token


async def _presented_token(request: web.Request, rule: Rule) -> str:
    if rule.api:
        return request.headers.get(CSRF_HEADER, "")
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD, "")
        return value if isinstance(value, str) else ""
    return ""


def _same_origin(request: web.Request) -> bool:
    """A browser's Origin, when it sends one, must be this console's own; without one, the
    fetch metadata (if any) must not say the request came from another site."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.host}"
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


async def _csrf_ok(request: web.Request, rule: Rule, session: Session | None) -> bool:
    if not _same_origin(request):
        return False
    presented = await _presented_token(request, rule)
    expected = session.csrf if session is not None else request.cookies.get(PRE_COOKIE, "")
    return bool(presented and expected) and hmac.compare_digest(presented, expected)


def _denied(request: web.Request, rule: Rule, why: str, status: int) -> web.StreamResponse:
    if rule.api:
        resp: web.StreamResponse = web.json_response({"error": why}, status=status)
    elif why == "login":
        resp = web.Response(status=303, headers={"Location": "/staff/login"})
    else:
        resp = error_page(request, f"err.denied_{why}", status)
    resp.headers[DENIED_HEADER] = why
    return resp


def _unavailable(request: web.Request, rule: Rule) -> web.StreamResponse:
    if rule.api:
        return web.json_response({"error": "store_unavailable"}, status=503)
    return error_page(request, "err.store", 503)


def guarded(handler: Handler, rule: Rule) -> Handler:
    async def guard(request: web.Request) -> web.StreamResponse:
        try:
            resp = await _check_and_run(request, handler, rule)
        except web.HTTPException as exc:
            for k, v in SECURITY_HEADERS.items():
                exc.headers.setdefault(k, v)
            raise
        except StoreUnavailable:
            resp = _unavailable(request, rule)
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    guard.rule = rule  # type: ignore[attr-defined]
    guard.__name__ = getattr(handler, "__name__", "guard")
    guard.__doc__ = handler.__doc__
    return guard


async def _check_and_run(request: web.Request, handler: Handler, rule: Rule) -> web.StreamResponse:
    c = console(request)
    unsafe = request.method not in SAFE_METHODS
    session = None
    if not rule.public:
        session = await current_session(request)
        if session is None:
            return _denied(request, rule, "login", 401)
        if session.role not in rule.roles:
            await c.gw.events.security(
                "access_denied",
                session.actor,
                route=route_of(request),
                method=request.method,
                role=session.role,
            )
            return _denied(request, rule, "role", 403)
    if unsafe and not await _csrf_ok(request, rule, session):
        await c.gw.events.security(
            "csrf_refused",
            session.actor if session else f"peer:{peer(request)}",
            method=request.method,
        )
        return _denied(request, rule, "csrf", 403)
    if session is not None and not rule.api:
        request[FRAME_KEY] = await c.frame(session)
    return await handler(request)


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    roles: frozenset[str] | set[str] = PUBLIC,
    *,
    api: bool = False,
) -> None:
    app.router.add_route(method, path, guarded(handler, Rule(frozenset(roles), api)))
