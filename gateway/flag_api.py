"""The departments' read API (JSON): a person's flag state, and a holding department's renewals.

    GET /api/v1/flags/{atena_number}       -> {"atena_number", "name", "victim"} and nothing else
    GET /api/v1/flags/due?within=N         -> a holding department's own renewal list

Callers are business systems holding a bearer token for one department and business
(`hogo-gateway departments token issue`); who may read what is `gateway.departments.reach`.
Every read is an event (token, department, business, operator, person key) written in the same
atomic step as the read; every refusal is a security event. A store that cannot be reached gives
503: nothing is answered without its record.
"""

from __future__ import annotations

import re

from aiohttp import web

from gateway import departments, flags, metrics
from gateway.departments import Reach
from gateway.endpoints import GATEWAY
from gateway.store.departments import DepartmentToken
from gateway.store.redis import StoreUnavailable

OPERATOR = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
OPERATOR_HEADER = "X-Hogo-Operator"  # the member of staff at the business system, if it says


class ApiRefusal(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _json(data: object, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store", **headers})


def _refusal(exc: ApiRefusal) -> web.Response:
    extra = {"WWW-Authenticate": 'Bearer realm="hogo-gateway"'} if exc.status == 401 else {}
    if exc.status == 429:
        extra = {"Retry-After": "60"}
    return _json({"error": exc.error, "message": exc.message}, exc.status, **extra)


async def _caller(request: web.Request, operation: str) -> tuple[DepartmentToken, str]:
    """The token's department and business, and the operator named by the business system."""
    gw = request.app[GATEWAY]
    peer = f"peer:{request.remote or 'unknown'}"
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    found = None
    if scheme.lower() == "bearer" and token.strip():
        found = await departments.tokens(gw).authenticate(token.strip())
    if found is None:
        await gw.events.security(
            "api_unauthorized",
            peer,
            operation=operation,
            reason="no_token" if not header else "bad_token",
        )
        raise ApiRefusal(401, "unauthorized", "a valid department token is required")
    operator = request.headers.get(OPERATOR_HEADER, "")
    if operator and not OPERATOR.match(operator):
        await gw.events.security(
            "api_bad_input",
            f"dept-token:{found.id}",
            operation=operation,
            department=found.department,
            business=found.business,
            reason="operator",
        )
        raise ApiRefusal(400, "bad_request", f"{OPERATOR_HEADER} must match {OPERATOR.pattern}")
    return found, operator


async def _within_rate(request: web.Request, token: DepartmentToken, operator: str) -> None:
    """Refuse (429) a read over the token's limit per minute (`flag_api_reads_per_minute`)."""
    gw = request.app[GATEWAY]
    limit = gw.settings.flag_api_reads_per_minute
    if limit <= 0:
        return
    within, _ = await departments.tokens(gw).count_read(
        token,
        limit,
        60,
        operation="flags.read",
        department=token.department,
        business=token.business,
        operator=operator,
    )
    if not within:
        metrics.API_RATE_REFUSED.labels(token.department).inc()
        raise ApiRefusal(429, "too_many_requests", f"at most {limit} reads a minute per token")


async def _bad_input(
    request: web.Request, token: DepartmentToken, operation: str, reason: str, message: str
) -> ApiRefusal:
    """A business system's bad input, recorded as a security event; the 400 to answer it with."""
    await request.app[GATEWAY].events.security(
        "api_bad_input",
        f"dept-token:{token.id}",
        operation=operation,
        department=token.department,
        business=token.business,
        reason=reason,
    )
    return ApiRefusal(400, "bad_request", message)


def _unavailable() -> web.Response:
    """The store is down: the caller tries again later (nothing was read)."""
    return _json({"error": "temporarily_unavailable", "message": "try again later"}, 503)


async def read_flag(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        token, operator = await _caller(request, "flags.read")
        actor = f"dept-token:{token.id}"
        atena_number = request.match_info["atena_number"]
        try:
            flags.check_atena_number(atena_number)
        except ValueError as exc:
            raise await _bad_input(request, token, "flags.read", "atena_number", str(exc)) from None
        await _within_rate(request, token, operator)
        where = departments.reach(token.department, token.business)
        if where is Reach.NONE:
            # refused in the store, which tells the person's holding departments in the same step;
            # with the store down, the refusal is still recorded (spooled, to be appended later)
            try:
                await gw.flags.read_for_department(
                    atena_number,
                    department=token.department,
                    business=token.business,
                    mode="outside",
                    actor=actor,
                    operator=operator,
                )
            except StoreUnavailable:
                await gw.events.security(
                    "flag_read_refused",
                    actor,
                    operation="flags.read",
                    subject=gw.keyring.person_key("atena", atena_number),
                    department=token.department,
                    business=token.business,
                    operator=operator,
                    reason="outside_annexes",
                )
            raise ApiRefusal(
                403, "forbidden", "this department and business may not read flags (annexes 1, 2)"
            )
        result = await gw.flags.read_for_department(
            atena_number,
            department=token.department,
            business=token.business,
            # a holding department alone: from its own hold, only while that is on
            mode="held" if where is Reach.OWN else "any",
            actor=actor,
            operator=operator,
        )
        if result is None:
            raise ApiRefusal(
                403, "forbidden", "a holding department reads only persons it holds a flag on"
            )
        victim, name = result
    except ApiRefusal as exc:
        return _refusal(exc)
    except StoreUnavailable:
        return _unavailable()
    # Exactly the three items the council approved: nothing about which flag, who, or since when.
    return _json({"atena_number": atena_number, "name": name, "victim": victim})


async def due_flags(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        token, operator = await _caller(request, "flags.due")
        actor = f"dept-token:{token.id}"
        raw = request.query.get("within", str(flags.RENEWAL_WINDOW_DAYS))
        if not raw.isdigit() or int(raw) > flags.MAX_WINDOW_DAYS:
            raise await _bad_input(
                request,
                token,
                "flags.due",
                "within",
                f"within is a number of days, 0-{flags.MAX_WINDOW_DAYS}",
            )
        if not departments.may_list_renewals(token.department, token.business):
            await gw.events.security(
                "flag_read_refused",
                actor,
                operation="flags.due",
                department=token.department,
                business=token.business,
                operator=operator,
                reason="not_a_holding_department",
            )
            raise ApiRefusal(403, "forbidden", "only holding departments (annex 1) list renewals")
        within = int(raw)
        items = await flags.read_due(
            gw,
            actor=actor,
            within_days=within,
            department=token.department,
            business=token.business,
            operator=operator,
        )
    except ApiRefusal as exc:
        return _refusal(exc)
    except StoreUnavailable:
        return _unavailable()
    return _json(
        {
            "department": token.department,
            "within_days": within,
            "today": gw.clock.today().isoformat(),
            "items": [i.as_json() for i in items],
        }
    )


def add_routes(app: web.Application) -> None:
    # `due` first: the variable route below would take it for an atena number otherwise
    app.router.add_get("/api/v1/flags/due", due_flags)
    app.router.add_get("/api/v1/flags/{atena_number}", read_flag)
