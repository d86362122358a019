"""Keep-alive HTTP/1.1 connections to the information-provision endpoint, on asyncio Protocols
with httptools' response parser.

Every failure is `UpstreamUnavailable` (as `gateway.upstream.Upstream` raises it): a deadline
per request (waiting for a connection, connecting, TLS, writing, the whole answer), limits on
the answer's head and body, and a cap on connections. A request is sent a second time only when
it cannot have been processed, or when the caller says a repeat is harmless:

- a pooled connection found closed before the request was written is dropped, and the request
  goes out on another one (it was never sent);
- a request written to a connection that had sat idle in the pool, whose peer then closed it
  without one byte of answer, is sent once more on a new connection only if `replayable`: the
  peer may have closed an idle connection just as the request arrived (not processed), or it
  may have processed the request and died before answering. Nothing on the wire tells the two
  apart, so a POST that is not known to be idempotent is not repeated;
- anything else (a new connection closed, a partial answer, a deadline) is never repeated.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools

from gateway.upstream import MAX_ANSWER_BYTES, UpstreamUnavailable

MAX_ANSWER_HEAD = 64 * 1024
MAX_ANSWER_FIELDS = 128
# How often the deadlines of requests under way are checked: a deadline fires up to this late.
# One ticker for the pool instead of a timer (asyncio.timeout: ~6 µs) per request.
TICK = 0.05
_UNSAFE = re.compile(rb"[\r\n\x00]")


@dataclass(slots=True)
class Answer:
    """The upstream's answer: status, header fields (names lower-cased), whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n == name:
                return v
        return None


class _NotSent(Exception):
    """The connection was closed before a byte of the request was written."""


class _Unanswered(Exception):
    """The request was written; the connection closed before a byte of answer came."""


class _Broken(Exception):
    """The answer was refused (malformed, over a limit) or cut off."""


class _TimedOut(Exception):
    """The request's deadline passed (set on the future it waited on by the pool's ticker)."""


class _Refused(Exception):
    """Raised from a parser callback; the reason is in the connection's `error`."""


@dataclass
class PoolStats:
    """Counts for tests and metrics."""

    opened: int = 0
    reused: int = 0
    replayed: int = 0


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.dead = False
        self.counted = True  # in the pool's connection count until `forget`
        self.exchanges = 0
        self.idle_since = 0.0
        self.waiter: asyncio.Future[Answer] | None = None
        self.error: Exception | None = None
        self._reset()

    def _reset(self) -> None:
        self.received = 0
        self.in_head = True
        self.head_size = 0
        self.fields = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_size = 0
        self.status = 0
        self.framed = True
        self.keep_alive = False

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended()

    def eof_received(self) -> bool | None:
        self._ended()
        return None

    def _ended(self) -> None:
        self.dead = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.received == 0:
            waiter.set_exception(_Unanswered())
        elif not self.in_head and not self.framed:
            self._complete()  # a body delimited by the end of the connection (RFC 9112 6.3)
        else:
            waiter.set_exception(_Broken("the upstream closed the connection mid-answer"))

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            # Bytes nobody asked for (on an idle connection, or past the answer's end): the
            # connection's framing can no longer be trusted.
            self.dead = True
            if self.transport is not None:
                self.transport.close()
            return
        self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.dead = True
            if not waiter.done():
                waiter.set_exception(
                    _Broken(str(self.error) if self.error else f"malformed answer: {exc}")
                )
            return
        if self.in_head and self.received > MAX_ANSWER_HEAD + len(data):
            self.dead = True
            if not waiter.done():
                waiter.set_exception(_Broken("the answer's head is too large"))

    # -- parser callbacks ---------------------------------------------------------------------
    def _refuse(self, why: str) -> None:
        self.error = _Broken(why)
        raise _Refused(why)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields += 1
        self.head_size += len(name) + len(value)
        if self.fields > MAX_ANSWER_FIELDS or self.head_size > MAX_ANSWER_HEAD:
            self._refuse("the answer's head is too large")
        if self.in_head:
            self.headers.append((name.lower(), value.strip(b" \t")))

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        self.status = parser.get_status_code()
        self.keep_alive = parser.should_keep_alive()
        length = None
        chunked = False
        for name, value in self.headers:
            if name == b"content-length":
                length = int(value)  # llhttp let digits only through, once
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-encoding" and value.lower() not in (b"identity", b""):
                # we ask for identity only: a coded answer is not what we can check
                self._refuse("the answer has a content coding")
        if length is not None and length > self.pool.max_answer:
            self._refuse("the upstream's answer is too large")
        self.framed = (
            length is not None or chunked or self.status in (204, 304) or self.status < 200
        )
        if self.status == 101:
            self._refuse("the upstream switched protocols")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.pool.max_answer:
            self._refuse("the upstream's answer is too large")
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            self._reset()  # an interim answer (100 Continue): the real one follows
            self.received = 1  # ...but bytes did come: an end now is a broken answer
            return
        self._complete()

    def _complete(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Answer(self.status, self.headers, b"".join(self.body) if self.body else b"")
            )

    # -- one exchange -------------------------------------------------------------------------
    async def exchange(self, request: bytes, deadline: float) -> Answer:
        transport = self.transport
        if self.dead or transport is None or transport.is_closing():
            raise _NotSent()
        self._reset()
        self.error = None
        waiter = self.waiter = self.pool.loop.create_future()
        self.pool.watch(waiter, deadline)
        transport.write(request)
        try:
            return await waiter
        finally:
            self.pool.unwatch(waiter)
            self.waiter = None
            self.exchanges += 1

    def close(self) -> None:
        self.dead = True
        if self.transport is not None:
            self.transport.close()


