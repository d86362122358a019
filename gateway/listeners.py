"""The gateway's listeners: one application served on one or more addresses, each with its TLS.

The main listener (--host/--port) serves every service that has no listener of its own; the
citizen portal, the staff console and the operator's endpoints can each be moved to a separate
address (--portal-listen, --staff-listen, --ops-listen) with their own TLS settings. A request
for a service on a listener that does not serve it is answered 404, as if the path did not exist.

A listener may ask for port 0: the system then gives it a free port as it binds (no port is
picked first and bound later, which another process could take in between), and the listener
as bound (`Listening.listeners`) says which.

The operator's /readyz and /metrics (counters by hold reason and portal outcome, the store's and
the upstream's state) must tell a requester or the portal nothing: without an ops listener of
their own they are served only to peers on loopback (`ops_guard`), and 404 to anyone else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
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
# The listeners as bound, by the port each got (filled as they bind; the guards read it).
BOUND = web.AppKey("bound_listeners", dict[int, Listener])


def _bound(request: web.Request) -> dict[int, Listener]:
    return request.app.get(BOUND) or {}


def _listener_of(request: web.Request) -> Listener | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return _bound(request).get(sockname[1]) if sockname else None


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


def listener_guard() -> Middleware:
    """Middleware: each listener answers only for its own services."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        listener = _listener_of(request)
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


def ops_guard() -> Middleware:
    """Middleware: /readyz and /metrics on the ops listener (whoever reaches it: its address and
    TLS decide who may), otherwise to loopback peers only. The peer is the socket's, never a
    forwarded header; a reverse proxy on the same host would be loopback, so behind one the
    operator gives the ops endpoints a listener of their own."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != LIVENESS and service_of(request.path) == "ops":
            listener = _listener_of(request)
            on_ops_listener = listener is not None and listener.services == ("ops",)
            transport = request.transport
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


@dataclasses.dataclass
class Listening:
    """The runner of an application that listens, and its listeners as bound (a port asked as 0
    is the port the system gave)."""

    runner: web.AppRunner
    listeners: list[Listener]

    @property
    def url(self) -> str:
        """The main listener's URL."""
        return self.listeners[0].url

    def as_json(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "listeners": [
                {
                    "name": listener.name,
                    "host": listener.host,
                    "port": listener.port,
                    "url": listener.url,
                    "services": list(listener.services),
                }
                for listener in self.listeners
            ],
        }

    def write_ready_file(self, path: Path) -> None:
        """Every listener's address as JSON in `path`, once all listen (`serve --ready-file`):
        written aside and renamed, so a reader never sees half of it."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.as_json()) + "\n")
        tmp.replace(path)

    async def cleanup(self) -> None:
        await self.runner.cleanup()


def bound_port(runner: web.BaseRunner, before: set[Any]) -> int:
    """The port the site just started on `runner` got: the one address it listens on that
    `before` (the runner's addresses until then) did not have. A host name that resolves to
    several addresses, bound to port 0, would get a port for each: refused."""
    new = [address for address in runner.addresses if address not in before]
    ports = {address[1] for address in new}
    if len(ports) != 1:
        raise OSError(f"a listener asked for any free port got {sorted(ports)}: name one address")
    return ports.pop()


async def listen(runner: web.BaseRunner, host: str, port: int = 0, **site: Any) -> int:
    """Start one TCP site of `runner` on host:port (0: any free port); the port it got."""
    before = set(runner.addresses)
    await web.TCPSite(runner, host, port, **site).start()
    return bound_port(runner, before)


async def start_listeners(
    app: web.Application, settings: Settings, *, reuse_port: bool = False
) -> Listening:
    """Set up `app` and listen on every configured address; the caller cleans it up.

    The main listener (which serves /soap/provision) is the lean server unless
    HOGO_PROVISION_ON_AIOHTTP=1: it answers the provision requests and hands any connection
    whose next request is for another path to `app` (gateway/lean/listener.py)."""
    listeners = settings.listeners()
    bound: dict[int, Listener] = {}
    app[BOUND] = bound
    if len(listeners) > 1:
        app.middlewares.append(listener_guard())
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
                if runner.lean is None:
                    runner.lean = provision_server(app[GATEWAY], runner)
                server = await runner.lean.start(
                    listener.host, listener.port, ssl_context=ssl_context, reuse_port=reuse_port
                )
                port = server.sockets[0].getsockname()[1]
                bound[port] = dataclasses.replace(listener, port=port)
                continue
            port = await listen(
                runner,
                listener.host,
                listener.port,
                ssl_context=ssl_context,
                reuse_address=True,
                reuse_port=reuse_port or None,
            )
            bound[port] = dataclasses.replace(listener, port=port)
    except BaseException:
        await runner.cleanup()
        raise
    return Listening(runner, list(bound.values()))
