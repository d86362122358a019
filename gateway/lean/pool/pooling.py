"""The pool proper: at most `max_connections` open to one upstream, a request waiting for a
free one within its deadline, idle connections kept (the most recent first) and closed after
`idle_timeout`, and one ticker that fails the requests whose deadline has passed."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.lean.pool.connection import TimedOut, UpstreamConnection

# How often the deadlines of requests under way are checked: a deadline fires up to this late.
# One ticker for the pool instead of a timer (asyncio.timeout: ~6 µs) per request.
TICK = 0.05


@dataclass
class PoolStats:
    """Counts for tests and metrics."""

    opened: int = 0
    reused: int = 0
    replayed: int = 0


@dataclass
class Target:
    scheme: str
    host: str
    port: int
    authority: bytes
    path: bytes

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        authority = host + (f":{parts.port}" if parts.port else "")  # never the userinfo
        return cls(parts.scheme, parts.hostname, port, authority.encode("idna"), path.encode())


class Pooling:
    """The connections of an UpstreamPool (gateway.lean.pool), which sets these fields."""

    loop: asyncio.AbstractEventLoop
    target: Target
    max_connections: int
    idle_timeout: float
    ssl_context: ssl.SSLContext | None
    max_answer: int
    stats: PoolStats
    _idle: list[UpstreamConnection]
    _count: int
    _waiters: deque[asyncio.Future[None]]
    _sweeper: asyncio.TimerHandle | None
    _closed: bool
    _deadlines: dict[asyncio.Future[Any], float]
    _ticker: asyncio.TimerHandle | None

    # -- deadlines ----------------------------------------------------------------------------
    def watch(self, future: asyncio.Future[Any], deadline: float) -> None:
        """Fail `future` with TimedOut once `deadline` (loop time) has passed."""
        self._deadlines[future] = deadline
        if self._ticker is None:
            self._ticker = self.loop.call_later(TICK, self._tick)

    def unwatch(self, future: asyncio.Future[Any]) -> None:
        self._deadlines.pop(future, None)

    def _tick(self) -> None:
        self._ticker = None
        now = self.loop.time()
        for future, deadline in list(self._deadlines.items()):
            if future.done():
                del self._deadlines[future]
            elif now >= deadline:
                future.set_exception(TimedOut())
        if self._deadlines:
            self._ticker = self.loop.call_later(TICK, self._tick)

    # -- the pool -----------------------------------------------------------------------------
    async def _acquire(self, fresh: bool, deadline: float) -> UpstreamConnection:
        while True:
            now = self.loop.time()
            while self._idle and not fresh:
                conn = self._idle.pop()  # the most recently used: the others may time out
                if not conn.dead and now - conn.idle_since < self.idle_timeout:
                    return conn
                self._forget(conn)
            if fresh and self._count >= self.max_connections and self._idle:
                self._forget(self._idle.pop(0))  # make room for the new connection
            if self._count < self.max_connections:
                self._count += 1
                try:
                    async with asyncio.timeout_at(deadline):  # rare: connections are kept
                        return await self._connect()
                except BaseException:
                    self._count -= 1
                    self._wake()
                    raise
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            self.watch(waiter, deadline)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake()  # woken, but leaving: pass the turn on
                raise
            finally:
                self.unwatch(waiter)

    async def _connect(self) -> UpstreamConnection:
        target = self.target
        kwargs = {}
        if self.ssl_context is not None:
            kwargs = {"ssl": self.ssl_context, "server_hostname": target.host}
        _, conn = await self.loop.create_connection(
            lambda: UpstreamConnection(self), target.host, target.port, **kwargs
        )
        self.stats.opened += 1
        return conn

    def _release(self, conn: UpstreamConnection, *, reusable: bool) -> None:
        if reusable and not self._closed:
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
            if self._sweeper is None:
                self._sweeper = self.loop.call_later(self.idle_timeout, self._sweep)
        else:
            self._forget(conn)
        self._wake()

    def _forget(self, conn: UpstreamConnection) -> None:
        conn.close()
        if conn.counted:
            conn.counted = False
            self._count -= 1

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.loop.time()
        keep = []
        for conn in self._idle:
            if conn.dead or now - conn.idle_since >= self.idle_timeout:
                self._forget(conn)
            else:
                keep.append(conn)
        self._idle = keep
        if keep:
            self._sweeper = self.loop.call_later(self.idle_timeout / 2, self._sweep)
        self._wake()

    async def close(self) -> None:
        self._closed = True  # requests under way finish, their deadlines still watched
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in self._idle:
            self._forget(conn)
        self._idle = []
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let the transports close
