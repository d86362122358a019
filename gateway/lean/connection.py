"""One client connection of the lean listener: parse, check, queue, answer in order.

Bytes go through llhttp, strict mode (no leniencies), and through the checks llhttp leaves to
us (limits, Transfer-Encoding, Host, version, target form); a complete request goes to its
route's handler, one at a time per connection, so that answers leave in the order the requests
came (pipelining) and a slow first answer holds back the second. Anything refused is answered
with a status, reported through the server's `on_refused`, and closes the connection: a parser
that has seen bytes it does not trust is never fed again. Deadlines are timestamps that the
server's ticker checks, not a timer per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

import httptools

from gateway.lean.http import (
    DateCache,
    Handler,
    HeaderError,
    Limits,
    Peer,
    Request,
    Response,
    plain,
    serialize,
)
from gateway.tls import org_of_certificate


class Routes(Protocol):
    def resolve(self, method: str, path: str) -> Handler | Response: ...


class Host(Protocol):
    """What a connection uses of the server that accepted it (gateway.lean.server.LeanServer),
    said here so that the connection needs no import of the server, which imports it."""

    limits: Limits
    loop: asyncio.AbstractEventLoop
    routes: Routes
    connections: set[Connection]
    tasks: set[asyncio.Task[None]]
    dates: DateCache
    clock: float
    on_refused: Callable[[str, str, Peer], None] | None
    too_large: Callable[[Request], Response]

    def closed_one(self) -> None: ...


log = logging.getLogger("hogo.lean")

# Bytes fed to the parser at a time. llhttp cannot be paused inside a feed, so a slice that
# holds many small pipelined requests parses them all: a connection can be ahead of its answers
# by max_pipelined requests plus one slice's worth. While it is ahead, slices are small.
SLICE = 4096
AHEAD_SLICE = 512
_INF = float("inf")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS: dict[bytes, str] = {}
_CONTENT_LENGTH, _TRANSFER_ENCODING, _HOST, _EXPECT = range(4)
_SPECIAL = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"host": _HOST,
    b"expect": _EXPECT,
}


class _Refusal(Exception):
    """Raised from a parser callback to stop parsing; the answer is already decided."""


class Connection(asyncio.Protocol):
    """One client connection: parse, check, queue, answer in order, enforce the deadlines."""

    def __init__(self, server: Host) -> None:
        self.server = server
        limits = self.limits = server.limits
        # read on every request: kept here rather than looked up through `limits` each time
        self._max_body = limits.max_body
        self._max_field = limits.max_field
        self._max_fields = limits.max_fields
        self._max_head = limits.max_head
        self._max_line = limits.max_request_line
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self.parser = httptools.HttpRequestParser(self)
        # the request being parsed
        self._in_message = False
        self._in_head = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._fields = 0
        self._head_fed = 0
        self._since_progress = 0
        self._content_length: bytes | None = None
        self._transfer_encoding: bytes | None = None
        self._hosts = 0
        self._expect: bytes | None = None
        self._target: Handler | Response | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._keep_alive = True
        self._version = "1.1"
        self._method = ""
        self._path = ""
        self._continue_due = False
        # status, reason, detail, and the answer: a Response, or a handler (the 413 hook's)
        self._refusal: tuple[int, str, str, Response | Handler | None] | None = None
        # answers
        self._pending: deque[tuple[Handler | Response, Request | None, bool]] = deque()
        self._pending_bytes = 0
        self._busy = False
        self._input_closed = False  # no further request will be read
        self._linger_after = False  # close with lingering when the last answer is out
        self._lingering = False
        self._stash: bytes | memoryview = b""
        self._pumping = False
        self._read_paused = False
        self._write_paused = False
        self._closed = False
        # deadlines (loop time); checked by the server's ticker
        self.read_deadline = _INF
        self.read_deadline_kind = ""
        self.send_deadline = _INF

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        is_tls = transport.get_extra_info("sslcontext") is not None
        peercert = transport.get_extra_info("peercert") if is_tls else None
        self.peer = Peer(
            transport.get_extra_info("peername"),
            is_tls,
            peercert,
            org_of_certificate(peercert) if is_tls else None,
        )
        self.server.connections.add(self)
        self._deadline("head", self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._stash = b""
        self._pending.clear()
        self.read_deadline = self.send_deadline = _INF
        self.server.connections.discard(self)
        self.server.closed_one()

    def eof_received(self) -> bool | None:
        if self._lingering or self._idle():
            return None  # close
        # Answer what was asked; a request cut off by the EOF is not one.
        self._input_closed = True
        self._in_message = False
        self.read_deadline = _INF
        if not self._busy and not self._pending:
            return None
        return True  # keep the transport open for writing (ignored by TLS transports)

    def pause_writing(self) -> None:
        self._write_paused = True
        self.send_deadline = self.loop.time() + self.limits.send_timeout
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self.send_deadline = _INF
        self._next()
        self._pump()

    def data_received(self, data: bytes) -> None:
        if self._input_closed:
            return  # lingering, or after the last request: read and dropped
        if self._stash:
            self._stash = bytes(self._stash) + data
        else:
            self._stash = data
        self._pump()

    # -- feeding the parser ------------------------------------------------------------------
    def _held(self) -> bool:
        """Whether to stop reading: the client is ahead of its answers by too much."""
        if self._write_paused:
            return True
        return self._busy and (
            len(self._pending) >= self.limits.max_pipelined
            or self._pending_bytes + self._body_size > self.limits.max_pipelined_bytes
        )

    def _pump(self) -> None:
        if self._pumping or self._closed:
            return
        self._pumping = True
        try:
            while self._stash and not self._input_closed:
                if self._held():
                    self._pause_reading()
                    if self.read_deadline_kind in ("head", "body"):
                        self.read_deadline = _INF  # our doing, not the client's
                    return
                handing = self.server.handoff is not None and not self._in_message
                if handing and not self._ours():
                    return  # handed over, or waiting for more of the request line
                data = self._stash
                size = AHEAD_SLICE if self._busy or self._pending else SLICE
                if len(data) > size:
                    view = memoryview(data)
                    chunk, self._stash = view[:size], view[size:]
                else:
                    chunk, self._stash = data, b""
                self._feed(chunk)
                self._next()
            if not self._input_closed:
                if self._read_paused:
                    self._resume_reading()
                if self._in_message and self.read_deadline == _INF:
                    self._deadline(
                        "head" if self._in_head else "body",
                        self.limits.head_timeout if self._in_head else self.limits.body_timeout,
                    )
        finally:
            self._pumping = False

    def _feed(self, chunk: bytes | memoryview) -> None:
        try:
            self.parser.feed_data(chunk)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "upgrade", "Upgrade and CONNECT are not served")
            return
        except httptools.HttpParserError as exc:
            if self._refusal is None:
                if self._input_closed:
                    return  # bytes after a request that closes the connection: dropped
                self._refusal = (400, "malformed", str(exc)[:200], None)
            self._stop()
            return
        n = len(chunk)
        if self._in_head:
            self._head_fed += n
            if self._head_fed > self.limits.max_head + SLICE:
                self._refuse(431, "head_too_large", "request head over the limit")
        elif self._in_message:
            # No body progress (trailers, chunk extensions) for this long: refused.
            self._since_progress += n
            if self._since_progress > self.limits.max_head + SLICE:
                self._refuse(431, "trailers_too_large", "chunk framing or trailers over the limit")

    # -- another service on the same port -------------------------------------------------
    def _ours(self) -> bool:
        """At a request boundary (every byte before the stash parsed, no request begun), with
        a `handoff`: whether the next request is for one of our routes. If it is for another
        path, the connection is handed over, with the stash, once every answer before it is
        out; it is never taken back. Each byte is read by one parser only, and the switch is
        at the end of a complete request: nothing can be read one way by us and another way by
        the other server. False while the request line has not come whole."""
        data = self._stash
        if isinstance(data, memoryview):
            data = self._stash = bytes(data)
        start = 0
        while start < len(data) and data[start] in (13, 10):
            start += 1  # empty lines between requests (llhttp skips them too)
        if start == len(data):
            return True
        end = data.find(b"\n", start, start + self._max_line + 2)
        if end < 0:
            # the line is still coming (bounded: beyond the limit our parser answers 414)
            return len(data) - start > self._max_line
        line = data[start:end].split(b" ", 2)
        path = line[1].split(b"?", 1)[0] if len(line) > 1 else b""
        if path in self.server.own_paths:
            return True
        if self._busy or self._pending:
            self._pause_reading()  # resumed by _answer's _pump once the answers are out
            return False
        self._hand_over(data[start:])
        return False

    def _hand_over(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None and self.server.handoff is not None
        self._closed = True  # this protocol is done with the connection
        self._stash = b""
        self.read_deadline = self.send_deadline = _INF
        self.transport = None
        self.server.connections.discard(self)
        self.server.closed_one()
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        self.server.handoff(transport, data)

    # -- parser callbacks (httptools) --------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._input_closed:
            raise _Refusal("a request after the last one")  # dropped, see _feed
        self._in_message = self._in_head = True
        self._method = ""
        self._url = b""
        self._headers = []
        self._head_size = self._fields = self._head_fed = self._since_progress = 0
        self._content_length = self._transfer_encoding = self._expect = None
        self._hosts = 0
        self._body = []
        self._body_size = 0
        self._target = None
        if self.read_deadline_kind != "head":
            self._deadline("head", self.limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line:
            self._fail(414, "request_line_too_long", "request line over the limit")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self._fields += 1
        self._head_size += size
        if size > self._max_field:
            self._fail(431, "field_too_long", "a header field over the limit")
        if self._fields > self._max_fields or self._head_size > self._max_head:
            self._fail(431, "head_too_large", "too many or too large header fields")
        if not self._in_head:
            self._since_progress = 0
            return  # a trailer: checked against the limits, then dropped
        name = name.lower()
        value = value.strip(b" \t")
        special = _SPECIAL.get(name)
        if special is not None:
            self._special(special, value)
        self._headers.append((name, value))

    def _special(self, which: int, value: bytes) -> None:
        if which == _CONTENT_LENGTH:
            if self._content_length is not None:
                self._fail(400, "content_length", "Content-Length given more than once")
            self._content_length = value
        elif which == _TRANSFER_ENCODING:
            if self._transfer_encoding is not None:
                self._fail(400, "transfer_encoding", "Transfer-Encoding given more than once")
            self._transfer_encoding = value
        elif which == _HOST:
            self._hosts += 1
        else:
            self._expect = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._since_progress = 0
        parser = self.parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = _METHODS.setdefault(raw_method, raw_method.decode("ascii"))
        self._method = method
        version = self._version = parser.get_http_version()
        self._keep_alive = parser.should_keep_alive()
        if version not in ("1.1", "1.0"):
            self._fail(505, "version", f"HTTP/{version} is not served")
        if parser.should_upgrade():
            self._fail(400, "upgrade", "Upgrade and CONNECT are not served")
        url = self._url
        if url[:1] != b"/":
            self._fail(400, "target", "only origin-form request targets are served")
        if self._hosts != 1 and (version == "1.1" or self._hosts > 1):
            self._fail(400, "host", "a request needs exactly one Host")
        te = self._transfer_encoding
        length = 0
        if te is not None:
            if version == "1.0":
                self._fail(400, "transfer_encoding", "Transfer-Encoding in HTTP/1.0")
            if te.lower() != b"chunked":
                self._fail(501, "transfer_encoding", "only Transfer-Encoding: chunked is served")
        elif self._content_length is not None:
            length = int(self._content_length)  # llhttp let only digits through
        query = url.find(b"?")
        self._path = (url if query < 0 else url[:query]).decode("ascii")
        target = self.server.routes.resolve(method, self._path)
        expect = self._expect
        if expect is not None and version == "1.1":
            if expect.lower() != b"100-continue":
                self._fail(417, "expect", "only Expect: 100-continue is served")
            if isinstance(target, Response):
                # The client waits for 100 before its body: answer now and close.
                self._target = target
                self._fail(target.status, "", "", answer=target, report=False)
        if length > self._max_body:
            self._too_large()
        self._target = target
        body_follows = bool(length) or te is not None
        if not isinstance(target, Response) and expect is not None and body_follows:
            self._continue_due = version == "1.1"
            self._send_continue()
        if length or te is not None:
            self._deadline("body", self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        self._since_progress = 0
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._too_large()
        if not isinstance(self._target, Response):  # else answered without it: dropped
            self._body.append(body)

    def on_chunk_header(self) -> None:
        self._since_progress = 0

    def on_message_complete(self) -> None:
        self._in_message = False
        self._continue_due = False
        self._deadline("", _INF)
        body = b"".join(self._body) if self._body else b""
        target = self._target
        assert target is not None
        request = Request(
            self._method,
            self._url,
            self._path,
            self._headers,
            body,
            self.peer,  # type: ignore[arg-type]
            self._version,
            self._keep_alive,
        )
        self._body = []
        self._body_size = 0
        self._pending.append((target, request, False))
        self._pending_bytes += len(body)
        if not self._keep_alive:
            self._input_closed = True

    # -- refusing ------------------------------------------------------------------------------
    def _fail(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        answer: Response | Handler | None = None,
        report: bool = True,
    ) -> None:
        """From a parser callback: answer `status` (after the answers before it) and close."""
        self._refusal = (status, reason if report else "", detail, answer)
        raise _Refusal(reason)

    def _too_large(self) -> None:
        # The hook may give a handler instead of a Response: it is run (with the head) like a
        # request's, so that what it records is recorded before the 413 goes out.
        try:
            answer = self.server.too_large(self._head_request())
        except Exception:
            log.exception("the 413 hook failed")
            answer = plain(413)
        self._fail(413, "body_too_large", "body over the limit", answer=answer)

    def _head_request(self) -> Request:
        return Request(
            self._method,
            self._url,
            self._path,
            self._headers,
            b"",
            self.peer,  # type: ignore[arg-type]
            self._version,
            keep_alive=False,
        )

    def _refuse(self, status: int, reason: str, detail: str) -> None:
        """Outside the parser: the same as `_fail`."""
        self._refusal = (status, reason, detail, None)
        self._stop()

    def _stop(self) -> None:
        assert self._refusal is not None
        status, reason, detail, answer = self._refusal
        self._input_closed = True
        self._in_message = False
        self._stash = b""
        self._deadline("", _INF)
        self._pause_reading()
        if reason and self.server.on_refused is not None and self.peer is not None:
            try:
                self.server.on_refused(reason, detail, self.peer)
            except Exception:
                log.exception("reporting a refused request failed")
        response = answer if answer is not None else plain(status)
        self._pending.append((response, self._head_request() if self._method else None, True))
        self._linger_after = True

    # -- answering, in order -----------------------------------------------------------------
    def _idle(self) -> bool:
        return not (self._busy or self._pending or self._in_message)

    def _send_continue(self) -> None:
        """100 Continue, only when every earlier answer is out (else it would land inside one)."""
        if self._continue_due and not self._busy and not self._pending and self.transport:
            self._continue_due = False
            self.transport.write(_CONTINUE)

    def _next(self) -> None:
        """Answer the next queued request if nothing is being answered."""
        while self._pending and not self._busy and not self._write_paused and not self._closed:
            target, request, _ = self._pending.popleft()
            if request is not None:
                self._pending_bytes -= len(request.body)
            if isinstance(target, Response):
                self._write(target, request)
                continue
            assert request is not None
            self._busy = True
            task = self.loop.create_task(self._answer(target, request))
            self.server.tasks.add(task)
            task.add_done_callback(self.server.tasks.discard)
        if not self._busy and not self._pending and not self._closed:
            self._send_continue()
            if self._input_closed and not self._lingering:
                self._finish()
            elif not self._in_message and self.read_deadline_kind == "":
                # only after an answer: bytes that begin no request (CRLF) must not extend it
                self._deadline("idle", self.limits.idle_timeout)

    async def _answer(self, handler: Handler, request: Request) -> None:
        try:
            response = await handler(request)
        except Exception:
            log.exception("handler failed for %s %s", request.method, request.path)
            response = plain(500)
            self._input_closed = True
        self._busy = False
        if self._closed:
            return
        self._write(response, request)
        self._next()
        if self._stash or self._read_paused:
            self._pump()

    def _write(self, response: Response, request: Request | None) -> None:
        if self._closed or self.transport is None:
            return
        last = self._input_closed and not self._pending and not self._busy
        keep = not last and (request is None or request.keep_alive)
        head_only = request is not None and request.method == "HEAD"
        try:
            data = serialize(response, keep, self.server.dates.now(), head_only=head_only)
        except (HeaderError, AttributeError, TypeError):
            log.exception("a handler's answer could not be written")
            self._input_closed = True
            data = serialize(plain(500), False, self.server.dates.now())
        self.transport.write(data)
        if not keep:
            self._input_closed = True

    def _finish(self) -> None:
        """After the last answer: close, lingering when unread input may follow."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self._linger_after:
            transport.close()
            return
        self._lingering = True
        self._deadline("linger", self.limits.linger_timeout)
        if transport.can_write_eof():
            transport.write_eof()
        self._resume_reading()

    def drain(self) -> None:
        """Graceful stop: read no new request, answer what was read, then close."""
        self._input_closed = True
        if self._in_message:
            self._in_message = False  # a request still arriving is not answered
        if self._lingering and self.transport is not None:
            self.transport.close()
        elif not self._busy and not self._pending:
            self._finish()

    # -- deadlines and flow ---------------------------------------------------------------------
    def _deadline(self, kind: str, seconds: float) -> None:
        # From the server's clock, which the ticker advances: a deadline may start up to one
        # tick early, never late, and no clock is read per request.
        self.read_deadline_kind = kind
        self.read_deadline = self.server.clock + seconds

    def check_deadlines(self, now: float) -> None:
        if now >= self.send_deadline:
            self._abort("send_timeout", "the client does not read its answers")
        elif now >= self.read_deadline:
            kind = self.read_deadline_kind
            if kind in ("idle", "linger"):
                self.read_deadline = _INF
                if self.transport is not None:
                    self.transport.close()
            elif not self._in_message:
                # nothing of a request came since the connection opened: nothing to answer
                self.read_deadline = _INF
                if self.transport is not None:
                    self.transport.close()
            else:
                # a slowloris: 408 after any earlier answers, then close
                self._refuse(408, f"{kind}_timeout", f"the request's {kind} came too slowly")
                self._next()

    def _abort(self, reason: str, detail: str) -> None:
        self.send_deadline = self.read_deadline = _INF
        if self.server.on_refused is not None and self.peer is not None:
            try:
                self.server.on_refused(reason, detail, self.peer)
            except Exception:
                log.exception("reporting a refused request failed")
        if self.transport is not None:
            self.transport.abort()

    def _pause_reading(self) -> None:
        if not self._read_paused and self.transport is not None and not self._closed:
            self._read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        ready = self._lingering or not self._held()
        if self._read_paused and self.transport is not None and not self._closed and ready:
            self._read_paused = False
            self.transport.resume_reading()