@dataclass
class _Target:
    scheme: str
    host: str
    port: int
    authority: bytes
    path: bytes

    @classmethod
    def of(cls, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        authority = host + (f":{parts.port}" if parts.port else "")  # never the userinfo
        return cls(parts.scheme, parts.hostname, port, authority.encode("idna"), path.encode())


@dataclass
class UpstreamPool:
    """Connections to one upstream URL, shared by the whole process.

    `timeout` bounds each request from start to the last byte of its answer; at most
    `max_connections` are open at once (a request waits for one, within its deadline); a
    connection idle for `idle_timeout` seconds is closed (keep it shorter than the upstream's
    own keep-alive timeout: fewer idle connections closed under a request in flight).
    `ssl_context`: for https (the server's certificate is verified by it; load a client
    certificate into it to present one).
    """

    url: str
    timeout: float = 10.0
    max_connections: int = 256
    idle_timeout: float = 15.0
    ssl_context: ssl.SSLContext | None = None
    max_answer: int = MAX_ANSWER_BYTES
    stats: PoolStats = field(default_factory=PoolStats)

    def __post_init__(self) -> None:
        self.target = _Target.of(self.url)
        if self.target.scheme == "https" and self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._idle: list[_Connection] = []
        self._count = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._prefixes: dict[str, bytes] = {}
        self._deadlines: dict[asyncio.Future[Any], float] = {}
        self._ticker: asyncio.TimerHandle | None = None

    def encode(self, method: str, body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """The request's bytes; a header name or value with CR, LF or NUL is refused, so that a
        value from elsewhere cannot add a header or a request."""
        prefix = self._prefixes.get(method)
        if prefix is None:
            prefix = self._prefixes.setdefault(
                method,
                b"%s %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n"
                % (method.encode("ascii"), self.target.path, self.target.authority),
            )
        parts = [prefix, b"Content-Length: %d\r\n" % len(body)]
        for name, value in headers:
            if _UNSAFE.search(name) or _UNSAFE.search(value):
                raise ValueError(f"forbidden byte in header {name!r}")
            parts += (name, b": ", value, b"\r\n")
        parts += (b"\r\n", body)
        return b"".join(parts)

    async def request(
        self,
        method: str,
        body: bytes = b"",
        headers: Sequence[tuple[bytes, bytes]] = (),
        *,
        replayable: bool = False,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request and read its whole answer, or raise UpstreamUnavailable."""
        if self._closed:
            raise UpstreamUnavailable("the upstream pool is closed")
        loop = self.loop = asyncio.get_running_loop()
        data = self.encode(method, body, headers)
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        try:
            return await self._send(data, replayable, deadline)
        except (_TimedOut, TimeoutError):
            raise UpstreamUnavailable("the upstream did not answer in time") from None
        except OSError as exc:
            raise UpstreamUnavailable(
                f"the upstream cannot be reached: {type(exc).__name__}"
            ) from None

    async def _send(self, data: bytes, replayable: bool, deadline: float) -> Answer:
        replayed = False
        while True:
            conn = await self._acquire(replayed, deadline)
            reused = conn.exchanges > 0
            done = False
            try:
                answer = await conn.exchange(data, deadline)
                done = True
            except _NotSent:
                if not reused:
                    raise UpstreamUnavailable(
                        "the upstream closed the connection at once"
                    ) from None
                continue  # a pooled connection that had died: nothing was sent
            except _Unanswered:
                if reused and replayable and not replayed:
                    replayed = True
                    self.stats.replayed += 1
                    continue
                raise UpstreamUnavailable(
                    "the upstream closed the connection without answering"
                ) from None
            except _Broken as exc:
                raise UpstreamUnavailable(str(exc)) from None
            finally:
                self._release(conn, reusable=done and conn.keep_alive and not conn.dead)
            if reused:
                self.stats.reused += 1
            return answer

    # -- deadlines ----------------------------------------------------------------------------
    def watch(self, future: asyncio.Future[Any], deadline: float) -> None:
        """Fail `future` with _TimedOut once `deadline` (loop time) has passed."""
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
                future.set_exception(_TimedOut())
        if self._deadlines:
            self._ticker = self.loop.call_later(TICK, self._tick)

    # -- the pool -----------------------------------------------------------------------------
    async def _acquire(self, fresh: bool, deadline: float) -> _Connection:
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

    async def _connect(self) -> _Connection:
        target = self.target
        kwargs = {}
        if self.ssl_context is not None:
            kwargs = {"ssl": self.ssl_context, "server_hostname": target.host}
        _, conn = await self.loop.create_connection(
            lambda: _Connection(self), target.host, target.port, **kwargs
        )
        self.stats.opened += 1
        return conn

    def _release(self, conn: _Connection, *, reusable: bool) -> None:
        if reusable and not self._closed:
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
            if self._sweeper is None:
                self._sweeper = self.loop.call_later(self.idle_timeout, self._sweep)
        else:
            self._forget(conn)
        self._wake()

    def _forget(self, conn: _Connection) -> None:
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
