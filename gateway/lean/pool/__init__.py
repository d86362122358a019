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


The package: the pool and its replay rule here (`UpstreamPool._send`); connection.py one
connection and its answer's checks; pooling.py the cap, the idle connections, the deadlines.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.lean.pool.connection import (
    MAX_ANSWER_FIELDS,
    MAX_ANSWER_HEAD,
    Answer,
    Broken,
    NotSent,
    TimedOut,
    Unanswered,
    UpstreamConnection,
)
from gateway.lean.pool.pooling import TICK, Pooling, PoolStats, Target
from gateway.upstream import MAX_ANSWER_BYTES, UpstreamUnavailable

__all__ = ["MAX_ANSWER_FIELDS", "MAX_ANSWER_HEAD", "TICK", "Answer", "PoolStats", "UpstreamPool"]
_UNSAFE = re.compile(rb"[\r\n\x00]")


@dataclass
class UpstreamPool(Pooling):
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
        self.target = Target.of(self.url)
        if self.target.scheme == "https" and self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._idle: list[UpstreamConnection] = []
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
        except (TimedOut, TimeoutError):
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
            except NotSent:
                if not reused:
                    raise UpstreamUnavailable(
                        "the upstream closed the connection at once"
                    ) from None
                continue  # a pooled connection that had died: nothing was sent
            except Unanswered:
                if reused and replayable and not replayed:
                    replayed = True
                    self.stats.replayed += 1
                    continue
                raise UpstreamUnavailable(
                    "the upstream closed the connection without answering"
                ) from None
            except Broken as exc:
                raise UpstreamUnavailable(str(exc)) from None
            finally:
                self._release(conn, reusable=done and conn.keep_alive and not conn.dead)
            if reused:
                self.stats.reused += 1
            return answer
