"""Answering in order: the requests of one connection go to their handlers one at a time, so
that answers leave in the order the requests came (pipelining) and a slow first answer holds
back the second; after the last answer the connection closes, lingering when unread input may
follow."""

from __future__ import annotations

from gateway.lean.connection.state import ConnectionState, log
from gateway.lean.http import Handler, HeaderError, Request, Response, plain, serialize

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Answering(ConnectionState):
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
