"""The gateway's listeners: one application served on one or more addresses, each with its TLS.

The main listener (--host/--port) serves every service that has no listener of its own; the
citizen portal, the staff console and the operator's endpoints can each be moved to a separate
address (--portal-listen, --staff-listen, --ops-listen) with their own TLS settings. A request
for a service on a listener that does not serve it is answered 404, as if the path did not exist.

The operator's /readyz and /metrics (counters by hold reason and portal outcome, the store's and
the upstream's state) must tell a requester or the portal nothing: without an ops listener of
their own they are served only to peers on loopback (`ops_guard`), and 404 to anyone else.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway import metrics
from gateway.endpoints import GATEWAY
from gateway.lean.listener import provision_server
from gateway.lean.server import LeanServer
from gateway.settings import Listener, Settings, is_loopback
from gateway.tls import RefusalLimiter, expiry_times, schedule, server_context

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LIVENESS = "/healthz"  # answered on every listener: it says only that the process lives


def service_of(path: str) -> str:
    """Which service a path belongs to. Everything that is not a SOAP service or an operator's
    endpoint is the staff console's (/staff/, /api/v1/, and whatever pages it adds)."""
    if path == "/soap/provision":
        return "provision"
    if path == "/soap/portal":
        return "portal"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "ops"
    return "staff"


def listener_guard(listeners: list[Listener]) -> Middleware:
    """Middleware: each listener answers only for its own services."""
    by_port = {listener.port: listener for listener in listeners}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        listener = by_port.get(sockname[1]) if sockname else None
        if listener is None or not (
            request.path == LIVENESS or service_of(request.path) in listener.services
        ):
            raise web.HTTPNotFound()
        return await handler(request)

    return guard


def peer_is_loopback(peername: object) -> bool:
    """Whether a socket's peer (`get_extra_info("peername")`) is a loopback address. An IPv4
    peer on a dual-stack socket (::ffff:127.0.0.1) is; a name, a Unix socket or nothing is not."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return False
    try:
        ip = ipaddress.ip_address(peername[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def ops_guard(settings: Settings) -> Middleware:
    """Middleware: /readyz and /metrics on the ops listener (whoever reaches it: its address and
    TLS decide who may), otherwise to loopback peers only. The peer is the socket's, never a
    forwarded header; a reverse proxy on the same host would be loopback, so behind one the
    operator gives the ops endpoints a listener of their own."""
    ops_ports = {
        listener.port for listener in settings.listeners() if listener.services == ("ops",)
    }

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != LIVENESS and service_of(request.path) == "ops":
            transport = request.transport
            sockname = transport.get_extra_info("sockname") if transport else None
            on_ops_listener = bool(sockname) and sockname[1] in ops_ports
            peer = transport.get_extra_info("peername") if transport else None
            if not on_ops_listener and not peer_is_loopback(peer):
                raise web.HTTPNotFound()
        return await handler(request)

    return guard


def _refusal_reporter(app: web.Application, listener: Listener) -> RefusalLimiter:
    pending: set[asyncio.Task[Any]] = set()

    def report(reason: str, detail: str) -> None:
        gw = app.get(GATEWAY)
        if gw is not None:
            schedule(
                gw.events.security(
                    "tls_refused",
                    f"listener:{listener.name}",
                    listener=listener.name,
                    reason=reason,
                    detail=detail,
                ),
                pending,
            )

    return RefusalLimiter(report)


def describe(listener: Listener) -> str:
    services = ", ".join(listener.services)
    if listener.tls is None:
        where = "loopback only" if is_loopback(listener.host) else "INSECURE, not loopback"
        return f"{listener.url} plain HTTP ({where}; no client certificates): {services}"
    mtls = (
        "client certificates required"
        if listener.tls.client_ca
        else "no client certificates asked for"
    )
    return f"{listener.url} TLS ({mtls}): {services}"


def check_plain_http(settings: Settings) -> str | None:
    """Why these listeners may not start, or None: plain HTTP off loopback needs --insecure-http."""
    for listener in settings.listeners():
        if listener.tls is None and not is_loopback(listener.host) and not settings.insecure_http:
            return (
                f"refusing plain HTTP on {listener.host}:{listener.port} ({listener.name}); "
                "configure TLS or pass --insecure-http"
            )
    return None


class Listeners(web.AppRunner):
    """The application's runner, and the lean server on the main listener when provision is
    served by it (`HOGO_PROVISION_ON_AIOHTTP=0`): `cleanup` drains both (SIGTERM)."""

    lean: LeanServer | None = None

    async def cleanup(self) -> None:
        if self.lean is not None:
            # no new connection; requests already read answered; then the application's
            await self.lean.shutdown(self._shutdown_timeout)
        await super().cleanup()


async def start_listeners(
    app: web.Application, settings: Settings, *, reuse_port: bool = False
) -> Listeners:
    """Set up `app` and listen on every configured address; the caller cleans the runner up.

    The main listener (which serves /soap/provision) is the lean server unless
    HOGO_PROVISION_ON_AIOHTTP=1: it answers the provision requests and hands any connection
    whose next request is for another path to `app` (gateway/lean/listener.py)."""
    listeners = settings.listeners()
    if len(listeners) > 1:
        app.middlewares.append(listener_guard(listeners))
    runner = Listeners(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        for listener in listeners:
            if listener.tls is not None:
                for what, at in expiry_times(listener.tls).items():
                    metrics.TLS_EXPIRY.labels(listener.name, what).set(at)
            ssl_context = (
                server_context(listener.tls, _refusal_reporter(app, listener))
                if listener.tls
                else None
            )
            if "provision" in listener.services and not settings.provision_on_aiohttp:
                runner.lean = provision_server(app[GATEWAY], runner)
                await runner.lean.start(
                    listener.host, listener.port, ssl_context=ssl_context, reuse_port=reuse_port
                )
                continue
            site = web.TCPSite(
                runner,
                listener.host,
                listener.port,
                ssl_context=ssl_context,
                reuse_address=True,
                reuse_port=reuse_port or None,
            )
            await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
