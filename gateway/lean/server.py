"""The lean provision listener: HTTP/1.1 on asyncio Protocols with httptools (llhttp).

`LeanServer` listens (TLS optional, SO_REUSEPORT for --workers N), routes each request by method
and path to a handler `async def handle(request) -> Response`, and drains on `shutdown`; each
connection is a `gateway.lean.connection.Connection`. `run_until_signal` serves until SIGTERM
or SIGINT, then drains.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from gateway.lean.connection import Connection
from gateway.lean.http import DateCache, Handler, Limits, Peer, Request, Response, plain

log = logging.getLogger("hogo.lean")

Refused = Callable[[str, str, Peer], None]  # (reason, detail, peer)
# the 413 answer (e.g. the SOAP fault), or a handler giving it (run like a request's handler:
# what it records is recorded before the answer goes out)
TooLarge = Callable[[Request], Response | Handler]
# Takes over a connection whose next request is for a path this server has no route for, with
# the bytes read from that request on (e.g. to the aiohttp application serving the rest).
Handoff = Callable[[asyncio.Transport, bytes], None]


class Routes:
    """Which handler answers a method and path; 404 and 405 (with Allow) as aiohttp answers
    them. A GET route answers HEAD too, without a body."""

    def __init__(self, routes: Mapping[tuple[str, str], Handler]) -> None:
        self._by_path: dict[str, dict[str, Handler]] = {}
        for (method, path), handler in routes.items():
            self._by_path.setdefault(path, {})[method] = handler
            if method == "GET":
                self._by_path[path].setdefault("HEAD", handler)
        self._not_allowed = {
            path: plain(405, ((b"allow", ",".join(sorted(methods)).encode()),))
            for path, methods in self._by_path.items()
        }
        self._not_found = plain(404)

    def paths(self) -> list[str]:
        return list(self._by_path)

    def resolve(self, method: str, path: str) -> Handler | Response:
        methods = self._by_path.get(path)
        if methods is None:
            return self._not_found
        return methods.get(method) or self._not_allowed[path]


def _too_large_default(request: Request) -> Response:
    return plain(413)


class LeanServer:
    """The listener: routes, limits and hooks; `start` on an address, `shutdown` to drain.

    `too_large(request)` gives the 413 answer (the request has method, path and headers, no
    body); `on_refused(reason, detail, peer)` hears of every refused request or connection
    (malformed, over a limit, too slow, a client that does not read), for the security events.
    With `handoff`, a connection whose next request (at a request boundary) is for a path
    without a route here is handed over to it, with every byte from that request on.
    """

    def __init__(
        self,
        routes: Routes,
        *,
        limits: Limits | None = None,
        too_large: TooLarge | None = None,
        on_refused: Refused | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        self.routes = routes
        self.handoff = handoff
        # the paths kept when handing over (only asked of the routes then)
        self.own_paths = (
            frozenset(path.encode() for path in routes.paths()) if handoff else frozenset()
        )
        self.limits = limits or Limits()
        self.too_large = too_large or _too_large_default
        self.on_refused = on_refused
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.dates = DateCache()
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._servers: list[asyncio.AbstractServer] = []
        self._ticker: asyncio.TimerHandle | None = None
        self._all_closed: asyncio.Event | None = None
        self._port = 0
        self.clock = 0.0  # the loop's time at the last tick, for the connections' deadlines
        shortest = min(
            self.limits.head_timeout,
            self.limits.body_timeout,
            self.limits.idle_timeout,
            self.limits.send_timeout,
            self.limits.linger_timeout,
        )
        self._tick = max(0.02, min(0.5, shortest / 4))

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
        backlog: int = 1024,
    ) -> asyncio.AbstractServer:
        """Listen on host:port (SO_REUSEPORT with `reuse_port`, for --workers N)."""
        self.loop = asyncio.get_running_loop()
        self.clock = self.loop.time()
        kwargs: dict[str, Any] = {}
        if ssl_context is not None:
            kwargs["ssl_handshake_timeout"] = self.limits.handshake_timeout
        server = await self.loop.create_server(
            lambda: Connection(self),
            host,
            port,
            ssl=ssl_context,
            reuse_address=True,
            reuse_port=reuse_port or None,
            backlog=backlog,
            **kwargs,
        )
        self._servers.append(server)
        self._port = self._port or server.sockets[0].getsockname()[1]
        if self._ticker is None:
            self._ticker = self.loop.call_later(self._tick, self._on_tick)
        return server

    @property
    def port(self) -> int:
        """The port of the first address listened on (for port 0)."""
        return self._port

    def _on_tick(self) -> None:
        now = self.clock = self.loop.time()
        for conn in list(self.connections):
            if conn.read_deadline <= now or conn.send_deadline <= now:
                conn.check_deadlines(now)
        self._ticker = self.loop.call_later(self._tick, self._on_tick)

    def closed_one(self) -> None:
        if self._all_closed is not None and not self.connections:
            self._all_closed.set()

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting, answer the requests already read (within `grace` seconds), close
        idle keep-alive connections at once; whatever is still open after `grace` is cut."""
        for server in self._servers:
            server.close()
        self._all_closed = asyncio.Event()
        for conn in list(self.connections):
            conn.drain()
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), grace)
            except TimeoutError:
                log.warning(
                    "%d connections still open after %g s; cut", len(self.connections), grace
                )
                for conn in list(self.connections):
                    if conn.transport is not None:
                        conn.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None


async def run_until_signal(server: LeanServer, grace: float = 10.0) -> None:
    """Serve until SIGTERM or SIGINT, then drain: no new connection, the requests already read
    answered within `grace` seconds, idle keep-alive connections closed at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.shutdown(grace)
