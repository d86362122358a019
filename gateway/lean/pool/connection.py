"""One keep-alive connection to the upstream (an asyncio Protocol with httptools' response
parser): one exchange at a time, its answer checked against the limits as it comes, and how
the exchange ended told apart (never sent, unanswered, broken, timed out), which is what the
pool's replay rule decides on (gateway/lean/pool/__init__.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import httptools

MAX_ANSWER_HEAD = 64 * 1024
MAX_ANSWER_FIELDS = 128


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


class NotSent(Exception):
    """The connection was closed before a byte of the request was written."""


class Unanswered(Exception):
    """The request was written; the connection closed before a byte of answer came."""


class Broken(Exception):
    """The answer was refused (malformed, over a limit) or cut off."""


class TimedOut(Exception):
    """The request's deadline passed (set on the future it waited on by the pool's ticker)."""


class _Refused(Exception):
    """Raised from a parser callback; the reason is in the connection's `error`."""


class Watch(Protocol):
    """What a connection uses of its pool (gateway.lean.pool.UpstreamPool), said here so that
    this module needs no import of the pool, which imports it."""

    loop: asyncio.AbstractEventLoop
    max_answer: int

    def watch(self, future: asyncio.Future[Any], deadline: float) -> None: ...
    def unwatch(self, future: asyncio.Future[Any]) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: Watch) -> None:
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
            waiter.set_exception(Unanswered())
        elif not self.in_head and not self.framed:
            self._complete()  # a body delimited by the end of the connection (RFC 9112 6.3)
        else:
            waiter.set_exception(Broken("the upstream closed the connection mid-answer"))

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
                    Broken(str(self.error) if self.error else f"malformed answer: {exc}")
                )
            return
        if self.in_head and self.received > MAX_ANSWER_HEAD + len(data):
            self.dead = True
            if not waiter.done():
                waiter.set_exception(Broken("the answer's head is too large"))

    # -- parser callbacks ---------------------------------------------------------------------
    def _refuse(self, why: str) -> None:
        self.error = Broken(why)
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
            raise NotSent()
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
